/**
 * Updating a compute environment through the API (PATCH /v1/workspaces/:workspace/compute-envs/:name)
 * and the CLI (compute-envs update), on the real vault with the real hpc settings parser (host key
 * pin included), test credential kinds, and the in-memory runs double. Every refusal is checked to
 * leave the environment exactly as it was.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildApiServer } from '../../api/server';
import { credentialKind as realCredentialKind, type CredentialKind } from '../../credentials';
import { hpcPlatform } from '../../platforms/hpc';
import { platformSpec as realPlatformSpec } from '../../platforms';
import { ValidationError } from '../../domain/errors';
import type { VaultApi } from '../../store/types';
import { openVault } from '../../store/vault';
import { CapturingLogger, distinctiveValue, FakeRuns, harnessIdentity, httpRequest, tokenKind, uniqueName, type TestIdentity } from './helpers';
import { runCliCaptured, type CliResult } from '../harness/cli';

const OLD_FINGERPRINT = 'SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s';
const NEW_FINGERPRINT = 'SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU';
const HPC_CONFIG = { host: 'login.hpc.example.org', user: 'alice', hostKeyFingerprint: OLD_FINGERPRINT, workDir: '/shared/scratch/alice' };

/** A second kind, so "a credential of the wrong kind" can be stored and then refused. */
const otherKind: CredentialKind = {
  kind: 'test-other',
  description: 'another kind (tests only)',
  parse(fields) {
    if (typeof fields.secret !== 'string' || !fields.secret) throw new ValidationError('fields.secret', 'is required');
    return { public: {}, secret: { secret: fields.secret } };
  },
};

let dataDir: string;
let tmp: string;
let vault: VaultApi;
let logger: CapturingLogger;
let app: ReturnType<typeof buildApiServer>;
let port: number;
let apiUrl: string;
/** The suite's caller: a broker administrator, owner of the workspaces it creates. */
let harness: TestIdentity;
/** Every response body and everything the CLI printed, searched for secret values at the end. */
const seen: string[] = [];
const values: string[] = [];

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-ce-update-'));
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-ce-update-files-'));
  vault = await openVault({
    dataDir,
    masterKey: randomBytes(32),
    env: {},
    credentialKinds: (k) => (k === tokenKind.kind ? tokenKind : k === otherKind.kind ? otherKind : realCredentialKind(k)),
    // The real hpc parser, with the test credential kind instead of ssh (no real key needed).
    platformSpecs: (p) => (p === 'hpc' ? { ...hpcPlatform, credentialKind: tokenKind.kind } : realPlatformSpec(p)),
  });
  logger = new CapturingLogger();
  harness = await harnessIdentity(vault);
  app = buildApiServer({ vault, runs: new FakeRuns(vault), logger });
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as AddressInfo).port;
  apiUrl = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  await app?.close();
  await vault?.close();
  for (const d of [dataDir, tmp]) if (d) fs.rmSync(d, { recursive: true, force: true });
});

interface Answer {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  text: string;
}

async function call(method: string, url: string, body?: unknown): Promise<Answer> {
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  const res = await httpRequest(port, method, url, payload, payload === undefined ? harness.headers : { 'content-type': 'application/json', ...harness.headers });
  seen.push(res.text);
  return { status: res.status, body: res.text.length ? JSON.parse(res.text) : undefined, text: res.text };
}

function secretValue(tag: string): string {
  const v = distinctiveValue(tag);
  values.push(v);
  return v;
}

interface Seeded {
  ws: string;
  base: string;
  ce: Record<string, unknown> & { id: string; updatedAt: string };
  key1: string;
  key2: string;
  wrongKind: string;
}

/** A workspace with an hpc environment `cluster` on credential key1, a spare key2, and a credential of another kind. */
async function seed(): Promise<Seeded> {
  const ws = uniqueName('ws');
  expect((await call('POST', '/v1/workspaces', { name: ws })).status).toBe(201);
  const cred = async (name: string, kind: string, fields: Record<string, unknown>) => {
    const r = await call('POST', `/v1/workspaces/${ws}/credentials`, { name, kind, fields });
    expect(r.status).toBe(201);
    return r.body.id as string;
  };
  const key1 = await cred('key1', 'test-token', { user: 'alice', token: secretValue('key1') });
  const key2 = await cred('key2', 'test-token', { user: 'alice', token: secretValue('key2') });
  const wrongKind = await cred('other', 'test-other', { secret: secretValue('other') });
  const created = await call('POST', `/v1/workspaces/${ws}/compute-envs`, { name: 'cluster', platform: 'hpc', config: HPC_CONFIG, credential: 'key1' });
  expect(created.status).toBe(201);
  return { ws, base: `/v1/workspaces/${ws}/compute-envs`, ce: created.body, key1, key2, wrongKind };
}

