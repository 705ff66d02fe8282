import type { CompleteAnswer, PipelineRunInput, ReadyResult, RunStatus } from '../domain/run';

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
  /** Extend the lease to now + extendByMs. */
  renew(runId: string, extendByMs: number): Promise<void>;
  /** Phase, names, refs, timestamps, last error. Never values. */
  state(runId: string): Promise<RunStatus>;
  /** Wait until the workflow closes (secrets deleted) and return its final state. */
  waitClosed(runId: string): Promise<RunStatus>;
}

/** The answer to a cancel: this call cancelled the run, or it had ended already (and how). */
export interface CancelAnswer {
  runId: string;
  result: 'accepted' | 'already-ended';
  outcome?: string;
}
