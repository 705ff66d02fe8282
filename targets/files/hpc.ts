import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import type { ParsedKey, SFTPWrapper, Stats } from 'ssh2';
import type { MissingPermission, PushResult, RemoteRef } from '../../domain/run';
import {
  DIR_MODE,
  FILE_MODE,
  MARKER_FILE,
  STORE_FILE,
  headJobEnv,
  modeProblem,
  parseMarker,
  renderMarker,
  renderStore,
  runDirName,
  type OwnerMarker,
} from './secrets-file';
import type { DeleteOutcome, OwnedObject, PlainSecret, RunContext, SecretTarget, TargetDeps, VerifyResult } from '../types';
import { parseHpcConfig, type HpcConfig } from '../../platforms/hpc';
import { RemoteFileError, isNoSuchFile, sftpFailure } from '../../remote/ssh/errors';
import { loadPrivateKey, withSession, type SessionSet, type SshEndpoint, type SshSession } from '../../remote/ssh/session';
import { RUN_ID_PATTERN, RUN_ID_RULE } from '../../domain/rules';
import { InvalidInputError, NotOwnedError } from '../../domain/errors';
import { type ComputeEnvRecord } from '../../domain/run';

const posix = path.posix;
const TMP_SUFFIX = /\.[0-9a-f]{12}\.tmp$/;
const MAX_MARKER_BYTES = 4096;

const octal = (mode: number) => mode.toString(8).padStart(4, '0');

/** Promise wrappers over ssh2's SFTP, each failure mapped to a provider error naming op and path. */
class RemoteFs {
  constructor(
    private readonly sftp: SFTPWrapper,
    private readonly where: string,
  ) {}

  private call<T>(op: string, file: string, run: (cb: (err: Error | undefined | null, value?: T) => void) => void): Promise<T> {
    return new Promise((resolve, reject) => {
      try {
        run((err, value) => (err ? reject(sftpFailure(err, this.where, op, file)) : resolve(value as T)));
      } catch (err) {
        reject(sftpFailure(err, this.where, op, file));
      }
    });
  }

  /** lstat, or null when the path does not exist. */
  async lstat(p: string): Promise<Stats | null> {
    return new Promise((resolve, reject) => {
      try {
        this.sftp.lstat(p, (err, st) => {
          if (!err) return resolve(st);
          if (isNoSuchFile(err)) return resolve(null);
          reject(sftpFailure(err, this.where, 'stat', p));
        });
      } catch (err) {
        reject(sftpFailure(err, this.where, 'stat', p));
      }
    });
  }

  /** mkdir; false when something already exists at `p`, other failures throw. */
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

