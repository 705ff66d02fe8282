/**
 * Every activity runs inside `heartbeating`: it heartbeats every HEARTBEAT_EVERY_MS for as long as it
 * runs (and whenever it reports progress), repeating the last progress it reported. An activity that
 * ends within the first interval sends no heartbeat at all: the heartbeat timeout counts from its
 * start, so it is watched all the same, at no cost. With the presets' short
 * heartbeat timeout (workflows/activity-options.ts) a worker that dies mid-activity is noticed in
 * seconds and the attempt runs again elsewhere, instead of waiting out a start-to-close timeout of
 * minutes. Heartbeats are also how a cancellation (or the server's "this attempt timed out")
 * reaches a running activity: `signal` aborts then, and the activity passes it into every provider
 * call so an abandoned attempt stops writing.
 */
import { CancelledFailure, Context } from '@temporalio/activity';

/** How often a running activity heartbeats; the presets' heartbeat timeout is a few times this. */
export const HEARTBEAT_EVERY_MS = 2_000;

export interface Heartbeat {
  /** Report progress (heartbeat details); repeated by every later beat until the next report. */
  progress(details: unknown): void;
  /** Aborts when the activity is cancelled or its attempt is given up by the server. */
  signal: AbortSignal;
}

export async function heartbeating<T>(fn: (hb: Heartbeat) => Promise<T>, everyMs = HEARTBEAT_EVERY_MS): Promise<T> {
  const ctx = Context.current();
  // A retried attempt keeps the previous attempt's details until it reports its own: a resumable
  // activity (vaultRewrap) reads them back, and a beat must not wipe them first.
  let last: unknown = ctx.info.heartbeatDetails;
  const beat = () => ctx.heartbeat(last);
  const timer = setInterval(beat, everyMs);
  try {
    return await fn({
      progress(details) {
        last = details;
        beat();
      },
      signal: ctx.cancellationSignal,
    });
  } catch (err) {
    // Whatever an aborted call threw (a destroyed connection, an AbortError), the attempt ended
    // because it was cancelled: say so, so the workflow sees a cancellation, not a failure.
    if (ctx.cancellationSignal.aborted && !(err instanceof CancelledFailure)) {
      throw new CancelledFailure(`cancelled (${String(ctx.cancellationSignal.reason ?? 'CANCELLED')}); what this attempt had started was stopped`);
    }
    throw err;
  } finally {
    clearInterval(timer);
  }
}
