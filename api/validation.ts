import { z } from 'zod';
import { ValidationError } from '../domain/errors';
import { entityNameProblem, secretNameProblem, secretValueProblem, RUN_ID_PATTERN as RUN_ID_RE, RUN_ID_RULE } from '../domain/rules';
import { DURATION_RULE, isDuration } from './duration';
import { ROTATION_KINDS } from '../domain/rotation';

/** Largest request body the API reads (bytes). Larger bodies are refused with 413. */
export const BODY_LIMIT_BYTES = 128 * 1024;

/**
 * Names and values follow domain/rules.ts, shared with the vault, so the API refuses exactly what the
 * vault refuses and with the same words, before anything is stored.
 */

/** Path parameters and run references name a record by name or by id (a UUID): both fit this. */
export const REF_RE = /^[A-Za-z0-9_-]{1,100}$/;
export const REF_RULE = 'must be a name or id: 1 to 100 letters, digits, dashes or underscores';

/** Run ids: the platform's workflow id (TOWER_WORKFLOW_ID). */
// One run-id rule for every entry point (API, client library, activities): it names remote objects and paths.
export { RUN_ID_RE, RUN_ID_RULE };

export const PLATFORMS = ['local', 'hpc', 'aws', 'gcp'] as const;
export const RUN_END_STATUSES = ['succeeded', 'failed', 'cancelled'] as const;

/** Most secrets one run may ask for. */
export const MAX_RUN_SECRETS = 100;

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
    user: ref,
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

/** Path parameters: a record's name or id, a secret name, a run id. */
export function checkParam(kind: 'ref' | 'secretName' | 'runId', field: string, value: string): string {
  if (kind === 'secretName') {
    const p = secretNameProblem(value);
    if (p) throw new ValidationError(field, p);
  } else if (kind === 'ref' ? !REF_RE.test(value) : !RUN_ID_RE.test(value)) {
    throw new ValidationError(field, kind === 'ref' ? REF_RULE : RUN_ID_RULE);
  }
  return value;
}
