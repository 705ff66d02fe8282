/**
 * Render a workflow history as searchable text: every payload's bytes as UTF-8 (decoded through the
 * codec when one is given), so a test can search for a plaintext value and trust a miss.
 */
import type { Payload, PayloadCodec } from '@temporalio/common';

function isPayload(v: unknown): v is Payload {
  return !!v && typeof v === 'object' && 'data' in v && (v as Payload).data instanceof Uint8Array;
}

export async function historyText(history: unknown, codec?: PayloadCodec): Promise<string> {
  const out: string[] = [];
  const walk = async (v: unknown): Promise<void> => {
    if (v === null || v === undefined) return;
    if (isPayload(v)) {
      const [p] = codec ? await codec.decode([v]) : [v];
      for (const [k, m] of Object.entries(p.metadata ?? {})) out.push(`${k}=${Buffer.from(m).toString('utf8')}`);
      out.push(Buffer.from(p.data ?? new Uint8Array()).toString('utf8'));
      return;
    }
    if (v instanceof Uint8Array) {
      out.push(Buffer.from(v).toString('utf8'));
      return;
    }
    if (Array.isArray(v)) {
      for (const x of v) await walk(x);
      return;
    }
    if (typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        out.push(k);
        await walk(x);
      }
      return;
    }
    out.push(String(v));
  };
  await walk(history);
  return out.join('\n');
}

/**
 * A workflow's current details (workflow `setCurrentDetails`), as the Web UI reads them: through the
 * built-in metadata query, whose answer the client decodes with its data converter.
 */
export async function currentDetails(handle: { query<R>(name: string): Promise<R> }): Promise<string> {
  const meta = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
  return meta.currentDetails ?? '';
}
