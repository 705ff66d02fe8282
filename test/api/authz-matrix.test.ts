/**
 * The authorization matrix: every /v1 route × every kind of caller (no token, a malformed, forged,
 * expired or revoked token, a token of another workspace, a broker administrator without a role,
 * each workspace role, the launch service with and without the on-behalf right), each answered as
 * docs/access.md says. Cross-workspace and cross-user attempts are cases of their own. Every
 * refusal's body is searched for names it must not carry, and what the caller may not see is
 * answered exactly as what does not exist.
 */
import { randomUUID } from 'node:crypto';
import { routeCases, uniq, type Case } from './cases';
import { httpRequest } from './helpers';
import { buildWorld, EVERYONE, UNAUTHENTICATED, type Who, type World } from './world';

let w: World;

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

const CASES = routeCases(() => w);
const wsPath = () => `/v1/workspaces/${w.ws.id}`;
const runPath = () => `/v1/runs/${w.runId}`;

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
