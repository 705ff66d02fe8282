import type { MissingPermission, PipelineRunInput, ReadyResult, RunStatus } from '../workflows/shared';

/** A launch: the run's input (as the workflow takes it), plus names for people reading the Web UI. */
export interface LaunchRequest extends Omit<PipelineRunInput, 'resume'> {
  /** Search attributes and memo. */
  labels?: { workspace?: string; computeEnv?: string; platform?: string; user?: string };
}

/** What the launch service uses. Implemented on the Temporal client by client/pipeline-runs.ts. */
export interface PipelineRunsApi {
  /** Start the run's workflow and wait until its secrets are in place (Update-with-Start). */
  launch(req: LaunchRequest): Promise<ReadyResult>;
  /** The run ended: delete its secrets. */
  complete(runId: string, status: 'succeeded' | 'failed' | 'cancelled'): Promise<void>;
  /** Cancel the run's workflow: its secrets are deleted. */
  cancel(runId: string): Promise<void>;
  /** Extend the lease to now + extendByMs. */
  renew(runId: string, extendByMs: number): Promise<void>;
  /** Phase, names, refs, timestamps, last error. Never values. */
  state(runId: string): Promise<RunStatus>;
  /** Wait until the workflow closes (secrets deleted) and return its final state. */
  waitClosed(runId: string): Promise<RunStatus>;
}

/** Launch refused: a missing secret, a failed verification, a duplicate run id. */
export class LaunchError extends Error {
  override readonly name = 'LaunchError';
  constructor(
    message: string,
    readonly code: 'duplicate-run' | 'launch-failed' | 'not-found',
    readonly type?: string,
    /** For a failed access check: every missing permission with the statement that would grant it. */
    readonly missing?: MissingPermission[],
  ) {
    super(message);
  }
}
