/**
 * Every API body, on the real vault: each route's valid body with one field replaced by any JSON
 * value, removed, or joined by a field it does not take; any JSON value as the whole body; any text
 * that is not JSON; any string as a path parameter.
 *
 * The property: no answer is a 500 and nothing reaches the logger as an unexpected error; a 400
 * names a field and a rule that repeats none of the body's strings; a refused request (4xx) stores
 * nothing; secret values and tokens never come back, in answers or in log lines. A secret value
 * accepted by PUT is the value the vault resolves, byte for byte.
 */
import fc from 'fast-check';
import { leaks } from '../harness/credential-vault';
import { grant, httpRequest, startTestApi, type TestApi } from '../api/helpers';
import { anyString, fuzz, mutated, NASTY_VALUE } from './fuzz';

let api: TestApi;
const WS = 'fuzz-ws';
const USER = 'fuzz-user';
const CE = 'fuzz-ce';
const CRED = 'fuzz-cred';
const RUN = 'fuzz-run-1';
const TOKEN = 'fuzz-token-4b9e1d77c2';
/** Every secret value or token a request carried: none may come back. */
const secrets = new Set<string>([TOKEN]);
/** Every other string a request carried (a name, a setting, a path): it may well come back. */
const said = new Set<string>();
const answers: string[] = [];

interface Answer {
  status: number;
  text: string;
  body: { field?: unknown; rule?: unknown; code?: unknown } | undefined;
}

async function send(method: string, url: string, payload: string | undefined): Promise<Answer> {
  const res = await httpRequest(api.port, method, url, payload, { ...api.harness.headers, ...(payload === undefined ? {} : { 'content-type': 'application/json' }) });
  answers.push(res.text);
  let body: Answer['body'];
  try {
    body = res.text ? (JSON.parse(res.text) as Answer['body']) : undefined;
  } catch {
    throw new Error(`${method} ${url} answered ${res.status} with a body that is not JSON`);
  }
  return { status: res.status, text: res.text, body };
}

/** What the vault holds that a refused request must not change. */
async function snapshot(): Promise<string> {
  const { vault } = api;
  const ws = await vault.getWorkspace(WS);
  const user = await vault.getUser(USER);
  return JSON.stringify([
    (await vault.listWorkspaces()).map((w) => w.name).sort(),
    (await vault.listUsers()).map((u) => u.name).sort(),
    await vault.listSecrets({ scope: 'workspace', ownerId: ws.id }),
    await vault.listSecrets({ scope: 'user', ownerId: user.id }),
    await vault.listCredentials(ws.id),
    await vault.listComputeEnvs(ws.id),
  ]);
}

/** The string leaves of a JSON value. */
function strings(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.flatMap(strings);
  if (v !== null && typeof v === 'object') return Object.values(v).flatMap(strings);
  return [];
}

/** The strings of a body that are secret: a secret's value, a credential's token or key. */
function secretStrings(body: unknown): string[] {
  if (body === null || typeof body !== 'object') return [];
  const b = body as { value?: unknown; fields?: { token?: unknown; privateKey?: unknown } };
  const key = typeof b.fields?.privateKey === 'string' ? b.fields.privateKey.split(/\r?\n/).filter((l) => !l.includes('-----')) : [];
  return [b.value, b.fields?.token, ...key].filter((v): v is string => typeof v === 'string');
}

/** The property of one request: what every answer must be. */
async function check(method: string, url: string, body: unknown, raw?: string): Promise<Answer> {
  const payload = raw ?? (body === undefined ? undefined : JSON.stringify(body));
  const secret = secretStrings(body);
  for (const s of secret) secrets.add(s);
  for (const s of [...strings(body), ...url.split('/').map((p) => decodeURIComponent(p))]) if (!secret.includes(s)) said.add(s);
  const before = await snapshot();
  const logged = api.logger.lines.length;
  const a = await send(method, url, payload);
  // 503: a service this API process was started without (rotations), said so.
  if (a.status === 503) expect(a.body?.code).toBe('unavailable');
  else expect(a.status).toBeLessThan(500);
  expect(api.logger.lines.slice(logged).filter((l) => l.startsWith('error'))).toEqual([]);
  if (a.status >= 400) {
    expect(typeof a.body?.code).toBe('string');
    expect(await snapshot()).toBe(before);
  }
  if (a.status === 400) {
    expect(a.body).toMatchObject({ field: expect.any(String), rule: expect.any(String), code: 'validation' });
    const rule = String(a.body!.rule);
    // The rule is the server's sentence, never a piece of the body.
    // Pieces of our own valid strings (a region or a status cut short) are words a rule may use.
    const ours = (s: string) => [...OURS].some((o) => o.includes(s));
    const echoed = strings(body).filter((s) => s.trim().length >= 6 && !ours(s) && rule.includes(s));
    expect(echoed).toEqual([]);
  }
  return a;
}

