/**
 * What a workflow was started with, read from its history and decoded with the client's data
 * converter (its codec included).
 *
 * A query is answered by a worker replaying the workflow's history, which takes at least one
 * workflow task: a workflow that closed (terminated, timed out) before its first task started has
 * nothing to replay, and the server refuses every query on it (FAILED_PRECONDITION "Workflow
 * execution closed before WorkflowTaskStarted event"). Such a workflow ran no code at all, so its
 * state is exactly what it was started with: for a pipeline run, a fresh run's initial status or
 * the status a run that continued as new carried in (domain/run.ts statusAtStart).
 */
import type { Client } from '@temporalio/client';

const FAILED_PRECONDITION = 9;

/** True when `err` (or what it wraps) is the server refusing a query on a workflow that never ran a task. */
export function isClosedBeforeFirstTask(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const x = e as { code?: unknown; details?: unknown; message?: unknown };
    if (x.code === FAILED_PRECONDITION && /closed before WorkflowTaskStarted/i.test(`${String(x.details ?? '')} ${String(x.message ?? '')}`)) return true;
  }
  return false;
}

/** The first argument a workflow (its latest run, unless `runId`) was started with, and when; undefined without one. */
export async function startInput<T>(client: Client, workflowId: string, runId?: string): Promise<{ input: T; startedAt: string } | undefined> {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  const first = history.events?.[0];
  const payload = first?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  if (!first || !payload) return undefined;
  const dc = client.options.loadedDataConverter;
  let [decoded] = [payload];
  for (const codec of [...dc.payloadCodecs].reverse()) [decoded] = await codec.decode([decoded!]);
  const t = first.eventTime;
  const ms = t ? Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6) : Date.now();
  return { input: dc.payloadConverter.fromPayload<T>(decoded!), startedAt: new Date(ms).toISOString() };
}
