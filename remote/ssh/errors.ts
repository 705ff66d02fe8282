import { AuthenticationFailedError, ConnectionError, HostKeyMismatchError, NotOwnedError, PermissionDeniedError } from '../../domain/errors';


export class RemoteFileError extends Error {
  override readonly name = 'RemoteFileError';
}

/** SFTP status codes (draft-ietf-secsh-filexfer-02), as ssh2 sets them on `err.code`. */
const SFTP_STATUS = {
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

function sftpCode(err: unknown): number | undefined {
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
