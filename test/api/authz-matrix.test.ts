/**
 * The authorization matrix: every /v1 route × every kind of caller (no token, a malformed, forged,
 * expired or revoked token, a token of another workspace, a broker administrator without a role,
 * each workspace role, the launch service with and without the on-behalf right), each answered as
 * docs/access.md says. Cross-workspace and cross-user attempts are cases of their own. Every
 * refusal's body is searched for names it must not carry, and what the caller may not see is
 * answered exactly as what does not exist.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { httpRequest } from './helpers';
import { buildWorld, EVERYONE, ROLE_USERS, ROTATION_ID, UNAUTHENTICATED, type Who, type World } from './world';

let w: World;
let n = 0;
const uniq = (p: string) => `${p}-${++n}-${randomBytes(2).toString('hex')}`;

beforeAll(async () => {
  w = await buildWorld();
}, 60_000);
afterAll(async () => {
  await w?.close();
});

interface Answer {
  status: number;
  text: string;
  body: Record<string, unknown> | undefined;
}

async function send(who: Who, method: string, url: string, body?: unknown): Promise<Answer> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers = { ...w.headers(who), ...(payload === undefined ? {} : { 'content-type': 'application/json' }) };
  const res = await httpRequest(w.api.port, method, url, payload, headers);
  return { status: res.status, text: res.text, body: res.text ? (JSON.parse(res.text) as Record<string, unknown>) : undefined };
}

type Scope = 'broker' | 'workspace' | 'user' | 'any' | 'token';

interface Case {
  name: string;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** The route as declared, to check that every route has a case. */
  route: string;
  url: () => Promise<string> | string;
  body?: () => unknown;
  ok: number;
  allow: Who[];
  scope: Scope;
  /** Answers that differ from the scope's rule. */
  except?: Partial<Record<Who, number>>;
}

const MEMBERS: Who[] = [...ROLE_USERS, 'svc', 'svcNoBehalf'];
const LAUNCHERS: Who[] = ['launch', 'connect', 'maintainer', 'admin', 'owner'];
const MAINTAINERS: Who[] = ['maintainer', 'admin', 'owner'];
const ADMINS: Who[] = ['admin', 'owner'];
const AUTHENTICATED: Who[] = EVERYONE.filter((x) => !UNAUTHENTICATED.includes(x));

const wsPath = () => `/v1/workspaces/${w.ws.id}`;
const fresh = {
  user: async () => (await w.api.vault.access.createPrincipal('user', uniq('dummy'))).id,
  service: async () => (await w.api.vault.access.createPrincipal('service', uniq('dsvc'))).id,
};
let target: string;
const memberTarget = async () => {
  target ??= (await w.api.vault.access.createPrincipal('user', uniq('member'))).id;
  await w.api.vault.access.setMember(w.ws.id, target, 'view');
  return `${wsPath()}/members/${target}`;
};
const runPath = () => `/v1/runs/${w.runId}`;
const schedule = () => `${wsPath()}/credentials/${w.credential.id}/rotation-schedule`;

