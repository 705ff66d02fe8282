/**
 * What the gcp provider throws. Each class's `name` is the failure type the activity layer gives
 * Temporal (domain/run ErrorType), so retry presets can tell them apart:
 *
 *   PermissionDeniedError     non-retryable  the broker's service account lacks a Secret Manager permission
 *   AuthenticationFailedError non-retryable  the service-account key was refused, or is not a Google key
 *   NotOwnedError             non-retryable  a secret with the run's id exists without the broker's labels
 *   InvalidInputError         non-retryable  Google refused the request as malformed (bad project, location ...)
 *   ConnectionError           retryable      unreachable, timed out, cancelled, server unavailable
 *   ThrottledError            retryable      quota exhausted
 *   GcpSecretManagerError     retryable      anything else (name outside ErrorType)
 *
 * Messages are built here from the operation, the resource name, the permission and the gRPC status
 * name only: never a payload, a key, a token, response metadata or a server-supplied string.
 */
/** The role the broker's service account needs in the project (the platform's documented IAM policies, Seqera Platform "Secrets"). */
export const BROKER_ROLE = 'roles/secretmanager.admin';
/** The role the Batch service account (the head job) needs to read the run's secrets. */
export const READER_ROLE = 'roles/secretmanager.secretAccessor';
import { AuthenticationFailedError, ConnectionError, InvalidInputError, PermissionDeniedError, ThrottledError } from '../../domain/errors';


export class GcpSecretManagerError extends Error {
  override readonly name = 'GcpSecretManagerError';
}

/** gRPC status codes (grpc/status.h), as google-gax sets them on `err.code`. */
export const Status = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

const STATUS_NAMES: Record<number, string> = Object.fromEntries(Object.entries(Status).map(([k, v]) => [v, k]));

/** The numeric gRPC status of an SDK error, or undefined when it is not a gRPC status error. */
export function grpcCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' && code in STATUS_NAMES ? code : undefined;
}

function statusName(err: unknown): string {
  const code = grpcCode(err);
  return code === undefined ? 'no gRPC status' : STATUS_NAMES[code];
}

/** The grant text for a role in a project, as MissingPermission.grant and docs/gcp.md word it. */
export function grantText(role: string, project: string, member: string): string {
  return `grant ${role} on project ${project} to ${member} (gcloud projects add-iam-policy-binding ${project} --member=${member} --role=${role})`;
}

/** What a call was doing, for messages and for naming the permission a denial is about. */
export interface CallContext {
  /** e.g. 'create secret' */
  op: string;
  /** The resource name the call addressed, e.g. projects/p/secrets/tower-r-A. */
  resource: string;
  /** The IAM permission the call needs, e.g. secretmanager.secrets.create. */
  permission: string;
  /** The broker's principal as IAM names it, e.g. serviceAccount:broker@p.iam.gserviceaccount.com. */
  principal: string;
  project: string;
}

/**
 * Turn an SDK error into one of the classes above. Nothing from the original error survives except
 * its numeric status: not its message, details, metadata or stack.
 */
export function sanitizeGcpError(err: unknown, ctx: CallContext): Error {
  const code = grpcCode(err);
  const where = `${ctx.op} ${ctx.resource}`;
  switch (code) {
    case Status.PERMISSION_DENIED:
      return new PermissionDeniedError([
        {
          principal: `broker ${ctx.principal}`,
          permission: ctx.permission,
          resource: ctx.resource,
          role: BROKER_ROLE, grant: grantText(BROKER_ROLE, ctx.project, ctx.principal),
        },
      ]);
    case Status.UNAUTHENTICATED:
      return new AuthenticationFailedError(`${where}: Google refused the service-account key (UNAUTHENTICATED); check that the key is current and not disabled`);
    case Status.INVALID_ARGUMENT:
    case Status.OUT_OF_RANGE:
      return new InvalidInputError(`${where}: Google refused the request as invalid (${statusName(err)}); check the project and location settings`);
    case Status.FAILED_PRECONDITION:
      return new InvalidInputError(`${where}: failed precondition (FAILED_PRECONDITION); is the Secret Manager API enabled in project ${ctx.project}?`);
    case Status.RESOURCE_EXHAUSTED:
      return new ThrottledError(`${where}: quota exhausted (RESOURCE_EXHAUSTED)`);
    case Status.UNAVAILABLE:
    case Status.DEADLINE_EXCEEDED:
    case Status.CANCELLED:
      return new ConnectionError(`${where}: Secret Manager did not answer (${statusName(err)})`);
    case undefined:
      return authOrConnection(err, where);
    default:
      return new GcpSecretManagerError(`${where} failed (${statusName(err)})`);
  }
}

/**
 * Errors without a gRPC status come from the auth library (token exchange) or the network. Classify
 * by shape only; the text of such errors can carry token endpoints' responses, so it is not kept.
 */
function authOrConnection(err: unknown, where: string): Error {
  const e = err as { code?: unknown; message?: unknown; response?: { status?: unknown } } | null;
  const text = typeof e?.message === 'string' ? e.message : '';
  const httpStatus = typeof e?.response?.status === 'number' ? e.response.status : undefined;
  if (httpStatus === 400 || httpStatus === 401 || /invalid_grant|invalid_client|unauthorized_client|DECODER routines|PEM/i.test(text)) {
    return new AuthenticationFailedError(`${where}: the service-account key could not be exchanged for a token; check that the key is current and not disabled`);
  }
  if (typeof e?.code === 'string' && /^E[A-Z]+/.test(e.code)) {
    return new ConnectionError(`${where}: network error (${e.code})`);
  }
  return new GcpSecretManagerError(`${where} failed (no gRPC status)`);
}
