/**
 * The bench's floor: a workflow of the pipeline run's shape whose activities do nothing. Started by
 * Update-with-Start (waitReady), then three activities (resolve, push, verify), then the ready answer,
 * then a completeRun update and one delete activity, then it closes. Its payloads have the pipeline
 * run's sizes (a ref per secret), and its activity options its timeouts. No search attributes, memo,
 * codec or vault: what is left is Temporal itself on the same dev server.
 *
 * Two types, the same code: trivialRun with activities, trivialRunLocal with local activities.
 * Bundled on its own (bench/trivial-worker.ts), never with the broker's workflows.
 */
import { allHandlersFinished, condition, defineUpdate, proxyActivities, proxyLocalActivities, setHandler } from '@temporalio/workflow';
import type { TrivialActivities, TrivialRef } from './trivial-activities';

export interface TrivialInput {
  runId: string;
  secretNames: string[];
}

export interface TrivialReady {
  runId: string;
  refs: TrivialRef[];
}

export const trivialReadyUpdate = defineUpdate<TrivialReady>('waitReady');
export const trivialCompleteUpdate = defineUpdate<string, [string]>('completeRun');

const options = { startToCloseTimeout: '30s', retry: { initialInterval: '1s', maximumAttempts: 5 } } as const;
const remote = proxyActivities<TrivialActivities>({ ...options, heartbeatTimeout: '10s' });
const local = proxyLocalActivities<TrivialActivities>(options);

async function shape(acts: TrivialActivities, input: TrivialInput): Promise<{ runId: string; deleted: number }> {
  let ready: TrivialReady | undefined = undefined;
  let completed: string | undefined;
  setHandler(trivialReadyUpdate, async () => {
    await condition(() => ready !== undefined);
    return ready!;
  });
  setHandler(trivialCompleteUpdate, (status) => {
    completed ??= status;
    return 'accepted';
  });
  const resolved = await acts.resolve(input);
  const pushed = await acts.push(input, resolved);
  await acts.verify(input, pushed);
  ready = { runId: input.runId, refs: pushed };
  await condition(() => completed !== undefined);
  const deleted = await acts.remove(input, pushed);
  await condition(allHandlersFinished);
  return { runId: input.runId, deleted: deleted.length };
}

export async function trivialRun(input: TrivialInput): Promise<{ runId: string; deleted: number }> {
  return shape(remote, input);
}

/** @public a workflow type: the trivial worker finds it by this export's name (broker.bench.ts starts it by name). */
export async function trivialRunLocal(input: TrivialInput): Promise<{ runId: string; deleted: number }> {
  return shape(local, input);
}
