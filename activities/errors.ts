/**
 * Turn whatever a provider or the vault threw into an ApplicationFailure whose type the workflow's
 * retry presets understand, with every known secret value scrubbed from the message. Providers
 * sanitize their SDK errors; this is the last net.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { ErrorType } from '../workflows/shared';

const KNOWN_TYPES = new Set<string>(Object.values(ErrorType));

const NON_RETRYABLE = new Set<string>([
  ErrorType.SecretNotFound,
  ErrorType.ComputeEnvNotFound,
  ErrorType.InvalidInput,
  ErrorType.AccessVerification,
  ErrorType.PermissionDenied,
  ErrorType.HostKeyMismatch,
  ErrorType.AuthenticationFailed,
  ErrorType.NotOwned,
  ErrorType.LaunchFailed,
]);

export function scrub(text: string, values: readonly string[]): string {
  let out = text;
  // Longest first, so a value that contains another is replaced whole.
  for (const v of [...values].filter((x) => x.length >= 4).sort((a, b) => b.length - a.length)) {
    out = out.split(v).join('[REDACTED]');
  }
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
  if (err instanceof ApplicationFailure) return err;
  const e = err instanceof Error ? err : new Error(String(err));
  const type = typeOf(e);
  const message = scrub(context ? `${context}: ${e.message}` : e.message, values);
  return ApplicationFailure.create({ type, message, nonRetryable: NON_RETRYABLE.has(type) });
}