const CASES: Case[] = [
  // broker-wide
  { name: 'create a workspace', method: 'POST', route: '/v1/workspaces', url: () => '/v1/workspaces', body: () => ({ name: uniq('nws') }), ok: 201, allow: ['root'], scope: 'broker' },
  { name: 'list workspaces', method: 'GET', route: '/v1/workspaces', url: () => '/v1/workspaces', ok: 200, allow: AUTHENTICATED, scope: 'any' },
  { name: 'create a user', method: 'POST', route: '/v1/users', url: () => '/v1/users', body: () => ({ name: uniq('nu') }), ok: 201, allow: ['root'], scope: 'broker' },
  { name: 'list users', method: 'GET', route: '/v1/users', url: () => '/v1/users', ok: 200, allow: AUTHENTICATED, scope: 'any' },
  { name: 'update a user', method: 'PATCH', route: '/v1/users/:user', url: async () => `/v1/users/${await fresh.user()}`, body: () => ({ brokerAdmin: false }), ok: 200, allow: ['root'], scope: 'broker' },
  { name: 'create a service', method: 'POST', route: '/v1/services', url: () => '/v1/services', body: () => ({ name: uniq('ns') }), ok: 201, allow: ['root'], scope: 'broker' },
  { name: 'list services', method: 'GET', route: '/v1/services', url: () => '/v1/services', ok: 200, allow: ['root'], scope: 'broker' },
  { name: 'update a service', method: 'PATCH', route: '/v1/services/:service', url: async () => `/v1/services/${await fresh.service()}`, body: () => ({ brokerAdmin: false }), ok: 200, allow: ['root'], scope: 'broker' },
  { name: 'who am I', method: 'GET', route: '/v1/me', url: () => '/v1/me', ok: 200, allow: AUTHENTICATED, scope: 'any' },
  { name: 'a token for oneself', method: 'POST', route: '/v1/tokens', url: () => '/v1/tokens', body: () => ({ name: 'mine' }), ok: 201, allow: AUTHENTICATED, scope: 'any' },
  { name: 'a token for another user', method: 'POST', route: '/v1/tokens', url: () => '/v1/tokens', body: () => ({ user: w.ids.launch.id }), ok: 201, allow: ['root', 'launch'], scope: 'broker' },
  { name: "another user's tokens", method: 'GET', route: '/v1/tokens', url: () => `/v1/tokens?user=${w.ids.launch.id}`, ok: 200, allow: ['root', 'launch'], scope: 'broker' },
  { name: 'list own tokens', method: 'GET', route: '/v1/tokens', url: () => '/v1/tokens', ok: 200, allow: AUTHENTICATED, scope: 'any' },
  {
    name: "revoke another's token",
    method: 'DELETE',
    route: '/v1/tokens/:id',
    url: async () => `/v1/tokens/${(await w.api.vault.access.createToken({ principalId: await fresh.user(), name: 't', ttlMs: 60_000 })).meta.id}`,
    ok: 200,
    allow: ['root'],
    scope: 'token',
  },
  { name: 'audit records of ws', method: 'GET', route: '/v1/audit', url: () => `/v1/audit?workspace=${w.ws.id}`, ok: 200, allow: ['admin', 'owner', 'root'], scope: 'workspace' },
  { name: 'verify the audit chain', method: 'GET', route: '/v1/audit/verify', url: () => '/v1/audit/verify', ok: 200, allow: ['root'], scope: 'broker' },
  // members
  { name: 'list members', method: 'GET', route: '/v1/workspaces/:workspace/members', url: () => `${wsPath()}/members`, ok: 200, allow: ['admin', 'owner', 'root'], scope: 'workspace' },
  { name: 'set a member (view)', method: 'PUT', route: '/v1/workspaces/:workspace/members/:member', url: memberTarget, body: () => ({ role: 'launch' }), ok: 200, allow: ['admin', 'owner', 'root'], scope: 'workspace' },
  { name: 'make an owner', method: 'PUT', route: '/v1/workspaces/:workspace/members/:member', url: memberTarget, body: () => ({ role: 'owner' }), ok: 200, allow: ['owner', 'root'], scope: 'workspace' },
  { name: 'remove a member', method: 'DELETE', route: '/v1/workspaces/:workspace/members/:member', url: memberTarget, ok: 204, allow: ['admin', 'owner', 'root'], scope: 'workspace' },
  // workspace secrets
  { name: 'list workspace secrets', method: 'GET', route: '/v1/workspaces/:workspace/secrets', url: () => `${wsPath()}/secrets`, ok: 200, allow: MEMBERS, scope: 'workspace' },
  { name: 'set a workspace secret', method: 'PUT', route: '/v1/workspaces/:workspace/secrets/:name', url: () => `${wsPath()}/secrets/${w.secret}`, body: () => ({ value: `v-${randomBytes(6).toString('hex')}` }), ok: 200, allow: MAINTAINERS, scope: 'workspace' },
  {
    name: 'delete a workspace secret',
    method: 'DELETE',
    route: '/v1/workspaces/:workspace/secrets/:name',
    url: async () => {
      await w.api.vault.setSecret({ scope: 'workspace', ownerId: w.ws.id, name: 'DOOMED', value: 'doomed-value' });
      return `${wsPath()}/secrets/DOOMED`;
    },
    ok: 204,
    allow: MAINTAINERS,
    scope: 'workspace',
  },
  // user secrets (of `launch`)
  { name: "list a user's secrets", method: 'GET', route: '/v1/users/:user/secrets', url: () => `/v1/users/${w.ids.launch.id}/secrets`, ok: 200, allow: ['launch'], scope: 'user' },
  { name: 'set a user secret', method: 'PUT', route: '/v1/users/:user/secrets/:name', url: () => `/v1/users/${w.ids.launch.id}/secrets/MINE`, body: () => ({ value: `u-${randomBytes(6).toString('hex')}` }), ok: 200, allow: ['launch'], scope: 'user' },
  {
    name: 'delete a user secret',
    method: 'DELETE',
    route: '/v1/users/:user/secrets/:name',
    url: async () => {
      await w.api.vault.setSecret({ scope: 'user', ownerId: w.ids.launch.id, name: 'GONE_SOON', value: 'gone-soon-value' });
      return `/v1/users/${w.ids.launch.id}/secrets/GONE_SOON`;
    },
    ok: 204,
    allow: ['launch'],
    scope: 'user',
  },
  // credentials
  { name: 'list credentials', method: 'GET', route: '/v1/workspaces/:workspace/credentials', url: () => `${wsPath()}/credentials`, ok: 200, allow: ADMINS, scope: 'workspace' },
  {
    name: 'create a credential',
    method: 'POST',
    route: '/v1/workspaces/:workspace/credentials',
    url: () => `${wsPath()}/credentials`,
    body: () => ({ name: uniq('c'), kind: 'test-token', fields: { user: 'nf', token: 'long-enough-token' } }),
    ok: 201,
    allow: ADMINS,
    scope: 'workspace',
  },
  {
    name: 'delete a credential',
    method: 'DELETE',
    route: '/v1/workspaces/:workspace/credentials/:name',
    url: async () => `${wsPath()}/credentials/${(await w.api.vault.createCredential({ workspaceId: w.ws.id, name: uniq('dc'), kind: 'test-token', fields: { user: 'nf', token: 'long-enough-token' } })).id}`,
    ok: 204,
    allow: ADMINS,
    scope: 'workspace',
  },
  { name: 'verify a credential', method: 'POST', route: '/v1/workspaces/:workspace/credentials/:name/verify', url: () => `${wsPath()}/credentials/${w.credential.id}/verify`, body: () => ({}), ok: 200, allow: ADMINS, scope: 'workspace' },
  // compute environments
  { name: 'list compute environments', method: 'GET', route: '/v1/workspaces/:workspace/compute-envs', url: () => `${wsPath()}/compute-envs`, ok: 200, allow: MEMBERS, scope: 'workspace' },
  { name: 'show a compute environment', method: 'GET', route: '/v1/workspaces/:workspace/compute-envs/:name', url: () => `${wsPath()}/compute-envs/${w.computeEnv.id}`, ok: 200, allow: MEMBERS, scope: 'workspace' },
  { name: 'create a compute environment', method: 'POST', route: '/v1/workspaces/:workspace/compute-envs', url: () => `${wsPath()}/compute-envs`, body: () => ({ name: uniq('ce'), platform: 'local', config: { workDir: '/tmp/attacker-dir' } }), ok: 201, allow: ADMINS, scope: 'workspace' },
  { name: 'update a compute environment', method: 'PATCH', route: '/v1/workspaces/:workspace/compute-envs/:name', url: () => `${wsPath()}/compute-envs/${w.computeEnv.id}`, body: () => ({ config: {} }), ok: 200, allow: ADMINS, scope: 'workspace' },
  {
    name: 'delete a compute environment',
    method: 'DELETE',
    route: '/v1/workspaces/:workspace/compute-envs/:name',
    url: async () => `${wsPath()}/compute-envs/${(await w.api.vault.createComputeEnv({ workspaceId: w.ws.id, name: uniq('dce'), platform: 'local', config: {} })).id}`,
    ok: 204,
    allow: ADMINS,
    scope: 'workspace',
  },
  // runs
  {
    name: 'launch as oneself',
    method: 'POST',
    route: '/v1/runs',
    url: () => '/v1/runs',
    body: () => ({ runId: uniq('r'), workspace: w.ws.id, computeEnv: w.computeEnv.id, secrets: [w.secret] }),
    ok: 200,
    allow: LAUNCHERS,
    scope: 'workspace',
    // A service must name the user it launches for.
    except: { svc: 400 },
  },
  {
    name: 'launch for user `launch`',
    method: 'POST',
    route: '/v1/runs',
    url: () => '/v1/runs',
    body: () => ({ runId: uniq('r'), workspace: w.ws.id, user: w.ids.launch.id, computeEnv: w.computeEnv.id, secrets: [w.secret] }),
    ok: 200,
    allow: ['launch', 'svc'],
    scope: 'workspace',
  },
  {
    name: 'launch for a user with no role in ws (cross-workspace)',
    method: 'POST',
    route: '/v1/runs',
    url: () => '/v1/runs',
    body: () => ({ runId: uniq('r'), workspace: w.ws.id, user: w.ids.outsider.id, computeEnv: w.computeEnv.id, secrets: [] }),
    ok: 200,
    allow: [],
    scope: 'workspace',
  },
  { name: 'list runs', method: 'GET', route: '/v1/workspaces/:workspace/runs', url: () => `${wsPath()}/runs`, ok: 200, allow: MEMBERS, scope: 'workspace' },
  { name: 'show a run', method: 'GET', route: '/v1/runs/:runId', url: runPath, ok: 200, allow: MEMBERS, scope: 'workspace' },
  ...(['complete', 'cancel', 'renew'] as const).map(
    (op): Case => ({
      name: `${op} a run of user \`launch\``,
      method: 'POST',
      route: `/v1/runs/:runId/${op}`,
      url: () => `${runPath()}/${op}`,
      body: () => (op === 'complete' ? { status: 'succeeded' } : op === 'renew' ? { extendBy: '1h' } : {}),
      ok: 202,
      allow: ['launch', ...MAINTAINERS, 'svc'],
      scope: 'workspace',
    }),
  ),
  // rotations and their schedules
  { name: 'start a rotation', method: 'POST', route: '/v1/workspaces/:workspace/credentials/:name/rotations', url: () => `${wsPath()}/credentials/${w.credential.id}/rotations`, body: () => ({ kind: 'azure-batch-key' }), ok: 202, allow: ADMINS, scope: 'workspace' },
  { name: 'show a rotation', method: 'GET', route: '/v1/rotations/:workflowId', url: () => `/v1/rotations/${ROTATION_ID}`, ok: 200, allow: ADMINS, scope: 'workspace' },
  { name: 'list rotation schedules', method: 'GET', route: '/v1/rotation-schedules', url: () => '/v1/rotation-schedules', ok: 200, allow: AUTHENTICATED, scope: 'any' },
  { name: 'create a rotation schedule', method: 'POST', route: '/v1/workspaces/:workspace/credentials/:name/rotation-schedule', url: schedule, body: () => ({ kind: 'azure-batch-key', every: '30d' }), ok: 201, allow: ADMINS, scope: 'workspace' },
  { name: 'show a rotation schedule', method: 'GET', route: '/v1/workspaces/:workspace/credentials/:name/rotation-schedule', url: schedule, ok: 200, allow: ADMINS, scope: 'workspace' },
  { name: 'delete a rotation schedule', method: 'DELETE', route: '/v1/workspaces/:workspace/credentials/:name/rotation-schedule', url: schedule, ok: 204, allow: ADMINS, scope: 'workspace' },
  ...(['pause', 'unpause', 'trigger'] as const).map(
    (op): Case => ({ name: `${op} a rotation schedule`, method: 'POST', route: `/v1/workspaces/:workspace/credentials/:name/rotation-schedule/${op}`, url: () => `${schedule()}/${op}`, body: () => ({}), ok: 202, allow: ADMINS, scope: 'workspace' }),
  ),
  // the vault master key
  { name: 'start a vault key rotation', method: 'POST', route: '/v1/vault/master-key/rotations', url: () => '/v1/vault/master-key/rotations', body: () => ({}), ok: 202, allow: ['root'], scope: 'broker' },
  { name: 'show a vault key rotation', method: 'GET', route: '/v1/vault/master-key/rotations/:workflowId', url: () => '/v1/vault/master-key/rotations/vault-master-key-rotation', ok: 200, allow: ['root'], scope: 'broker' },
  { name: 'create the vault key schedule', method: 'POST', route: '/v1/vault/master-key/rotation-schedule', url: () => '/v1/vault/master-key/rotation-schedule', body: () => ({ every: '90d' }), ok: 201, allow: ['root'], scope: 'broker' },
  { name: 'show the vault key schedule', method: 'GET', route: '/v1/vault/master-key/rotation-schedule', url: () => '/v1/vault/master-key/rotation-schedule', ok: 200, allow: ['root'], scope: 'broker' },
  { name: 'delete the vault key schedule', method: 'DELETE', route: '/v1/vault/master-key/rotation-schedule', url: () => '/v1/vault/master-key/rotation-schedule', ok: 204, allow: ['root'], scope: 'broker' },
  ...(['pause', 'unpause', 'trigger'] as const).map(
    (op): Case => ({ name: `${op} the vault key schedule`, method: 'POST', route: `/v1/vault/master-key/rotation-schedule/${op}`, url: () => `/v1/vault/master-key/rotation-schedule/${op}`, body: () => ({}), ok: 202, allow: ['root'], scope: 'broker' }),
  ),
];

