/**
 * The gcp target against the real Secret Manager emulator (IAM off): ids, labels, payloads at
 * versions/latest, replication, idempotent push, ownership, delete, listOwned pagination.
 */
import { randomBytes } from 'node:crypto';
import { googleCredential } from '../../credentials/google';
import { ANNOTATION, createGcpTarget, GcpSecretTarget, LABEL, labelValue, type SecretManagerLike } from '../../targets/gcp/target';
import { parseGcpConfig } from '../../platforms/gcp';
import type { RunContext, SecretTarget, TargetDeps } from '../../targets/types';
import { startGcpEmulator, type GcpEmulator } from '../harness/gcp-emulator';
import { serviceAccountEmail, serviceAccountKeyText, TEST_PROJECT } from '../fixtures/gcp-service-account';
import { type ComputeEnvRecord } from '../../domain/run';

jest.setTimeout(60_000);

let emu: GcpEmulator;
let deps: TargetDeps;
const stored = googleCredential.parse({ serviceAccountKey: serviceAccountKeyText({ name: 'broker' }) });

const ce: ComputeEnvRecord = {
  id: 'ce-gcp-1',
  workspaceId: 'ws-gcp-1',
  name: 'google-batch',
  platform: 'gcp',
  config: { location: 'europe-west4', batchServiceAccount: serviceAccountEmail('batch') },
  credentialId: 'cred-google-1',
};

function run(runId = 'Run' + randomBytes(4).toString('hex')): RunContext {
  return { runId, workspaceId: 'ws-gcp-1', computeEnv: ce };
}

const parent = `projects/${TEST_PROJECT}`;
const targets: SecretTarget[] = [];
async function target(): Promise<SecretTarget> {
  const t = await createGcpTarget(ce, deps);
  targets.push(t);
  return t;
}

async function payload(name: string): Promise<string> {
  const [res] = await emu.client().accessSecretVersion({ name: `${name}/versions/latest` });
  return Buffer.from(res.payload!.data as Uint8Array).toString('utf8');
}

async function versionCount(name: string): Promise<number> {
  const [versions] = await emu.client().listSecretVersions({ parent: name }, { autoPaginate: false });
  return versions.length;
}

async function exists(name: string): Promise<boolean> {
  try {
    await emu.client().getSecret({ name });
    return true;
  } catch (err) {
    if ((err as { code?: number }).code === 5) return false;
    throw err;
  }
}

beforeAll(async () => {
  emu = await startGcpEmulator();
  deps = {
    localWorkDir: '/nonexistent',
    endpoints: { gcp: emu.endpoint },
    readCredential: async (id) => {
      if (id !== ce.credentialId) throw new Error(`unknown credential ${id}`);
      return { kind: 'google', ...stored };
    },
  };
});

afterAll(async () => {
  for (const t of targets) await t.close();
  await emu?.stop();
});

test('push creates tower-<runId>-<NAME> with the value at versions/latest, labels, annotations and regional replication', async () => {
  const t = await target();
  const r = run('RunMixedCase_01');
  const res = await t.push(r, [
    { name: 'DB_PASSWORD', value: 'hunter2-db' },
    { name: 'API_TOKEN', value: 'tok-äöü-✓' },
  ]);
  expect(res.refs.map((x) => x.remoteId)).toEqual([`${parent}/secrets/tower-RunMixedCase_01-DB_PASSWORD`, `${parent}/secrets/tower-RunMixedCase_01-API_TOKEN`]);
  expect(res.refs.every((x) => x.platform === 'gcp' && x.computeEnvId === ce.id)).toBe(true);
  expect(res.headJobEnv).toEqual({ GOOGLE_CLOUD_PROJECT: TEST_PROJECT });
  expect(JSON.stringify(res)).not.toContain('hunter2');

  const [secret] = await emu.client().getSecret({ name: res.refs[0].remoteId });
  expect(secret.labels).toEqual({
    [LABEL.managed]: 'true',
    [LABEL.runId]: labelValue('RunMixedCase_01'),
    [LABEL.workspace]: 'ws-gcp-1',
  });
  // Label values must be lowercase: a mixed-case run id is hashed, and kept exactly in an annotation.
  expect(secret.labels![LABEL.runId]).toMatch(/^h-[0-9a-f]{40}$/);
  expect(secret.annotations).toMatchObject({ [ANNOTATION.runId]: 'RunMixedCase_01', [ANNOTATION.workspaceId]: 'ws-gcp-1', [ANNOTATION.secretName]: 'DB_PASSWORD' });
  expect(secret.replication?.userManaged?.replicas?.map((x) => x.location)).toEqual(['europe-west4']);
  expect(secret.replication?.automatic).toBeFalsy();

  expect(await payload(res.refs[0].remoteId)).toBe('hunter2-db');
  expect(await payload(res.refs[1].remoteId)).toBe('tok-äöü-✓');
  expect(await versionCount(res.refs[0].remoteId)).toBe(1);
  expect(await t.verify(r, res.refs)).toEqual({ ok: true });
});

