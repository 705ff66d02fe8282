/**
 * Every error the broker raises on purpose, and the table of failure types that crosses Temporal.
 *
 * Each class's `name` is its failure type: activities hand errors to Temporal as ApplicationFailures
 * of that type, and the retry presets (workflows/activity-options.ts) tell the non-retryable ones
 * apart by it. Messages are written for people from names, hosts, paths, fields and ids only: never a
 * secret value, a key, or a server-supplied string that could echo one.
 */
import type { MissingPermission } from './run';

/** Failure types: activities throw ApplicationFailure with these types; presets list the non-retryable ones. */
export const ErrorType = {
  SecretNotFound: 'SecretNotFoundError',
  ComputeEnvNotFound: 'ComputeEnvNotFoundError',
  WorkspaceNotFound: 'WorkspaceNotFoundError',
  UserNotFound: 'UserNotFoundError',
  CredentialNotFound: 'CredentialNotFoundError',
  InvalidInput: 'InvalidInputError',
  AccessVerification: 'AccessVerificationError',
  PermissionDenied: 'PermissionDeniedError',
  HostKeyMismatch: 'HostKeyMismatchError',
  AuthenticationFailed: 'AuthenticationFailedError',
  NotOwned: 'NotOwnedError',
  LaunchFailed: 'LaunchFailedError',
  Connection: 'ConnectionError',
  Throttled: 'ThrottledError',
  /** A rotation that would break a key someone uses (both keys in use, stored key matches none ...). */
  RotationRefused: 'RotationRefusedError',
  /** The vault's master key cannot do what was asked (env mode without a next key ...). */
  VaultKey: 'VaultKeyError',
} as const;

/** Failures that retrying cannot fix: the launch fails at once (deletion still retries them all). */
export const NON_RETRYABLE_ERROR_TYPES: string[] = [
  ErrorType.SecretNotFound,
  ErrorType.ComputeEnvNotFound,
  ErrorType.WorkspaceNotFound,
  ErrorType.UserNotFound,
  ErrorType.CredentialNotFound,
  ErrorType.InvalidInput,
  ErrorType.AccessVerification,
  ErrorType.PermissionDenied,
  ErrorType.HostKeyMismatch,
  ErrorType.AuthenticationFailed,
  ErrorType.NotOwned,
  ErrorType.LaunchFailed,
  ErrorType.RotationRefused,
];

// ---- input -------------------------------------------------------------------------------------

/** Input broke a rule: names the field and the rule, never the value. Non-retryable. */
export class ValidationError extends Error {
  override readonly name = 'ValidationError';
  constructor(
    readonly field: string,
    readonly rule: string,
  ) {
    super(`${field}: ${rule}`);
  }
}

/** Non-retryable: settings or inputs the target contradicts. */
export class InvalidInputError extends Error {
  override readonly name = ErrorType.InvalidInput;
}

// ---- the vault's records -----------------------------------------------------------------------

/**
 * Something the caller named does not exist. The vault raises the subclass for the kind of record
 * (so a missing user is a UserNotFoundError all the way to the API, the CLI and Temporal); schedules
 * and workflows use the base class.
 */
export class NotFoundError extends Error {
  override readonly name: string = 'NotFoundError';
  constructor(
    readonly what: string,
    readonly key: string,
  ) {
    super(`${what} "${key}" not found`);
  }
}
class WorkspaceNotFoundError extends NotFoundError {
  override readonly name = ErrorType.WorkspaceNotFound;
}
class UserNotFoundError extends NotFoundError {
  override readonly name = ErrorType.UserNotFound;
}
class SecretNotFoundError extends NotFoundError {
  override readonly name = ErrorType.SecretNotFound;
}
class CredentialNotFoundError extends NotFoundError {
  override readonly name = ErrorType.CredentialNotFound;
}
class ComputeEnvNotFoundError extends NotFoundError {
  override readonly name = ErrorType.ComputeEnvNotFound;
}

const NOT_FOUND_BY_KIND: Record<string, new (what: string, key: string) => NotFoundError> = {
  workspace: WorkspaceNotFoundError,
  user: UserNotFoundError,
  secret: SecretNotFoundError,
  'workspace secret': SecretNotFoundError,
  'user secret': SecretNotFoundError,
  credential: CredentialNotFoundError,
  'compute environment': ComputeEnvNotFoundError,
};