  readdir(p: string): Promise<{ filename: string; attrs: Stats }[]> {
    return this.call('list', p, (cb) => this.sftp.readdir(p, (err, list) => cb(err, list)));
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

  /** A small file's text, or null when it is missing or not a regular file. */
  async readSmall(p: string, max: number): Promise<string | null> {
    const st = await this.lstat(p);
    if (!st || !st.isFile() || st.size > max) return null;
    const buf = await this.call<Buffer>('read', p, (cb) => this.sftp.readFile(p, (err, data) => cb(err, data)));
    return buf.toString('utf8');
  }

  /**
   * Write `data` to `dir/name` so that no reader ever sees a partial file and no other user can ever
   * read it: a temporary name created exclusively with mode 0600 (fchmod'ed again in case of a
   * umask), written, closed, then renamed over the target (posix-rename: atomic, replaces).
   */
  async writeAtomic(dir: string, name: string, data: Buffer): Promise<void> {
    const target = posix.join(dir, name);
    const tmp = posix.join(dir, `.${name}.${randomBytes(6).toString('hex')}.tmp`);
    const handle = await this.call<Buffer>('create', tmp, (cb) => this.sftp.open(tmp, 'wx', { mode: FILE_MODE }, cb));
    let renamed = false;
    try {
      try {
        await this.call<void>('chmod', tmp, (cb) => this.sftp.fchmod(handle, FILE_MODE, cb));
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

  private async rename(from: string, to: string): Promise<void> {
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
}

export class HpcTarget implements SecretTarget {
  readonly platform = 'hpc' as const;
  private key: ParsedKey | undefined;
  private readonly live: SessionSet = new Set();
  private closed = false;

  constructor(
    readonly ce: ComputeEnvRecord,
    readonly config: HpcConfig,
    private readonly loadKey: () => Promise<ParsedKey>,
  ) {}

  private get endpoint(): SshEndpoint {
    const { host, port, user, hostKeyFingerprint, maxConnections } = this.config;
    return { host, port, user, hostKeyFingerprint, maxConnections };
  }

  private get location(): string {
    const { user, host, port } = this.config;
    return port === 22 ? `${user}@${host}` : `${user}@${host}:${port}`;
  }

  runDir(runId: string): string {
    if (!RUN_ID_PATTERN.test(runId)) {
      throw new InvalidInputError(`run id ${RUN_ID_RULE} (it names a directory on the cluster)`);
    }
    return posix.join(this.config.workDir, runDirName(runId));
  }

  plan(run: RunContext, names: string[]): RemoteRef[] {
    const dir = this.runDir(run.runId);
    return names.map((secretName) => ({ platform: 'hpc', computeEnvId: run.computeEnv.id, secretName, remoteId: dir, location: this.location }));
  }

  private async session<T>(fn: (fs: RemoteFs, s: SshSession) => Promise<T>): Promise<T> {
    if (this.closed) throw new Error('hpc target is closed');
    this.key ??= await this.loadKey();
    return withSession(this.endpoint, this.key, (s) => fn(new RemoteFs(s.sftp, s.where), s), this.live);
  }

  async push(run: RunContext, secrets: PlainSecret[], progress?: (done: number) => void): Promise<PushResult> {
    const dir = this.runDir(run.runId);
    const workDir = this.config.workDir;
    await this.session(async (fs, s) => {
      progress?.(0); // connected: a heartbeat before the writes
      const wd = await fs.lstat(workDir);
      if (!wd || !wd.isDirectory()) {
        throw new InvalidInputError(
          `workDir ${workDir} does not exist on ${s.where} (or is not a directory): create it on the shared file system, owned by ${this.config.user}, mode 0700`,
        );
      }
      const created = await fs.mkdir(dir, DIR_MODE);
      if (!created) await this.adopt(fs, s, dir, run);
      await fs.chmod(dir, DIR_MODE); // mkdir's mode passes through the server's umask
      const st = await fs.lstat(dir);
      if (!st || !st.isDirectory() || modeProblem(st.mode, DIR_MODE)) {
        throw new NotOwnedError(`${dir} on ${s.where} could not be made a private (0700) directory; refusing to write secrets into it`);
      }
      if (created) rememberUid(this.endpoint, st.uid);
      // The marker first: any directory that ever holds a secret carries the broker's mark, so a
      // retried or interrupted delete can always recognise it.
      const marker = await this.readMarker(fs, dir);
      if (!marker) await fs.writeAtomic(dir, MARKER_FILE, Buffer.from(renderMarker(run)));
      await fs.writeAtomic(dir, STORE_FILE, Buffer.from(renderStore(secrets), 'utf8'));
    });
    progress?.(secrets.length);
    return { refs: this.plan(run, secrets.map((x) => x.name)), headJobEnv: headJobEnv(posix.join(dir, STORE_FILE)) };
  }

  /**
   * A run directory already exists (a retried push, or someone else's). Carry on only if it is a
   * real directory owned by the SSH user and either carries this run's marker or is empty but for
   * the broker's own temporary files (an earlier attempt that stopped before writing the marker).
   */
  private async adopt(fs: RemoteFs, s: SshSession, dir: string, run: RunContext): Promise<void> {
    const st = await fs.lstat(dir);
    const refuse = (why: string) =>
      new NotOwnedError(`${dir} on ${s.where} already exists and ${why}; the broker will not write secrets into a directory it does not own`);
    if (!st) return; // vanished between mkdir and lstat: the caller's chmod/lstat will tell
    if (!st.isDirectory() || st.isSymbolicLink()) throw refuse('is not a plain directory');
    const uid = await sessionUid(this.endpoint, s, fs, this.config.workDir);
    if (st.uid !== uid) throw refuse(`belongs to uid ${st.uid}, not to ${this.config.user} (uid ${uid})`);
    const marker = await this.readMarker(fs, dir);
    if (marker) {
      if (marker.runId !== run.runId || marker.workspaceId !== run.workspaceId) throw refuse('is marked for another run');
      return;
    }
    const entries = await fs.readdir(dir);
    if (entries.some((e) => !TMP_SUFFIX.test(e.filename))) throw refuse('has no broker ownership marker');
  }

  async verify(run: RunContext, _refs: RemoteRef[]): Promise<VerifyResult> {
    const dir = this.runDir(run.runId);
    const store = posix.join(dir, STORE_FILE);
    const user = this.config.user;
    const principal = `head job (SSH user ${user})`;
    return this.session(async (fs, s) => {
      const uid = await sessionUid(this.endpoint, s, fs, this.config.workDir);
      const missing: MissingPermission[] = [];
      const check = async (p: string, want: number, kind: 'directory' | 'file') => {
        const st = await fs.lstat(p);
        if (!st) {
          missing.push({ principal, permission: `${kind} exists`, resource: `${s.where}:${p}`, grant: 'push the run secrets again' });
          return;
        }
        if (kind === 'directory' ? !st.isDirectory() : !st.isFile()) {
          missing.push({ principal, permission: `is a plain ${kind}`, resource: `${s.where}:${p}`, grant: `remove ${p}; it must not be a link` });
          return;
        }
        const problem = modeProblem(st.mode, want);
        if (problem) missing.push({ principal, permission: `mode ${octal(want)}`, resource: `${s.where}:${p}`, grant: `chmod ${want.toString(8)} ${p} (${problem})` });
        if (st.uid !== uid) {
          missing.push({ principal, permission: `owner uid ${uid}`, resource: `${s.where}:${p}`, grant: `chown ${user} ${p} (owner is uid ${st.uid})` });
        }
      };
      await check(dir, DIR_MODE, 'directory');
      await check(store, FILE_MODE, 'file');
      return missing.length ? { ok: false as const, missing } : { ok: true as const };
    });
  }

  /**
   * Delete the run directories the refs recorded, even if the environment's workDir changed since:
   * the name and the marker, not the current settings, say whether a directory is this run's. A ref
   * recorded on another host cannot be reached from here: that is an error (retried, visible), never
   * a silent "deleted".
   */
  async delete(run: RunContext, refs: RemoteRef[]): Promise<DeleteOutcome[]> {
    if (!refs.length) return [];
    const name = posix.basename(this.runDir(run.runId));
    const elsewhere = refs.find((r) => r.location !== undefined && r.location !== this.location);
    if (elsewhere) {
      throw new RemoteFileError(
        `run ${run.runId} wrote its secrets on ${elsewhere.location}, but this compute environment now points at ${this.location}; ` +
          'point it back (secret-broker compute-envs update) until the run is deleted',
      );
    }
    const dirs = [...new Set(refs.map((r) => r.remoteId))];
    const outcomes = new Map<string, DeleteOutcome>();
    const ours = (d: string) => posix.isAbsolute(d) && posix.normalize(d) === d && posix.basename(d) === name;
    for (const d of dirs) if (!ours(d)) outcomes.set(d, 'not-owned'); // never outside a directory named for this run
    const todo = dirs.filter(ours);
    if (todo.length) {
      await this.session(async (fs, s) => {
        for (const d of todo) outcomes.set(d, await this.deleteRunDir(fs, s, d, run));
      });
    }
    return refs.map((r) => outcomes.get(r.remoteId)!);
  }

  private async deleteRunDir(fs: RemoteFs, s: SshSession, dir: string, run: RunContext): Promise<DeleteOutcome> {
    const st = await fs.lstat(dir);
    if (!st) return 'not-found';
    if (!st.isDirectory()) return 'not-owned';
    const marker = await this.readMarker(fs, dir);
    if (!marker) {
      // An interrupted delete removes the marker last and the directory right after: an empty
      // directory of ours under this run's name is that leftover.
      const uid = await sessionUid(this.endpoint, s, fs, this.config.workDir);
      const entries = st.uid === uid ? await fs.readdir(dir) : [{ filename: '?' }];
      if (entries.length) return 'not-owned';
      await fs.rmdir(dir);
      return 'deleted';
    }
    if (marker.runId !== run.runId || marker.workspaceId !== run.workspaceId) return 'not-owned';
    await fs.chmod(dir, DIR_MODE);
    // Everything but the marker (store, .nf-<hash>.secrets files Nextflow adds, anything else),
    // then the marker, then the directory.
    for (const e of await fs.readdir(dir)) {
      if (e.filename !== MARKER_FILE) await removeTree(fs, posix.join(dir, e.filename), e.attrs);
    }
    await fs.unlink(posix.join(dir, MARKER_FILE));
    await fs.rmdir(dir);
    return 'deleted';
  }

  async listOwned(): Promise<OwnedObject[]> {
    const workDir = this.config.workDir;
    return this.session(async (fs) => {
      const wd = await fs.lstat(workDir);
      if (!wd || !wd.isDirectory()) return [];
      const owned: OwnedObject[] = [];
      for (const e of await fs.readdir(workDir)) {
        if (!e.filename.startsWith('tower-') || !e.attrs.isDirectory()) continue;
        const dir = posix.join(workDir, e.filename);
        const marker = await this.readMarker(fs, dir).catch(() => null);
        if (marker && RUN_ID_PATTERN.test(marker.runId) && runDirName(marker.runId) === e.filename) owned.push({ remoteId: dir, runId: marker.runId, workspaceId: marker.workspaceId });
      }
      return owned.sort((a, b) => a.remoteId.localeCompare(b.remoteId));
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const c of this.live) c.destroy();
  }

  private async readMarker(fs: RemoteFs, dir: string): Promise<OwnerMarker | null> {
    const text = await fs.readSmall(posix.join(dir, MARKER_FILE), MAX_MARKER_BYTES);
    return text === null ? null : parseMarker(text);
  }
}

async function removeTree(fs: RemoteFs, p: string, st: Stats): Promise<void> {
  if (st.isDirectory()) {
    await fs.chmod(p, DIR_MODE).catch(() => undefined);
    for (const e of await fs.readdir(p)) await removeTree(fs, posix.join(p, e.filename), e.attrs);
    await fs.rmdir(p);
  } else {
    await fs.unlink(p); // files and symlinks alike: a link is removed, never followed
  }
}

// The SSH user's uid per host:port:user. Learned from `id -u`, or from a file the user creates.
const uids = new Map<string, number>();
const uidKey = (ep: SshEndpoint) => `${ep.host}:${ep.port}:${ep.user}`;

function rememberUid(ep: SshEndpoint, uid: number): void {
  uids.set(uidKey(ep), uid);
}

async function sessionUid(ep: SshEndpoint, s: SshSession, fs: RemoteFs, probeDir: string): Promise<number> {
  const known = uids.get(uidKey(ep));
  if (known !== undefined) return known;
  let uid: number | undefined;
  try {
    const r = await s.exec('id -u');
    if (r.code === 0 && /^\d+\s*$/.test(r.stdout)) uid = Number(r.stdout.trim());
  } catch {
    /* no exec on this account (sftp-only): fall back to a probe file */
  }
  if (uid === undefined) {
    const probe = `.secret-broker-uid.${randomBytes(6).toString('hex')}.tmp`;
    await fs.writeAtomic(probeDir, probe, Buffer.alloc(0));
    const st = await fs.lstat(posix.join(probeDir, probe));
    await fs.unlink(posix.join(probeDir, probe));
    if (!st) throw new RemoteFileError(`cannot learn the uid of ${ep.user} on ${s.where}`);
    uid = st.uid;
  }
  uids.set(uidKey(ep), uid);
  return uid;
}

export async function createHpcTarget(ce: ComputeEnvRecord, deps: TargetDeps): Promise<HpcTarget> {
  const config = parseHpcConfig(ce.config);
  const credentialId = ce.credentialId;
  if (!credentialId) throw new InvalidInputError(`hpc compute environment ${ce.name} has no SSH credential`);
  // The key is read and decrypted on first use: plan() needs neither.
  const loadKey = async () => {
    const cred = await deps.readCredential(credentialId);
    if (cred.kind !== 'ssh') throw new InvalidInputError(`hpc compute environment ${ce.name} needs an ssh credential, not ${cred.kind}`);
    return loadPrivateKey(cred.secret.privateKey, cred.secret.passphrase);
  };
  return new HpcTarget(ce, config, loadKey);
}
