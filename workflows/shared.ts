/**
 * Pure data shared by workflows, activities, the worker and the client. Safe inside the workflow
 * sandbox: no imports with side effects, no Node built-ins.
 */

export const TASK_QUEUE = 'secret-broker';
export const DEFAULT_NAMESPACE = 'default';

/** Maximum life of a run's secrets when the launch service never reports the end: 30 days. */
export const DEFAULT_LEASE_MS = 30 * 24 * 60 * 60 * 1000;

export type Platform = 'local' | 'hpc' | 'aws' | 'gcp';

/** Failure types: activities throw ApplicationFailure with these types; presets list the non-retryable ones. */
export const ErrorType = {
  SecretNotFound: 'SecretNotFoundError',
  ComputeEnvNotFound: 'ComputeEnvNotFoundError',
  InvalidInput: 'InvalidInputError',
  AccessVerification: 'AccessVerificationError',
  PermissionDenied: 'PermissionDeniedError',
  HostKeyMismatch: 'HostKeyMismatchError',
  AuthenticationFailed: 'AuthenticationFailedError',
  NotOwned: 'NotOwnedError',
  LaunchFailed: 'LaunchFailedError',
  Connection: 'ConnectionError',
  Throttled: 'ThrottledError',
  /** A rotation that would break a key someone uses (both keys in use, stored key matches none ...). */
  RotationRefused: 'RotationRefusedError',
} as const;
export type ErrorTypeName = (typeof ErrorType)[keyof typeof ErrorType];

/** Failures that retrying cannot fix: the launch fails at once (deletion still retries them all). */
export const NON_RETRYABLE_ERROR_TYPES: string[] = [
  ErrorType.SecretNotFound,
  ErrorType.ComputeEnvNotFound,
  ErrorType.InvalidInput,
  ErrorType.AccessVerification,
  ErrorType.PermissionDenied,
  ErrorType.HostKeyMismatch,
  ErrorType.AuthenticationFailed,
  ErrorType.NotOwned,
  ErrorType.LaunchFailed,
  ErrorType.RotationRefused,
];

/** A platform run id: it becomes part of remote names and paths, so it is checked everywhere it enters. */
export const RUN_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
export const RUN_ID_RULE = 'must be 1 to 64 letters, digits, dashes or underscores, starting with a letter or digit';

export function pipelineRunWorkflowId(runId: string): string {
  return `pipeline-run-${runId}`;
}

export interface PipelineRunInput {
  /** The platform's run id (TOWER_WORKFLOW_ID in the head job). */
  runId: string;
  workspaceId: string;
  userId: string;
  computeEnvId: string;
  /** Nextflow secret names the run needs; values are resolved by reference inside activities. */
  secretNames: string[];
  /** Maximum lease in milliseconds; defaults to DEFAULT_LEASE_MS. Renewable by signal. */
  leaseMs?: number;
  /**
   * Continue as new once history has this many events (default 4,000, or sooner when the server
   * suggests it), carrying the run's state, so a long lease or a long-stuck delete never reaches the
   * history limit.
   */
  historyLimit?: number;
  /** Set only by the workflow itself when it continues as new: the state it carries on with. */
  resume?: ResumeState;
}

/** What a pipeline run carries into its next run when it continues as new (references, never values). */
export interface ResumeState {
  status: RunStatus;
  leaseDeadlineMs: number;
  /** How the run ends once deletion is done. */
  endAs: 'return' | 'cancelled' | 'launch-failed';
  launchError?: { type: string; message: string };
  ready?: ReadyResult;
}

/** Pointer to a secret in the vault. Never carries the value. */
export interface SecretRef {
  name: string;
  scope: 'workspace' | 'user';
  secretId: string;
  version: number;
}

/** Where one secret lives in a compute environment's secret manager. Never carries the value. */
export interface RemoteRef {
  platform: Platform;
  computeEnvId: string;
  /** The Nextflow secret name. */
  secretName: string;
  /**
   * The provider's identifier: AWS secret name, GCP resource name, or for file targets (local, hpc)
   * the run directory that holds the store file. Several refs may share one remoteId.
   */
  remoteId: string;
  /** Region, project/location or host, for people reading the UI. */
  location?: string;
}

export type RefState = 'planned' | 'pushed' | 'deleted' | 'not-found' | 'not-owned';

export interface TrackedRef {
  ref: RemoteRef;
  state: RefState;
}

/** What resolveRun returns: refs and facts, never values. */
export interface ResolvedRun {
  workspaceName: string;
  userName: string;
  computeEnvName: string;
  platform: Platform;
  secrets: SecretRef[];
  /** Deterministic remote refs for every secret, known before anything is pushed. */
  plannedRefs: RemoteRef[];
}

export interface PushResult {
  refs: RemoteRef[];
  /** Environment the Nextflow head job needs (NXF_SECRETS_FILE, region, project ...). No values. */
  headJobEnv: Record<string, string>;
}

export interface MissingPermission {
  /** Who lacks it: "broker", "head-job role arn:...", "execution role ...", "file owner" ... */
  principal: string;
  /** The action or check: "secretsmanager:GetSecretValue", "mode 0600" ... */
  permission: string;
  /** What it applies to. */
  resource: string;
  /** A policy statement or instruction that would grant it. */
  grant: string;
}

export interface ReadyResult {
  runId: string;
  workflowId: string;
  platform: Platform;
  computeEnvId: string;
  secretNames: string[];
  refs: RemoteRef[];
  headJobEnv: Record<string, string>;
  leaseExpiresAt: string;
}

export type Phase = 'resolving' | 'pushing' | 'verifying' | 'ready' | 'deleting' | 'deleted';

export type Outcome = 'succeeded' | 'failed' | 'cancelled' | 'lease-expired' | 'launch-failed';

export interface RunCompletion {
  status: 'succeeded' | 'failed' | 'cancelled';
}

export interface RenewLease {
  /** New lease length measured from now, in milliseconds. */
  extendByMs: number;
}

export interface RunStatus {
  runId: string;
  workspaceId: string;
  userId: string;
  computeEnvId: string;
  platform?: Platform;
  phase: Phase;
  outcome?: Outcome;
  secretNames: string[];
  refs: TrackedRef[];
  headJobEnv?: Record<string, string>;
  startedAt: string;
  readyAt?: string;
  completedAt?: string;
  deletedAt?: string;
  leaseExpiresAt?: string;
  /** The latest error, sanitized: never a secret value. */
  lastError?: string;
  deleteAttempts: number;
}

/** Search attribute names registered with the Temporal server (Keyword type). */
export const SearchAttr = {
  RunId: 'BrokerRunId',
  Workspace: 'BrokerWorkspace',
  ComputeEnv: 'BrokerComputeEnv',
  Platform: 'BrokerPlatform',
  Phase: 'BrokerPhase',
} as const;
export const SEARCH_ATTRIBUTE_NAMES = Object.values(SearchAttr);