/** The NotFoundError subclass for a kind of record ("user", "credential" ...), or the base class. */
export function notFound(what: string, key: string): NotFoundError {
  const Kind = NOT_FOUND_BY_KIND[what] ?? NotFoundError;
  return new Kind(what, key);
}

export class ConflictError extends Error {
  override readonly name = 'ConflictError';
}

/** The master key does not open the vault, or no key is configured. Nothing was changed. */
export class VaultKeyError extends Error {
  override readonly name = ErrorType.VaultKey;
}

/**
 * A sealed record does not decrypt under a key the vault holds: the row was altered or copied from
 * another record. Names the record, never its contents.
 */
export class VaultIntegrityError extends Error {
  override readonly name = 'VaultIntegrityError';
}

// ---- compute environments and clouds -----------------------------------------------------------

/** Non-retryable: the server's host key is not the pinned one. */
export class HostKeyMismatchError extends Error {
  override readonly name = ErrorType.HostKeyMismatch;
}

/** Non-retryable: the credential was refused or cannot be used. */
export class AuthenticationFailedError extends Error {
  override readonly name = ErrorType.AuthenticationFailed;
}

/** The missing permissions as one sentence: "broker lacks secretmanager.secrets.create on projects/p; ...". */
export function describeMissing(missing: readonly MissingPermission[]): string {
  return missing.map((m) => `${m.principal} lacks ${m.permission} on ${m.resource}`).join('; ');
}

/**
 * Non-retryable: the broker's identity lacks a permission. When the target knows exactly which ones
 * (Google's permission test), `missing` lists each with what would grant it.
 */
export class PermissionDeniedError extends Error {
  override readonly name: string = ErrorType.PermissionDenied;
  readonly missing: MissingPermission[];
  constructor(messageOrMissing: string | MissingPermission[]) {
    super(
      typeof messageOrMissing === 'string'
        ? messageOrMissing
        : `${describeMissing(messageOrMissing)}: ${[...new Set(messageOrMissing.map((m) => m.grant))].join('; ')}`,
    );
    this.missing = typeof messageOrMissing === 'string' ? [] : messageOrMissing;
  }
  /** The first missing permission, e.g. `secretmanager.secrets.create`. */
  get permission(): string | undefined {
    return this.missing[0]?.permission;
  }
  /** The role that grants it, where the platform has roles, e.g. `roles/secretmanager.admin`. */
  get role(): string | undefined {
    return this.missing[0]?.role;
  }
}

/** Non-retryable: something exists under the run's name that the broker did not create. */
export class NotOwnedError extends Error {
  override readonly name = ErrorType.NotOwned;
}

/** Retryable: refused, unreachable, timed out, dropped, busy. */
export class ConnectionError extends Error {
  override readonly name: string = ErrorType.Connection;
}

/** Retryable: the service asked the broker to slow down. */
export class ThrottledError extends Error {
  override readonly name = ErrorType.Throttled;
}

/** Non-retryable: rotating now would invalidate a key a stored credential uses; nothing was changed. */
export class RotationRefusedError extends Error {
  override readonly name = ErrorType.RotationRefused;
}

// ---- launches ----------------------------------------------------------------------------------

/**
 * Launch refused: a missing secret, a failed verification, a run id already used by a different
 * request (`duplicate-run`), or a run that already ended (`already-ended`, with its outcome).
 */
export class LaunchError extends Error {
  override readonly name = 'LaunchError';
  constructor(
    message: string,
    readonly code: 'duplicate-run' | 'launch-failed' | 'not-found' | 'already-ended',
    readonly type?: string,
    /** For a failed access check: every missing permission with the statement that would grant it. */
    readonly missing?: MissingPermission[],
    /** already-ended: how the run ended. */
    readonly outcome?: string,
  ) {
    super(message);
  }
}

/**
 * Temporal did not answer in time (down, unreachable, overloaded): the call did not happen, or its
 * answer was lost. Every call the launch service makes is safe to retry.
 */
export class TemporalUnavailableError extends Error {
  override readonly name = 'TemporalUnavailableError';
  /** Seconds a caller should wait before retrying. */
  readonly retryAfterSeconds = 5;
}
