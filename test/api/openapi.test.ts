/**
 * The OpenAPI document against the API's real answers: every /v1 route (the cases of
 * test/api/cases.ts) called by a caller it allows and by one it refuses; each answer's status must
 * be one the document lists for the operation, and its body must match the document's schema for
 * that status (validated with Ajv, JSON Schema 2020-12, as the document declares).
 */
import Ajv2020 from 'ajv/dist/2020';
import { routeCases, type Case } from './cases';
import { httpRequest } from './helpers';
import { buildWorld, type Who, type World } from './world';

interface Operation {
  operationId: string;
  responses: Record<string, { content?: { 'application/json': { schema: unknown } } }>;
}
interface Doc {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown> };
}

let w: World;
let doc: Doc;
let ajv: Ajv2020;

beforeAll(async () => {
  w = await buildWorld();
  doc = JSON.parse((await httpRequest(w.api.port, 'GET', '/openapi.json')).text) as Doc;
  // The document's own references (#/components/schemas/...) resolve against it.
  ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
  ajv.addSchema({ $id: 'urn:secret-broker:openapi', components: doc.components });
}, 60_000);
afterAll(async () => {
  await w?.close();
});

const CASES = routeCases(() => w);

function operationOf(c: Case): Operation {
  return doc.paths[c.route.replace(/:([A-Za-z]+)/g, '{$1}')]![c.method.toLowerCase()]!;
}

/** Errors of `body` against the operation's schema for `status`; undefined: it matches. */
function mismatch(op: Operation, status: number, text: string): unknown {
  const answer = op.responses[String(status)];
  if (!answer) return `status ${status} is not in the document (${Object.keys(op.responses).join(', ')})`;
  const schema = answer.content?.['application/json'].schema;
  if (!schema) return text === '' ? undefined : `the document says no body, got ${text.slice(0, 200)}`;
  const validate = ajv.compile({ $id: `urn:check:${op.operationId}:${status}:${Math.random()}`, ...rebase(schema) });
  return validate(JSON.parse(text)) ? undefined : validate.errors;
}

/** Point the document's local references at the registered document. */
function rebase(schema: unknown): Record<string, unknown> {
  return JSON.parse(JSON.stringify(schema).replace(/"#\/components\//g, '"urn:secret-broker:openapi#/components/')) as Record<string, unknown>;
}

/** A caller the case refuses: one without a role in the workspace, or without the role needed. */
function refusedCaller(c: Case): Who | undefined {
  const order: Who[] = ['outsider', 'view', 'root', 'svcNoBehalf', 'none'];
  return order.find((x) => !c.allow.includes(x) && !(c.except && x in c.except));
}

describe.each(CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => {
  test('the answers match the document', async () => {
    const op = operationOf(c);
    const callers = [c.allow[0], refusedCaller(c)].filter((x): x is Who => x !== undefined);
    for (const who of callers) {
      const url = await c.url();
      const payload = c.body ? JSON.stringify(c.body()) : undefined;
      const r = await httpRequest(w.api.port, c.method, url, payload, { ...w.headers(who), ...(payload ? { 'content-type': 'application/json' } : {}) });
      expect({ who, status: r.status, mismatch: mismatch(op, r.status, r.text) }).toEqual({ who, status: r.status, mismatch: undefined });
    }
  });
});

test('a validation error and a 401 match the Error schema', async () => {
  const op = operationOf(CASES.find((c) => c.name === 'create a workspace')!);
  const bad = await httpRequest(w.api.port, 'POST', '/v1/workspaces', JSON.stringify({ name: 'no spaces allowed' }), { ...w.headers('root'), 'content-type': 'application/json' });
  expect([bad.status, mismatch(op, bad.status, bad.text)]).toEqual([400, undefined]);
  const none = await httpRequest(w.api.port, 'POST', '/v1/workspaces', JSON.stringify({ name: 'x' }), { 'content-type': 'application/json' });
  expect([none.status, mismatch(op, none.status, none.text)]).toEqual([401, undefined]);
});

test('the check can fail: a body the document does not describe is refused', () => {
  const op = operationOf(CASES.find((c) => c.name === 'list workspaces')!);
  expect(mismatch(op, 200, JSON.stringify({ workspaces: [{ id: 1 }] }))).toBeDefined();
  expect(mismatch(op, 200, JSON.stringify({ workspaces: [], extra: true }))).toBeDefined();
  expect(mismatch(op, 400, JSON.stringify({ error: 'x' }))).toBeDefined();
  expect(mismatch(op, 418, '{}')).toBeDefined();
});
