/**
 * What the hpc provider throws. Each class's `name` is the failure type the activity layer gives
 * Temporal (workflows/shared ErrorType), so retry presets can tell them apart:
 *
 *   HostKeyMismatchError      non-retryable  the login node's host key is not the pinned one
 *   AuthenticationFailedError non-retryable  the SSH credential was refused, or cannot be used
 *   PermissionDeniedError     non-retryable  the SSH user may not write the work directory
 *   NotOwnedError             non-retryable  the run directory exists and is not the broker's
 *   InvalidInputError         non-retryable  settings the cluster contradicts (no workDir, bad run id)
 *   ConnectionError           retryable      refused, unreachable, timed out, dropped, busy
 *   RemoteFileError           retryable      any other SFTP failure (name outside ErrorType)
 *
 * Messages are built here from host, port, user, paths and fingerprints only: never a secret
 * value, a key or a passphrase, and never a server-supplied string.
 */
import { AuthenticationFailedError, ConnectionError, HostKeyMismatchError, InvalidInputError, NotOwnedError, PermissionDeniedError } from '../errors';
export { AuthenticationFailedError, ConnectionError, HostKeyMismatchError, InvalidInputError, NotOwnedError, PermissionDeniedError };

export class RemoteFileError extends Error {
  override readonly name = 'RemoteFileError';
}

/** SFTP status codes (draft-ietf-secsh-filexfer-02), as ssh2 sets them on `err.code`. */
export const SFTP_STATUS = {
  EOF: 1,
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  BAD_MESSAGE: 5,
  NO_CONNECTION: 6,
  CONNECTION_LOST: 7,
  OP_UNSUPPORTED: 8,
} as const;

const STATUS_WORDS: Record<number, string> = {
  1: 'end of file',
  2: 'no such file',
  3: 'permission denied',
  4: 'failure',
  5: 'bad message',
  6: 'no connection',
  7: 'connection lost',
  8: 'operation unsupported',
};

export function sftpCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'number' ? code : undefined;
}

export const isNoSuchFile = (err: unknown): boolean => sftpCode(err) === SFTP_STATUS.NO_SUCH_FILE;

/**
 * An SFTP failure as one of the errors above. `where` is "host:port"; `op` and `file` say what was
 * attempted. Anything that is not an SFTP status (a closed channel, a dropped socket) is a
 * connection problem, and retryable.
 */
export function sftpFailure(err: unknown, where: string, op: string, file: string): Error {
  if (err instanceof HostKeyMismatchError || err instanceof AuthenticationFailedError || err instanceof ConnectionError) return err;
  if (err instanceof PermissionDeniedError || err instanceof NotOwnedError || err instanceof RemoteFileError) return err;
  const code = sftpCode(err);
  if (code === SFTP_STATUS.PERMISSION_DENIED) {
    return new PermissionDeniedError(`${op} ${file} on ${where}: permission denied for the SSH user; it needs write access to the compute environment's workDir`);
  }
  if (code === undefined || code === SFTP_STATUS.NO_CONNECTION || code === SFTP_STATUS.CONNECTION_LOST) {
    return new ConnectionError(`${op} ${file} on ${where}: the SSH connection was lost`);
  }
  return new RemoteFileError(`${op} ${file} on ${where} failed: ${STATUS_WORDS[code] ?? `SFTP status ${code}`}`);
}
