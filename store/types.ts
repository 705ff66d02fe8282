import type { RateSlots } from '../domain/rate';
import type { Platform, SecretRef } from '../domain/run';
import type { Membership, Principal, PrincipalKind, Role } from '../domain/access';
import { type ComputeEnvRecord } from '../domain/run';

export type SecretScope = 'workspace' | 'user';

export interface Workspace {
  id: string;
  name: string;
  createdAt: string;
}

export interface User {
  id: string;
  name: string;
  createdAt: string;
}

/** A secret as listings show it: never the value. */
export interface SecretMeta {
  id: string;
  scope: SecretScope;
  /** workspace id for workspace secrets, user id for user secrets */
  ownerId: string;
  name: string;
  version: number;
  createdAt: string;
  updatedAt: string;
}

export interface CredentialMeta {
  id: string;
  workspaceId: string;
  name: string;
  kind: string;
  /** Non-secret fields (user name, host, account name ...). Secret fields are never here. */
  public: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
}

export interface ComputeEnv extends ComputeEnvRecord {
  createdAt: string;
  updatedAt: string;
}

/** What updateComputeEnv may change: at least one of the two. */
export interface ComputeEnvPatch {
  config?: Record<string, unknown>;
  credentialId?: string | null;
}

export interface ResolveResult {
  found: SecretRef[];
  missing: string[];
  /** The names of the workspace and user resolved against (for messages and the Web UI). */
  workspaceName: string;
  userName: string;
}

export interface RewrapProgress {
  done: number;
  total: number;
}

/** What a master key rotation (a rewrap of every data key) did. Key ids and file paths, never key material. */
export interface MasterKeyRotationResult {
  /** The key everything is now wrapped under. */
  newKeyId: string;
  /** The keys rows were wrapped under before (besides the new key). */
  oldKeyIds: string[];
  /** Rows that needed re-wrapping when this run started. */
  total: number;
  /** Rows this run re-wrapped. */
  rewrapped: number;
  /** Rows already under the new key when this run started (re-wrapped by an earlier, interrupted run). */
  skipped: number;
  secrets: number;
  credentials: number;
  /** Key file mode: where the new key now lives, and where the old one was kept. */
  keyFile?: string;
  retiredKeyFile?: string;
  /** What the operator still has to do (environment mode; removing the retired key file). */
  nextSteps: string[];
}

/** Options of VaultApi.rotateMasterKey. */
export interface RotateMasterKeyOptions {
  /** Called once the new key's id is known, before any row changes. */
  onStart?: (s: { newKeyId: string; total: number; skipped: number }) => void | Promise<void>;
  /** Called after each re-wrapped row; throwing stops the rotation (it resumes when started again). */
  onProgress?: (p: RewrapProgress) => void | Promise<void>;
  /** A retried rotation: the key id it was moving to (see store/rewrap.ts RewrapStoreOptions.resumeKeyId). */
  resumeKeyId?: string;
}

/** Options of VaultApi.replaceCredentialSecret. */
export interface ReplaceCredentialOptions {
  /** Public fields `patch` may change along with the secret ones; each must already be a field of the credential. */
  publicFields?: readonly string[];
}

/** The vault's public surface. Implemented by store/vault.ts on PGlite or PostgreSQL. */
export interface VaultApi {
  /** Who may call, in which roles, with which tokens (store/access.ts). */
  readonly access: AccessApi;
  /** The append-only, hash-chained audit trail (store/audit.ts). */
  readonly audit: AuditApi;

  /** With `owner`, that principal becomes the workspace's owner in the same transaction. */
  createWorkspace(name: string, owner?: PrincipalRef): Promise<Workspace>;
  /** By id or by name. */
  getWorkspace(idOrName: string): Promise<Workspace>;
  listWorkspaces(): Promise<Workspace[]>;

  createUser(name: string): Promise<User>;
  getUser(idOrName: string): Promise<User>;
  listUsers(): Promise<User[]>;

  /** Create or replace; validates name and value; returns metadata only. */
  setSecret(input: { scope: SecretScope; ownerId: string; name: string; value: string }): Promise<SecretMeta>;
  deleteSecret(input: { scope: SecretScope; ownerId: string; name: string }): Promise<void>;
  listSecrets(input: { scope: SecretScope; ownerId: string }): Promise<SecretMeta[]>;
  /** User secrets override workspace secrets of the same name. */
  resolveSecrets(input: { workspaceId: string; userId: string; names: string[] }): Promise<ResolveResult>;
  /** The only way a value leaves the vault: for the push activity. */
  readSecretValue(ref: SecretRef): Promise<string>;
  /** The values of several refs in one query, in order (a run's push). */
  readSecretValues(refs: SecretRef[]): Promise<string[]>;

