/**
 * Launch and complete while the run's worker was lost during its workflow task. A launch whose worker was lost during the run's workflow task: until a worker runs the task again,
 * the server refuses the launch's update ("Workflow Task in failed state", FAILED_PRECONDITION) while
 * the run goes on to ready. The launch asks again (it attaches to the same run) and answers ready,
 * rather than a generic error that leaves a ready run with nobody to end it (found by make chaos).
 * Past the launch deadline it is TemporalUnavailableError: retry, the call is safe to repeat. A
 * complete refused so leaves the durable signal (accepted), as when no worker answers in time.
 */
import type { Client } from '@temporalio/client';
import { TemporalUnavailableError } from '../../domain/errors';
import type { ReadyResult } from '../../domain/run';
import { PipelineRuns } from '../../services/pipeline-runs';
import { isWorkflowTaskFailing } from '../../services/temporal';

const READY = { runId: 'run1', platform: 'local', headJobEnv: {}, refs: [], leaseExpiresAt: '2026-12-31T00:00:00.000Z' } as unknown as ReadyResult;

function taskFailing(): Error {
  return Object.assign(new Error('Unable to perform workflow execution update due to Workflow Task in failed state.'), { code: 9 });
}

/** A client whose update-with-start is refused `refusals` times, then answered ready. */
function fakeClient(refusals: number): { client: Client; calls: () => number } {
  let calls = 0;
  const client = {
    connection: { withDeadline: <T>(_d: number, fn: () => Promise<T>) => fn() },
    workflow: {
      getHandle: () => ({ describe: () => Promise.resolve({ status: { name: 'RUNNING' } }) }),
      executeUpdateWithStart: () => {
        calls++;
        return calls <= refusals ? Promise.reject(taskFailing()) : Promise.resolve(READY);
      },
    },
  };
  return { client: client as unknown as Client, calls: () => calls };
}

const request = { runId: 'run1', workspaceId: 'w', userId: 'u', computeEnvId: 'c', secretNames: ['A'] };

test('the refusal is recognised, wrapped or not', () => {
  expect(isWorkflowTaskFailing(taskFailing())).toBe(true);
  expect(isWorkflowTaskFailing(new Error('launch failed', { cause: taskFailing() }))).toBe(true);
  expect(isWorkflowTaskFailing(new Error('Workflow execution already completed'))).toBe(false);
});

test('a launch refused while the workflow task is failing asks again and answers ready', async () => {
  const { client, calls } = fakeClient(2);
  await expect(new PipelineRuns(client, 'q').launch(request)).resolves.toEqual(READY);
  expect(calls()).toBe(3);
});

test('past the launch deadline it is TemporalUnavailableError (retry), not a generic error', async () => {
  const { client } = fakeClient(1_000);
  await expect(new PipelineRuns(client, 'q', { launchDeadlineMs: 600 }).launch(request)).rejects.toBeInstanceOf(TemporalUnavailableError);
});

test('a complete refused while the workflow task is failing leaves the durable signal', async () => {
  const signals: unknown[] = [];
  const client = {
    connection: { withDeadline: <T>(_d: number, fn: () => Promise<T>) => fn() },
    workflow: {
      getHandle: () => ({
        executeUpdate: () => Promise.reject(taskFailing()),
        signal: (_def: unknown, arg: unknown) => {
          signals.push(arg);
          return Promise.resolve();
        },
      }),
    },
  } as unknown as Client;
  await expect(new PipelineRuns(client, 'q').complete('run1', 'succeeded')).resolves.toEqual({ runId: 'run1', status: 'succeeded', result: 'accepted' });
  expect(signals).toEqual([{ status: 'succeeded' }]);
});
