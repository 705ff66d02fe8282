import { z } from 'zod';
import { ValidationError } from '../domain/errors';
import {
  entityNameProblem,
  secretNameProblem,
  secretValueProblem,
  NEXTFLOW_SECRET_NAME,
  SECRET_NAME_MAX,
  SECRET_NAME_MIN,
  RUN_ID_PATTERN as RUN_ID_RE,
  RUN_ID_RULE,
} from '../domain/rules';
import { DURATION_RULE, isDuration } from './duration';
import { ROTATION_KINDS } from '../domain/rotation';
import { ROLES } from '../domain/access';

/** Largest request body the API reads (bytes). Larger bodies are refused with 413. */
export const BODY_LIMIT_BYTES = 128 * 1024;

// ---- pagination -----------------------------------------------------------------------------

export const DEFAULT_PAGE_SIZE = 100;
const MAX_PAGE_SIZE = 1000;

const limit = z.coerce
  .number({ error: `must be a whole number from 1 to ${MAX_PAGE_SIZE}` })
  .int({ error: `must be a whole number from 1 to ${MAX_PAGE_SIZE}` })
  .min(1, { error: `must be a whole number from 1 to ${MAX_PAGE_SIZE}` })
  .max(MAX_PAGE_SIZE, { error: `must be a whole number from 1 to ${MAX_PAGE_SIZE}` });
const cursor = z.string().min(1).max(4096, { error: 'is not a cursor from a previous page' });

/** `?limit=N&cursor=C` of every list route, plus the route's own filters. */
function pageQuery<T extends z.ZodRawShape>(filters: T = {} as T) {
  return z.strictObject({ limit: limit.optional(), cursor: cursor.optional(), ...filters });
}

/**
 * One page of `all`, in the order of `key`, after the cursor, and the cursor of the next
 * page when there is more. Cursors are opaque: base64url of the last key shown.
 */
export function paginate<T>(all: T[], key: (t: T) => string, q: { limit?: number; cursor?: string }): { items: T[]; nextCursor?: string } {
  const size = q.limit ?? DEFAULT_PAGE_SIZE;
  // Code-unit order, whatever the database's collation: the cursor compares the same way.
  const items = [...all].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  let start = 0;
  if (q.cursor !== undefined) {
    const after = decodeCursor(q.cursor);
    start = items.findIndex((t) => key(t) > after);
    if (start < 0) start = items.length;
  }
  const page = items.slice(start, start + size);
  const more = start + size < items.length;
  return { items: page, ...(more && page.length ? { nextCursor: encodeCursor(key(page.at(-1)!)) } : {}) };
}

export function encodeCursor(after: string): string {
  return Buffer.from(JSON.stringify({ after }), 'utf8').toString('base64url');
}

export function decodeCursor(c: string): string {
  try {
    const v = JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as { after?: unknown };
    if (typeof v.after === 'string') return v.after;
  } catch {
    /* below */
  }
  throw new ValidationError('cursor', 'is not a cursor from a previous page');
}


/**
 * Names and values follow domain/rules.ts, shared with the vault, so the API refuses exactly what the
 * vault refuses and with the same words, before anything is stored.
 */

/** Path parameters and run references name a record by name or by id (a UUID): both fit this. */
const REF_RE = /^[A-Za-z0-9_-]{1,100}$/;
const REF_RULE = 'must be a name or id: 1 to 100 letters, digits, dashes or underscores';

// Run ids (the platform's workflow id, TOWER_WORKFLOW_ID): RUN_ID_RE and RUN_ID_RULE above are domain/rules.ts's,
// one run-id rule for every entry point (API, client library, activities): it names remote objects and paths.

const PLATFORMS = ['local', 'hpc', 'aws', 'gcp'] as const;
const RUN_END_STATUSES = ['succeeded', 'failed', 'cancelled'] as const;

/** Most secrets one run may ask for. */
const MAX_RUN_SECRETS = 100;

/** A string field judged by one of domain/rules.ts's problem functions. */
function ruled(problem: (v: unknown) => string | null) {
  return z.string({ error: (iss) => (iss.input === undefined ? 'is required' : 'must be a string') }).superRefine((v, ctx) => {
    const p = problem(v);
    if (p) ctx.addIssue({ code: 'custom', message: p });
  });
}

const name = ruled(entityNameProblem);
const ref = z.string().regex(REF_RE, { error: REF_RULE });
const secretName = ruled(secretNameProblem);
const secretValue = ruled(secretValueProblem);
const runId = z.string().regex(RUN_ID_RE, { error: RUN_ID_RULE });
const duration = z.string({ error: (iss) => (iss.input === undefined ? 'is required' : DURATION_RULE) }).refine(isDuration, { error: DURATION_RULE });
const jsonObject = z.record(z.string(), z.unknown());
const bool = z.boolean({ error: 'must be true or false' });
const oidcSubject = z.string({ error: 'must be a string' }).min(1, { error: 'must be 1 to 255 characters' }).max(255, { error: 'must be 1 to 255 characters' });
const isoTime = z.iso.datetime({ offset: true, error: 'must be a time like 2026-01-31T12:00:00Z' });