/** What a caller that is not allowed gets. */
function refusal(c: Case, who: Who): number {
  if (UNAUTHENTICATED.includes(who)) return 401;
  switch (c.scope) {
    case 'broker':
      return 403;
    case 'workspace':
      return who === 'outsider' ? 404 : 403;
    case 'user':
      return who === 'root' ? 403 : 404;
    case 'token':
      return 404;
    case 'any':
      throw new Error(`${c.name}: every authenticated caller is allowed`);
  }
}

function expected(c: Case, who: Who): number {
  if (c.except?.[who] !== undefined) return c.except[who];
  return c.allow.includes(who) ? c.ok : refusal(c, who);
}

/** The names a refusal must never carry: every record's name in both workspaces, and every identity's. */
function leaks(text: string): string[] {
  return w.secretNames().filter((name) => text.includes(name));
}

test('the matrix covers every declared /v1 route', async () => {
  const doc = JSON.parse((await httpRequest(w.api.port, 'GET', '/openapi.json')).text) as { paths: Record<string, Record<string, unknown>> };
  const declared = Object.entries(doc.paths)
    .filter(([p]) => p.startsWith('/v1/'))
    .flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p.replace(/\{([A-Za-z]+)\}/g, ':$1')}`));
  const covered = new Set(CASES.map((c) => `${c.method} ${c.route}`));
  expect(declared.filter((r) => !covered.has(r))).toEqual([]);
  expect(declared.length).toBeGreaterThan(50);
});

describe.each(CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => {
  test.each(EVERYONE.map((who) => [who, expected(c, who)] as const))('%s → %i', async (who, status) => {
    const url = await c.url();
    const r = await send(who, c.method, url, c.body?.());
    expect({ who, status: r.status, body: r.status === status ? undefined : r.body }).toEqual({ who, status, body: undefined });
    if (status >= 400) {
      expect(r.body?.code).toEqual(status === 401 ? 'unauthenticated' : status === 403 ? 'forbidden' : status === 404 ? 'not-found' : 'validation');
      expect(leaks(r.text)).toEqual([]);
      const presented = (w.headers(who).authorization ?? '').replace(/^Bearer /, '');
      if (presented) expect(r.text).not.toContain(presented);
    }
  });
});

describe('what a caller may not see is answered as what does not exist', () => {
  test('a workspace: the same 404 as for an id no workspace has', async () => {
    const ghost = randomUUID();
    for (const path of ['secrets', 'compute-envs', 'credentials', 'members', 'runs']) {
      const hidden = await send('outsider', 'GET', `${wsPath()}/${path}`);
      const missing = await send('outsider', 'GET', `/v1/workspaces/${ghost}/${path}`);
      expect(hidden.status).toBe(404);
      expect(hidden.text.replace(w.ws.id, '<id>')).toBe(missing.text.replace(ghost, '<id>'));
    }
    // Addressed by name, the answer names only what the caller typed.
    const byName = await send('outsider', 'GET', `/v1/workspaces/${w.ws.name}/secrets`);
    expect(byName.body).toEqual({ error: `workspace "${w.ws.name}" not found`, code: 'not-found', type: 'WorkspaceNotFoundError' });
    expect(leaks(byName.text.replace(w.ws.name, ''))).toEqual([]);
  });

  test("another user's secrets: the same 404 as for a user who does not exist", async () => {
    const ghost = randomUUID();
    const hidden = await send('owner', 'GET', `/v1/users/${w.ids.launch.id}/secrets`);
    const missing = await send('root', 'GET', `/v1/users/${ghost}/secrets`);
    expect(hidden.text.replace(w.ids.launch.id, '<id>')).toBe(missing.text.replace(ghost, '<id>'));
    // Another user's secret is neither set nor deleted.
    expect((await send('owner', 'PUT', `/v1/users/${w.ids.launch.id}/secrets/PLANTED`, { value: 'planted-by-owner' })).status).toBe(404);
    expect((await w.api.vault.listSecrets({ scope: 'user', ownerId: w.ids.launch.id })).map((s) => s.name)).not.toContain('PLANTED');
  });

  test('a run of a workspace the caller cannot see: the same 404 as for a run that does not exist', async () => {
    const hidden = await send('outsider', 'GET', runPath());
    const missing = await send('outsider', 'GET', '/v1/runs/no-such-run-xyz');
    expect(hidden.text.replace(w.runId, '<id>')).toBe(missing.text.replace('no-such-run-xyz', '<id>'));
    expect(leaks(hidden.text)).toEqual([]);
  });

  test('lists show only what the caller may see', async () => {
    const names = (r: Answer, key: string) => ((r.body?.[key] ?? []) as { name: string }[]).map((x) => x.name);
    expect(names(await send('outsider', 'GET', '/v1/workspaces'), 'workspaces')).toEqual([w.other.name]);
    expect(names(await send('view', 'GET', '/v1/workspaces'), 'workspaces')).toEqual([w.ws.name]);
    expect(names(await send('root', 'GET', '/v1/workspaces'), 'workspaces')).toEqual(expect.arrayContaining([w.ws.name, w.other.name]));
    expect(names(await send('view', 'GET', '/v1/users'), 'users')).toEqual([w.ids.view.name]);
    const schedules = (r: Answer) => ((r.body?.schedules ?? []) as { credentialId: string }[]).map((s) => s.credentialId);
    expect(schedules(await send('admin', 'GET', '/v1/rotation-schedules'))).toEqual([w.credential.id]);
    expect(schedules(await send('outsider', 'GET', '/v1/rotation-schedules'))).toEqual([w.otherCredential.id]);
    expect(schedules(await send('maintainer', 'GET', '/v1/rotation-schedules'))).toEqual([]);
    const tokens = (await send('view', 'GET', '/v1/tokens')).body?.tokens as { principal: { id: string } }[];
    expect(new Set(tokens.map((t) => t.principal.id))).toEqual(new Set([w.ids.view.id]));
  });
});

describe('cross-workspace and cross-user attempts', () => {
  test("ws's owner cannot reach the other workspace's records through ws", async () => {
    for (const [method, url, body] of [
      ['GET', `${wsPath()}/compute-envs/${w.otherComputeEnv.id}`, undefined],
      ['PATCH', `${wsPath()}/compute-envs/${w.otherComputeEnv.id}`, { config: { workDir: '/tmp/stolen' } }],
      ['DELETE', `${wsPath()}/credentials/${w.otherCredential.id}`, undefined],
      ['POST', '/v1/runs', { runId: uniq('x'), workspace: w.ws.id, computeEnv: w.otherComputeEnv.id, secrets: [] }],
    ] as const) {
      const r = await send('owner', method, url, body);
      expect([method, url, r.status]).toEqual([method, url, 404]);
    }
    expect((await send('owner', 'POST', `${wsPath()}/compute-envs`, { name: uniq('x'), platform: 'hpc', config: { host: 'h' }, credential: w.otherCredential.id })).status).toBe(400);
    expect((await w.api.vault.getComputeEnv(w.otherComputeEnv.id)).config).toEqual({});
  });

  test("a person's run gets that person's user secrets only; the launch service's, the named user's", async () => {
    const mine = await send('maintainer', 'POST', '/v1/runs', { runId: uniq('m'), workspace: w.ws.id, computeEnv: w.computeEnv.id, secrets: [] });
    expect(mine.status).toBe(200);
    expect(w.api.runs.launches.at(-1)).toMatchObject({ userId: w.ids.maintainer.id, labels: { user: w.ids.maintainer.name } });
    const forAlice = await send('svc', 'POST', '/v1/runs', { runId: uniq('s'), workspace: w.ws.id, user: w.ids.launch.name, computeEnv: w.computeEnv.id, secrets: [`USER_SECRET_${w.tag.toUpperCase()}`] });
    expect(forAlice.status).toBe(200);
    expect(w.api.runs.launches.at(-1)).toMatchObject({ userId: w.ids.launch.id });
    // The user secret of `launch` resolves into launch's runs, never into the owner's.
    const owners = await send('owner', 'POST', '/v1/runs', { runId: uniq('o'), workspace: w.ws.id, computeEnv: w.computeEnv.id, secrets: [`USER_SECRET_${w.tag.toUpperCase()}`] });
    expect(owners.status).toBe(422);
  });

  test('a revoked token stops working at once; the caller may revoke its own', async () => {
    const made = await send('view', 'POST', '/v1/tokens', { name: 'short-lived' });
    const token = (made.body as { token: string }).token;
    const meta = (made.body as { meta: { id: string } }).meta;
    const as = (t: string) => httpRequest(w.api.port, 'GET', '/v1/me', undefined, { authorization: `Bearer ${t}` });
    expect((await as(token)).status).toBe(200);
    expect((await send('view', 'DELETE', `/v1/tokens/${meta.id}`)).status).toBe(200);
    expect((await as(token)).status).toBe(401);
  });
});

describe('without a usable token', () => {
  test('any /v1 path is 401, a route or not, with a Bearer challenge; /healthz and /openapi.json are open', async () => {
    for (const url of ['/v1/workspaces', '/v1/nothing-here', `${wsPath()}/secrets`, '/v1']) {
      const r = await httpRequest(w.api.port, 'GET', url);
      expect([url, r.status]).toEqual([url, 401]);
    }
    expect((await httpRequest(w.api.port, 'GET', '/healthz')).status).toBe(200);
    expect((await httpRequest(w.api.port, 'GET', '/openapi.json')).status).toBe(200);
  });

  test('a refused request is not executed, even when its body is fine', async () => {
    const before = (await w.api.vault.listWorkspaces()).length;
    const r = await httpRequest(w.api.port, 'POST', '/v1/workspaces', JSON.stringify({ name: uniq('nope') }), { 'content-type': 'application/json' });
    expect(r.status).toBe(401);
    expect((await w.api.vault.listWorkspaces()).length).toBe(before);
  });
});

test('refusals are in the audit trail, with who and why, and never a token', async () => {
  const r = await send('root', 'GET', '/v1/audit?outcome=refused&limit=1000');
  const records = (r.body?.records ?? []) as { via: string; code?: string; actor?: { name: string } }[];
  expect(records.some((x) => x.via === 'none' && x.code === 'unauthenticated')).toBe(true);
  expect(records.some((x) => x.code === 'forbidden' && x.actor?.name === w.ids.view.name)).toBe(true);
  expect(records.some((x) => x.code === 'hidden' && x.actor?.name === w.ids.outsider.name)).toBe(true);
  expect(r.text).not.toMatch(/sbt_[A-Za-z0-9_-]{10}/);
  expect((await send('root', 'GET', '/v1/audit/verify')).body).toMatchObject({ ok: true });
});
