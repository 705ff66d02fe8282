/**
 * The answers of the API, as zod schemas: the OpenAPI document (api/openapi.ts) describes each
 * route's success answer with these, and test/api/openapi.test.ts checks real answers against the
 * document. Request schemas are in api/validation.ts (the same ones that check requests).
 */
import { z } from 'zod';
import { ROLES } from '../domain/access';

const str = z.string();
const time = z.string().describe('an ISO 8601 time');
const open = z.record(z.string(), z.unknown());

/** Every error, in one shape. */
export const errorBody = z
  .strictObject({
    error: str.describe('for people: what went wrong; `<field>: <rule>` for validation'),
    code: str.describe(
      'stable: validation, unauthenticated, forbidden, not-found, conflict, duplicate-run, already-ended, launch-failed, rate-limited, unavailable, temporal-unavailable, internal, vault-key, no-route',
    ),
    field: str.optional(),
    rule: str.optional(),
    type: str.optional().describe('not-found and launch-failed: the error type (UserNotFoundError ...)'),
    outcome: str.optional().describe('already-ended: how the run ended'),
    retryAfterSeconds: z.number().int().optional().describe('temporal-unavailable: seconds to wait before retrying (also Retry-After)'),
    missing: z
      .array(z.strictObject({ principal: str, permission: str, resource: str, grant: str, role: str.optional() }))
      .optional()
      .describe('launch-failed by an access check: each missing permission'),
  })
  .meta({ id: 'Error' });

const nextCursor = str.optional().describe('present when there is another page: pass it as ?cursor=');

export const workspace = z.strictObject({ id: str, name: str, createdAt: time }).meta({ id: 'Workspace' });

const principalRef = z.strictObject({ id: str, kind: z.enum(['user', 'service']), name: str }).meta({ id: 'PrincipalRef' });

export const principal = z
  .strictObject({
    id: str,
    kind: z.enum(['user', 'service']),
    name: str,
    brokerAdmin: z.boolean(),
    createdAt: time,
    oidc: z.strictObject({ issuer: str, subject: str }).optional(),
  })
  .meta({ id: 'Identity' });

export const secretMeta = z
  .strictObject({ id: str, scope: z.enum(['workspace', 'user']), ownerId: str, name: str, version: z.number().int(), createdAt: time, updatedAt: time })
  .meta({ id: 'SecretMeta' });

export const credentialMeta = z
  .strictObject({ id: str, workspaceId: str, name: str, kind: str, public: open, createdAt: time, updatedAt: time })
  .meta({ id: 'CredentialMeta' });

export const computeEnv = z
  .strictObject({
    id: str,
    workspaceId: str,
    name: str,
    platform: z.enum(['local', 'hpc', 'aws', 'gcp']),
    config: open,
    credentialId: str.nullable(),
    createdAt: time,
    updatedAt: time,
  })
  .meta({ id: 'ComputeEnv' });

const remoteRef = z.strictObject({ platform: str, computeEnvId: str, secretName: str, remoteId: str, location: str.optional() }).meta({ id: 'RemoteRef' });

const links = z.strictObject({ webUi: str.optional().describe("the run's workflow in the Temporal Web UI") }).optional();

export const readyResult = z
  .strictObject({
    runId: str,
    workflowId: str,
    platform: str,
    computeEnvId: str,
    secretNames: z.array(str),
    refs: z.array(remoteRef),
    headJobEnv: z.record(z.string(), z.string()),
    leaseExpiresAt: time,
    links,
  })
  .meta({ id: 'ReadyResult' });

export const runStatus = z
  .strictObject({
    runId: str,
    workspaceId: str,
    userId: str,
    computeEnvId: str,
    platform: str.optional(),
    phase: z.enum(['resolving', 'pushing', 'verifying', 'ready', 'deleting', 'deleted']),
    outcome: z.enum(['succeeded', 'failed', 'cancelled', 'lease-expired', 'launch-failed']).optional(),
    secretNames: z.array(str),
    refs: z.array(z.strictObject({ ref: remoteRef, state: z.enum(['planned', 'pushed', 'deleted', 'not-found', 'not-owned']) })),
    headJobEnv: z.record(z.string(), z.string()).optional(),
    startedAt: time,
    readyAt: time.optional(),
    completedAt: time.optional(),
    deletedAt: time.optional(),
    leaseExpiresAt: time.optional(),
    lastError: str.optional(),
    deleteAttempts: z.number().int(),
    names: z.strictObject({ workspace: str.optional(), user: str.optional(), computeEnv: str.optional() }).describe('the names of the ids above, where they still exist'),
    links,
  })
  .meta({ id: 'RunStatus' });

