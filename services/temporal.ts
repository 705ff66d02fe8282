/**
 * The services' connection to Temporal, and what its failures mean to a caller.
 *
 * The SDK's default gRPC retry keeps trying an unreachable server for half a minute or more before a
 * caller hears anything; a launch service waiting on the API is better told at once that Temporal is
 * unavailable, and retries (launch, complete, cancel and renew are idempotent). So the connection
 * retries briefly, every call has a deadline, and both failures become TemporalUnavailableError
 * (503 with Retry-After at the API).
 */
import { Connection, isGrpcServiceError, makeGrpcRetryInterceptor, defaultGrpcRetryOptions, ServiceError, type ConnectionLike, type ConnectionOptions } from '@temporalio/client';
import { TemporalUnavailableError } from '../domain/errors';

/** Attempts of one gRPC call while Temporal is unreachable (the SDK's default is 10, about 30 s). */
const TEMPORAL_CALL_ATTEMPTS = 3;
/** A call that has not been answered by then is given up (a stalled server). */
export const TEMPORAL_CALL_DEADLINE_MS = 15_000;

const UNAVAILABLE = 14;
const DEADLINE_EXCEEDED = 4;

/** Connect with a bounded retry of unavailable-server errors. */
export function connectTemporal(options: ConnectionOptions): Promise<Connection> {
  return Connection.connect({
    ...options,
    interceptors: [makeGrpcRetryInterceptor(defaultGrpcRetryOptions({ maxAttempts: TEMPORAL_CALL_ATTEMPTS }))],
  });
}

/** True when `err` (or what it wraps) says Temporal did not answer. */
export function isTemporalUnavailable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (isGrpcServiceError(e) && (e.code === UNAVAILABLE || e.code === DEADLINE_EXCEEDED)) return true;
    if (e instanceof ServiceError && /UNAVAILABLE|DEADLINE_EXCEEDED|Failed to connect|No connection established/i.test(e.message)) return true;
  }
  return false;
}

/**
 * True when the server refused an update because the workflow's task is failing: the worker that ran
 * it was lost mid-task (SIGKILL, crash), and until a worker runs the task again the server refuses
 * every update (gRPC FAILED_PRECONDITION, "Workflow Task in failed state"). The update was not
 * delivered; repeating it once a worker has the task is safe and is answered.
 */
export function isWorkflowTaskFailing(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof Error && /Workflow Task in failed state/i.test(e.message)) return true;
  }
  return false;
}

/** Run a Temporal call under a deadline; an unanswered or unreachable server is TemporalUnavailableError. */
export async function withTemporal<T>(connection: ConnectionLike, what: string, fn: () => Promise<T>, deadlineMs = TEMPORAL_CALL_DEADLINE_MS): Promise<T> {
  try {
    return await connection.withDeadline(Date.now() + deadlineMs, fn);
  } catch (err) {
    if (isTemporalUnavailable(err)) {
      throw new TemporalUnavailableError(`Temporal is unavailable (${what} got no answer); retry in a few seconds: the call is safe to repeat`);
    }
    throw err;
  }
}
