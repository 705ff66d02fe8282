/** Reading activity failures inside workflow code (pure; safe in the sandbox). */
import { ApplicationFailure, TimeoutFailure } from '@temporalio/workflow';

/**
 * The message worth showing for a failed activity: its ApplicationFailure's own message, not the
 * wrapper's "Activity task failed"; and for a timeout, what it means.
 */
export function errorMessage(err: unknown): string {
  if (err instanceof ApplicationFailure) return err.message;
  const cause = err instanceof Error ? err.cause : undefined;
  if (cause instanceof TimeoutFailure) {
    if (cause.timeoutType === 'HEARTBEAT') return 'the worker running it was lost (no heartbeat within the heartbeat timeout)';
    return `it timed out (${String(cause.timeoutType ?? 'START_TO_CLOSE').toLowerCase().replace(/_/g, '-')})`;
  }
  if (err instanceof Error) return (err.cause instanceof Error ? err.cause.message : undefined) ?? err.message;
  return String(err);
}
