/**
 * Throttling: a fault proxy in front of moto answers 30% of Secrets Manager calls with the real
 * throttling error (HTTP 400, ThrottlingException, "Rate exceeded"). Many runs pushing and deleting
 * at once must all complete: the SDK retries throttling with backoff, and the process-wide limiter
 * bounds the write rate.
 */
import * as os from 'node:os';
import type { IAM } from '@aws-sdk/client-iam';
import type { SecretsManager } from '@aws-sdk/client-secrets-manager';
import { createAwsTarget, type AwsSecretTarget } from '../../targets/aws/target';
import type { RunContext, TargetDeps } from '../../targets/types';
import { startFaultProxy, type FaultProxy } from '../harness/fault-proxy';
import { adminIam, adminSecrets, setUpAccount, startMoto, uniqueName, type AwsAccountSetup, type MotoServer } from '../harness/moto';
import { ThrottledError } from '../../domain/errors';
import { type ComputeEnvRecord } from '../../domain/run';

const REGION = 'us-west-2';
let moto: MotoServer;
let proxy: FaultProxy;
let iam: IAM;
let sm: SecretsManager;
let account: AwsAccountSetup;

beforeAll(async () => {
  moto = await startMoto();
  iam = adminIam(moto.endpoint);
  sm = adminSecrets(moto.endpoint, REGION);
  account = await setUpAccount(iam, REGION);
  proxy = await startFaultProxy({ target: moto.endpoint, share: 0.3, seed: 20240601 });
});

afterAll(async () => {
  await proxy?.stop();
  iam?.destroy();
  sm?.destroy();
  await moto?.stop();
});

function ce(): ComputeEnvRecord {
  return {
    id: uniqueName('ce'),
    workspaceId: 'ws-throttle',
    name: 'aws',
    platform: 'aws',
    credentialId: 'c',
    config: { region: REGION, headJobRoleArn: account.headJobRoleArn, executionRoleArn: account.executionRoleArn },
  };
}

const deps = (): TargetDeps => ({
  localWorkDir: os.tmpdir(),
  endpoints: { aws: proxy.endpoint },
  readCredential: async () => ({
    kind: 'aws',
    public: { accessKeyId: account.broker.accessKeyId },
    secret: { secretAccessKey: account.broker.secretAccessKey },
  }),
});

async function countTower(runIds: string[]): Promise<number> {
  let n = 0;
  for (const id of runIds) {
    const l = await sm.listSecrets({ Filters: [{ Key: 'name', Values: [`tower-${id}/`] }] });
    n += l.SecretList?.length ?? 0;
  }
  return n;
}

test('the proxy really throttles: with a single attempt a push fails with ThrottledError, sanitized', async () => {
  proxy.setShare(1);
  const env = ce();
  const t = await createAwsTarget(env, deps(), { maxAttempts: 1 });
  try {
    const r: RunContext = { runId: uniqueName('once').replace(/-/g, ''), workspaceId: env.workspaceId, computeEnv: env };
    const err = await t.push(r, [{ name: 'X', value: 'throttled-value' }]).catch((e: Error) => e);
    expect(err).toBeInstanceOf(ThrottledError);
    expect((err as Error).message).toBe(`aws secretsmanager:CreateSecret on tower-${r.runId}/X failed: ThrottlingException (HTTP 400): Rate exceeded`);
  } finally {
    proxy.setShare(0.3);
    await t.close();
  }
});

test('with 30% of calls throttled, 12 concurrent runs of 8 secrets all push, verify and delete', async () => {
  const before = proxy.stats();
  const runs = await Promise.all(
    Array.from({ length: 12 }, async (_, i) => {
      const env = ce();
      const target: AwsSecretTarget = await createAwsTarget(env, deps(), { writesPerSecond: 50 });
      const run: RunContext = { runId: uniqueName(`thr${i}`).replace(/-/g, ''), workspaceId: env.workspaceId, computeEnv: env };
      return { target, run };
    }),
  );
  const names = Array.from({ length: 8 }, (_, i) => `SECRET_${i}`);
  try {
    const pushed = await Promise.all(runs.map(({ target, run }) => target.push(run, names.map((name) => ({ name, value: `${run.runId}-${name}` })))));
    expect(await countTower(runs.map((r) => r.run.runId))).toBe(12 * 8);
    for (const { run } of runs.slice(0, 2)) {
      expect((await sm.getSecretValue({ SecretId: `tower-${run.runId}/SECRET_3` })).SecretString).toBe(`${run.runId}-SECRET_3`);
    }
    const verified = await Promise.all(runs.map(({ target, run }, i) => target.verify(run, pushed[i]!.refs)));
    expect(verified.every((v) => v.ok)).toBe(true);
    const outcomes = await Promise.all(runs.map(({ target, run }, i) => target.delete(run, pushed[i]!.refs)));
    expect(outcomes.flat()).toEqual(Array(12 * 8).fill('deleted'));
    expect(await countTower(runs.map((r) => r.run.runId))).toBe(0);
  } finally {
    for (const { target } of runs) await target.close();
  }
  const after = proxy.stats();
  // Only Secrets Manager calls are eligible (IAM reads during verify pass through).
  const sum = (st: typeof after, k: 'throttled' | 'forwarded') =>
    Object.entries(st.byOperation).filter(([op]) => op.startsWith('secretsmanager:')).reduce((n, [, o]) => n + o[k], 0);
  const throttled = sum(after, 'throttled') - sum(before, 'throttled');
  const forwarded = sum(after, 'forwarded') - sum(before, 'forwarded');
  // The faults really happened, at about the configured share.
  expect(throttled).toBeGreaterThan(0.2 * (throttled + forwarded));
  expect(after.byOperation['secretsmanager:CreateSecret']!.throttled).toBeGreaterThan(5);
  expect(after.byOperation['secretsmanager:DeleteSecret']!.throttled).toBeGreaterThan(5);
});

test('the write limiter bounds creates per account and region in this process', async () => {
  proxy.setShare(0);
  const env = ce();
  // A key of its own, so the bucket is not shared with the test above.
  const fresh = await setUpAccount(iam, REGION);
  const t = await createAwsTarget(
    env,
    { ...deps(), readCredential: async () => ({ kind: 'aws', public: { accessKeyId: fresh.broker.accessKeyId }, secret: { secretAccessKey: fresh.broker.secretAccessKey } }) },
    { writesPerSecond: 20 },
  );
  const r: RunContext = { runId: uniqueName('rate').replace(/-/g, ''), workspaceId: env.workspaceId, computeEnv: env };
  try {
    const t0 = Date.now();
    const res = await t.push(r, Array.from({ length: 30 }, (_, i) => ({ name: `R_${i}`, value: 'v' })));
    const took = Date.now() - t0;
    // 30 creates at 20/s with a burst of 4: at least (30 - 4) / 20 s.
    expect(took).toBeGreaterThanOrEqual(1250);
    await t.delete(r, res.refs);
  } finally {
    proxy.setShare(0.3);
    await t.close();
  }
});