export const runSummary = z
  .strictObject({
    runId: str,
    workflowId: str,
    workspace: str,
    computeEnv: str,
    platform: str.optional(),
    phase: str.optional(),
    execution: str,
    user: str.optional(),
    startedAt: time,
    closedAt: time.optional(),
  })
  .meta({ id: 'RunSummary' });

export const accepted = z.strictObject({
  runId: str,
  accepted: z.enum(['complete', 'cancel', 'renew']),
  status: str.optional(),
  /** complete and cancel: this call ended the run, or it had ended already (a retry), with how. */
  result: z.enum(['accepted', 'already-ended']).optional(),
  outcome: str.optional(),
  extendBy: str.optional(),
  extendByMs: z.number().optional(),
  /** renew: when the lease now ends, as the run answered (absent when no worker answered in time). */
  leaseExpiresAt: time.optional(),
});

export const verifyReport = z
  .strictObject({ credentialId: str, kind: str, ok: z.boolean(), checks: z.array(z.strictObject({ check: str, status: z.enum(['passed', 'failed', 'skipped']), detail: str })) })
  .meta({ id: 'VerifyReport' });

export const workflowState = z
  .strictObject({ workflowId: str, execution: str, status: open.optional(), result: open.optional(), error: str.optional() })
  .meta({ id: 'WorkflowState' });

const scheduleFacts = {
  paused: z.boolean(),
  note: str.optional(),
  spec: str,
  nextRuns: z.array(time),
  recentRuns: z.array(z.strictObject({ at: time, workflowId: str })),
};

export const rotationSchedule = z
  .strictObject({ scheduleId: str, credentialId: str, kind: str.optional(), account: str.optional(), label: str.optional(), ...scheduleFacts })
  .meta({ id: 'RotationSchedule' });

export const vaultKeySchedule = z.strictObject({ scheduleId: str, ...scheduleFacts }).meta({ id: 'VaultKeySchedule' });

export const rotationStarted = z.strictObject({ workflowId: str, account: str, label: str });

export const scheduleAction = z.record(z.string(), z.string());

export const member = z
  .strictObject({ workspaceId: str, principal: principalRef, role: z.enum(ROLES), onBehalf: z.boolean(), createdAt: time, updatedAt: time })
  .meta({ id: 'Member' });

export const tokenMeta = z
  .strictObject({
    id: str,
    name: str,
    principal: principalRef,
    createdAt: time,
    createdBy: str.optional(),
    expiresAt: time,
    lastUsedAt: time.optional(),
    revokedAt: time.optional(),
  })
  .meta({ id: 'TokenMeta' });

export const createdToken = z
  .strictObject({ token: str.describe('the token itself: shown in this answer only'), meta: tokenMeta })
  .meta({ id: 'CreatedToken' });

export const me = z
  .strictObject({
    identity: z.strictObject({ id: str, kind: z.enum(['user', 'service']), name: str, brokerAdmin: z.boolean() }),
    via: z.enum(['token', 'oidc']),
    token: z.strictObject({ id: str, expiresAt: time }).optional(),
    memberships: z.array(z.strictObject({ workspace: z.strictObject({ id: str, name: str }), role: z.enum(ROLES), onBehalf: z.boolean() })),
  })
  .meta({ id: 'Me' });

export const auditRecord = z
  .strictObject({
    seq: z.number().int(),
    at: time,
    actor: principalRef.optional(),
    via: z.enum(['token', 'oidc', 'none', 'system', 'loopback']),
    action: str,
    workspaceId: str.optional(),
    workspace: str.optional(),
    target: z.record(z.string(), z.string()),
    outcome: z.enum(['ok', 'refused', 'failed']),
    status: z.number().int().optional(),
    code: str.optional(),
    ip: str.optional(),
    detail: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.array(z.string())])),
    prevHash: str,
    hash: str,
  })
  .meta({ id: 'AuditRecord' });

export const auditVerification = z
  .strictObject({ ok: z.boolean(), records: z.number().int(), head: str.optional(), brokenAt: z.strictObject({ seq: z.number().int(), reason: str }).optional() })
  .meta({ id: 'AuditVerification' });

/** `{<key>: [...], nextCursor?}`: every list answer. */
export function page<K extends string>(key: K, item: z.ZodType) {
  return z.strictObject({ [key]: z.array(item), nextCursor } as { [P in K]: z.ZodArray<z.ZodType> } & { nextCursor: typeof nextCursor });
}
