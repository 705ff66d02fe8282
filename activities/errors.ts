/**
 * Turn whatever a provider or the vault threw into an ApplicationFailure whose type the workflow's
 * retry presets understand, with every known secret value scrubbed from the message. Providers
 * sanitize their SDK errors; this is the last net.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { redact } from '../domain/sanitize';
import { ErrorType, NON_RETRYABLE_ERROR_TYPES } from '../domain/errors';

const KNOWN_TYPES = new Set<string>(Object.values(ErrorType));

const NON_RETRYABLE = new Set<string>(NON_RETRYABLE_ERROR_TYPES);

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
  return ApplicationFailure.create({ type, message, nonRetryable: NON_RETRYABLE.has(type) });
}
