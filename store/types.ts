import type { RateSlots } from '../domain/rate';
import type { Platform, SecretRef } from '../domain/run';
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
  createWorkspace(name: string): Promise<Workspace>;
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
