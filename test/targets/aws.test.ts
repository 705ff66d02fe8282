/**
 * The aws provider against a real moto server: names, values, region and tags; idempotent re-push;
 * ownership (never overwrite or delete what is not this run's); list-owned pagination; delete.
 */
import * as os from 'node:os';
import type { IAM } from '@aws-sdk/client-iam';
import type { SecretsManager } from '@aws-sdk/client-secrets-manager';
import { createTarget } from '../../targets';
import { TAG, clientRequestToken, createAwsTarget, secretName, type AwsSecretTarget } from '../../targets/aws/target';
import type { RunContext, TargetDeps } from '../../targets/types';
import { adminIam, adminSecrets, setUpAccount, startMoto, uniqueName, type AwsAccountSetup, type MotoServer } from '../harness/moto';
import { NotOwnedError } from '../../domain/errors';
import { type ComputeEnvRecord } from '../../domain/run';

const REGION = 'eu-west-1';
let moto: MotoServer;
let iam: IAM;
let sm: SecretsManager;
let account: AwsAccountSetup;

function ce(over: Partial<ComputeEnvRecord> = {}, config: Record<string, unknown> = {}): ComputeEnvRecord {
  return {
    id: uniqueName('ce'),
    workspaceId: 'ws-1',
    name: 'aws-batch',
    platform: 'aws',
    credentialId: 'cred-aws',
    config: { region: REGION, headJobRoleArn: account.headJobRoleArn, executionRoleArn: account.executionRoleArn, ...config },
    ...over,
  };
}

function deps(keys = account.broker): TargetDeps {
  return {
    localWorkDir: os.tmpdir(),
    endpoints: { aws: moto.endpoint },
    readCredential: async () => ({ kind: 'aws', public: { accessKeyId: keys.accessKeyId }, secret: { secretAccessKey: keys.secretAccessKey } }),
  };
}

function run(env: ComputeEnvRecord, runId = uniqueName('run').replace(/-/g, '')): RunContext {
  return { runId, workspaceId: env.workspaceId, computeEnv: env };
}

const targets: AwsSecretTarget[] = [];
async function target(env: ComputeEnvRecord, opts = {}): Promise<AwsSecretTarget> {
  const t = await createAwsTarget(env, deps(), opts);
  targets.push(t);
  return t;
}

async function value(name: string, region = REGION): Promise<string | undefined> {
  const client = region === REGION ? sm : adminSecrets(moto.endpoint, region);
  try {
    return (await client.getSecretValue({ SecretId: name })).SecretString;
  } catch (err) {
    if ((err as Error).name === 'ResourceNotFoundException') return undefined;
    throw err;
  }
}

beforeAll(async () => {
  moto = await startMoto();
  iam = adminIam(moto.endpoint);
  sm = adminSecrets(moto.endpoint, REGION);
  account = await setUpAccount(iam, REGION);
});

afterAll(async () => {
  for (const t of targets) await t.close();
  iam?.destroy();
  sm?.destroy();
  await moto?.stop();
});