/** A route with a body: its URL and a valid body to mutate. */
interface BodyRoute {
  method: string;
  url: string;
  valid: Record<string, unknown>;
}

const ROUTES: BodyRoute[] = [
  { method: 'POST', url: '/v1/workspaces', valid: { name: 'ws-new' } },
  { method: 'POST', url: '/v1/users', valid: { name: 'user-new' } },
  { method: 'PUT', url: `/v1/workspaces/${WS}/secrets/WS_SECRET`, valid: { value: 'v' } },
  { method: 'PUT', url: `/v1/users/${USER}/secrets/USER_SECRET`, valid: { value: 'v' } },
  { method: 'POST', url: `/v1/workspaces/${WS}/credentials`, valid: { name: 'cred-new', kind: 'test-token', fields: { user: 'u', token: TOKEN } } },
  { method: 'POST', url: `/v1/workspaces/${WS}/credentials`, valid: { name: 'ssh-new', kind: 'ssh', fields: { privateKey: '-----BEGIN OPENSSH PRIVATE KEY-----' } } },
  { method: 'POST', url: `/v1/workspaces/${WS}/compute-envs`, valid: { name: 'ce-new', platform: 'local', config: { workDir: '/tmp/fuzz-ce' } } },
  { method: 'POST', url: `/v1/workspaces/${WS}/compute-envs`, valid: { name: 'ce-hpc', platform: 'hpc', config: { host: 'h' }, credential: CRED } },
  { method: 'POST', url: `/v1/workspaces/${WS}/compute-envs`, valid: { name: 'ce-aws', platform: 'aws', config: { region: 'eu-west-1' } } },
  { method: 'POST', url: `/v1/workspaces/${WS}/compute-envs`, valid: { name: 'ce-gcp', platform: 'gcp', config: { project: 'p' } } },
  { method: 'PATCH', url: `/v1/workspaces/${WS}/compute-envs/${CE}`, valid: { config: {} } },
  { method: 'POST', url: '/v1/runs', valid: { runId: 'fuzz-run-2', workspace: WS, user: USER, computeEnv: CE, secrets: ['WS_SECRET'], lease: '1h' } },
  { method: 'POST', url: `/v1/runs/${RUN}/complete`, valid: { status: 'succeeded' } },
  { method: 'POST', url: `/v1/runs/${RUN}/renew`, valid: { extendBy: '2h' } },
  { method: 'POST', url: `/v1/runs/${RUN}/cancel`, valid: {} },
  { method: 'POST', url: `/v1/workspaces/${WS}/credentials/${CRED}/verify`, valid: {} },
  { method: 'POST', url: `/v1/workspaces/${WS}/credentials/${CRED}/rotations`, valid: { kind: 'aws-access-key' } },
  { method: 'POST', url: `/v1/workspaces/${WS}/credentials/${CRED}/rotation-schedule`, valid: { kind: 'aws-access-key', every: '30d' } },
  { method: 'POST', url: '/v1/vault/master-key/rotation-schedule', valid: { every: '90d' } },
];

/** The strings of the valid bodies: names and kinds a rule may well name. */
const OURS = new Set(ROUTES.flatMap((r) => strings(r.valid)));

beforeAll(async () => {
  api = await startTestApi();
  const ws = await api.vault.createWorkspace(WS);
  const user = await api.vault.createUser(USER);
  // The suite's caller owns the workspace and may launch for its users (docs/access.md).
  await grant(api.vault, WS, api.harness.name, 'owner', true);
  await api.vault.createCredential({ workspaceId: ws.id, name: CRED, kind: 'test-token', fields: { user: 'u', token: TOKEN } });
  await api.vault.createComputeEnv({ workspaceId: ws.id, name: CE, platform: 'local', config: {}, credentialId: null });
  await api.vault.setSecret({ scope: 'workspace', ownerId: ws.id, name: 'WS_SECRET', value: 'fuzz-ws-secret-value' });
  secrets.add('fuzz-ws-secret-value');
  await api.runs.launch({ runId: RUN, workspaceId: ws.id, userId: user.id, computeEnvId: (await api.vault.getComputeEnv(CE, ws.id)).id, secretNames: ['WS_SECRET'] });
});

