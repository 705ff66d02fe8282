/**
 * Turn whatever a provider or the vault threw into an ApplicationFailure whose type the workflow's
 * retry presets understand, with every known secret value scrubbed from the message. Providers
 * sanitize their SDK errors; this is the last net.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { ErrorType, NON_RETRYABLE_ERROR_TYPES } from '../workflows/shared';

const KNOWN_TYPES = new Set<string>(Object.values(ErrorType));

const NON_RETRYABLE = new Set<string>(NON_RETRYABLE_ERROR_TYPES);

/**
 * Replace every known value, and its JSON-escaped form, with [REDACTED]. Values shorter than 4
 * characters are left: replacing them would mangle messages and hide nothing worth hiding.
 */
export function scrub(text: string, values: readonly string[]): string {
  const forms = new Set<string>();
  for (const v of values) {
    if (v.length < 4) continue;
    forms.add(v);
    forms.add(JSON.stringify(v).slice(1, -1));
  }
  let out = text;
  // Longest first, so a value that contains another is replaced whole.
  for (const f of [...forms].sort((a, b) => b.length - a.length)) out = out.split(f).join('[REDACTED]');
  return out;
}

function typeOf(err: Error): string {
  if (KNOWN_TYPES.has(err.name)) return err.name;
  if (err.name === 'ValidationError') return ErrorType.InvalidInput;
  if (err.name === 'NotFoundError') return ErrorType.ComputeEnvNotFound;
  return err.name && err.name !== 'Error' ? err.name : 'ProviderError';
}

/** Rethrow `err` as an ApplicationFailure, message scrubbed of `values`. */
export function toFailure(err: unknown, values: readonly string[] = [], context?: string): ApplicationFailure {
  if (err instanceof ApplicationFailure) {
    // Already typed (by a provider or this layer): keep the type, scrub the message, drop the cause chain.
    return ApplicationFailure.create({ type: err.type ?? 'ProviderError', message: scrub(err.message, values), nonRetryable: err.nonRetryable ?? undefined, details: err.details as unknown[] });
  }
  const e = err instanceof Error ? err : new Error(String(err));
  const type = typeOf(e);
  const message = scrub(context ? `${context}: ${e.message}` : e.message, values);
  return ApplicationFailure.create({ type, message, nonRetryable: NON_RETRYABLE.has(type) });
}
