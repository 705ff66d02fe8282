import { REDACTED, redact } from '../../domain/sanitize';
import { AuthenticationFailedError, ConnectionError, InvalidInputError, NotOwnedError, PermissionDeniedError, ThrottledError } from '../../domain/errors';


export class AwsServiceError extends Error {
  override readonly name = 'AwsServiceError';
}

/** Extra facts a sanitized error keeps: the AWS error code and HTTP status, nothing else. */
export interface AwsErrorFacts {
  awsCode?: string;
  httpStatus?: number;
}

const THROTTLING = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'ProvisionedThroughputExceededException',
  'BandwidthLimitExceeded',
  'TransactionInProgressException',
  'PriorRequestNotComplete',
  'EC2ThrottledException',
]);
const ACCESS_DENIED = new Set(['AccessDeniedException', 'AccessDenied', 'UnauthorizedOperation', 'AuthorizationError']);
const AUTH_FAILED = new Set([
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  'IncompleteSignature',
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidAccessKeyId',
  'MissingAuthenticationToken',
  'CredentialsProviderError',
]);
const INVALID_INPUT = new Set([
  'ValidationException',
  'ValidationError',
  'InvalidParameterException',
  'InvalidParameterValue',
  'InvalidParameterCombination',
  'MalformedPolicyDocumentException',
  'MalformedPolicyDocument',
  'EncryptionFailure',
]);
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
]);

/** True when an SDK error (raw, not yet sanitized) has this AWS error code. */
export function isAwsCode(err: unknown, ...codes: string[]): boolean {
  const e = err as { name?: unknown; Code?: unknown; code?: unknown } | undefined;
  return codes.some((c) => e?.name === c || e?.Code === c || e?.code === c);
}

/**
 * Remove what must never be shown from free text: the given sensitive strings (values, secret keys,
 * session tokens; domain/sanitize's rule), then what AWS SDK errors may echo: access key ids, SigV4
 * signatures and credential scopes, security tokens, request ids and anything shaped like a secret
 * access key. Also caps the length.
 */