/** Query strings of the list routes. */
export const querySchemas = {
  page: pageQuery(),
  runs: pageQuery({
    phase: z.enum(['resolving', 'pushing', 'verifying', 'ready', 'deleting', 'deleted'], { error: 'must be one of resolving, pushing, verifying, ready, deleting, deleted' }).optional(),
    computeEnv: z.string().regex(REF_RE, { error: REF_RULE }).optional(),
    status: z.enum(['running', 'closed'], { error: 'must be running or closed' }).optional(),
  }),
  tokens: pageQuery({ user: z.string().regex(REF_RE, { error: REF_RULE }).optional(), service: z.string().regex(REF_RE, { error: REF_RULE }).optional(), all: z.enum(['true', 'false']).optional() }),
  audit: pageQuery({
    workspace: z.string().regex(REF_RE, { error: REF_RULE }).optional(),
    identity: z.string().regex(REF_RE, { error: REF_RULE }).optional(),
    since: isoTime.optional(),
    until: isoTime.optional(),
    action: z.string().regex(/^[A-Za-z]{1,100}$/, { error: 'must be an operation id (letters only)' }).optional(),
    outcome: z.enum(['ok', 'refused', 'failed'], { error: 'must be ok, refused or failed' }).optional(),
  }),
};

export const schemas = {
  createNamed: z.strictObject({ name }),
  setSecret: z.strictObject({ value: secretValue }),
  createCredential: z.strictObject({ name, kind: z.string().min(1, { error: 'must not be empty' }).max(100), fields: jsonObject }),
  createComputeEnv: z.strictObject({
    name,
    platform: z.enum(PLATFORMS, { error: `must be one of ${PLATFORMS.join(', ')}` }),
    config: jsonObject.default({}),
    credential: ref.optional(),
  }),
  // PATCH of a compute environment: the settings (a full replacement), the credential (by name or
  // id; null clears it where the platform takes none), or both. The platform never changes.
  updateComputeEnv: z
    .strictObject({
      config: jsonObject.optional(),
      credential: ref.nullable().optional(),
    })
    .refine((b) => b.config !== undefined || b.credential !== undefined, { error: 'must give config, credential or both' }),
  launch: z.strictObject({
    runId,
    workspace: ref,
    // A person launches as themselves (the default); a service names the user it launches for.
    user: ref.optional(),
    computeEnv: ref,
    secrets: z
      .array(secretName)
      .max(MAX_RUN_SECRETS, { error: `must list at most ${MAX_RUN_SECRETS} names` })
      .refine((a) => new Set(a).size === a.length, { error: 'must not repeat a name' }),
    lease: duration.optional(),
  }),
  complete: z.strictObject({
    status: z.enum(RUN_END_STATUSES, { error: `must be one of ${RUN_END_STATUSES.join(', ')}` }),
  }),
  renew: z.strictObject({ extendBy: duration }),
  empty: z.strictObject({}),
  createUser: z.strictObject({ name, brokerAdmin: bool.optional(), oidcSubject: oidcSubject.optional() }),
  createService: z.strictObject({ name, brokerAdmin: bool.optional(), oidcSubject: oidcSubject.optional() }),
  updatePrincipal: z
    .strictObject({ brokerAdmin: bool.optional(), oidcSubject: oidcSubject.nullable().optional() })
    .refine((b) => b.brokerAdmin !== undefined || b.oidcSubject !== undefined, { error: 'must give brokerAdmin, oidcSubject or both' }),
  setMember: z.strictObject({
    role: z.enum(ROLES, { error: `must be one of ${ROLES.join(', ')}` }),
    onBehalf: bool.optional(),
  }),
  createToken: z
    .strictObject({ name: name.optional(), expiresIn: duration.optional(), user: ref.optional(), service: ref.optional() })
    .refine((b) => b.user === undefined || b.service === undefined, { error: 'give user or service, not both', path: ['service'] }),
  rotation: z.strictObject(rotationFields()),
  rotationSchedule: z
    .strictObject({
      ...rotationFields(),
      every: duration.optional(),
      cron: z.array(z.string().min(1).max(200)).min(1).max(10).optional(),
      paused: z.boolean().optional(),
      note: z.string().max(500).optional(),
    })
    .refine((b) => (b.every === undefined) !== (b.cron === undefined), { error: 'give exactly one of every (e.g. 30d) and cron (expressions)', path: ['every'] }),
  note: z.strictObject({ note: z.string().max(500).optional() }),
  verifyCredential: z.strictObject({
    managementCredential: ref.optional(),
    resourceGroup: z.string().min(1).max(90).optional(),
    storageAccount: z.string().regex(/^[a-z0-9]{3,24}$/, { error: 'must be a storage account name: 3 to 24 lower-case letters and digits' }).optional(),
    computeEnv: ref.optional(),
  }),
};

