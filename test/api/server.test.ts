/**
 * The HTTP API on the real vault (PGlite in a temp dir) and an in-memory PipelineRunsApi: every
 * route's happy path, boundary validation, error mapping, and that secret values never come out.
 */
import type { AddressInfo } from 'node:net';
import { buildApiServer } from '../../api/server';
import { VaultKeyError, LaunchError } from '../../domain/errors';
import type { VaultApi } from '../../store/types';
import { CapturingLogger, distinctiveValue, FakeRuns, grant, httpRequest, identityToken, startTestApi, uniqueName, type TestApi } from './helpers';

let api: TestApi;
/** Every response body this suite received, to search for secret values at the end. */
const responses: string[] = [];
/** Every value this suite stored or tried to store. */
const values: string[] = [];

interface Answer {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  text: string;
}

async function call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  return callPort(api.port, method, url, body, headers);
}

/** Tokens of the users this suite made: their user secrets are theirs alone to set, list and delete. */
const userTokens = new Map<string, Record<string, string>>();

/** The caller of a request: the user for /v1/users/<user>/secrets, else the suite's broker administrator. */
function authFor(url: string): Record<string, string> {
  const m = /^\/v1\/users\/([^/?]+)\/secrets/.exec(url);
  return (m && userTokens.get(decodeURIComponent(m[1]!))) || api.harness.headers;
}

async function callPort(port: number, method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  headers = { ...authFor(url), ...headers };
  const res = await httpRequest(port, method, url, payload, payload === undefined ? headers : { 'content-type': 'application/json', ...headers });
  responses.push(res.text);
  let parsed: unknown = undefined;
  if (res.text.length) parsed = JSON.parse(res.text);
  return { status: res.status, body: parsed, text: res.text };
}

function secretValue(tag: string): string {
  const v = distinctiveValue(tag);
  values.push(v);
  return v;
}

async function seedWorkspace(): Promise<string> {
  const name = uniqueName('ws');
  expect((await call('POST', '/v1/workspaces', { name })).status).toBe(201);
  return name;
}

async function seedUser(): Promise<string> {
  const name = uniqueName('u');
  expect((await call('POST', '/v1/users', { name })).status).toBe(201);
  userTokens.set(name, (await identityToken(api.vault, name)).headers);
  return name;
}

beforeAll(async () => {
  api = await startTestApi();
});

afterAll(async () => {
  await api?.close();
});

describe('health', () => {
  test('GET /healthz answers ok', async () => {
    const r = await call('GET', '/healthz');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ status: 'ok' });
  });

  test('unknown routes are 404 with a JSON error', async () => {
    const r = await call('GET', '/v1/nothing-here');
    expect(r.status).toBe(404);
    expect(r.body.error).toMatch(/no route GET \/v1\/nothing-here/);
  });
});

describe('workspaces and users', () => {
  test('create and list workspaces', async () => {
    const name = uniqueName('ws');
    const created = await call('POST', '/v1/workspaces', { name });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ id: expect.any(String), name, createdAt: expect.any(String) });
    const list = await call('GET', '/v1/workspaces');
    expect(list.status).toBe(200);
    expect(list.body.workspaces).toContainEqual(created.body);
  });

  test('create and list users', async () => {
    const name = uniqueName('u');
    const created = await call('POST', '/v1/users', { name });
    expect(created.status).toBe(201);
    expect(created.body.name).toBe(name);
    const list = await call('GET', '/v1/users');
    expect(list.body.users.map((u: { name: string }) => u.name)).toContain(name);
  });

  test('a duplicate name is 409', async () => {
    const name = await seedWorkspace();
    const again = await call('POST', '/v1/workspaces', { name });
    expect(again.status).toBe(409);
    expect(again.body.error).toContain(name);
    const user = await seedUser();
    expect((await call('POST', '/v1/users', { name: user })).status).toBe(409);
  });

  test.each([
    [{ name: 'ok-name', color: 'blue' }, 'color', 'is not an accepted field'],
    [{}, 'name', 'is required'],
    [{ name: 7 }, 'name', 'must be a string'],
    [{ name: 'has space' }, 'name', 'may contain only letters, digits, dashes and underscores'],
    [{ name: '' }, 'name', 'must be 1 to 100 characters long'],
    [[], 'body', 'must be a JSON object'],
  ])('bad body %j is 400 naming %s, and nothing is created', async (body, field, rule) => {
    const before = (await call('GET', '/v1/workspaces')).body.workspaces.length;
    const r = await call('POST', '/v1/workspaces', body);
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ error: `${field}: ${rule}`, field, rule, code: 'validation' });
    expect((await call('GET', '/v1/workspaces')).body.workspaces.length).toBe(before);
  });

  test('a body that is not JSON is 400 and the parser message is not echoed', async () => {
    const v = secretValue('badjson');
    const r = await call('POST', '/v1/workspaces', `{"name": ${v}}`);
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ field: 'body', rule: 'must be valid JSON' });
    expect(r.text).not.toContain(v);
  });

  test('a non-JSON content type is 415', async () => {
    const r = await callPort(api.port, 'POST', '/v1/workspaces', undefined, { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '6' });
    expect(r.status).toBe(415);
    expect(r.body).toMatchObject({ field: 'content-type' });
  });
});

