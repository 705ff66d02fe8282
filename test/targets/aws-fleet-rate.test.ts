/**
 * AWS write limits hold for the whole fleet: two processes pushing to one account (moto) through the
 * aws target, with their slots in one PostgreSQL database (store/rate-slots.ts), stay together under
 * the account's rate; the same two processes with their own limits exceed it (the control that shows
 * the check can fail). Each process records when every CreateSecret call left it (SDK middleware).
 *
 * The processes run the built broker (lib/, as `make test` builds it), not this test's TypeScript.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { openDb, type Db } from '../../store/db';
import { migrate } from '../../store/migrations';
import { adminIam, setUpAccount, startMoto, uniqueName, type AwsAccountSetup, type MotoServer } from '../harness/moto';
import { startPostgres, type PostgresServer } from '../harness/postgres';

const LIB = path.join(__dirname, '..', '..', 'lib');
const REGION = 'eu-west-1';
const RATE = 10; // CreateSecret calls per second for the account, the whole fleet
const BURST = Math.floor(RATE / 5); // what remote/aws/rate-limit.ts allows at once
const PER_PROCESS = 20;
const run = promisify(execFile);

let pg: PostgresServer;
let moto: MotoServer;
let db: Db;
let account: AwsAccountSetup;

beforeAll(async () => {
  if (!fs.existsSync(path.join(LIB, 'store', 'rate-slots.js'))) throw new Error(`${LIB} is missing the build: npx tsc -p tsconfig.build.json (make test does)`);
  [pg, moto] = await Promise.all([startPostgres(), startMoto()]);
  db = await openDb({ dataDir: '/nonexistent', databaseUrl: pg.url });
  await db.tx((q) => migrate(q));
  const iam = adminIam(moto.endpoint);
  account = await setUpAccount(iam, REGION);
  iam.destroy();
}, 120_000);

afterAll(async () => {
  await db?.close();
  await Promise.all([pg?.stop(), moto?.stop()]);
});

// One worker's share: build the aws target as the worker does (rateSlots from the database when
// given), wait for the common start, push PER_PROCESS secrets for one run, delete them, print when
// each CreateSecret left.
const WRITER = `
const os = require('node:os');
const lib = process.argv[1];
const cfg = JSON.parse(process.argv[2]);
const { createAwsTarget } = require(lib + '/targets/aws/target.js');
const { openDb } = require(lib + '/store/db.js');
const { sqlRateSlots } = require(lib + '/store/rate-slots.js');
(async () => {
  const db = cfg.databaseUrl ? await openDb({ dataDir: '/nonexistent', databaseUrl: cfg.databaseUrl }) : undefined;
  const ce = { id: cfg.ceId, workspaceId: 'ws-fleet', name: 'aws', platform: 'aws', credentialId: 'c', config: cfg.config };
  const deps = {
    localWorkDir: os.tmpdir(),
    endpoints: { aws: cfg.endpoint },
    readCredential: async () => ({ kind: 'aws', public: { accessKeyId: cfg.keys.accessKeyId }, secret: { secretAccessKey: cfg.keys.secretAccessKey } }),
    ...(db ? { rateSlots: sqlRateSlots(db) } : {}),
  };
  const target = await createAwsTarget(ce, deps, { writesPerSecond: cfg.rate, iamEvaluation: 'local' });
  const sent = [];
  target.clients.secrets.middlewareStack.add((next, ctx) => async (args) => {
    if (ctx.commandName === 'CreateSecretCommand') sent.push(Date.now());
    return next(args);
  }, { step: 'initialize', name: 'fleetRateProbe' });
  const runCtx = { runId: cfg.runId, workspaceId: 'ws-fleet', computeEnv: ce };
  const secrets = Array.from({ length: cfg.count }, (_, i) => ({ name: 'S' + i, value: 'value-' + i }));
  await new Promise((r) => setTimeout(r, Math.max(0, cfg.startAt - Date.now())));
  const res = await target.push(runCtx, secrets);
  await target.delete(runCtx, res.refs);
  await target.close();
  await db?.close();
  process.stdout.write(JSON.stringify({ sent, pushed: res.refs.length }));
})().catch((err) => { console.error(err && err.stack || String(err)); process.exit(1); });
`;

/** Run two writer processes at once; every CreateSecret time, sorted. */
async function twoWriters(databaseUrl: string | undefined): Promise<number[]> {
  const startAt = Date.now() + 4_000; // both have loaded the SDK by then, even on a busy machine
  const cfg = (i: number) =>
    JSON.stringify({
      databaseUrl,
      endpoint: moto.endpoint,
      keys: account.broker,
      config: { region: REGION, headJobRoleArn: account.headJobRoleArn, executionRoleArn: account.executionRoleArn },
      ceId: uniqueName('ce'),
      runId: uniqueName(`fleet${i}`).replace(/-/g, ''),
      rate: RATE,
      count: PER_PROCESS,
      startAt,
    });
  const outs = await Promise.all([0, 1].map((i) => run(process.execPath, ['-e', WRITER, LIB, cfg(i)], { timeout: 60_000 })));
  const results = outs.map((o) => JSON.parse(o.stdout) as { sent: number[]; pushed: number });
  for (const r of results) {
    expect(r.pushed).toBe(PER_PROCESS);
    expect(r.sent).toHaveLength(PER_PROCESS);
  }
  return results.flatMap((r) => r.sent).sort((a, b) => a - b);
}

/** The most calls that left within any one second. */
function busiestSecond(times: number[]): number {
  let most = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i]! - times[j]! >= 1000) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

// GCRA admits at most BURST + one per interval in any second; one more for a slot at the window's edge.
const LIMIT = RATE + BURST + 1;

test('two processes with slots in one database stay together under the account rate', async () => {
  const times = await twoWriters(pg.url);
  expect(busiestSecond(times)).toBeLessThanOrEqual(LIMIT);
  // 40 calls at 10 a second take about four seconds, not the two each process alone would take.
  expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual(((2 * PER_PROCESS - BURST - 1) * 1000) / RATE - 50);
}, 120_000);

test('control: the same two processes with only their own limits exceed it', async () => {
  const times = await twoWriters(undefined);
  expect(busiestSecond(times)).toBeGreaterThan(LIMIT);
}, 120_000);