describe('aws target against moto', () => {
  test('is registered for platform aws', async () => {
    const t = await createTarget(ce(), deps());
    expect(t.platform).toBe('aws');
    await t.close();
  });

  test('push creates tower-<runId>/<NAME> in the region with the value and the ownership tags; delete removes them', async () => {
    const env = ce();
    const r = run(env);
    const t = await target(env);
    const secrets = [
      { name: 'DB_PASSWORD', value: 'pa55-w0rd!' },
      { name: 'API_TOKEN', value: 'tok_' + 'x'.repeat(60) },
    ];
    const seen: number[] = [];
    const res = await t.push(r, secrets, (n) => seen.push(n));
    expect(res.refs).toEqual(t.plan(r, ['DB_PASSWORD', 'API_TOKEN']));
    expect(res.refs.map((x) => x.remoteId)).toEqual([`tower-${r.runId}/DB_PASSWORD`, `tower-${r.runId}/API_TOKEN`]);
    expect(res.refs.every((x) => x.location === REGION && x.platform === 'aws' && x.computeEnvId === env.id)).toBe(true);
    expect(res.headJobEnv).toEqual({ AWS_REGION: REGION, AWS_DEFAULT_REGION: REGION, TOWER_WORKFLOW_ID: r.runId, NXF_ENABLE_SECRETS: 'true' });
    expect(JSON.stringify(res)).not.toContain('pa55-w0rd!');
    expect(seen.sort()).toEqual([1, 2]);

    for (const s of secrets) {
      const name = secretName(r.runId, s.name);
      expect(await value(name)).toBe(s.value);
      const d = await sm.describeSecret({ SecretId: name });
      expect(d.ARN).toMatch(new RegExp(`^arn:aws:secretsmanager:${REGION}:\\d{12}:secret:tower-${r.runId}/${s.name}-`));
      const tags = Object.fromEntries((d.Tags ?? []).map((x) => [x.Key, x.Value]));
      expect(tags).toEqual({ [TAG.managed]: 'true', [TAG.runId]: r.runId, [TAG.workspace]: env.workspaceId, [TAG.computeEnv]: env.id });
      expect(Object.keys(d.VersionIdsToStages ?? {})).toEqual([clientRequestToken(r.runId, s.name)]);
      // Only in the compute environment's region.
      expect(await value(name, 'us-east-2')).toBeUndefined();
    }

    expect(await t.delete(r, res.refs)).toEqual(['deleted', 'deleted']);
    for (const s of secrets) expect(await value(secretName(r.runId, s.name))).toBeUndefined();
    // Gone is done.
    expect(await t.delete(r, res.refs)).toEqual(['not-found', 'not-found']);
  });

  test('a retried push neither duplicates nor fails, and keeps one version', async () => {
    const env = ce();
    const r = run(env);
    const t = await target(env);
    const secrets = [{ name: 'TOKEN', value: 'first-value' }];
    const a = await t.push(r, secrets);
    const b = await t.push(r, secrets);
    expect(b).toEqual(a);
    const list = await sm.listSecrets({ Filters: [{ Key: 'name', Values: [`tower-${r.runId}`] }] });
    expect(list.SecretList?.map((s) => s.Name)).toEqual([`tower-${r.runId}/TOKEN`]);
    const d = await sm.describeSecret({ SecretId: `tower-${r.runId}/TOKEN` });
    expect(Object.keys(d.VersionIdsToStages ?? {})).toHaveLength(1);
    expect(await value(`tower-${r.runId}/TOKEN`)).toBe('first-value');
    await t.delete(r, a.refs);
  });

  test('a push after a version that is not ours (same run, tagged) sets our value', async () => {
    const env = ce();
    const r = run(env);
    const t = await target(env);
    const name = secretName(r.runId, 'KEY');
    // This run's secret, created without our token (as if by an older broker).
    await sm.createSecret({
      Name: name,
      SecretString: 'stale',
      Tags: [
        { Key: TAG.managed, Value: 'true' },
        { Key: TAG.runId, Value: r.runId },
        { Key: TAG.workspace, Value: env.workspaceId },
      ],
    });
    await t.push(r, [{ name: 'KEY', value: 'fresh' }]);
    expect(await value(name)).toBe('fresh');
    expect(await t.delete(r, t.plan(r, ['KEY']))).toEqual(['deleted']);
  });

  test.each([
    { reason: 'untagged secret of the same name', tags: [] as { Key: string; Value: string }[] },
    { reason: "another run's secret", tags: [{ Key: TAG.managed, Value: 'true' }] },
  ])('never overwrites or deletes a $reason', async ({ tags }) => {
    const env = ce();
    const r = run(env);
    const t = await target(env);
    const name = secretName(r.runId, 'SHARED');
    const fullTags = tags.length ? [...tags, { Key: TAG.runId, Value: 'some-other-run' }, { Key: TAG.workspace, Value: env.workspaceId }] : [];
    await sm.createSecret({ Name: name, SecretString: 'not-the-brokers', ...(fullTags.length ? { Tags: fullTags } : {}) });

    const push = t.push(r, [{ name: 'SHARED', value: 'would-overwrite' }]);
    await expect(push).rejects.toBeInstanceOf(NotOwnedError);
    await expect(push).rejects.toMatchObject({ name: 'NotOwnedError' });
    const err = await push.catch((e: Error) => e);
    expect(String((err as Error).message)).not.toContain('would-overwrite');
    expect(await value(name)).toBe('not-the-brokers');

    expect(await t.delete(r, t.plan(r, ['SHARED']))).toEqual(['not-owned']);
    expect(await value(name)).toBe('not-the-brokers');
    // A ref recorded in another region is unreachable from here: an error, never "not found".
    const elsewhere = t.plan(r, ['SHARED']).map((ref) => ({ ...ref, location: 'eu-west-3' }));
    await expect(t.delete(r, elsewhere)).rejects.toThrow(/pushed its secrets to region eu-west-3/);
    expect(await value(name)).toBe('not-the-brokers');
    await sm.deleteSecret({ SecretId: name, ForceDeleteWithoutRecovery: true });
  });

  test('listOwned pages through every broker-tagged tower- secret of this environment, and nothing else', async () => {
    const region = 'ap-southeast-2';
    const env = ce({}, { region });
    const t = await target(env, { listPageSize: 7 });
    const other = adminSecrets(moto.endpoint, region);
    try {
      const runs = [run(env), run(env), run(env)];
      const names = Array.from({ length: 35 }, (_, i) => `S_${i}`);
      for (const r of runs) await t.push(r, names.map((name) => ({ name, value: `v-${name}` })));
      // Not ours: untagged tower- secret, tagged secret without the prefix.
      await other.createSecret({ Name: 'tower-foreign/X', SecretString: 'x' });
      await other.createSecret({ Name: 'not-tower/X', SecretString: 'x', Tags: [{ Key: TAG.managed, Value: 'true' }, { Key: TAG.runId, Value: 'r' }, { Key: TAG.workspace, Value: 'w' }] });

      const owned = await t.listOwned();
      expect(owned).toHaveLength(105);
      const expected = runs.flatMap((r) => names.map((n) => ({ remoteId: secretName(r.runId, n), runId: r.runId, workspaceId: env.workspaceId })));
      const key = (o: { remoteId: string }) => o.remoteId;
      expect([...owned].sort((a, b) => key(a).localeCompare(key(b)))).toEqual([...expected].sort((a, b) => key(a).localeCompare(key(b))));

      // The default page size (100) needs two pages for 105.
      const t100 = await target(env);
      expect(await t100.listOwned()).toHaveLength(105);

      for (const r of runs) expect(new Set(await t.delete(r, t.plan(r, names)))).toEqual(new Set(['deleted']));
      expect(await t.listOwned()).toEqual([]);
    } finally {
      other.destroy();
    }
  });

  test('plan refuses names AWS cannot hold', async () => {
    const env = ce();
    const t = await target(env);
    expect(() => t.plan(run(env, 'bad run id'), ['A'])).toThrow(/not a valid AWS secret name/);
  });

  test('an oversized value is refused before AWS sees it, without the value in the message', async () => {
    const env = ce();
    const t = await target(env);
    const big = 'Z'.repeat(65_537);
    const err = await t.push(run(env), [{ name: 'BIG', value: big }]).catch((e: Error) => e);
    expect(err).toMatchObject({ name: 'InvalidInputError' });
    expect((err as Error).message).toMatch(/BIG.*65536 bytes/);
    expect((err as Error).message).not.toContain('ZZZZ');
  });

  test('per-run resource policy: each secret carries a policy naming only this run\'s roles', async () => {
    const env = ce({}, { perRunResourcePolicy: true });
    const r = run(env);
    const t = await target(env);
    const res = await t.push(r, [{ name: 'ONLY_THIS_RUN', value: 'v' }]);
    const p = await sm.getResourcePolicy({ SecretId: res.refs[0]!.remoteId });
    const doc = JSON.parse(p.ResourcePolicy!);
    expect(doc.Statement[0].Principal.AWS).toEqual([account.executionRoleArn, account.headJobRoleArn]);
    expect(doc.Statement[1]).toMatchObject({ Effect: 'Deny', Action: 'secretsmanager:GetSecretValue' });
    expect(await t.verify(r, res.refs)).toEqual({ ok: true });
    expect(await t.delete(r, res.refs)).toEqual(['deleted']);
  });
});
