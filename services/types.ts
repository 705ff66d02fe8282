import type { CompleteAnswer, Phase, PipelineRunInput, ReadyResult, RenewAnswer, RunStatus } from '../domain/run';

/** A launch: the run's input (as the workflow takes it), plus names for people reading the Web UI. */
export interface LaunchRequest extends Omit<PipelineRunInput, 'resume' | 'shape'> {
  /** Search attributes and memo. */
  labels?: { workspace?: string; computeEnv?: string; platform?: string; user?: string };
}

/** What the launch service uses. Implemented on the Temporal client by services/pipeline-runs.ts. */
export interface PipelineRunsApi {
  /** Start the run's workflow (or join the one going) and wait until its secrets are in place. */
  launch(req: LaunchRequest): Promise<ReadyResult>;
  /** The run ended: delete its secrets. A run already ended is answered so, with its outcome. */
  complete(runId: string, status: 'succeeded' | 'failed' | 'cancelled'): Promise<CompleteAnswer>;
  /** Cancel the run's workflow: its secrets are deleted. A run already ended is answered so. */
  cancel(runId: string): Promise<CancelAnswer>;
  /** Extend the lease to now + extendByMs. A run whose end was reported, or that ended, is refused (already-ended). */
  renew(runId: string, extendByMs: number): Promise<RenewAnswer>;
  /** Phase, names, refs, timestamps, last error. Never values. */
  state(runId: string): Promise<RunStatus>;
  /** Wait until the workflow closes (secrets deleted) and return its final state. */
  waitClosed(runId: string): Promise<RunStatus>;
}

/** Whose run it is, from Temporal's visibility (answers while no worker runs). */
export interface RunLocation {
  runId: string;
  /** The workspace the run was labelled with: its name (or its id, for runs launched without labels). */
  workspace: string;
  /** The run's user, likewise a name or an id. */
  user?: string;
}

export interface RunSummary {
  runId: string;
  workflowId: string;
  workspace: string;
  computeEnv: string;
  platform?: string;
  phase?: Phase;
  /** Temporal's execution status: RUNNING, COMPLETED, FAILED, CANCELLED, TERMINATED, TIMED_OUT. */
  execution: string;
  user?: string;
  startedAt: string;
  closedAt?: string;
}

export interface RunListFilter {
  /** The workspace label (name) of the runs. */
  workspace: string;
  phase?: Phase;
  computeEnv?: string;
  execution?: 'running' | 'closed';
  pageSize: number;
  pageToken?: string;
}

export interface RunListPage {
  runs: RunSummary[];
  nextPageToken?: string;
}

/** Runs as Temporal's visibility sees them. Implemented by services/run-directory.ts. */
export interface RunDirectoryApi {
  locate(runId: string): Promise<RunLocation>;
  list(filter: RunListFilter): Promise<RunListPage>;
}

/** The answer to a cancel: this call cancelled the run, or it had ended already (and how). */
export interface CancelAnswer {
  runId: string;
  result: 'accepted' | 'already-ended';
  outcome?: string;
}