export function scrubAwsText(text: string, sensitive: readonly string[] = []): string {
  const out = redact(text, sensitive)
    // Query-string and header forms of SigV4.
    .replace(/(X-Amz-(?:Signature|Credential|Security-Token|SignedHeaders)=)[^&\s"',;]+/gi, `$1${REDACTED}`)
    .replace(/(x-amz-security-token["']?\s*[:=]\s*["']?)[^\s"',;]+/gi, `$1${REDACTED}`)
    .replace(/(Signature\s*=\s*)[^\s"',;&]+/g, `$1${REDACTED}`)
    .replace(/(Credential\s*=\s*)[^\s"',;&]+/g, `$1${REDACTED}`)
    .replace(/(AWS4-HMAC-SHA256)[^"'\n]*/g, `$1 ${REDACTED}`)
    // Request ids: "RequestId: ...", "Request ID: ...", and any UUID.
    .replace(/(request[\s_-]?id["']?\s*[:=]\s*["']?)[A-Za-z0-9-]+/gi, `$1${REDACTED}`)
    .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, REDACTED)
    // Access key ids (long-term AKIA, temporary ASIA, and the other IAM unique-id prefixes).
    .replace(/\b(?:AKIA|ASIA|AIDA|AROA|ANPA|ANVA|AGPA|APKA)[A-Z0-9]{12,}\b/g, REDACTED)
    // Long hex runs (signatures, hashes) and long opaque base64 runs (session tokens).
    .replace(/\b[0-9a-f]{40,}\b/gi, REDACTED)
    .replace(/[A-Za-z0-9+/=]{100,}/g, REDACTED)
    // A 40-character secret-access-key shape standing on its own.
    .replace(/(^|[^A-Za-z0-9+/=])[A-Za-z0-9+/]{40}(?![A-Za-z0-9+/=])/g, `$1${REDACTED}`);
  return out.length > 600 ? `${out.slice(0, 600)}…` : out;
}

export interface SanitizeContext {
  /** "secretsmanager", "iam", "sts". */
  service: string;
  /** "CreateSecret" ... */
  operation: string;
  /** A secret name, role ARN ... (no values). */
  target?: string;
  /** Strings to remove wherever they appear: the values being pushed, the secret access key. */
  sensitive?: readonly string[];
}

type Ctor = new (message: string) => Error;

function build(ctor: Ctor, message: string, facts: AwsErrorFacts): Error {
  const e = new ctor(message) as Error & AwsErrorFacts;
  if (facts.awsCode) e.awsCode = facts.awsCode;
  if (facts.httpStatus) e.httpStatus = facts.httpStatus;
  // The stack names only our frames and the message above; keep it, it carries nothing else.
  return e;
}

const OWN_ERRORS: Ctor[] = [
  PermissionDeniedError,
  AuthenticationFailedError,
  NotOwnedError,
  InvalidInputError,
  ThrottledError,
  ConnectionError,
  AwsServiceError,
];

/**
 * An SDK (or network) error as one of the errors above, with a message safe for logs, workflow
 * history and the UI. Errors this module already built pass through unchanged.
 */
export function sanitizeAwsError(err: unknown, ctx: SanitizeContext): Error {
  if (OWN_ERRORS.some((c) => err instanceof c)) return err as Error;
  const e = (err ?? {}) as {
    name?: unknown;
    code?: unknown;
    Code?: unknown;
    message?: unknown;
    $metadata?: { httpStatusCode?: number };
    $retryable?: { throttling?: boolean };
  };
  const sensitive = ctx.sensitive ?? [];
  const rawCode = [e.name, e.Code, e.code].find((v) => typeof v === 'string' && v !== 'Error') as string | undefined;
  const awsCode = rawCode ? scrubAwsText(rawCode, sensitive).slice(0, 80) : undefined;
  const httpStatus = typeof e.$metadata?.httpStatusCode === 'number' ? e.$metadata.httpStatusCode : undefined;
  const rawMessage = typeof e.message === 'string' ? e.message : typeof err === 'string' ? err : '';
  // SDK deserialization failures embed the raw response: say what happened, not what came back.
  const aws = /Deserialization error|XML parse error|Unexpected token/i.test(rawMessage)
    ? 'the response could not be parsed'
    : scrubAwsText(rawMessage.split('\n')[0] ?? '', sensitive);
  const where = `aws ${ctx.service}:${ctx.operation}${ctx.target ? ` on ${scrubAwsText(ctx.target, sensitive)}` : ''}`;
  const message = `${where} failed: ${awsCode ?? 'error'}${httpStatus ? ` (HTTP ${httpStatus})` : ''}${aws ? `: ${aws}` : ''}`;
  const facts: AwsErrorFacts = { awsCode, httpStatus };

  const code = rawCode ?? '';
  if (THROTTLING.has(code) || httpStatus === 429 || e.$retryable?.throttling) return build(ThrottledError, message, facts);
  if (ACCESS_DENIED.has(code)) return build(PermissionDeniedError, message, facts);
  if (AUTH_FAILED.has(code)) return build(AuthenticationFailedError, message, facts);
  if (INVALID_INPUT.has(code)) return build(InvalidInputError, message, facts);
  // Network failures by code, or by message when the SDK wrapped the error and lost its code
  // ("AWS SDK error wrapper for Error: connect ECONNREFUSED ...").
  const networkInMessage = [...NETWORK_CODES].some((c) => rawMessage.includes(c)) || /socket hang up/i.test(rawMessage);
  if (NETWORK_CODES.has(code) || networkInMessage || code === 'TimeoutError' || code === 'RequestTimeout' || code === 'AbortError') {
    return build(ConnectionError, message, facts);
  }
  if (httpStatus !== undefined && httpStatus >= 500) return build(ConnectionError, message, facts);
  return build(AwsServiceError, message, facts);
}