afterAll(async () => {
  // Nothing secret came back, in any answer or log line of the suite.
  const values = [...secrets].filter((s) => s.trim().length >= 8 && !said.has(s));
  expect(answers.filter((a) => leaks(a, values))).toEqual([]);
  expect(leaks(api?.logger.text() ?? '', values)).toBe(false);
  await api?.close();
});

describe('API bodies', () => {
  test.each(ROUTES.map((r) => [`${r.method} ${r.url}`, r] as const))('%s: any change to a valid body is answered, never a 500, and a refusal stores nothing', async (_, route) => {
    await fc.assert(
      fc.asyncProperty(mutated(route.valid), async (body) => {
        await check(route.method, route.url, body);
      }),
      fuzz(25),
    );
  });

  test('any text as a body: refused as JSON, or answered like its JSON', async () => {
    const text = fc.oneof(
      anyString(60),
      fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v).slice(0, -1)),
      fc.constantFrom('{"__proto__":{"admin":true},"name":"x"}', '{"constructor":{"prototype":{"x":1}},"name":"x"}', '{"name":"a","name":"b"}', '\ufeff{"name":"bom"}', '[]', 'null', ''),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ROUTES), text, async (route, raw) => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(raw);
        } catch {
          parsed = undefined;
        }
        await check(route.method, route.url, parsed, raw);
      }),
      fuzz(100),
    );
  });

  test('any string as a path parameter: answered, never a 500', async () => {
    const templates = [
      '/v1/workspaces/{}/secrets',
      '/v1/workspaces/{}/secrets/X_NAME',
      `/v1/workspaces/${WS}/secrets/{}`,
      `/v1/users/${USER}/secrets/{}`,
      `/v1/workspaces/${WS}/credentials/{}`,
      `/v1/workspaces/${WS}/compute-envs/{}`,
      '/v1/runs/{}',
      '/v1/runs/{}/complete',
      '/v1/rotations/{}',
    ];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...templates), anyString(40), fc.constantFrom('GET', 'DELETE', 'PUT', 'POST'), async (template, param, method) => {
        fc.pre(param.length > 0);
        // A lone surrogate cannot be percent-encoded; a client sends it as U+FFFD, as UTF-8 does.
        const encoded = encodeURIComponent(Buffer.from(param, 'utf8').toString('utf8'));
        const body = method === 'PUT' ? { value: 'v' } : method === 'POST' ? { status: 'failed' } : undefined;
        await check(method, template.replace('{}', encoded), body);
      }),
      fuzz(150),
    );
  });

  test('settings holding a NUL or a lone surrogate are a 400 naming the setting, not a 500 from the database', async () => {
    for (const workDir of ['/tmp/nf\u0000', '/\ud800mp']) {
      const a = await check('POST', `/v1/workspaces/${WS}/compute-envs`, { name: 'ce-nul', platform: 'local', config: { workDir } });
      expect([a.status, a.body?.field]).toEqual([400, 'config.workDir']);
    }
  });

  test('a secret value of any accepted text is what the vault resolves, byte for byte', async () => {
    const ws = await api.vault.getWorkspace(WS);
    const user = await api.vault.getUser(USER);
    await fc.assert(
      fc.asyncProperty(fc.oneof(anyString(80), fc.constant(NASTY_VALUE)), async (value) => {
        const a = await check('PUT', `/v1/workspaces/${WS}/secrets/ROUND_TRIP`, { value });
        if (a.status >= 400) return;
        expect(a.status).toBe(200);
        const { found } = await api.vault.resolveSecrets({ workspaceId: ws.id, userId: user.id, names: ['ROUND_TRIP'] });
        expect(found).toHaveLength(1);
        expect(await api.vault.readSecretValue(found[0]!)).toBe(value);
      }),
      fuzz(100),
    );
  });
});
