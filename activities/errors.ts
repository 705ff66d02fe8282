/**
 * Turn whatever a provider or the vault threw into an ApplicationFailure whose type the workflow's
 * retry presets understand, with every known secret value scrubbed from the message. Providers
 * sanitize their SDK errors; this is the last net.
 *
 * Whether a type is retried is the workflow's decision (the presets' nonRetryableErrorTypes in
 * workflows/activity-options.ts), not this layer's: a rotation's verify retries a refused key while
 * it propagates, a launch's does not. Only a failure an activity marked non-retryable itself stays so.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { redact } from '../domain/sanitize';
import { ErrorType } from '../domain/errors';

const KNOWN_TYPES = new Set<string>(Object.values(ErrorType));

function typeOf(err: Error): string {
  if (KNOWN_TYPES.has(err.name)) return err.name;
  if (err.name === 'ValidationError') return ErrorType.InvalidInput;
  if (err.name === 'NotFoundError') return ErrorType.InvalidInput;
  return err.name && err.name !== 'Error' ? err.name : 'ProviderError';
}

/** Rethrow `err` as an ApplicationFailure, message scrubbed of `values`. */
export function toFailure(err: unknown, values: readonly string[] = [], context?: string): ApplicationFailure {
  if (err instanceof ApplicationFailure) {
    // Already typed (by a provider or this layer): keep the type, scrub the message, drop the cause chain.
    return ApplicationFailure.create({ type: err.type ?? 'ProviderError', message: redact(err.message, values), nonRetryable: err.nonRetryable ?? undefined, details: err.details as unknown[] });
  }
  const e = err instanceof Error ? err : new Error(String(err));
  const type = typeOf(e);
  const message = redact(context ? `${context}: ${e.message}` : e.message, values);
  return ApplicationFailure.create({ type, message });
}
