/**
 * Errors every secret target throws. Each class's `name` is a failure type from workflows/shared
 * ErrorType, which the activity layer hands to Temporal so the retry presets can tell them apart.
 * Messages are built by the providers from names, hosts, paths and ids only: never a secret value,
 * a key, or a server-supplied string that could echo one.
 */
import { ErrorType } from '../workflows/shared';

/** Non-retryable: the server's host key is not the pinned one. */
export class HostKeyMismatchError extends Error {
  override readonly name = ErrorType.HostKeyMismatch;
}

/** Non-retryable: the credential was refused or cannot be used. */
export class AuthenticationFailedError extends Error {
  override readonly name = ErrorType.AuthenticationFailed;
}

/** Non-retryable: the broker's identity lacks a permission. */
export class PermissionDeniedError extends Error {
  override readonly name: string = ErrorType.PermissionDenied;
}

/** Non-retryable: something exists under the run's name that the broker did not create. */
export class NotOwnedError extends Error {
  override readonly name = ErrorType.NotOwned;
}

/** Non-retryable: settings or inputs the target contradicts. */
export class InvalidInputError extends Error {
  override readonly name = ErrorType.InvalidInput;
}

/** Retryable: refused, unreachable, timed out, dropped, busy. */
export class ConnectionError extends Error {
  override readonly name = ErrorType.Connection;
}

/** Retryable: the service asked the broker to slow down. */
export class ThrottledError extends Error {
  override readonly name = ErrorType.Throttled;
}

/** Non-retryable: rotating now would invalidate a key a stored credential uses; nothing was changed. */
export class RotationRefusedError extends Error {
  override readonly name = ErrorType.RotationRefused;
}
