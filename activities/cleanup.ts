/**
 * The net under a run whose workflow was terminated (or timed out) before it deleted its secrets:
 * which runs closed that way lately, and what each had recorded but not deleted. The deleting itself
 * is the run's own deleteSecrets activity, driven by the cleanUpTerminatedRun workflow.
 */
import { heartbeating } from './heartbeat';
import type { PipelineRunInput, RemoteRef, RunStatus } from '../domain/run';
import { toFailure } from './errors';

/** What the cleanup reads from Temporal about runs (worker/runs-reader.ts builds it on the client). */
export interface RunsReader {
  /** Run ids whose pipelineRun workflow closed as terminated or timed out since `sinceIso`. */
  abandonedSince(sinceIso: string): Promise<string[]>;
  /** The last status a run's workflow recorded (read from its history), or undefined when unreadable. */
  lastStatus(runId: string): Promise<RunStatus | undefined>;
}

export interface CleanupDeps {
  runsReader: RunsReader;
}

/** A terminated run's identity and the refs it had planned or pushed and not deleted. */
export interface AbandonedRun {
  run: PipelineRunInput;
  refs: RemoteRef[];
}

export function createCleanupActivities(deps: CleanupDeps) {
  return {
    listAbandonedRuns: (sinceIso: string): Promise<string[]> =>
      heartbeating(async () => {
        try {
          return await deps.runsReader.abandonedSince(sinceIso);
        } catch (err) {
          throw toFailure(err, [], 'listing terminated runs');
        }
      }),

    abandonedRefs: (runId: string): Promise<AbandonedRun | null> =>
      heartbeating(async () => {
        try {
          const st = await deps.runsReader.lastStatus(runId);
          if (!st) return null;
          const refs = st.refs.filter((r) => r.state === 'planned' || r.state === 'pushed').map((r) => r.ref);
          return { run: { runId: st.runId, workspaceId: st.workspaceId, userId: st.userId, computeEnvId: st.computeEnvId, secretNames: st.secretNames }, refs };
        } catch (err) {
          throw toFailure(err, [], `reading the last status of run ${runId}`);
        }
      }),
  };
}