/** What a rotation request names: the kind, and for Azure the management credential and where the account is. */
function rotationFields() {
  const azureName = z.string().min(1).max(90);
  return {
    kind: z.enum(ROTATION_KINDS, { error: `must be one of ${ROTATION_KINDS.join(', ')}` }),
    managementCredential: ref.optional(),
    resourceGroup: azureName.optional(),
    registryName: azureName.optional(),
    tokenName: azureName.optional(),
    grace: duration.optional(),
    switchBack: z.boolean().optional(),
  };
}

/** The vault master key rotation schedule (POST /v1/vault/master-key/rotation-schedule). */
export const vaultKeySchemas = {
  schedule: z
    .strictObject({
      every: duration.optional(),
      cron: z.array(z.string().min(1).max(200)).min(1).max(10).optional(),
      paused: z.boolean().optional(),
      note: z.string().max(500).optional(),
    })
    .refine((b) => (b.every === undefined) !== (b.cron === undefined), { error: 'give exactly one of every (e.g. 90d) and cron (expressions)', path: ['every'] }),
};

/** Turn a zod issue into a rule that never quotes the input. */
function describe(issue: z.core.$ZodIssue): { field: string; rule: string } {
  const at = issue.path.map(String);
  switch (issue.code) {
    case 'unrecognized_keys':
      return { field: [...at, issue.keys[0] ?? '?'].join('.'), rule: 'is not an accepted field' };
    default:
      return { field: at.length ? at.join('.') : 'body', rule: issue.message };
  }
}

/** Messages for the issues whose schema did not set one. Never uses the input beyond its type. */
function defaultMessage(issue: z.core.$ZodRawIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'is required';
      if (issue.expected === 'record' || issue.expected === 'object') return 'must be a JSON object';
      return `must be ${issue.expected === 'array' ? 'an' : 'a'} ${issue.expected}`;
    case 'too_big':
      return `must be at most ${String(issue.maximum)}${issue.origin === 'string' ? ' characters' : ''}`;
    case 'too_small':
      return `must be at least ${String(issue.minimum)}${issue.origin === 'string' ? ' characters' : ''}`;
    default:
      return 'is not valid';
  }
}

/** Parse `input` with `schema`, or throw a ValidationError naming the first failing field. */
export function parse<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  if (input === undefined || input === null || typeof input !== 'object' || Array.isArray(input)) {
    if (input === undefined && schema === (schemas.empty as z.ZodType)) return {} as z.output<S>;
    throw new ValidationError('body', 'must be a JSON object');
  }
  const result = schema.safeParse(input, { error: defaultMessage });
  if (result.success) return result.data;
  const first = result.error.issues[0];
  if (!first) throw new ValidationError('body', 'is not valid');
  const { field, rule } = describe(first);
  throw new ValidationError(field, rule);
}

/** Fields of a compute environment that a PATCH cannot change, with the reason given instead of "not accepted". */
const FIXED_COMPUTE_ENV_FIELDS: Record<string, string> = {
  platform: 'cannot be changed: create a new compute environment for the other platform',
  name: 'cannot be changed',
};

/** A compute environment PATCH body: `{config?, credential?}`, at least one. */
export function parseComputeEnvPatch(input: unknown): z.output<typeof schemas.updateComputeEnv> {
  if (input !== null && typeof input === 'object' && !Array.isArray(input)) {
    for (const [field, rule] of Object.entries(FIXED_COMPUTE_ENV_FIELDS)) if (Object.hasOwn(input, field)) throw new ValidationError(field, rule);
  }
  return parse(schemas.updateComputeEnv, input);
}

/** Token ids are UUIDs. */
const TOKEN_ID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const TOKEN_ID_RULE = 'must be a token id (a UUID)';

/** A path parameter's rule (api/route.ts ParamRule). */
export type ParamRuleLike = 'ref' | 'secretName' | 'runId' | 'tokenId' | { pattern: RegExp; rule: string };

/** Path parameters: a record's name or id, a secret name, a run id, a token id, or a pattern. */
export function checkParam(kind: ParamRuleLike, field: string, value: string): string {
  if (kind === 'secretName') {
    const p = secretNameProblem(value);
    if (p) throw new ValidationError(field, p);
    return value;
  }
  const [re, rule] =
    typeof kind === 'object' ? [kind.pattern, kind.rule] : kind === 'ref' ? [REF_RE, REF_RULE] : kind === 'tokenId' ? [TOKEN_ID_RE, TOKEN_ID_RULE] : [RUN_ID_RE, RUN_ID_RULE];
  if (!re.test(value)) throw new ValidationError(field, rule);
  return value;
}

/** The JSON schema of a path parameter, for the OpenAPI document. */
export function paramJsonSchema(kind: ParamRuleLike): Record<string, unknown> {
  if (kind === 'secretName') return { type: 'string', pattern: NEXTFLOW_SECRET_NAME.source, minLength: SECRET_NAME_MIN, maxLength: SECRET_NAME_MAX };
  const re = typeof kind === 'object' ? kind.pattern : kind === 'ref' ? REF_RE : kind === 'tokenId' ? TOKEN_ID_RE : RUN_ID_RE;
  return { type: 'string', pattern: re.source };
}

/** A query string, checked like a body: unknown parameters are refused, each error names its parameter. */
export function parseQuery<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  return parse(schema, input ?? {});
}