test('a lowercase run id is used as the label value as is', async () => {
  const t = await target();
  const r = run('run-lower_1');
  const res = await t.push(r, [{ name: 'A_B', value: 'v' }]);
  const [secret] = await emu.client().getSecret({ name: res.refs[0].remoteId });
  expect(secret.labels![LABEL.runId]).toBe('run-lower_1');
});

test('push is idempotent: a retried push keeps one version; a half-done push gets its version', async () => {
  const t = await target();
  const r = run();
  const secrets = [{ name: 'TOKEN', value: 'first-value' }];
  const first = await t.push(r, secrets);
  const again = await t.push(r, secrets);
  expect(again.refs).toEqual(first.refs);
  expect(await versionCount(first.refs[0].remoteId)).toBe(1);
  expect(await payload(first.refs[0].remoteId)).toBe('first-value');

  // A crash between create and add-version leaves a labelled secret without a version.
  const [half] = t.plan(r, ['HALF']);
  await emu.client().createSecret({
    parent,
    secretId: half.remoteId.split('/').pop()!,
    secret: {
      replication: { userManaged: { replicas: [{ location: 'europe-west4' }] } },
      labels: { [LABEL.managed]: 'true', [LABEL.runId]: labelValue(r.runId), [LABEL.workspace]: 'ws-gcp-1' },
      annotations: { [ANNOTATION.runId]: r.runId },
    },
  });
  expect(await versionCount(half.remoteId)).toBe(0);
  await t.push(r, [{ name: 'HALF', value: 'half-value' }]);
  expect(await versionCount(half.remoteId)).toBe(1);
  expect(await payload(half.remoteId)).toBe('half-value');
});

test('a secret with the same id but without the broker labels is never overwritten nor deleted', async () => {
  const t = await target();
  const r = run();
  const [ref] = t.plan(r, ['FOREIGN']);
  const id = ref.remoteId.split('/').pop()!;
  await emu.client().createSecret({ parent, secretId: id, secret: { replication: { automatic: {} }, labels: { team: 'data' } } });
  await emu.client().addSecretVersion({ parent: ref.remoteId, payload: { data: Buffer.from('theirs') } });

  const err = await t.push(r, [{ name: 'FOREIGN', value: 'ours-must-not-land' }]).catch((e: Error) => e);
  expect(err).toBeInstanceOf(Error);
  expect((err as Error).name).toBe('NotOwnedError');
  expect((err as Error).message).toContain(ref.remoteId);
  expect((err as Error).message).not.toContain('ours-must-not-land');
  expect(await versionCount(ref.remoteId)).toBe(1);
  expect(await payload(ref.remoteId)).toBe('theirs');

  expect(await t.delete(r, [ref])).toEqual(['not-owned']);
  expect(await exists(ref.remoteId)).toBe(true);

  // Labelled by the broker, but for another run: not this run's to delete either.
  const other = run();
  const [otherRef] = t.plan(other, ['X1']);
  await t.push(other, [{ name: 'X1', value: 'x' }]);
  expect(await t.delete(r, [{ ...otherRef }])).toEqual(['not-owned']);
  expect(await exists(otherRef.remoteId)).toBe(true);
});

test('delete removes exactly the refs; a second delete reports not-found', async () => {
  const t = await target();
  const r = run();
  const res = await t.push(r, [
    { name: 'ONE', value: '1111' },
    { name: 'TWO', value: '2222' },
  ]);
  const bystander = await t.push(r, [{ name: 'THREE', value: '3333' }]);
  expect(await t.delete(r, res.refs)).toEqual(['deleted', 'deleted']);
  for (const ref of res.refs) expect(await exists(ref.remoteId)).toBe(false);
  expect(await exists(bystander.refs[0].remoteId)).toBe(true);
  expect(await t.delete(r, res.refs)).toEqual(['not-found', 'not-found']);
  // A ref outside this compute environment's project is never touched, and never reported deleted.
  await expect(t.delete(r, [{ ...bystander.refs[0], remoteId: 'projects/someone-else/secrets/tower-x-Y' }])).rejects.toThrow(/outside projects\/.* that this compute environment now uses/);
});