describe('PATCH /v1/workspaces/:workspace/compute-envs/:name', () => {
  test('a new host key fingerprint: 200 with the updated environment; credential kept; updatedAt moves', async () => {
    const s = await seed();
    expect(s.ce.config).toEqual({ ...HPC_CONFIG, port: 22 });
    const r = await call('PATCH', `${s.base}/cluster`, { config: { ...HPC_CONFIG, hostKeyFingerprint: NEW_FINGERPRINT } });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ ...s.ce, config: { ...HPC_CONFIG, port: 22, hostKeyFingerprint: NEW_FINGERPRINT }, updatedAt: expect.any(String) });
    expect(r.body.credentialId).toBe(s.key1);
    expect(Date.parse(r.body.updatedAt)).toBeGreaterThan(Date.parse(s.ce.updatedAt));
    expect((await call('GET', `${s.base}/cluster`)).body).toEqual(r.body);
    expect((await vault.getComputeEnv(s.ce.id)).config.hostKeyFingerprint).toBe(NEW_FINGERPRINT);
  });

  test('a rotated credential, by name or by id; the settings stay', async () => {
    const s = await seed();
    const byName = await call('PATCH', `${s.base}/cluster`, { credential: 'key2' });
    expect(byName.status).toBe(200);
    expect(byName.body).toEqual({ ...s.ce, credentialId: s.key2, updatedAt: expect.any(String) });
    // key1 is free now: it can be deleted; key2 is in use.
    expect((await call('DELETE', `/v1/workspaces/${s.ws}/credentials/key1`)).status).toBe(204);
    expect((await call('DELETE', `/v1/workspaces/${s.ws}/credentials/key2`)).status).toBe(409);
    const byId = await call('PATCH', `${s.base}/${s.ce.id}`, { credential: s.key2, config: { ...HPC_CONFIG, port: 2222 } });
    expect(byId.status).toBe(200);
    expect(byId.body).toMatchObject({ credentialId: s.key2, config: { ...HPC_CONFIG, port: 2222 } });
  });

  test('a local environment: a moved work directory; a null credential is accepted, a credential is not', async () => {
    const s = await seed();
    expect((await call('POST', s.base, { name: 'laptop', platform: 'local', config: { workDir: '/srv/nf' } })).status).toBe(201);
    const moved = await call('PATCH', `${s.base}/laptop`, { config: { workDir: '/data/x/../nf' }, credential: null });
    expect(moved.status).toBe(200);
    expect(moved.body).toMatchObject({ config: { workDir: '/data/nf' }, credentialId: null });
    const refused = await call('PATCH', `${s.base}/laptop`, { credential: 'key1' });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ field: 'credential', rule: 'local compute environments take no credential', code: 'validation' });
    expect((await call('GET', `${s.base}/laptop`)).body).toEqual(moved.body);
  });

  test.each<[string, (s: Seeded) => unknown, string, RegExp?]>([
    ['an unknown key', () => ({ config: HPC_CONFIG, region: 'eu' }), 'region', /is not an accepted field/],
    ['the platform', () => ({ platform: 'local', config: {} }), 'platform', /cannot be changed/],
    ['the name', () => ({ name: 'renamed' }), 'name', /cannot be changed/],
    ['nothing to change', () => ({}), 'body', /must give config, credential or both/],
    ['a body that is not an object', () => [HPC_CONFIG], 'body', /must be a JSON object/],
    ['config that is not an object', () => ({ config: 'host=login2' }), 'config', /must be a JSON object/],
    ['config without a required setting', () => ({ config: { ...HPC_CONFIG, host: undefined } }), 'config.host', /is required/],
    ['config with a setting hpc does not have', () => ({ config: { ...HPC_CONFIG, hostKey: NEW_FINGERPRINT } }), 'config.hostKey', /is not a setting/],
    ['a malformed fingerprint', () => ({ config: { ...HPC_CONFIG, hostKeyFingerprint: 'SHA256:abc' } }), 'config.hostKeyFingerprint', /ssh-keygen -lf/],
    ['a credential of the wrong kind', (s) => ({ credential: s.wrongKind }), 'credential', /must be a "test-token" credential, not "test-other"/],
    [
      'a good config with a credential of the wrong kind',
      () => ({ config: { ...HPC_CONFIG, hostKeyFingerprint: NEW_FINGERPRINT }, credential: 'other' }),
      'credential',
      /must be a "test-token" credential/,
    ],
    ['a credential that does not exist', () => ({ credential: 'no-such-key' }), 'credential', /no such credential in workspace/],
    ['a credential cleared where the platform needs one', () => ({ credential: null }), 'credential', /required: hpc compute environments need a "test-token" credential/],
    ['a credential reference that is not a name or id', () => ({ credential: 'key 1' }), 'credential', /must be a name or id/],
  ])('refuses %s with 400 naming the field; the environment is unchanged', async (_what, body, field, rule) => {
    const s = await seed();
    const r = await call('PATCH', `${s.base}/cluster`, body(s));
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ error: `${field}: ${r.body.rule}`, field, rule: expect.any(String), code: 'validation' });
    if (rule) expect(r.body.rule).toMatch(rule);
    expect((await call('GET', `${s.base}/cluster`)).body).toEqual(s.ce);
  });

  test('a credential from another workspace is refused, by id and by a name only that workspace has', async () => {
    const s = await seed();
    const t = await seed();
    expect((await call('POST', `/v1/workspaces/${t.ws}/credentials`, { name: 'only-in-t', kind: 'test-token', fields: { user: 'u', token: secretValue('t') } })).status).toBe(201);
    for (const credential of [t.key2, 'only-in-t']) {
      const r = await call('PATCH', `${s.base}/cluster`, { credential });
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({ field: 'credential', rule: `no such credential in workspace "${s.ws}"` });
    }
    // Control: the same references work for the other workspace's own environment.
    expect((await call('PATCH', `${t.base}/cluster`, { credential: 'only-in-t' })).status).toBe(200);
    expect((await call('PATCH', `${t.base}/cluster`, { credential: t.key2 })).status).toBe(200);
    expect((await call('GET', `${s.base}/cluster`)).body).toEqual(s.ce);
  });

  test('404 for an unknown environment or workspace, and for an environment of another workspace', async () => {
    const s = await seed();
    const t = await seed();
    const ghost = await call('PATCH', `${s.base}/ghost`, { config: HPC_CONFIG });
    expect(ghost).toMatchObject({ status: 404, body: { error: 'compute environment "ghost" not found', code: 'not-found' } });
    const noWs = uniqueName('nows');
    const r = await call('PATCH', `/v1/workspaces/${noWs}/compute-envs/cluster`, { config: HPC_CONFIG });
    expect(r).toMatchObject({ status: 404, body: { error: `workspace "${noWs}" not found` } });
    // t's environment, by id, under s's workspace.
    expect((await call('PATCH', `${s.base}/${t.ce.id}`, { config: HPC_CONFIG })).status).toBe(404);
    expect((await call('GET', `${t.base}/cluster`)).body).toEqual(t.ce);
  });

  test('a bad path parameter, invalid JSON, or no body is 400', async () => {
    const s = await seed();
    expect((await call('PATCH', `${s.base}/bad.name`, { config: HPC_CONFIG })).body).toMatchObject({ field: 'name' });
    expect((await call('PATCH', `${s.base}/cluster`, '{"config": ')).body).toMatchObject({ field: 'body', rule: 'must be valid JSON' });
    const none = await call('PATCH', `${s.base}/cluster`);
    expect(none).toMatchObject({ status: 400, body: { field: 'body' } });
    expect((await call('GET', `${s.base}/cluster`)).body).toEqual(s.ce);
  });

  test('the request is logged as one line with its route, and no body', async () => {
    const s = await seed();
    await call('PATCH', `${s.base}/cluster`, { config: { ...HPC_CONFIG, hostKeyFingerprint: NEW_FINGERPRINT } });
    const line = logger.lines.find((l) => l.includes(`"method":"PATCH"`) && l.includes(`${s.base}/cluster`));
    expect(line).toBeDefined();
    expect(JSON.parse(line!.replace(/^info request /, ''))).toMatchObject({ status: 200, route: '/v1/workspaces/:workspace/compute-envs/:name' });
    expect(line).not.toContain(NEW_FINGERPRINT);
  });
});