  createCredential(input: { workspaceId: string; name: string; kind: string; fields: Record<string, unknown> }): Promise<CredentialMeta>;
  getCredential(idOrName: string, workspaceId?: string): Promise<CredentialMeta>;
  listCredentials(workspaceId: string): Promise<CredentialMeta[]>;
  deleteCredential(id: string): Promise<void>;
  /** Decrypted secret fields, for providers only. */
  readCredential(id: string): Promise<{ kind: string; public: Record<string, unknown>; secret: Record<string, string> }>;

  /** Every credential of one kind, in every workspace (metadata only): rotation checks who shares an account. */
  listCredentialsOfKind(kind: string): Promise<CredentialMeta[]>;
  /**
   * Replace some secret fields of a credential (a rotation storing a new key). The merged fields are
   * validated by the credential's kind like on create; public fields change only where
   * `opts.publicFields` names them (a key whose public id changes with its secret: an AWS access key
   * id), and any other public field in `patch` is refused. With `expect`, the write happens only if
   * those fields (secret or public) still hold these values (ConflictError otherwise). Atomic: a
   * refused replacement changes nothing.
   */
  replaceCredentialSecret(
    id: string,
    patch: Record<string, string>,
    expect?: Record<string, string>,
    opts?: ReplaceCredentialOptions,
  ): Promise<CredentialMeta>;

  createComputeEnv(input: {
    workspaceId: string;
    name: string;
    platform: Platform;
    config: Record<string, unknown>;
    credentialId?: string | null;
  }): Promise<ComputeEnv>;
  getComputeEnv(idOrName: string, workspaceId?: string): Promise<ComputeEnv>;
  /**
   * Change a compute environment's settings, its credential, or both; the platform never changes.
   * `config` replaces the whole settings object and is validated like on create; `credentialId`
   * (id or name, in the environment's workspace, of the platform's kind) replaces the credential,
   * and null clears it where the platform takes none. A refused update changes nothing; a
   * successful one moves `updatedAt` forward.
   */
  updateComputeEnv(idOrName: string, workspaceId: string | undefined, patch: ComputeEnvPatch): Promise<ComputeEnv>;
  listComputeEnvs(workspaceId: string): Promise<ComputeEnv[]>;
  deleteComputeEnv(id: string): Promise<void>;

  /**
   * Rotate the master key of this open vault: re-wrap every data key under a new key, resumably
   * (store/rewrap.ts). Key file mode: the vault makes the new key itself (`master.key.next`, renamed
   * over `master.key` at the end, the old key kept as `master.key.retired-<id>`) or finishes one in
   * flight. Environment mode: it only finishes a rotation the operator began with
   * BROKER_MASTER_KEY_NEXT, and otherwise refuses (VaultKeyError) saying what to do. The vault
   * keeps reading and writing throughout; one rotation at a time per vault.
   */
  rotateMasterKey(opts?: RotateMasterKeyOptions): Promise<MasterKeyRotationResult>;

  /**
   * Rate slots every worker process on this vault's database shares (PostgreSQL); absent on PGlite,
   * which one process holds alone, so a process-wide limit is already the whole broker's.
   */
  readonly rateSlots?: RateSlots;

  close(): Promise<void>;
}

// ---- identities, roles, tokens -----------------------------------------------------------------

/** A principal as other records name it. */
export interface PrincipalRef {
  id: string;
  kind: PrincipalKind;
  name: string;
}

export interface PrincipalRecord extends Principal {
  createdAt: string;
  /** The OIDC subject mapped to this principal, if any. */
  oidc?: { issuer: string; subject: string };
}

export interface MemberInfo {
  workspaceId: string;
  principal: PrincipalRef;
  role: Role;
  onBehalf: boolean;
  createdAt: string;
  updatedAt: string;
}

/** A token as listings show it: never its text, which exists only in the answer that made it. */
export interface TokenMeta {
  id: string;
  name: string;
  principal: PrincipalRef;
  createdAt: string;
  /** The principal id that made it. */
  createdBy?: string;
  expiresAt: string;
  lastUsedAt?: string;
  revokedAt?: string;
}

export type TokenCheck =
  | { ok: true; principal: Principal; token: TokenMeta }
  | { ok: false; reason: 'malformed' | 'unknown' | 'revoked' | 'expired' };

