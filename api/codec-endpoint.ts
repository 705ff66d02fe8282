/**
 * The remote codec endpoint the Temporal Web UI calls to show decoded payloads: POST /codec/decode and
 * /codec/encode with {payloads: [{metadata: {k: base64}, data: base64}]}. Payloads hold references
 * and names only; values never enter history. CORS admits only the configured UI origins.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Payload, PayloadCodec } from '@temporalio/common';

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

const fromJson = (p: JsonPayload): Payload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))])),
  data: new Uint8Array(Buffer.from(p.data ?? '', 'base64')),
});

const toJson = (p: Payload): JsonPayload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
});

/**
 * {payloads: [...]}. An absent list is an empty one: protobuf JSON leaves out empty repeated fields,
 * so the Temporal CLI sends `{}` for a history event without payloads.
 */
function payloadList(body: unknown): JsonPayload[] | undefined {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return undefined;
  if (Object.keys(body).some((k) => k !== 'payloads')) return undefined;
  const list = (body as { payloads?: unknown }).payloads ?? [];
  return isPayloadList(list) ? list : undefined;
}

function isPayloadList(list: unknown): list is JsonPayload[] {
  if (!Array.isArray(list)) return false;
  return list.every(
    (p) => !!p && typeof p === 'object' && (typeof (p as JsonPayload).data === 'string' || (p as JsonPayload).data === undefined),
  );
}

export interface CodecEndpointOptions {
  codec: PayloadCodec;
  /** Origins of the Web UI allowed to call (e.g. http://127.0.0.1:8233). */
  allowedOrigins: string[];
}

export function registerCodecEndpoint(app: FastifyInstance, opts: CodecEndpointOptions): void {
  const cors = (req: FastifyRequest, reply: FastifyReply) => {
    const origin = req.headers.origin;
    if (origin && opts.allowedOrigins.includes(origin)) {
      reply.header('Access-Control-Allow-Origin', origin);
      reply.header('Vary', 'Origin');
      reply.header('Access-Control-Allow-Credentials', 'true');
      reply.header('Access-Control-Allow-Methods', 'POST, OPTIONS');
      reply.header('Access-Control-Allow-Headers', 'Content-Type, X-Namespace, Authorization');
    }
  };
  for (const op of ['encode', 'decode'] as const) {
    app.options(`/codec/${op}`, async (req, reply) => {
      cors(req, reply);
      return reply.code(204).send();
    });
    app.post(`/codec/${op}`, async (req, reply) => {
      cors(req, reply);
      const list = payloadList(req.body);
      if (!list) {
        return reply.code(400).send({ error: 'payloads: must be a list of {metadata, data} with base64 strings', field: 'payloads', rule: 'must be a list of payloads' });
      }
      try {
        const payloads = list.map(fromJson);
        const out = op === 'encode' ? await opts.codec.encode(payloads) : await opts.codec.decode(payloads);
        return reply.send({ payloads: out.map(toJson) });
      } catch (err) {
        return reply.code(400).send({ error: `payloads: ${(err as Error).message}`, field: 'payloads', rule: 'must be encrypted with a key this broker holds' });
      }
    });
  }
}