// ---------------------------------------------------------------------------------------------

async function cli(args: string[]): Promise<CliResult> {
  const r = await runCliCaptured(['--api', apiUrl, ...args], { BROKER_TOKEN: harness.token });
  seen.push(r.stdout, r.stderr);
  return r;
}

describe('secret-broker compute-envs update', () => {
  test('the host key case as documented: show --json, change the fingerprint, update --config-file', async () => {
    const s = await seed();
    const shown = await cli(['--json', 'compute-envs', 'show', 'cluster', '--workspace', s.ws]);
    expect(shown.code).toBe(0);
    const config = { ...JSON.parse(shown.stdout).config, hostKeyFingerprint: NEW_FINGERPRINT };
    const file = path.join(tmp, `${s.ws}.json`);
    fs.writeFileSync(file, JSON.stringify(config));
    const r = await cli(['compute-envs', 'update', 'cluster', '--workspace', s.ws, '--config-file', file]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^updated compute environment cluster \\(hpc\\) in workspace ${s.ws}\\n`));
    expect(r.stdout).toMatch(new RegExp(`^config:\\s+.*"hostKeyFingerprint":"${NEW_FINGERPRINT.replace(/[+/]/g, '\\$&')}"`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`^credential:\\s+${s.key1}$`, 'm'));
    expect((await vault.getComputeEnv(s.ce.id)).config).toEqual({ ...HPC_CONFIG, port: 22, hostKeyFingerprint: NEW_FINGERPRINT });
  });

  test('--credential, --config and --json', async () => {
    const s = await seed();
    const r = await cli(['compute-envs', 'update', 'cluster', '--workspace', s.ws, '--credential', 'key2', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ ...s.ce, credentialId: s.key2, updatedAt: expect.any(String) });
    const c = await cli(['compute-envs', 'update', 'cluster', '--workspace', s.ws, '--config', JSON.stringify({ ...HPC_CONFIG, workDir: '/scratch/moved' })]);
    expect(c.code).toBe(0);
    expect(await vault.getComputeEnv(s.ce.id)).toMatchObject({ credentialId: s.key2, config: { workDir: '/scratch/moved' } });
  });

  test('usage mistakes exit 2 and send nothing', async () => {
    const s = await seed();
    const base = ['compute-envs', 'update', 'cluster', '--workspace', s.ws];
    expect(await cli(base)).toEqual({ code: 2, stdout: '', stderr: 'error: nothing to change: give --config JSON, --config-file PATH or --credential NAME\n' });
    expect(await cli([...base, '--config', '{}', '--config-file', 'x.json'])).toMatchObject({ code: 2, stderr: 'error: give either --config or --config-file, not both\n' });
    expect(await cli([...base, '--config', '{nope'])).toMatchObject({ code: 2, stderr: 'error: --config: not valid JSON\n' });
    expect(await cli([...base, '--config', '[]'])).toMatchObject({ code: 2, stderr: 'error: --config: must be a JSON object\n' });
    expect(await cli([...base, '--config-file', path.join(tmp, 'missing.json')])).toMatchObject({ code: 2, stderr: expect.stringMatching(/^error: --config-file: cannot read .*missing\.json \(ENOENT\)\n$/) });
    expect(await cli(['compute-envs', 'update', 'cluster', '--credential', 'key2'])).toMatchObject({ code: 2, stderr: "error: required option '--workspace <name>' not specified\n" });
    expect(await cli([...base, '--platform', 'local'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/^error: unknown option '--platform'/) });
    expect((await call('GET', `${s.base}/cluster`)).body).toEqual(s.ce);
  });

  test('a refusal exits 1 with one line naming the field; nothing changes', async () => {
    const s = await seed();
    const bad = await cli(['compute-envs', 'update', 'cluster', '--workspace', s.ws, '--config', JSON.stringify({ ...HPC_CONFIG, hostKeyFingerprint: 'SHA256:abc' })]);
    expect(bad).toMatchObject({ code: 1, stdout: '', stderr: expect.stringMatching(/^error: config\.hostKeyFingerprint: must be the host key SHA256 fingerprint.*ssh-keygen -lf.*\n$/) });
    expect(bad.stderr.split('\n')).toHaveLength(2);
    const kind = await cli(['compute-envs', 'update', 'cluster', '--workspace', s.ws, '--credential', 'other']);
    expect(kind).toMatchObject({ code: 1, stderr: 'error: credential: must be a "test-token" credential, not "test-other"\n' });
    const ghost = await cli(['compute-envs', 'update', 'ghost', '--workspace', s.ws, '--credential', 'key2']);
    expect(ghost).toMatchObject({ code: 1, stderr: 'error: compute environment "ghost" not found\n' });
    expect((await call('GET', `${s.base}/cluster`)).body).toEqual(s.ce);
  });

  test('help shows the host key case', async () => {
    const r = await cli(['compute-envs', 'update', '--help']);
    expect(r.code).toBe(0);
    for (const s of ['ssh-keygen -lf', 'ssh-keyscan', 'hostKeyFingerprint', 'secret-broker compute-envs update cluster --workspace genomics --config-file hpc.json']) {
      expect(r.stdout).toContain(s);
    }
  });
});

test('no credential secret this suite stored is in any response, CLI output or log line', () => {
  // Defined last, so it runs after every test above.
  expect(values.length).toBeGreaterThan(20);
  const all = seen.join('\n') + '\n' + logger.text();
  for (const v of values) expect(all).not.toContain(v);
});
