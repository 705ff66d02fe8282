/**
 * The net under a run whose workflow was terminated (or timed out) before it deleted what it pushed:
 * a schedule runs `reapTerminatedRuns` every minute; it finds the pipelineRun workflows that closed
 * that way lately and starts one `cleanUpTerminatedRun` per run (id `pipeline-run-cleanup-<runId>`,
 * so each run is cleaned up once). That workflow reads what the run had recorded and not deleted, and
 * deletes exactly that, round after round like the run itself would have; its status is what `runs
 * status` shows for the terminated run. The hourly sweep (sweep.ts) stays the net under everything.
 */
import {
  ParentClosePolicy,
  WorkflowIdReusePolicy,
  defineQuery,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { createCleanupActivities } from '../activities/cleanup';
import type { createPipelineRunActivities } from '../activities/pipeline-run';
import type { RemoteRef, RefState } from '../domain/run';
import { cleanup, cleanupBackoffMs, vaultRead } from './activity-options';
import { auditSystem } from './audit';
import { errorMessage } from './failures';
import { PhaseKey } from './search-attributes';
import { cleanupCurrentDetails, cleanupSummary } from '../domain/operator-view';

/** The activities these workflows call, and nothing else (a test stubs exactly these). */
export type CleanupActivities = ReturnType<typeof createCleanupActivities> & Pick<ReturnType<typeof createPipelineRunActivities>, 'deleteSecrets'>;

const { listAbandonedRuns, abandonedRefs } = proxyActivities<CleanupActivities>(vaultRead);
const { deleteSecrets } = proxyActivities<CleanupActivities>(cleanup);

export const REAPER_SCHEDULE_ID = 'secret-broker-reaper';
export const cleanupWorkflowId = (runId: string) => `pipeline-run-cleanup-${runId}`;

export interface RunCleanupStatus {
  runId: string;
  phase: 'reading' | 'deleting' | 'deleted' | 'unreadable';
  refs: { ref: RemoteRef; state: RefState }[];
  deleteAttempts: number;
  lastError?: string;
  deletedAt?: string;
}

export const runCleanupStatusQuery = defineQuery<RunCleanupStatus>('runCleanupStatus');

/**
 * Delete what a terminated run recorded and did not delete; round after round until nothing is left.
 * @public a workflow type: the worker finds it by this export's name (workflows/index.ts).
 */
export async function cleanUpTerminatedRun(runId: string): Promise<RunCleanupStatus> {
  const status: RunCleanupStatus = { runId, phase: 'reading', refs: [], deleteAttempts: 0 };
  setHandler(runCleanupStatusQuery, () => status);
  // The Web UI's current details (not a command: no history, no replay change).
  const show = () => setCurrentDetails(cleanupCurrentDetails(status));
  show();
  upsertSearchAttributes([{ key: PhaseKey, value: 'cleanup:reading' }]);
  const found = await abandonedRefs(runId);
  if (!found) {
    // No readable history: the hourly sweep finds what is left by listing the compute environment.
    status.phase = 'unreadable';
    show();
    upsertSearchAttributes([{ key: PhaseKey, value: 'cleanup:unreadable' }]);
    return status;
  }
  status.refs = found.refs.map((ref) => ({ ref, state: 'pushed' }));
  status.phase = 'deleting';
  show();
  upsertSearchAttributes([{ key: PhaseKey, value: 'cleanup:deleting' }]);
  const pending = () => status.refs.filter((r) => r.state === 'pushed');
  while (pending().length) {
    status.deleteAttempts++;
    try {
      const results = await deleteSecrets({ run: found.run, refs: pending().map((r) => r.ref) });
      const left = pending();
      results.forEach((r, i) => (left[i].state = r.outcome));
      show();
    } catch (err) {
      status.lastError = `delete round ${status.deleteAttempts} failed: ${errorMessage(err)}`;
      show();
      await sleep(cleanupBackoffMs(status.deleteAttempts));
    }
  }
  status.phase = 'deleted';
  status.deletedAt = new Date(Date.now()).toISOString();
  show();
  upsertSearchAttributes([{ key: PhaseKey, value: 'cleanup:deleted' }]);
  // The run was terminated, so nothing else tells the audit trail what was deleted for it (patched:
  // cleanups that finished before replay without the record).
  if (patched('audit-terminated-cleanup')) {
    const deleted = status.refs.filter((r) => r.state === 'deleted').length;
    await auditSystem({ action: 'terminatedRunCleanedUp', workspaceId: found.run.workspaceId, target: { runId }, outcome: 'ok', detail: { deleted, rounds: status.deleteAttempts } });
  }
  return status;
}

export interface ReapSummary {
  found: number;
  started: number;
}

/** How far back each firing looks: a few minutes over its period, so a late firing misses nothing. */
const REAP_WINDOW_MS = 60 * 60_000;

export async function reapTerminatedRuns(windowMs = REAP_WINDOW_MS): Promise<ReapSummary> {
  const since = new Date(Date.now() - windowMs).toISOString();
  const runIds = await listAbandonedRuns(since);
  const summary: ReapSummary = { found: runIds.length, started: 0 };
  for (const runId of runIds) {
    try {
      await startChild(cleanUpTerminatedRun, {
        workflowId: cleanupWorkflowId(runId),
        args: [runId],
        taskQueue: workflowInfo().taskQueue,
        parentClosePolicy: ParentClosePolicy.ABANDON,
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        // The Web UI's summary (user metadata on the start command: patched, so a reaper that
        // started children before replays as it ran).
        ...(patched('cleanup-child-summary') ? { staticSummary: cleanupSummary(runId) } : {}),
      });
      summary.started++;
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      // Cleaned up (or being cleaned up) by an earlier firing.
    }
  }
  if (summary.started) log.info('started the cleanup of terminated runs', { ...summary });
  return summary;
}