test('listOwned pages through every broker-labelled secret and skips the rest', async () => {
  // A fresh emulator, so the listing holds exactly what this test made.
  const own = await startGcpEmulator();
  try {
    const base = await createGcpTarget(ce, { ...deps, endpoints: { gcp: own.endpoint } });
    const r1 = run();
    const r2 = run('r2-lower');
    await base.push(r1, ['A1', 'A2', 'A3'].map((name) => ({ name, value: `v-${name}` })));
    await base.push(r2, ['B1', 'B2'].map((name) => ({ name, value: `v-${name}` })));
    await own.client().createSecret({ parent, secretId: 'unlabelled-1', secret: { replication: { automatic: {} } } });
    await own.client().createSecret({ parent, secretId: 'other-labels', secret: { replication: { automatic: {} }, labels: { [LABEL.managed]: 'false' } } });
    await base.close();

    // With one page, the emulator's own listing: exactly the broker's secrets.
    const single = await createGcpTarget(ce, { ...deps, endpoints: { gcp: own.endpoint } });
    const expected = [...['A1', 'A2', 'A3'].map((n) => `${r1.runId}:tower-${r1.runId}-${n}`), ...['B1', 'B2'].map((n) => `${r2.runId}:tower-${r2.runId}-${n}`)].sort();
    const show = (owned: { runId: string; remoteId: string }[]) => owned.map((o) => `${o.runId}:${o.remoteId.split('/').pop()}`).sort();
    expect(show(await single.listOwned())).toEqual(expected);
    await single.close();

    // Several pages. The emulator pages over a Go map (its order changes from call to call), so a
    // page token is not stable there; this client takes the emulator's full listing and serves it
    // in stable pages of the size asked, counting the pages the target asks for.
    const sm = own.client();
    let pages = 0;
    const counting: SecretManagerLike = new Proxy(sm, {
      get(target, prop, receiver) {
        if (prop === 'listSecrets') {
          return async (req: { parent: string; pageSize: number; pageToken?: string; filter?: string }, opts: object) => {
            pages++;
            expect(req.filter).toBe(`labels.${LABEL.managed}=true`);
            const [all] = await target.listSecrets({ parent: req.parent, pageSize: 1000 }, { ...opts, autoPaginate: false });
            all.sort((a, b) => a.name!.localeCompare(b.name!));
            const start = Number(req.pageToken || 0);
            const end = start + req.pageSize;
            return [all.slice(start, end), end < all.length ? { ...req, pageToken: String(end) } : null, {}];
          };
        }
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const lister = new GcpSecretTarget({
      computeEnvId: ce.id,
      project: TEST_PROJECT,
      config: parseGcpConfig(ce.config),
      clientEmail: serviceAccountEmail('broker'),
      client: counting,
      listPageSize: 2,
    });
    const owned = await lister.listOwned();
    expect(pages).toBe(4); // 7 secrets, 2 per page
    expect(show(owned)).toEqual(expected);
    expect(owned.every((o) => o.workspaceId === 'ws-gcp-1')).toBe(true);
    await lister.close();
  } finally {
    await own.stop();
  }
});

test('plan is deterministic and refuses ids Google would refuse', async () => {
  const t = await target();
  const r = run('abc');
  expect(t.plan(r, ['X_1'])).toEqual(t.plan(r, ['X_1']));
  expect(t.plan(r, ['X_1'])[0]).toMatchObject({ remoteId: `${parent}/secrets/tower-abc-X_1`, location: `${parent} (europe-west4)` });
  expect(() => t.plan(run('bad.id'), ['X'])).toThrow(expect.objectContaining({ name: 'InvalidInputError' }));
});

test('the factory refuses a credential of another kind and a compute environment without one', async () => {
  await expect(createGcpTarget(ce, { ...deps, readCredential: async () => ({ kind: 'ssh', public: {}, secret: { privateKey: 'x' } }) })).rejects.toMatchObject({
    name: 'AuthenticationFailedError',
  });
  await expect(createGcpTarget({ ...ce, credentialId: null }, deps)).rejects.toMatchObject({ name: 'AuthenticationFailedError' });
});