export interface AccessApi {
  /** A user or service by id or name; `kind` narrows the search. NotFoundError naming what was asked. */
  principal(idOrName: string, kind?: PrincipalKind): Promise<PrincipalRecord>;
  listPrincipals(kind: PrincipalKind): Promise<PrincipalRecord[]>;
  /**
   * A user (a person) or a service identity (the launch service, CI ...), in one transaction with
   * its broker administration and OIDC subject. Names are unique across users and services.
   */
  createPrincipal(kind: PrincipalKind, name: string, opts?: { brokerAdmin?: boolean; oidc?: { issuer: string; subject: string } }): Promise<PrincipalRecord>;
  /**
   * Grant or withdraw broker administration (withdrawing the last one is refused) and map or unmap
   * an OIDC subject, in one transaction.
   */
  updatePrincipal(idOrName: string, kind: PrincipalKind, patch: { brokerAdmin?: boolean; oidc?: { issuer: string; subject: string } | null }): Promise<PrincipalRecord>;
  principalByOidc(issuer: string, subject: string): Promise<Principal | undefined>;

  membership(workspaceId: string, principalId: string): Promise<Membership | undefined>;
  membershipsOf(principalId: string): Promise<Membership[]>;
  listMembers(workspaceId: string): Promise<MemberInfo[]>;
  /** Add or change; refuses on-behalf for a person and demoting the last owner. */
  setMember(workspaceId: string, principalId: string, role: Role, opts?: { onBehalf?: boolean }): Promise<MemberInfo>;
  /** Refuses removing the last owner. NotFoundError when not a member. */
  removeMember(workspaceId: string, principalId: string): Promise<void>;

  /** Make a token; the text is in this answer only (the vault keeps its SHA-256). */
  createToken(input: { principalId: string; name: string; ttlMs: number; createdBy?: string }): Promise<{ token: string; meta: TokenMeta }>;
  /** Who a token is, or why it is refused. Records the last use (to the minute). */
  checkToken(token: string): Promise<TokenCheck>;
  listTokens(principalId?: string): Promise<TokenMeta[]>;
  getToken(id: string): Promise<TokenMeta>;
  /** Revoke (idempotent: a revoked token stays revoked and keeps its first revocation time). */
  revokeToken(id: string, by?: string): Promise<TokenMeta>;
  /**
   * The first broker administrator: when no broker administrator holds a usable token, make the
   * user `name` (created if missing) one and give it a new token. Undefined when nothing was needed.
   */
  bootstrapAdmin(name: string, ttlMs: number, opts?: { force?: boolean }): Promise<{ token: string; meta: TokenMeta } | undefined>;
}

// ---- audit --------------------------------------------------------------------------------------

/** What a writer records: who, what, which workspace, the outcome. Never a value. */
export interface AuditEntry {
  actor?: PrincipalRef;
  /** How the actor was authenticated; `none` for a refused authentication, `system` for the broker itself. */
  via: 'token' | 'oidc' | 'none' | 'system' | 'loopback';
  /** The operation: the API's operationId (createWorkspace, setWorkspaceSecret, launchRun ...) or a system event. */
  action: string;
  workspaceId?: string;
  /** What the action named: path parameters and the body's names (never a value). */
  target?: Record<string, string>;
  outcome: 'ok' | 'refused' | 'failed';
  status?: number;
  /** The error code of a refusal or failure (unauthenticated, forbidden, validation, not-found ...). */
  code?: string;
  ip?: string;
  /** More names: a launch's secret names, a member's role ... */
  detail?: Record<string, string | number | boolean | string[]>;
}

export interface AuditRecord extends AuditEntry {
  seq: number;
  at: string;
  /** The name of `workspaceId` (resolved when read). */
  workspace?: string;
  prevHash: string;
  hash: string;
}

export interface AuditFilter {
  /** Records of these workspaces only (any of them). */
  workspaceIds?: string[];
  actorId?: string;
  since?: string;
  until?: string;
  action?: string;
  outcome?: AuditEntry['outcome'];
  /** Records after this sequence number (pagination). */
  afterSeq?: number;
  limit: number;
}

export interface AuditVerification {
  ok: boolean;
  records: number;
  /** The last record's hash: keep it elsewhere to detect a cut tail later. */
  head?: string;
  /** The first record whose hash or link does not match, and why. */
  brokenAt?: { seq: number; reason: string };
}

export interface AuditAppendOptions {
  /**
   * The writer's idempotency key (a workflow activity's workflow, run and activity ids): an append
   * with a key already on the trail appends nothing and returns that record, so a retried activity
   * whose first attempt wrote its record before the worker was lost writes it once.
   */
  eventKey?: string;
}

export interface AuditApi {
  append(entry: AuditEntry, options?: AuditAppendOptions): Promise<AuditRecord>;
  /** Oldest first. */
  list(filter: AuditFilter): Promise<AuditRecord[]>;
  verify(): Promise<AuditVerification>;
}