describe.each([
  ['workspace', '/v1/workspaces', seedWorkspace],
  ['user', '/v1/users', seedUser],
] as const)('%s secrets', (scope, base, seed) => {
  test('set, replace, list and delete; values never come back', async () => {
    const owner = await seed();
    const v1 = secretValue(`${scope}1`);
    const v2 = secretValue(`${scope}2`);
    const set = await call('PUT', `${base}/${owner}/secrets/API_TOKEN`, { value: v1 });
    expect(set.status).toBe(200);
    expect(set.body).toEqual({
      id: expect.any(String),
      scope,
      ownerId: expect.any(String),
      name: 'API_TOKEN',
      version: 1,
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    const replaced = await call('PUT', `${base}/${owner}/secrets/API_TOKEN`, { value: v2 });
    expect(replaced.status).toBe(200);
    expect(replaced.body.version).toBe(2);
    expect(replaced.body.id).toBe(set.body.id);

    const list = await call('GET', `${base}/${owner}/secrets`);
    expect(list.status).toBe(200);
    expect(list.body.secrets).toEqual([expect.objectContaining({ name: 'API_TOKEN', version: 2, scope })]);
    expect(list.text).not.toContain(v2);

    // The vault holds the latest value: the API stored what it was given.
    expect(await api.vault.readSecretValue({ name: 'API_TOKEN', scope, secretId: set.body.id, version: 2 })).toBe(v2);

    const del = await call('DELETE', `${base}/${owner}/secrets/API_TOKEN`);
    expect(del.status).toBe(204);
    expect(del.text).toBe('');
    expect((await call('GET', `${base}/${owner}/secrets`)).body.secrets).toEqual([]);
    const again = await call('DELETE', `${base}/${owner}/secrets/API_TOKEN`);
    expect(again.status).toBe(404);
  });

  test('an unknown owner is 404', async () => {
    const missing = uniqueName('missing');
    expect((await call('GET', `${base}/${missing}/secrets`)).status).toBe(404);
    const r = await call('PUT', `${base}/${missing}/secrets/SOME_NAME`, { value: secretValue('noowner') });
    expect(r.status).toBe(404);
    expect(r.body.error).toContain(missing);
  });

  test.each<[string, string, () => Record<string, unknown>]>([
    ['unknown key', 'ttl', () => ({ value: 'fine-value', ttl: 3 })],
    ['missing value', 'value', () => ({})],
    ['value not a string', 'value', () => ({ value: 12345 })],
    ['empty value', 'value', () => ({ value: '' })],
    ['value with a newline', 'value', () => ({ value: `${secretValue('nl')}\nsecond-line` })],
    ['value with a carriage return', 'value', () => ({ value: `${secretValue('cr')}\r` })],
    ['oversized value (70 000 bytes)', 'value', () => ({ value: secretValue('big') + 'x'.repeat(70_000) })],
  ])('%s is 400 naming %s; nothing stored; value not echoed', async (_what, field, makeBody) => {
    const owner = await seed();
    const body = makeBody();
    const r = await call('PUT', `${base}/${owner}/secrets/GOOD_NAME`, body);
    expect(r.status).toBe(400);
    expect(r.body.field).toBe(field);
    expect(r.body.error).toBe(`${field}: ${r.body.rule}`);
    if (typeof body.value === 'string' && body.value.length > 0) expect(r.text).not.toContain(body.value.slice(0, 12));
    expect((await call('GET', `${base}/${owner}/secrets`)).body.secrets).toEqual([]);
  });

  test('the rules are the vault\u2019s: a multi-line value is told to use base64, a hyphenated name why', async () => {
    const owner = await seed();
    const nl = await call('PUT', `${base}/${owner}/secrets/GOOD_NAME`, { value: 'a\nb' });
    expect(nl.body.rule).toMatch(/base64/);
    const hy = await call('PUT', `${base}/${owner}/secrets/MY-TOKEN`, { value: secretValue('hyphen') });
    expect(hy.status).toBe(400);
    expect(hy.body.field).toBe('name');
    expect(hy.body.rule).toMatch(/shell variables/);
    for (const bad of ['A', '__AB', '1ABC', 'A__B', 'x'.repeat(51)]) {
      const r = await call('PUT', `${base}/${owner}/secrets/${bad}`, { value: secretValue('badname') });
      expect([r.status, r.body.field]).toEqual([400, 'name']);
    }
    expect((await call('GET', `${base}/${owner}/secrets`)).body.secrets).toEqual([]);
  });
});

describe('body size limit', () => {
  test('a body over 128 KiB is 413 naming the body', async () => {
    const ws = await seedWorkspace();
    const v = secretValue('huge');
    const r = await call('PUT', `/v1/workspaces/${ws}/secrets/HUGE`, JSON.stringify({ value: v + 'y'.repeat(140 * 1024) }));
    expect(r.status).toBe(413);
    expect(r.body).toMatchObject({ field: 'body', rule: 'must be at most 131072 bytes' });
    expect(r.text).not.toContain(v);
    expect((await call('GET', `/v1/workspaces/${ws}/secrets`)).body.secrets).toEqual([]);
  });
});

describe('credentials', () => {
  test('create, list and delete; secret fields never come back', async () => {
    const ws = await seedWorkspace();
    const token = secretValue('credtoken');
    const created = await call('POST', `/v1/workspaces/${ws}/credentials`, { name: 'cluster-key', kind: 'test-token', fields: { user: 'nf', token } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'cluster-key', kind: 'test-token', public: { user: 'nf' } });
    expect(created.text).not.toContain(token);
    const list = await call('GET', `/v1/workspaces/${ws}/credentials`);
    expect(list.body.credentials).toEqual([expect.objectContaining({ name: 'cluster-key', public: { user: 'nf' } })]);
    expect(list.text).not.toContain(token);
    expect((await api.vault.readCredential(created.body.id)).secret).toEqual({ token });

    expect((await call('POST', `/v1/workspaces/${ws}/credentials`, { name: 'cluster-key', kind: 'test-token', fields: { user: 'nf', token } })).status).toBe(409);
    expect((await call('DELETE', `/v1/workspaces/${ws}/credentials/cluster-key`)).status).toBe(204);
    expect((await call('DELETE', `/v1/workspaces/${ws}/credentials/cluster-key`)).status).toBe(404);
    expect((await call('GET', `/v1/workspaces/${ws}/credentials`)).body.credentials).toEqual([]);
  });

  test.each([
    [{ name: 'c1', kind: 'test-token', fields: { user: 'nf', token: 'long-enough' }, extra: 1 }, 'extra'],
    [{ name: 'c1', kind: 'test-token' }, 'fields'],
    [{ name: 'c1', kind: 'test-token', fields: ['a'] }, 'fields'],
    [{ name: 'bad name', kind: 'test-token', fields: {} }, 'name'],
    [{ name: 'c1', kind: 'no-such-kind', fields: {} }, 'kind'],
    [{ name: 'c1', kind: 'test-token', fields: { user: 'nf', token: 'short' } }, 'fields.token'],
  ])('bad body %j is 400 naming %s; nothing stored', async (body, field) => {
    const ws = await seedWorkspace();
    const r = await call('POST', `/v1/workspaces/${ws}/credentials`, body);
    expect(r.status).toBe(400);
    expect(r.body.field).toBe(field);
    expect((await call('GET', `/v1/workspaces/${ws}/credentials`)).body.credentials).toEqual([]);
  });

  test('a credential a compute environment uses cannot be deleted (409)', async () => {
    const ws = await seedWorkspace();
    await call('POST', `/v1/workspaces/${ws}/credentials`, { name: 'k1', kind: 'test-token', fields: { user: 'nf', token: secretValue('inuse') } });
    expect((await call('POST', `/v1/workspaces/${ws}/compute-envs`, { name: 'cluster', platform: 'hpc', config: { host: 'h1' }, credential: 'k1' })).status).toBe(201);
    const r = await call('DELETE', `/v1/workspaces/${ws}/credentials/k1`);
    expect(r.status).toBe(409);
    expect(r.body.error).toContain('cluster');
  });
});

describe('compute environments', () => {
  test('create, list, show and delete', async () => {
    const ws = await seedWorkspace();
    const created = await call('POST', `/v1/workspaces/${ws}/compute-envs`, { name: 'local1', platform: 'local', config: { workDir: '/srv/nf' } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'local1', platform: 'local', config: { workDir: '/srv/nf' }, credentialId: null });
    const list = await call('GET', `/v1/workspaces/${ws}/compute-envs`);
    expect(list.body.computeEnvs).toEqual([created.body]);
    const shown = await call('GET', `/v1/workspaces/${ws}/compute-envs/local1`);
    expect(shown.status).toBe(200);
    expect(shown.body).toEqual(created.body);
    expect((await call('POST', `/v1/workspaces/${ws}/compute-envs`, { name: 'local1', platform: 'local' })).status).toBe(409);
    expect((await call('DELETE', `/v1/workspaces/${ws}/compute-envs/local1`)).status).toBe(204);
    expect((await call('GET', `/v1/workspaces/${ws}/compute-envs/local1`)).status).toBe(404);
    expect((await call('DELETE', `/v1/workspaces/${ws}/compute-envs/local1`)).status).toBe(404);
  });

  test('the credential is given by name and resolved in the workspace', async () => {
    const ws = await seedWorkspace();
    const cred = await call('POST', `/v1/workspaces/${ws}/credentials`, { name: 'hpc-key', kind: 'test-token', fields: { user: 'nf', token: secretValue('cekey') } });
    const ce = await call('POST', `/v1/workspaces/${ws}/compute-envs`, { name: 'cluster', platform: 'hpc', config: { host: 'login1' }, credential: 'hpc-key' });
    expect(ce.status).toBe(201);
    expect(ce.body.credentialId).toBe(cred.body.id);
  });

  test.each([
    [{ name: 'c', platform: 'local', config: { nope: 1 } }, 'config.nope'],
    [{ name: 'c', platform: 'local', config: { workDir: 'relative/path' } }, 'config.workDir'],
    [{ name: 'c', platform: 'mainframe' }, 'platform'],
    [{ name: 'c', platform: 'local', config: 'x' }, 'config'],
    [{ name: 'c', platform: 'local', region: 'eu' }, 'region'],
    [{ name: 'c', platform: 'hpc', config: { host: 'h' } }, 'credential'],
    [{ name: 'c', platform: 'hpc', config: { host: 'h' }, credential: 'no-such-credential' }, 'credential'],
    [{ name: 'c', platform: 'local', credential: 'any' }, 'credential'],
  ])('bad body %j is 400 naming %s; nothing stored', async (body, field) => {
    const ws = await seedWorkspace();
    const r = await call('POST', `/v1/workspaces/${ws}/compute-envs`, body);
    expect(r.status).toBe(400);
    expect(r.body.field).toBe(field);
    expect((await call('GET', `/v1/workspaces/${ws}/compute-envs`)).body.computeEnvs).toEqual([]);
  });

  test('an unknown workspace is 404', async () => {
    expect((await call('GET', `/v1/workspaces/${uniqueName('nows')}/compute-envs`)).status).toBe(404);
    expect((await call('POST', `/v1/workspaces/${uniqueName('nows')}/compute-envs`, { name: 'c', platform: 'local' })).status).toBe(404);
  });
});

describe('runs', () => {
  async function seedRun(): Promise<{ ws: string; user: string; wsId: string; userId: string; ceId: string }> {
    const ws = await seedWorkspace();
    const user = await seedUser();
    const ce = await call('POST', `/v1/workspaces/${ws}/compute-envs`, { name: 'local1', platform: 'local' });
    // The suite launches as the launch service does: on behalf of a user who may launch there.
    await grant(api.vault, ws, api.harness.name, 'owner', true);
    await grant(api.vault, ws, user, 'launch');
    await call('PUT', `/v1/workspaces/${ws}/secrets/NCBI_KEY`, { value: secretValue('ncbi') });
    await call('PUT', `/v1/users/${user}/secrets/GH_TOKEN`, { value: secretValue('gh') });
    const wsId = (await api.vault.getWorkspace(ws)).id;
    const userId = (await api.vault.getUser(user)).id;
    return { ws, user, wsId, userId, ceId: ce.body.id };
  }

  test('launch resolves names to ids, passes labels and lease, and returns the ready result', async () => {
    const s = await seedRun();
    const runId = uniqueName('run');
    const r = await call('POST', '/v1/runs', { runId, workspace: s.ws, user: s.user, computeEnv: 'local1', secrets: ['NCBI_KEY', 'GH_TOKEN'], lease: '2h' });
    expect(r.status).toBe(200);
    expect(api.runs.launches.at(-1)).toEqual({
      runId,
      workspaceId: s.wsId,
      userId: s.userId,
      computeEnvId: s.ceId,
      secretNames: ['NCBI_KEY', 'GH_TOKEN'],
      leaseMs: 2 * 3_600_000,
      labels: { workspace: s.ws, computeEnv: 'local1', platform: 'local', user: s.user },
    });
    expect(r.body).toMatchObject({
      runId,
      workflowId: `pipeline-run-${runId}`,
      platform: 'local',
      computeEnvId: s.ceId,
      secretNames: ['NCBI_KEY', 'GH_TOKEN'],
      headJobEnv: { NXF_SECRETS_FILE: expect.any(String), NXF_ENABLE_SECRETS: 'true' },
    });
  });

  test('without a lease none is passed (the workflow default applies)', async () => {
    const s = await seedRun();
    const runId = uniqueName('run');
    expect((await call('POST', '/v1/runs', { runId, workspace: s.ws, user: s.user, computeEnv: 'local1', secrets: ['NCBI_KEY'] })).status).toBe(200);
    expect(api.runs.launches.at(-1)).not.toHaveProperty('leaseMs');
  });

  test.each([
    ['90s', 90_000],
    ['15m', 900_000],
    ['30d', 30 * 86_400_000],
  ])('lease %s is %d ms', async (lease, ms) => {
    const s = await seedRun();
    const r = await call('POST', '/v1/runs', { runId: uniqueName('run'), workspace: s.ws, user: s.user, computeEnv: 'local1', secrets: [], lease });
    expect(r.status).toBe(200);
    expect(api.runs.launches.at(-1)?.leaseMs).toBe(ms);
  });

  test('LaunchError codes map: duplicate-run 409, launch-failed 422 naming the missing secrets, not-found 404', async () => {
    const s = await seedRun();
    const runId = uniqueName('run');
    const body = { runId, workspace: s.ws, user: s.user, computeEnv: 'local1', secrets: ['NCBI_KEY'] };
    expect((await call('POST', '/v1/runs', body)).status).toBe(200);
    const dup = await call('POST', '/v1/runs', body);
    expect(dup.status).toBe(409);
    expect(dup.body.code).toBe('duplicate-run');

    const missing = await call('POST', '/v1/runs', { ...body, runId: uniqueName('run'), secrets: ['NCBI_KEY', 'NOT_THERE', 'ALSO_MISSING'] });
    expect(missing.status).toBe(422);
    expect(missing.body).toMatchObject({ code: 'launch-failed' });
    expect(missing.body.error).toContain('NOT_THERE');
    expect(missing.body.error).toContain('ALSO_MISSING');

    api.runs.failNext = new LaunchError('head-job role lacks secretsmanager:GetSecretValue on arn:aws:...:secret:tower-*', 'launch-failed');
    const perm = await call('POST', '/v1/runs', { ...body, runId: uniqueName('run') });
    expect(perm.status).toBe(422);
    expect(perm.body.error).toContain('secretsmanager:GetSecretValue');

    api.runs.failNext = new LaunchError('compute environment gone', 'not-found');
    expect((await call('POST', '/v1/runs', { ...body, runId: uniqueName('run') })).status).toBe(404);
  });

  test('unknown workspace, user or compute environment is 404 and nothing is launched', async () => {
    const s = await seedRun();
    const n = api.runs.launches.length;
    const base = { runId: uniqueName('run'), workspace: s.ws, user: s.user, computeEnv: 'local1', secrets: [] };
    expect((await call('POST', '/v1/runs', { ...base, workspace: uniqueName('x') })).status).toBe(404);
    expect((await call('POST', '/v1/runs', { ...base, user: uniqueName('x') })).status).toBe(404);
    const ce = await call('POST', '/v1/runs', { ...base, computeEnv: 'nope' });
    expect(ce.status).toBe(404);
    expect(ce.body.error).toMatch(/compute environment "nope" not found/);
    expect(api.runs.launches.length).toBe(n);
  });

  test('each kind of missing record says what is missing, in the message and the error type', async () => {
    const s = await seedRun();
    const base = { runId: uniqueName('run'), workspace: s.ws, user: s.user, computeEnv: 'local1', secrets: [] };
    const ghost = uniqueName('ghost');
    const cases = [
      [await call('POST', '/v1/runs', { ...base, workspace: ghost }), `workspace "${ghost}" not found`, 'WorkspaceNotFoundError'],
      [await call('POST', '/v1/runs', { ...base, user: ghost }), `user "${ghost}" not found`, 'UserNotFoundError'],
      [await call('POST', '/v1/runs', { ...base, computeEnv: ghost }), `compute environment "${ghost}" not found`, 'ComputeEnvNotFoundError'],
      [await call('GET', `/v1/users/${ghost}/secrets`), `user "${ghost}" not found`, 'UserNotFoundError'],
      [await call('DELETE', `/v1/workspaces/${s.ws}/secrets/NO_SUCH_SECRET`), 'workspace secret "NO_SUCH_SECRET" not found', 'SecretNotFoundError'],
      [await call('DELETE', `/v1/workspaces/${s.ws}/credentials/${ghost}`), `credential "${ghost}" not found`, 'CredentialNotFoundError'],
    ] as const;
    for (const [r, error, type] of cases) {
      expect({ status: r.status, body: r.body }).toEqual({ status: 404, body: { error, code: 'not-found', type } });
    }
  });

  test.each([
    [{ runId: 'bad id!' }, 'runId'],
    [{ runId: '-starts-with-dash' }, 'runId'],
    [{ runId: 'r'.repeat(65) }, 'runId'],
    [{ secrets: ['BAD-NAME'] }, 'secrets.0'],
    [{ secrets: ['AB', 'AB'] }, 'secrets'],
    [{ secrets: 'AB' }, 'secrets'],
    [{ lease: '2 hours' }, 'lease'],
    [{ lease: '1.5h' }, 'lease'],
    [{ lease: '0s' }, 'lease'],
    [{ lease: '366d' }, 'lease'],
    [{ lease: 7200 }, 'lease'],
    [{ priority: 'high' }, 'priority'],
  ])('bad launch %j is 400 naming %s, and nothing is launched', async (patch, field) => {
    const n = api.runs.launches.length;
    const r = await call('POST', '/v1/runs', { runId: 'r1', workspace: 'w', user: 'u', computeEnv: 'c', secrets: ['AB'], ...patch });
    expect(r.status).toBe(400);
    expect(r.body.field).toBe(field);
    if (field === 'lease') expect(r.body.rule).toMatch(/90s, 15m, 12h, 30d/);
    expect(api.runs.launches.length).toBe(n);
  });

  test('status, complete, renew and cancel', async () => {
    const s = await seedRun();
    const runId = uniqueName('run');
    await call('POST', '/v1/runs', { runId, workspace: s.ws, user: s.user, computeEnv: 'local1', secrets: ['NCBI_KEY'] });

    const st = await call('GET', `/v1/runs/${runId}`);
    expect(st.status).toBe(200);
    expect(st.body).toMatchObject({ runId, phase: 'ready', secretNames: ['NCBI_KEY'], workspaceId: s.wsId });

    const renew = await call('POST', `/v1/runs/${runId}/renew`, { extendBy: '7d' });
    expect(renew.status).toBe(202);
    expect(api.runs.renewals.at(-1)).toEqual({ runId, extendByMs: 7 * 86_400_000 });

    const done = await call('POST', `/v1/runs/${runId}/complete`, { status: 'succeeded' });
    expect(done.status).toBe(202);
    expect(api.runs.completions.at(-1)).toEqual({ runId, status: 'succeeded' });

    const runId2 = uniqueName('run');
    await call('POST', '/v1/runs', { runId: runId2, workspace: s.ws, user: s.user, computeEnv: 'local1', secrets: [] });
    expect((await call('POST', `/v1/runs/${runId2}/cancel`)).status).toBe(202);
    expect((await call('POST', `/v1/runs/${runId2}/cancel`, {})).status).toBe(202);
    expect(api.runs.cancels.filter((r) => r === runId2)).toHaveLength(2);
  });

  test('run errors: unknown run 404, bad status / extendBy / body 400', async () => {
    const ghost = uniqueName('ghost');
    expect((await call('GET', `/v1/runs/${ghost}`)).status).toBe(404);
    expect((await call('POST', `/v1/runs/${ghost}/complete`, { status: 'failed' })).status).toBe(404);
    expect((await call('POST', `/v1/runs/${ghost}/cancel`)).status).toBe(404);
    expect((await call('POST', `/v1/runs/${ghost}/renew`, { extendBy: '1h' })).status).toBe(404);

    const badStatus = await call('POST', `/v1/runs/${ghost}/complete`, { status: 'exploded' });
    expect([badStatus.status, badStatus.body.field]).toEqual([400, 'status']);
    expect(badStatus.body.rule).toBe('must be one of succeeded, failed, cancelled');
    const badExtend = await call('POST', `/v1/runs/${ghost}/renew`, { extendBy: '7 days' });
    expect([badExtend.status, badExtend.body.field]).toEqual([400, 'extendBy']);
    const extra = await call('POST', `/v1/runs/${ghost}/cancel`, { reason: 'x' });
    expect([extra.status, extra.body.field]).toEqual([400, 'reason']);
    const badId = await call('GET', '/v1/runs/bad.id');
    expect([badId.status, badId.body.field]).toEqual([400, 'runId']);
    // Temporal's own not-found error (matched by name) is a 404 too.
    const wnf = new Error('workflow not found for id pipeline-run-x');
    wnf.name = 'WorkflowNotFoundError';
    api.runs.failNext = wnf;
    expect((await call('GET', `/v1/runs/${ghost}`)).status).toBe(404);
  });
});

describe('server errors', () => {
  /** The API on a vault whose chosen method throws `err`. */
  async function withFailingVault(method: keyof VaultApi, err: Error) {
    const logger = new CapturingLogger();
    const failing = new Proxy(api.vault, {
      get(target, prop, receiver) {
        if (prop === method) return async () => Promise.reject(err);
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const app = buildApiServer({ vault: failing, runs: new FakeRuns(failing), logger });
    await app.listen({ host: '127.0.0.1', port: 0 });
    return { app, logger, port: (app.server.address() as AddressInfo).port };
  }

  test('VaultKeyError is 500 with its message', async () => {
    const { app, port } = await withFailingVault('listWorkspaces', new VaultKeyError('the master key does not open this vault (key id k-abc)'));
    try {
      const r = await callPort(port, 'GET', '/v1/workspaces');
      expect(r.status).toBe(500);
      expect(r.body).toEqual({ error: 'the master key does not open this vault (key id k-abc)', code: 'vault-key' });
    } finally {
      await app.close();
    }
  });

  test('an unexpected error is a generic 500; the detail is logged with the request\u2019s secret redacted', async () => {
    const ws = await seedWorkspace();
    const v = secretValue('leaky');
    const { app, logger, port } = await withFailingVault('setSecret', new Error(`driver exploded near "${v}"`));
    try {
      const r = await callPort(port, 'PUT', `/v1/workspaces/${ws}/secrets/LEAKY`, { value: v });
      expect(r.status).toBe(500);
      expect(r.body).toEqual({ error: 'internal error; the broker logged the details', code: 'internal' });
      const log = logger.text();
      expect(log).toContain('driver exploded near');
      expect(log).toContain('[REDACTED]');
      expect(log).not.toContain(v);
    } finally {
      await app.close();
    }
  });
});

describe('request log', () => {
  test('one line per request with method, path and status, and no bodies', async () => {
    const ws = await seedWorkspace();
    const v = secretValue('logged');
    await call('PUT', `/v1/workspaces/${ws}/secrets/LOGGED?value=${encodeURIComponent('q-' + v)}`, { value: v });
    const line = api.logger.lines.find((l) => l.includes(`/v1/workspaces/${ws}/secrets/LOGGED`));
    expect(line).toBeDefined();
    expect(JSON.parse(line!.replace(/^info request /, ''))).toMatchObject({ method: 'PUT', status: 200, route: '/v1/workspaces/:workspace/secrets/:name' });
    expect(line).not.toContain('value');
  });
});

test('no secret value this suite handled is in any response body or log line', () => {
  // Defined last, so it runs after every test above.
  const out = responses.join('\n') + '\n' + api.logger.text();
  expect(values.length).toBeGreaterThan(20);
  for (const v of values) expect(out).not.toContain(v);
});
