/** Reading activity and child-workflow failures inside workflow code (pure; safe in the sandbox). */
import { ApplicationFailure, TimeoutFailure } from '@temporalio/workflow';

/** Causes are followed this deep at most (a failure's chain is short; this only bounds a loop). */
const MAX_DEPTH = 20;

/**
 * The message worth showing for a failed activity or child workflow: the ApplicationFailure at the
 * root of the chain, not the wrappers' "Activity task failed" or "Child Workflow execution failed"
 * (a scheduled rotation whose child failed in an activity is two wrappers deep); for a timeout, what
 * it means; otherwise the deepest message.
 */
export function errorMessage(err: unknown): string {
  let e: unknown = err;
  for (let depth = 0; depth < MAX_DEPTH && e instanceof Error; depth++) {
    if (e instanceof ApplicationFailure) return e.message;
    if (e instanceof TimeoutFailure) {
      if (e.timeoutType === 'HEARTBEAT') return 'the worker running it was lost (no heartbeat within the heartbeat timeout)';
      return `it timed out (${String(e.timeoutType ?? 'START_TO_CLOSE').toLowerCase().replace(/_/g, '-')})`;
    }
    if (!(e.cause instanceof Error)) return e.message;
    e = e.cause;
  }
  return e instanceof Error ? e.message : String(e);
}
