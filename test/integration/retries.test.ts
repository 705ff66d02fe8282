/**
 * A launch service retries whatever it did not hear back from: every call must answer a retry the
 * way it answered the first time. End to end on `local` (real dev server, worker, vault, files):
 * launch, complete and cancel retried, concurrently and after the run ended; a different request
 * under a used run id refused naming what differs; a failed launch not burning its run id; and a
 * Temporal that is down or stalled answered "unavailable" in seconds, through the API too.
 */
import * as net from 'node:net';
import { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { buildApiServer } from '../../api/server';
import { LaunchError, TemporalUnavailableError } from '../../domain/errors';
import { pipelineRunWorkflowId } from '../../domain/run';
import { PipelineRuns } from '../../services/pipeline-runs';
import { RunDirectory } from '../../services/run-directory';
import { connectTemporal } from '../../services/temporal';
import { startTestBroker, uniqueRunId, type TestBroker } from '../harness/broker';
import { harnessIdentity, httpRequest } from '../api/helpers';

let broker: TestBroker;
let ids: Awaited<ReturnType<TestBroker['seed']>>;
let ceId: string;

beforeAll(async () => {
  broker = await startTestBroker();
  ids = await broker.seed();
  await broker.vault.setSecret({ scope: 'workspace', ownerId: ids.workspaceId, name: 'DB_PASSWORD', value: 'retry-db-value-11' });
  await broker.vault.setSecret({ scope: 'workspace', ownerId: ids.workspaceId, name: 'API_TOKEN', value: 'retry-token-value-22' });
  ceId = (await broker.vault.createComputeEnv({ workspaceId: ids.workspaceId, name: 'laptop', platform: 'local', config: {} })).id;
});

afterAll(async () => {
  await broker?.stop();
});

const request = (runId: string, secretNames = ['DB_PASSWORD', 'API_TOKEN']) => ({ runId, workspaceId: ids.workspaceId, userId: ids.userId, computeEnvId: ceId, secretNames });

async function runsOf(runId: string): Promise<number> {
  let n = 0;
  for await (const _ of broker.client.workflow.list({ query: `WorkflowId = '${pipelineRunWorkflowId(runId)}'` })) n++;
  return n;
}

describe('launch', () => {
  test('the same request, concurrently and again after ready, gets the same ready answer from one run', async () => {
    const runId = uniqueRunId('same');
    const [a, b] = await Promise.all([broker.runs.launch(request(runId)), broker.runs.launch(request(runId, ['API_TOKEN', 'DB_PASSWORD']))]);
    const c = await broker.runs.launch(request(runId));
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    expect(a.refs).toHaveLength(2);
    await broker.runs.complete(runId, 'succeeded');
    await broker.runs.waitClosed(runId);
    expect(await runsOf(runId)).toBe(1);
  });

  test('a different request under a used run id is refused, naming what differs', async () => {
    const runId = uniqueRunId('diff');
    await broker.runs.launch(request(runId));
    const err = await broker.runs.launch(request(runId, ['DB_PASSWORD'])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LaunchError);
    expect(err).toMatchObject({ code: 'duplicate-run' });
    expect((err as Error).message).toBe(`run ${runId} was launched with a different request: secretNames (launched with [API_TOKEN, DB_PASSWORD], asked [DB_PASSWORD])`);
    expect((await broker.runs.state(runId)).phase).toBe('ready'); // the run itself is untouched
    await broker.runs.complete(runId, 'succeeded');
  });

  test('a launch that failed before anything was pushed does not burn the run id', async () => {
    const runId = uniqueRunId('burn');
    const first = await broker.runs.launch(request(runId, ['DB_PASSWORD', 'NOT_YET'])).catch((e: unknown) => e);
    expect(first).toMatchObject({ code: 'launch-failed', type: 'SecretNotFoundError' });
    await broker.runs.waitClosed(runId);
    // The same request again: the same answer.
    const again = await broker.runs.launch(request(runId, ['DB_PASSWORD', 'NOT_YET'])).catch((e: unknown) => e);
    expect(again).toMatchObject({ code: 'launch-failed', type: 'SecretNotFoundError', message: (first as Error).message });
    await broker.runs.waitClosed(runId);
    // The secret is added: the run id launches.
    await broker.vault.setSecret({ scope: 'workspace', ownerId: ids.workspaceId, name: 'NOT_YET', value: 'now-there-value-33' });
    const ready = await broker.runs.launch(request(runId, ['DB_PASSWORD', 'NOT_YET']));
    expect(ready.secretNames).toEqual(['DB_PASSWORD', 'NOT_YET']);
    await broker.runs.complete(runId, 'succeeded');
    await broker.runs.waitClosed(runId);
  });

  test('a run that got past its launch and ended is answered "already ended" with its outcome', async () => {
    const runId = uniqueRunId('over');
    await broker.runs.launch(request(runId));
    await broker.runs.complete(runId, 'failed');
    await broker.runs.waitClosed(runId);
    const err = await broker.runs.launch(request(runId)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LaunchError);
    expect(err).toMatchObject({ code: 'already-ended', outcome: 'failed' });
    expect(await runsOf(runId)).toBe(1);
  });
});

describe('complete and cancel', () => {
  test('two concurrent completes: one ends the run, the other is told it already ended; a later one too', async () => {
    const runId = uniqueRunId('done');
    await broker.runs.launch(request(runId));
    const answers = await Promise.all([broker.runs.complete(runId, 'succeeded'), broker.runs.complete(runId, 'succeeded')]);
    expect(answers.map((a) => a.result).sort()).toEqual(['accepted', 'already-ended']);
    expect(answers.find((a) => a.result === 'already-ended')).toMatchObject({ outcome: 'succeeded' });
    await broker.runs.waitClosed(runId);
    await expect(broker.runs.complete(runId, 'succeeded')).resolves.toEqual({ runId, status: 'succeeded', result: 'already-ended', outcome: 'succeeded' });
    await expect(broker.runs.cancel(runId)).resolves.toEqual({ runId, result: 'already-ended', outcome: 'succeeded' });
  });

  test('cancel, then complete and cancel again: already ended, cancelled', async () => {
    const runId = uniqueRunId('cncl');
    await broker.runs.launch(request(runId));
    await expect(broker.runs.cancel(runId)).resolves.toEqual({ runId, result: 'accepted' });
    await broker.runs.waitClosed(runId);
    await expect(broker.runs.complete(runId, 'succeeded')).resolves.toMatchObject({ result: 'already-ended', outcome: 'cancelled' });
    await expect(broker.runs.cancel(runId)).resolves.toMatchObject({ result: 'already-ended', outcome: 'cancelled' });
  });

  test('a run id never launched is still not found', async () => {
    await expect(broker.runs.complete(uniqueRunId('nope'), 'succeeded')).rejects.toMatchObject({ code: 'not-found' });
  });
});

/** A TCP relay to the dev server that can stall: it keeps connections open and forwards nothing. */
async function stallableRelay(target: string): Promise<{ address: string; stall(): void; close(): Promise<void> }> {
  const [host, port] = target.split(':');
  let stalled = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(port), host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    client.on('data', (d) => void (stalled || upstream.write(d)));
    upstream.on('data', (d) => void (stalled || client.write(d)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    stall: () => void (stalled = true),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

describe('Temporal unavailable', () => {
  test('stalled: launch and status answer TemporalUnavailableError at their deadline, and the API says 503 with Retry-After', async () => {
    const relay = await stallableRelay(broker.temporal.address);
    const connection = await connectTemporal({ address: relay.address });
    const client = new Client({ connection, namespace: broker.temporal.namespace });
    const runs = new PipelineRuns(client, broker.taskQueue, { callDeadlineMs: 2_000, launchDeadlineMs: 2_000 });
    const api: FastifyInstance = buildApiServer({ vault: broker.vault, runs, runDirectory: new RunDirectory(client, 2_000), logger: { info() {}, warn() {}, error() {} } });
    const caller = await harnessIdentity(broker.vault);
    const port = Number(new URL(await api.listen({ host: '127.0.0.1', port: 0 })).port);
    try {
      relay.stall();
      const runId = uniqueRunId('stall');
      await expect(runs.launch(request(runId))).rejects.toBeInstanceOf(TemporalUnavailableError);
      await expect(runs.state(runId)).rejects.toThrow(/Temporal is unavailable \(status of run .*\); retry in a few seconds/);
      const answer = await httpRequest(port, 'GET', `/v1/runs/${runId}`, undefined, caller.headers);
      expect(answer.status).toBe(503);
      expect(answer.headers['retry-after']).toBe('5');
      expect(JSON.parse(answer.text)).toMatchObject({ code: 'temporal-unavailable', retryAfterSeconds: 5 });
    } finally {
      await api.close();
      await relay.close();
      await connection.close().catch(() => undefined);
    }
  });

  test('down: a server that went away is TemporalUnavailableError after a few quick retries, not half a minute', async () => {
    const relay = await stallableRelay(broker.temporal.address);
    const connection = await connectTemporal({ address: relay.address });
    const client = new Client({ connection, namespace: broker.temporal.namespace });
    const runs = new PipelineRuns(client, broker.taskQueue);
    try {
      await relay.close(); // connections dropped, nothing listens any more
      await expect(runs.complete(uniqueRunId('down'), 'succeeded')).rejects.toBeInstanceOf(TemporalUnavailableError);
    } finally {
      await connection.close().catch(() => undefined);
    }
  });
});
