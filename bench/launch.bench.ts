/**
 * Benchmark: launch → ready and complete → deleted on the `local` compute environment, through the
 * real client, worker, vault and Temporal dev server. Prints figures; asserts only that runs finish.
 * Baseline, measured in the same run: a launch with no secrets (the workflow and its four activities,
 * no values read or written).
 *
 *   make bench
 */
import { startTestBroker, uniqueRunId, type TestBroker } from '../test/harness/broker';

let broker: TestBroker;
let ids: Awaited<ReturnType<TestBroker['seed']>>;
let ceId: string;
const rows: string[] = [];

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

beforeAll(async () => {
  broker = await startTestBroker();
  ids = await broker.seed();
  for (let i = 0; i < 50; i++) {
    await broker.vault.setSecret({ scope: 'workspace', ownerId: ids.workspaceId, name: `S${i}_X`, value: `value-${i}-${'x'.repeat(64)}` });
  }
  ceId = (await broker.vault.createComputeEnv({ workspaceId: ids.workspaceId, name: 'bench', platform: 'local', config: {} })).id;
});

afterAll(async () => {
  await broker?.stop();
  console.log(['', 'case                              runs  launch→ready p50/p95 ms   complete→deleted p50/p95 ms', ...rows].join('\n'));
});

async function one(secrets: number): Promise<[number, number]> {
  const runId = uniqueRunId('b');
  const t0 = performance.now();
  await broker.runs.launch({ runId, workspaceId: ids.workspaceId, userId: ids.userId, computeEnvId: ceId, secretNames: Array.from({ length: secrets }, (_, i) => `S${i}_X`) });
  const t1 = performance.now();
  await broker.runs.complete(runId, 'succeeded');
  await broker.runs.waitClosed(runId);
  return [t1 - t0, performance.now() - t1];
}

async function measure(label: string, secrets: number, runs: number, concurrency: number): Promise<void> {
  const ready: number[] = [];
  const deleted: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < runs) {
        next++;
        const [r, d] = await one(secrets);
        ready.push(r);
        deleted.push(d);
      }
    }),
  );
  const f = (xs: number[]) => `${pct(xs, 50).toFixed(0).padStart(6)} / ${pct(xs, 95).toFixed(0).padEnd(6)}`;
  rows.push(`${label.padEnd(32)} ${String(runs).padStart(5)}  ${f(ready).padEnd(24)} ${f(deleted)}`);
  expect(ready).toHaveLength(runs);
}

test('launch and delete latency', async () => {
  await measure('warm-up (not counted)', 1, 5, 1);
  rows.length = 0;
  await measure('baseline: 0 secrets, sequential', 0, 20, 1);
  await measure('1 secret, sequential', 1, 20, 1);
  await measure('10 secrets, sequential', 10, 20, 1);
  await measure('50 secrets, sequential', 50, 20, 1);
  await measure('10 secrets, 20 concurrent', 10, 100, 20);
}, 600_000);
