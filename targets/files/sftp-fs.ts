/**
 * `RemoteFs` over one SSH session's SFTP channel (ssh2). Every failure is mapped to a provider error
 * naming the operation, the path and the host (remote/ssh/errors.ts).
 */
import * as path from 'node:path';
import type { Stats } from 'ssh2';
import { RemoteFileError, isNoSuchFile, sftpFailure } from '../../remote/ssh/errors';
import type { SshEndpoint, SshSession } from '../../remote/ssh/session';
import { tmpName, type DirEntry, type FileKind, type FileStat, type RemoteFs } from './fs';

const posix = path.posix;

function kindOf(st: Stats): FileKind {
  return st.isSymbolicLink() ? 'link' : st.isDirectory() ? 'directory' : st.isFile() ? 'file' : 'other';
}

const statOf = (st: Stats): FileStat => ({ kind: kindOf(st), mode: st.mode, uid: st.uid, size: st.size });

// The SSH user's uid per host:port:user, for the life of the process. Learned from `id -u`, from a
// directory the user has just created, or from a probe file.
const uids = new Map<string, number>();
const uidKey = (ep: SshEndpoint) => `${ep.host}:${ep.port}:${ep.user}`;

export class SftpFs implements RemoteFs {
  readonly where: string;

  /** `probeDir`: a directory the user may write, for the probe file when commands are refused. */
  constructor(
    private readonly session: SshSession,
    private readonly endpoint: SshEndpoint,
    private readonly probeDir: string,
  ) {
    this.where = session.where;
  }

  private get sftp() {
    return this.session.sftp;
  }

  private call<T>(op: string, file: string, run: (cb: (err: Error | undefined | null, value?: T) => void) => void): Promise<T> {
    return new Promise((resolve, reject) => {
      try {
        run((err, value) => (err ? reject(sftpFailure(err, this.where, op, file)) : resolve(value as T)));
      } catch (err) {
        reject(sftpFailure(err, this.where, op, file));
      }
    });
  }

  lstat(p: string): Promise<FileStat | null> {
    return new Promise((resolve, reject) => {
      try {
        this.sftp.lstat(p, (err, st) => {
          if (!err) return resolve(statOf(st));
          if (isNoSuchFile(err)) return resolve(null);
          reject(sftpFailure(err, this.where, 'stat', p));
        });
      } catch (err) {
        reject(sftpFailure(err, this.where, 'stat', p));
      }
    });
  }

  async mkdir(p: string, mode: number): Promise<boolean> {
    try {
      await this.call<void>('mkdir', p, (cb) => this.sftp.mkdir(p, { mode }, cb));
      return true;
    } catch (err) {
      // SFTP v3 has no "exists" status (OpenSSH answers FAILURE): look before deciding.
      if (await this.lstat(p)) return false;
      throw err;
    }
  }

  chmod(p: string, mode: number): Promise<void> {
    return this.call('chmod', p, (cb) => this.sftp.setstat(p, { mode }, cb));
  }

  async readdir(p: string): Promise<DirEntry[]> {
    // OpenSSH's attributes for a directory listing come from lstat: a link is a link.
    const list = await this.call<{ filename: string; attrs: Stats }[]>('list', p, (cb) => this.sftp.readdir(p, (err, l) => cb(err, l)));
    return list.map((e) => ({ name: e.filename, kind: kindOf(e.attrs) }));
  }

  async unlink(p: string): Promise<void> {
    try {
      await this.call<void>('remove', p, (cb) => this.sftp.unlink(p, cb));
    } catch (err) {
      if (!(await this.lstat(p))) return; // already gone
      throw err;
    }
  }

  async rmdir(p: string): Promise<void> {
    try {
      await this.call<void>('remove', p, (cb) => this.sftp.rmdir(p, cb));
    } catch (err) {
      if (!(await this.lstat(p))) return;
      throw err;
    }
  }

  async readSmall(p: string, max: number): Promise<string | null> {
    const st = await this.lstat(p);
    if (!st || st.kind !== 'file' || st.size > max) return null;
    const buf = await this.call<Buffer>('read', p, (cb) => this.sftp.readFile(p, (err, data) => cb(err, data)));
    return buf.toString('utf8');
  }

  /** The temporary file is opened exclusively with mode 0600 and fchmod'ed again in case of a umask. */
  async writeAtomic(dir: string, name: string, data: Buffer): Promise<void> {
    const target = posix.join(dir, name);
    const tmp = posix.join(dir, tmpName(name));
    const handle = await this.call<Buffer>('create', tmp, (cb) => this.sftp.open(tmp, 'wx', { mode: 0o600 }, cb));
    let renamed = false;
    try {
      try {
        await this.call<void>('chmod', tmp, (cb) => this.sftp.fchmod(handle, 0o600, cb));
        if (data.length) await this.call<void>('write', tmp, (cb) => this.sftp.write(handle, data, 0, data.length, 0, cb));
      } finally {
        await this.call<void>('close', tmp, (cb) => this.sftp.close(handle, cb));
      }
      await this.rename(tmp, target);
      renamed = true;
    } finally {
      if (!renamed) await this.unlink(tmp).catch(() => undefined);
    }
  }

  /** OpenSSH's posix-rename (atomic, replaces); plain SFTP rename where the server lacks it. */
  async rename(from: string, to: string): Promise<void> {
    const atomic = await new Promise<boolean>((resolve, reject) => {
      try {
        this.sftp.ext_openssh_rename(from, to, (err) => (err ? reject(sftpFailure(err, this.where, 'rename', to)) : resolve(true)));
      } catch {
        resolve(false); // ssh2 throws at once when the server does not offer posix-rename@openssh.com
      }
    });
    if (atomic) return;
    // Plain SFTP rename refuses an existing target: remove it first. The window where `to` is
    // missing is harmless (the directory is 0700; nothing is ever readable by others).
    await this.unlink(to);
    await this.call<void>('rename', to, (cb) => this.sftp.rename(from, to, cb));
  }

  /** `id -u` when the account may run commands; otherwise the owner of a probe file it creates. */
  async currentUid(): Promise<number> {
    const known = uids.get(uidKey(this.endpoint));
    if (known !== undefined) return known;
    let uid: number | undefined;
    try {
      const r = await this.session.exec('id -u');
      if (r.code === 0 && /^\d+\s*$/.test(r.stdout)) uid = Number(r.stdout.trim());
    } catch {
      /* no exec on this account (sftp-only): fall back to a probe file */
    }
    if (uid === undefined) {
      const probe = tmpName('secret-broker-uid');
      await this.writeAtomic(this.probeDir, probe, Buffer.alloc(0));
      const st = await this.lstat(posix.join(this.probeDir, probe));
      await this.unlink(posix.join(this.probeDir, probe));
      if (!st) throw new RemoteFileError(`cannot learn the uid of ${this.endpoint.user} on ${this.where}`);
      uid = st.uid;
    }
    this.learnUid(uid);
    return uid;
  }

  learnUid(uid: number): void {
    uids.set(uidKey(this.endpoint), uid);
  }
}
