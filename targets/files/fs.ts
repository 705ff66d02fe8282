/**
 * The file operations the secrets-file target needs, on this host (`LocalFs`) or on a cluster's
 * shared storage over SFTP (`SftpFs`). Paths are absolute POSIX paths. Nothing here follows a
 * symbolic link in the last component of a path: `lstat` and `readdir` describe links as links,
 * `readSmall` refuses them, `writeAtomic` creates its file exclusively.
 */
import { randomBytes } from 'node:crypto';

/** What a path is, as lstat sees it: a link is a link, never what it points to. */
export type FileKind = 'file' | 'directory' | 'link' | 'other';

export interface FileStat {
  kind: FileKind;
  /** Mode bits, including the file type bits. */
  mode: number;
  uid: number;
  size: number;
}

export interface DirEntry {
  name: string;
  kind: FileKind;
}

export interface RemoteFs {
  /** Where the paths are, for messages ("host:port"); null for this host. */
  readonly where: string | null;
  /** lstat, or null when nothing is at `p`. */
  lstat(p: string): Promise<FileStat | null>;
  /** Create one directory; false when something already exists at `p`, other failures throw. */
  mkdir(p: string, mode: number): Promise<boolean>;
  /** Set the permission bits (exactly `mode`, whatever the umask). */
  chmod(p: string, mode: number): Promise<void>;
  /** The entries of a directory, without `.` and `..`. */
  readdir(p: string): Promise<DirEntry[]>;
  /** A small file's text, or null when it is missing, not a regular file (a link) or over `max` bytes. */
  readSmall(p: string, max: number): Promise<string | null>;
  /**
   * Write `data` to `dir/name` so that no reader ever sees a partial file and no other user can ever
   * read it: a temporary name created exclusively with mode 0600, written, closed, then renamed over
   * the target. The temporary name is `.<name>.<12 hex digits>.tmp`; it is removed on failure.
   */
  writeAtomic(dir: string, name: string, data: Buffer): Promise<void>;
  /** Remove a file or a link (never what it points to); nothing at `p` is not an error. */
  unlink(p: string): Promise<void>;
  /** Remove an empty directory; nothing at `p` is not an error. */
  rmdir(p: string): Promise<void>;
  /** Rename, replacing a file at `to`. */
  rename(from: string, to: string): Promise<void>;
  /** The uid the operations run as (the owner of what they create). */
  currentUid(): Promise<number>;
  /**
   * The owner of a directory these operations have just created: the current uid. An implementation
   * that has to ask the far side for its uid may remember it.
   */
  learnUid(uid: number): void;
}

/** The name writeAtomic gives its temporary file (also what an interrupted write leaves behind). */
export const TMP_NAME = /^\..+\.[0-9a-f]{12}\.tmp$/;

export function tmpName(name: string): string {
  return `.${name}.${randomBytes(6).toString('hex')}.tmp`;
}
