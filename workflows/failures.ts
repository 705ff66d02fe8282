/** Reading activity failures inside workflow code (pure; safe in the sandbox). */
import { ApplicationFailure } from '@temporalio/workflow';

/**
 * The message worth showing for a failed activity: its ApplicationFailure's own message, not the
 * wrapper's "Activity task failed".
 */
export function errorMessage(err: unknown): string {
  if (err instanceof ApplicationFailure) return err.message;
  if (err instanceof Error) return (err.cause instanceof Error ? err.cause.message : undefined) ?? err.message;
  return String(err);
}
