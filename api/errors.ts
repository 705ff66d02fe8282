/**
 * Map errors to HTTP answers. Only errors whose messages are written for people (the vault's
 * ValidationError, NotFoundError, ConflictError, VaultKeyError, and LaunchError) reach the client;
 * anything else is logged server-side (redacted) and answered with a generic 500.
 */
import { ConflictError, NotFoundError, ValidationError, VaultKeyError, LaunchError, TemporalUnavailableError } from '../domain/errors';
import type { MissingPermission } from '../domain/run';

export interface ErrorBody {
  error: string;
  /** For 400s: the field and the rule it broke. */
  field?: string;
  rule?: string;
  /** A stable machine-readable code: validation, not-found, conflict, duplicate-run, launch-failed, ... */
  code: string;
  /** not-found and launch-failed: the error type (UserNotFoundError, SecretNotFoundError, AccessVerificationError ...). */
  type?: string;
  /** already-ended: how the run ended. */
  outcome?: string;
  /** temporal-unavailable: seconds to wait before retrying (also the Retry-After header). */
  retryAfterSeconds?: number;
  /** launch-failed by an access check: each missing permission and the statement that grants it. */
  missing?: MissingPermission[];
}

export interface MappedError {
  status: number;
  body: ErrorBody;
  /** Extra answer headers (Retry-After). */
  headers?: Record<string, string>;
  /** True when the error was not expected: log its detail. */
  unexpected: boolean;
}

const GENERIC_500 = 'internal error; the broker logged the details';

/** Fastify's own request errors (body parsing, size, content type). */
interface FastifyLikeError {
  code?: unknown;
  statusCode?: unknown;
}

export function mapError(err: unknown, bodyLimit: number): MappedError {
  if (err instanceof ValidationError) return validation(err.field, err.rule);
  if (err instanceof AuthenticationError) return { status: 401, body: { error: err.message, code: 'unauthenticated' }, unexpected: false };
  if (err instanceof ForbiddenError) return { status: 403, body: { error: err.message, code: 'forbidden' }, unexpected: false };
  if (err instanceof RateLimitedError) {
    return { status: 429, body: { error: err.message, code: 'rate-limited' }, headers: { 'retry-after': String(err.retryAfterSeconds) }, unexpected: false };
  }
  if (err instanceof UnavailableError) return { status: 503, body: { error: err.message, code: 'unavailable' }, unexpected: false };
  if (err instanceof NotFoundError) return { status: 404, body: { error: err.message, code: 'not-found', type: err.name }, unexpected: false };
  if (err instanceof ConflictError) return { status: 409, body: { error: err.message, code: 'conflict' }, unexpected: false };
  if (err instanceof VaultKeyError) return { status: 500, body: { error: err.message, code: 'vault-key' }, unexpected: true };
  if (err instanceof LaunchError) {
    const status = err.code === 'duplicate-run' || err.code === 'already-ended' ? 409 : err.code === 'not-found' ? 404 : 422;
    return {
      status,
      body: { error: err.message, code: err.code, ...(err.type ? { type: err.type } : {}), ...(err.outcome ? { outcome: err.outcome } : {}), ...(err.missing ? { missing: err.missing } : {}) },
      unexpected: false,
    };
  }
  if (err instanceof TemporalUnavailableError) {
    const retryAfterSeconds = err.retryAfterSeconds;
    return { status: 503, body: { error: err.message, code: 'temporal-unavailable', retryAfterSeconds }, headers: { 'retry-after': String(retryAfterSeconds) }, unexpected: false };
  }
  // Temporal's client raises WorkflowNotFoundError for an unknown run; matched by name so the API
  // does not import the Temporal SDK. Its message names the workflow id only.
  if (err instanceof Error && err.name === 'WorkflowNotFoundError') {
    return { status: 404, body: { error: 'run not found', code: 'not-found' }, unexpected: false };
  }
  const fe = (err ?? {}) as FastifyLikeError;
  if (typeof fe.code === 'string' && fe.code.startsWith('FST_')) {
    switch (fe.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return { ...validation('body', `must be at most ${bodyLimit} bytes`), status: 413 };
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return { ...validation('content-type', 'must be application/json'), status: 415 };
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        return validation('body', 'must not be empty when content-type is application/json');
      case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
        return validation('content-length', 'does not match the body');
      case 'FST_ERR_CTP_INVALID_JSON_BODY':
      default:
        // JSON.parse messages quote the body: never pass them on.
        if (fe.statusCode === 400 || fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY') return validation('body', 'must be valid JSON');
    }
  }
  if (err instanceof SyntaxError && (err as FastifyLikeError).statusCode === 400) return validation('body', 'must be valid JSON');
  return { status: 500, body: { error: GENERIC_500, code: 'internal' }, unexpected: true };
}

function validation(field: string, rule: string): MappedError {
  return { status: 400, body: { error: `${field}: ${rule}`, field, rule, code: 'validation' }, unexpected: false };
}

/**
 * No usable credentials (401): none, malformed, unknown, revoked or expired tokens, JWTs that do not
 * verify. The message says which, never echoing the token.
 */
export class AuthenticationError extends Error {
  override readonly name = 'AuthenticationError';
  constructor(
    message: string,
    /** The RFC 6750 error for WWW-Authenticate: absent when no token was sent. */
    readonly bearerError?: 'invalid_request' | 'invalid_token',
  ) {
    super(message);
  }
}

/** The caller sees the thing but may not do this (403). The message names the role needed, nothing else. */
export class ForbiddenError extends Error {
  override readonly name = 'ForbiddenError';
}

/** Too many failed authentications from one address (429). */
export class RateLimitedError extends Error {
  override readonly name = 'RateLimitedError';
  constructor(readonly retryAfterSeconds: number) {
    super(`too many failed authentications from this address; retry in ${retryAfterSeconds}s`);
  }
}

/** A feature this API process was started without (503). */
export class UnavailableError extends Error {
  override readonly name = 'UnavailableError';
}

/** Re-raise a ValidationError under the field name the API's caller used. */
export async function renameFields<T>(p: Promise<T>, names: Record<string, string>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof ValidationError && names[err.field] !== undefined) throw new ValidationError(names[err.field]!, err.rule);
    throw err;
  }
}
