/**
 * A pipeline run as every room sees it: its input, the references it tracks (never values), its
 * phases and status, and where it runs. Pure data, safe inside the workflow sandbox.
 */

export const TASK_QUEUE = 'secret-broker';
export const DEFAULT_NAMESPACE = 'default';

/** Maximum life of a run's secrets when the launch service never reports the end: 30 days. */
export const DEFAULT_LEASE_MS = 30 * 24 * 60 * 60 * 1000;

/** The longest lease a launch or a renewal may ask for: 366 days. */
const MAX_LEASE_MS = 366 * 24 * 60 * 60 * 1000;
export const LEASE_RULE = 'must be a positive number of milliseconds, at most 366 days';

/** The one lease check: the services, the workflow's start and its renew signal all use it. */
export function isValidLease(ms: unknown): ms is number {
  return typeof ms === 'number' && Number.isFinite(ms) && ms > 0 && ms <= MAX_LEASE_MS;
}

export type Platform = 'local' | 'hpc' | 'aws' | 'gcp';

/** A compute environment as the vault stores it (config is validated per platform). */
export interface ComputeEnvRecord {
  id: string;
  workspaceId: string;
  name: string;
  platform: Platform;
  config: Record<string, unknown>;
  credentialId: string | null;
}

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
  /**
   * The workflow shape the run was launched with (workflows/pipeline-run.ts): 2 is the short launch.
   * Absent in runs launched before it existed, which keep their shape.
   */
  shape?: 2;
}

/** Why a launch failed, as the launch service hears it (names and permissions, never values). */
export interface RunFailure {
  type: string;
  message: string;
  /** For a failed access check: the missing permissions; for a missing secret: the names. */
  details?: unknown[];
}

/**
 * How a run ended: set once, when it ends, and never changed. The outcome says how the workflow
 * closes once deletion is done: `cancelled` closes it cancelled, `launch-failed` fails it with
 * `failure`, anything else completes it with the final status.
 */
export interface RunEnd {
  outcome: Outcome;
  /** What failed: the launch error (launch-failed, or cancelled before ready), or an error after ready. */
  failure?: RunFailure;
}

/** What a pipeline run carries into its next run when it continues as new (references, never values). */
export interface ResumeState {
  status: RunStatus;
  leaseDeadlineMs: number;
  ready?: ReadyResult;
  end?: RunEnd;
  /** Written by runs that continued as new before `end` existed; read, never written. */
  endAs?: 'return' | 'cancelled' | 'launch-failed';
  /** Likewise: their launch error. */
  launchError?: { type: string; message: string };
}

/**
 * A run's status before its workflow does anything: a fresh run's, or the one a run that continued
 * as new carried in. The workflow starts from it; a run whose workflow closed before it ran any code
 * (terminated before its first workflow task) still has exactly this status.
 */
export function statusAtStart(input: PipelineRunInput, startedAt: string): RunStatus {
  if (input.resume) return { ...input.resume.status };
  return {
    runId: input.runId,
    workspaceId: input.workspaceId,
    userId: input.userId,
    computeEnvId: input.computeEnvId,
    phase: 'resolving',
    secretNames: [...input.secretNames],
    refs: [],
    startedAt,
    deleteAttempts: 0,
  };
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
  /** Where the platform grants through roles (Google, Azure): the role that carries it. */
  role?: string;
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

/**
 * How a run ended. `terminated`: an operator (or a timeout) stopped its workflow before it deleted;
 * the cleanup of terminated runs deletes what it left (RunStatus.cleanup says how far it got).
 */
export type Outcome = 'succeeded' | 'failed' | 'cancelled' | 'lease-expired' | 'launch-failed' | 'terminated';

export interface RunCompletion {
  status: 'succeeded' | 'failed' | 'cancelled';
}

/** What a launch asks for: a retried launch must ask for the same, or it is refused naming the difference. */
export interface LaunchKey {
  workspaceId: string;
  userId: string;
  computeEnvId: string;
  secretNames: string[];
}

/** The fields in which `asked` differs from what the run was launched with (secret names as a set). */
export function launchKeyDifferences(asked: LaunchKey, launched: LaunchKey): string[] {
  const out: string[] = [];
  for (const f of ['workspaceId', 'userId', 'computeEnvId'] as const) {
    if (asked[f] !== launched[f]) out.push(`${f} (launched with ${launched[f]}, asked ${asked[f]})`);
  }
  const a = [...new Set(asked.secretNames)].sort();
  const l = [...new Set(launched.secretNames)].sort();
  if (a.join(',') !== l.join(',')) out.push(`secretNames (launched with [${l.join(', ')}], asked [${a.join(', ')}])`);
  return out;
}

/** The answer to "the run ended": this call ended it, or it had ended already (and how). */
export interface CompleteAnswer {
  runId: string;
  /** The status this call reported. */
  status: RunCompletion['status'];
  result: 'accepted' | 'already-ended';
  /** already-ended: how the run ended (or is ending). */
  outcome?: Outcome;
}

export interface RenewLease {
  /** New lease length measured from now, in milliseconds. */
  extendByMs: number;
}

/** A renewal's answer: when the lease now ends (absent when it went as a signal, unanswered). */
export interface RenewAnswer {
  runId: string;
  leaseExpiresAt?: string;
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
  /** For a terminated run: the cleanup that deletes what it left (absent until it starts, within minutes). */
  cleanup?: { workflowId: string; phase: 'awaiting' | 'reading' | 'deleting' | 'deleted' | 'unreadable'; deleteAttempts: number; lastError?: string; deletedAt?: string };
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
