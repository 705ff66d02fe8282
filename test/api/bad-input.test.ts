/**
 * Bad input on every /v1 route (the cases of test/api/cases.ts, the body rules from the OpenAPI
 * document): unknown, missing and mistyped fields, a body of the wrong kind, invalid JSON, an
 * oversized body, a body that is not JSON, invalid and unknown path parameters. Each is a 4xx
 * whose message names what is wrong, and the vault is the same before and after (every table but
 * the audit trail, compared row by row).
 */
import { randomUUID } from 'node:crypto';
import type { Db } from '../../store/db';
import { routeCases, type Case } from './cases';
import { httpRequest } from './helpers';
import { buildWorld, type Who, type World } from './world';

let w: World;
let doc: { paths: Record<string, Record<string, { operationId: string; requestBody?: { content: Record<string, { schema: { $ref: string } }> } }>>; components: { schemas: Record<string, BodySchema> } };

interface BodySchema {
  properties?: Record<string, unknown>;
  required?: string[];
}

beforeAll(async () => {
  w = await buildWorld();
  doc = JSON.parse((await httpRequest(w.api.port, 'GET', '/openapi.json')).text);
}, 60_000);
afterAll(async () => {
  await w?.close();
});

const CASES = routeCases(() => w);

/** Every table of the vault but the audit trail (refusals are recorded there), and no last-used times. */
async function vaultState(): Promise<string> {
  const db = (w.api.vault as unknown as { db: Db }).db;
  const tables = await db.query<{ table_name: string }>(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'audit_log' ORDER BY table_name`);
  const out: Record<string, unknown[]> = {};
  for (const { table_name: t } of tables) {
    const rows = await db.query(`SELECT * FROM ${t}`);
    out[t] = rows.map((r) => JSON.stringify(Object.fromEntries(Object.entries(r).filter(([k]) => k !== 'last_used_at')))).sort();
  }
  return JSON.stringify(out);
}

interface Answer {
  status: number;
  text: string;
  body: { error?: string; code?: string; field?: string } | undefined;
}

async function send(who: Who, method: string, url: string, payload: string | undefined, contentType = 'application/json'): Promise<Answer> {
  const headers = { ...w.headers(who), ...(payload === undefined ? {} : { 'content-type': contentType }) };
  const r = await httpRequest(w.api.port, method, url, payload, headers);
  let body: Answer['body'];
  try {
    body = r.text ? JSON.parse(r.text) : undefined;
  } catch {
    body = undefined;
  }
  return { status: r.status, text: r.text, body };
}

/** A caller the route allows (validation comes first, but an allowed caller shows the route would act). */
const callerOf = (c: Case): Who => c.allow[0] ?? 'root';

/** Send `payload` to the case's URL and check the answer and that the vault did not change. */
async function refused(c: Case, payload: string | undefined, expectStatus: number, names: RegExp, opts: { url?: string; contentType?: string } = {}) {
  const url = opts.url ?? (await c.url());
  const before = await vaultState();
  const r = await send(callerOf(c), c.method, url, payload, opts.contentType);
  expect({ status: r.status, body: r.body }).toEqual({ status: expectStatus, body: expect.objectContaining({ error: expect.stringMatching(names), code: expect.any(String) }) });
  expect(await vaultState()).toBe(before);
  return r;
}

/** The first case of each operation that has a body, with the body's schema from the document. */
function bodyCases(): [string, Case][] {
  const seen = new Set<string>();
  return CASES.filter((c) => c.body && !seen.has(`${c.method} ${c.route}`) && seen.add(`${c.method} ${c.route}`)).map((c) => [`${c.method} ${c.route}`, c]);
}

function bodySchema(c: Case): BodySchema {
  const op = doc.paths[c.route.replace(/:([A-Za-z]+)/g, '{$1}')]![c.method.toLowerCase()]!;
  const ref = op.requestBody!.content['application/json']!.schema.$ref.split('/').at(-1)!;
  return doc.components.schemas[ref]!;
}

describe.each(bodyCases())('%s', (_name, c) => {
  const good = () => c.body!() as Record<string, unknown>;

  test('an unknown field is refused, naming it', async () => {
    const r = await refused(c, JSON.stringify({ ...good(), surplusField: 1 }), 400, /surplusField/);
    expect(r.body?.code).toBe('validation');
  });

  test('each required field, missing, is refused naming it', async () => {
    const required = bodySchema(c).required ?? [];
    for (const field of required.filter((f) => f in good())) {
      const body = good();
      delete body[field];
      const r = await refused(c, JSON.stringify(body), 400, new RegExp(`\\b${field}\\b`));
      expect([field, r.body?.field]).toEqual([field, field]);
    }
  });

  test('each field of the wrong type is refused naming it', async () => {
    for (const field of Object.keys(good())) {
      const body = good();
      const v = body[field];
      body[field] = typeof v === 'string' ? 12345 : typeof v === 'object' ? 'not-an-object' : 'not-a-number-or-flag';
      const r = await refused(c, JSON.stringify(body), 400, new RegExp(`^${field}\\b`));
      expect(r.body?.field?.split(/[.[]/)[0]).toBe(field);
    }
  });

  test('a body that is not an object, invalid JSON, too large, or not JSON', async () => {
    await refused(c, JSON.stringify([good()]), 400, /body|expected object|must be an object/);
    await refused(c, JSON.stringify('a string'), 400, /body|expected object|must be an object/);
    await refused(c, '{"name": ', 400, /JSON/);
    await refused(c, JSON.stringify({ ...good(), padding: 'x'.repeat(200 * 1024) }), 413, /^body: must be at most \d+ bytes/);
    await refused(c, 'name=x', 415, /JSON|content type/i, { contentType: 'application/x-www-form-urlencoded' });
  });
});

/** Path parameters that must name an existing record of the vault (not the rotation doubles'). */
const RECORD_PARAMS = ['workspace', 'user', 'service', 'member', 'id', 'runId'];

describe.each(CASES.filter((c) => /:/.test(c.route)).map((c) => [c.name, c] as const))('parameters of %s', (_name, c) => {
  test('an invalid value in each is refused naming it; an unknown one is not found', async () => {
    const url = await c.url();
    const template = c.route.split('/');
    const parts = url.split('?')[0]!.split('/');
    const payload = c.body ? JSON.stringify(c.body()) : undefined;
    for (const [i, seg] of template.entries()) {
      if (!seg.startsWith(':')) continue;
      const param = seg.slice(1);
      const bad = [...parts];
      bad[i] = encodeURIComponent('not a valid name!');
      const r = await refused(c, payload, 400, new RegExp(`^${param}\\b`), { url: bad.join('/') });
      expect([param, r.body?.field]).toEqual([param, param]);
      if (RECORD_PARAMS.includes(param) || (param === 'name' && !c.route.includes('/secrets/'))) {
        const unknown = [...parts];
        unknown[i] = param === 'runId' ? `no-such-run-${randomUUID().slice(0, 8)}` : randomUUID();
        await refused(c, payload, 404, /not found/, { url: unknown.join('/') });
      }
    }
  });
});

test('a secret name that breaks the rule is refused naming it, and nothing is stored', async () => {
  const c = CASES.find((x) => x.name === 'set a workspace secret')!;
  for (const name of ['bad-name', '1LEADING_DIGIT', '__DOUBLE', 'A', 'X'.repeat(51)]) {
    await refused(c, JSON.stringify({ value: 'v' }), 400, /^name: /, { url: `/v1/workspaces/${w.ws.id}/secrets/${name}` });
  }
});

test('a value that is not one line, empty, or too large is refused without being echoed', async () => {
  const c = CASES.find((x) => x.name === 'set a workspace secret')!;
  for (const value of ['line-one\nline-two-secret', '', 'y'.repeat(64 * 1024 + 1)]) {
    const r = await refused(c, JSON.stringify({ value }), 400, /^value: /);
    if (value) expect(r.text).not.toContain(value.slice(0, 20));
  }
});

test('invalid base64 in a credential field is refused naming the field', async () => {
  const c = CASES.find((x) => x.name === 'create a credential')!;
  await refused(c, JSON.stringify({ name: 'b64', kind: 'azure-shared-key', fields: { storageAccountName: 'acct', storageKey: 'not base64 !!' } }), 400, /storageKey/);
});

test('the comparison sees a change: an accepted call changes the vault state', async () => {
  const c = CASES.find((x) => x.name === 'set a workspace secret')!;
  const before = await vaultState();
  expect((await send(callerOf(c), c.method, await c.url(), JSON.stringify(c.body!()))).status).toBe(200);
  expect(await vaultState()).not.toBe(before);
});
