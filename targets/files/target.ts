/**
 * The Nextflow secrets file as a secret target, once for every file system it can be written on:
 * `local` (this host, LocalFs) and `hpc` (a cluster's shared storage over SFTP, SftpFs). The layout
 * is in secrets-file.ts; what differs between the platforms comes in as SecretsFileTargetOptions.
 *
 * Push: the run directory is created with mkdir (0700, chmod'ed again past the umask) and must then
 * be a plain directory of exactly that mode; the ownership marker goes in before any secret; the
 * store is written under a temporary name, 0600, and renamed. A run directory that already exists
 * is adopted only when it is a plain directory of the current user carrying this run's marker, or
 * holding nothing but the broker's temporary files (an attempt that stopped before the marker).
 *
 * Delete: exactly the directories the refs recorded, named for this run, carrying this run's
 * marker; everything in them (links removed, never followed), the marker last, then the directory,
 * so an interrupted delete is recognised and finished by the next round.
 */
import * as path from 'node:path';
import type { MissingPermission, Platform, PushResult, RemoteRef } from '../../domain/run';
import { RUN_ID_PATTERN, RUN_ID_RULE } from '../../domain/rules';
import { InvalidInputError, NotOwnedError } from '../../domain/errors';
import type { DeleteOutcome, OwnedObject, PlainSecret, RunContext, SecretTarget, VerifyResult } from '../types';
import {
  DIR_MODE,
  FILE_MODE,
  MARKER_FILE,
  STORE_FILE,
  headJobEnv,
  modeProblem,
  nextflowFileValueProblem,
  parseMarker,
  renderMarker,
  renderStore,
  runDirName,
  type OwnerMarker,
} from './secrets-file';
import { TMP_NAME, type FileKind, type FileStat, type RemoteFs } from './fs';

const posix = path.posix;
const MAX_MARKER_BYTES = 4096;

const octal = (mode: number) => mode.toString(8).padStart(4, '0');

export interface SecretsFileTargetOptions {
  readonly platform: Extract<Platform, 'local' | 'hpc'>;
  /** The absolute directory that holds the run directories. */
  readonly workDir: string;
  /** Recorded in every ref: whose file system holds it (a host name, user@host). */
  readonly location: string;
  /** Who reads the store, as verify names it. */
  readonly principal: string;
  /** The account named in chown hints; the uid when unset. */
  readonly owner?: string;
  /**
   * true: a missing work directory is created (0700). false: it must exist, and a push without one
   * fails (a shared file system that is not mounted must not become a local directory).
   */
  readonly createWorkDir: boolean;
  /** How to set up a work directory that is missing or is not a directory, for the message. */
  readonly workDirHint: string;
  /**
   * When set, refs recorded at another location cannot be deleted from here: delete fails with this
   * error (retried, visible) instead of reporting them gone. Unset: the recorded path is looked for here.
   */
  readonly refusesElsewhere?: (run: RunContext, recordedAt: string) => Error;
  /** Open the file system for one call and release it afterwards, whatever happens. */
  withFs<T>(fn: (fs: RemoteFs) => Promise<T>): Promise<T>;
  /** Cut what withFs holds open. */
  close?(): Promise<void>;
}

export class SecretsFileTarget implements SecretTarget {
  readonly platform: Extract<Platform, 'local' | 'hpc'>;
  readonly workDir: string;
  private closed = false;

  constructor(private readonly opts: SecretsFileTargetOptions) {
    this.platform = opts.platform;
    this.workDir = opts.workDir;
  }

  runDir(runId: string): string {
    if (!RUN_ID_PATTERN.test(runId)) throw new InvalidInputError(`run id ${RUN_ID_RULE} (it names a directory)`);
    return posix.join(this.workDir, runDirName(runId));
  }

  plan(run: RunContext, names: string[]): RemoteRef[] {
    const dir = this.runDir(run.runId);
    return names.map((secretName) => ({ platform: this.platform, computeEnvId: run.computeEnv.id, secretName, remoteId: dir, location: this.opts.location }));
  }

  private withFs<T>(fn: (fs: RemoteFs) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error(`${this.platform} target is closed`));
    return this.opts.withFs(fn);
  }

  async push(run: RunContext, secrets: PlainSecret[], progress?: (done: number) => void): Promise<PushResult> {
    const dir = this.runDir(run.runId);
    // Every value is checked before anything is written: a refused launch leaves nothing behind.
    const unsafe = secrets.flatMap((s) => {
      const problem = nextflowFileValueProblem(s.value);
      return problem ? [`secret ${s.name} ${problem}`] : [];
    });
    if (unsafe.length) throw new InvalidInputError(unsafe.join('; '));
    const live = () => run.signal?.throwIfAborted(); // a cancelled attempt writes nothing more
    await this.withFs(async (fs) => {
      progress?.(0); // connected: a heartbeat before the writes
      await this.checkWorkDir(fs);
      live();
      const created = await fs.mkdir(dir, DIR_MODE);
      if (!created) await this.adopt(fs, dir, run);
      await fs.chmod(dir, DIR_MODE); // mkdir's mode passes through the umask
      const st = await fs.lstat(dir);
      if (!st || st.kind !== 'directory' || modeProblem(st.mode, DIR_MODE)) {
        throw new NotOwnedError(`${at(fs, dir)} could not be made a private (0700) directory; refusing to write secrets into it`);
      }
      if (created) fs.learnUid(st.uid);
      // The marker first: any directory that ever holds a secret carries the broker's mark, so a
      // retried or interrupted delete can always recognise it.
      if (!(await readMarker(fs, dir))) await fs.writeAtomic(dir, MARKER_FILE, Buffer.from(renderMarker(run)));
      live();
      await fs.writeAtomic(dir, STORE_FILE, Buffer.from(renderStore(secrets), 'utf8'));
    });
    progress?.(secrets.length);
    return { refs: this.plan(run, secrets.map((s) => s.name)), headJobEnv: headJobEnv(posix.join(dir, STORE_FILE)) };
  }

  /** The work directory is a real directory (created first where allowed) that other users cannot plant things in. */
  private async checkWorkDir(fs: RemoteFs): Promise<void> {
    const wd = this.workDir;
    if (this.opts.createWorkDir) await makeDirs(fs, wd);
    const st = await fs.lstat(wd);
    if (!st || st.kind !== 'directory') {
      throw new InvalidInputError(`workDir ${at(fs, wd)} does not exist (or is not a directory): ${this.opts.workDirHint}`);
    }
    const sticky = (st.mode & 0o1000) !== 0;
    if ((st.mode & 0o022) !== 0 && !sticky) {
      throw new InvalidInputError(`work directory ${at(fs, wd)} must be a directory that only its owner can write (mode is ${(st.mode & 0o7777).toString(8)})`);
    }
  }

  /**
   * A run directory already exists (a retried push, or someone else's). Carry on only if it is a
   * plain directory of the current user and either carries this run's marker or is a leftover of an
   * earlier attempt that stopped before writing the marker.
   */
  private async adopt(fs: RemoteFs, dir: string, run: RunContext): Promise<void> {
    const st = await fs.lstat(dir);
    const refuse = (why: string) => new NotOwnedError(`${at(fs, dir)} already exists and ${why}; the broker will not write secrets into a directory it does not own`);
    if (!st) return; // vanished between mkdir and lstat: the caller's chmod/lstat will tell
    if (st.kind !== 'directory') throw refuse('is not a plain directory');
    const uid = await fs.currentUid();
    if (st.uid !== uid) throw refuse(`belongs to uid ${st.uid}, not to ${this.opts.owner ?? "the broker's user"} (uid ${uid})`);
    const marker = await readMarker(fs, dir);
    if (marker) {
      if (!isFor(marker, run)) throw refuse('is marked for another run');
      return;
    }
    if (!(await isLeftover(fs, dir, st))) throw refuse('has no broker ownership marker');
  }

  async verify(run: RunContext, _refs: RemoteRef[]): Promise<VerifyResult> {
    const dir = this.runDir(run.runId);
    const { principal } = this.opts;
    return this.withFs(async (fs) => {
      const uid = await fs.currentUid();
      const owner = this.opts.owner ?? String(uid);
      const missing: MissingPermission[] = [];
      const check = async (p: string, want: number, kind: 'directory' | 'file') => {
        const resource = fs.where ? `${fs.where}:${p}` : p;
        const st = await fs.lstat(p);
        if (!st) {
          missing.push({ principal, permission: `${kind} exists`, resource, grant: 'push the run secrets again' });
          return;
        }
        if (st.kind !== kind) {
          missing.push({ principal, permission: `is a plain ${kind}`, resource, grant: `remove ${p}; it must not be a link` });
          return;
        }
        const problem = modeProblem(st.mode, want);
        if (problem) missing.push({ principal, permission: `mode ${octal(want)}`, resource, grant: `chmod ${want.toString(8)} ${p} (${problem})` });
        if (st.uid !== uid) missing.push({ principal, permission: `owner uid ${uid}`, resource, grant: `chown ${owner} ${p} (owner is uid ${st.uid})` });
      };
      await check(dir, DIR_MODE, 'directory');
      await check(posix.join(dir, STORE_FILE), FILE_MODE, 'file');
      return missing.length ? { ok: false as const, missing } : { ok: true as const };
    });
  }

  /**
   * Delete the run directories the refs recorded, even if the work directory setting changed since:
   * the name and the marker, not the current settings, say whether a directory is this run's.
   */
  async delete(run: RunContext, refs: RemoteRef[]): Promise<DeleteOutcome[]> {
    if (!refs.length) return [];
    const name = posix.basename(this.runDir(run.runId));
    const elsewhere = this.opts.refusesElsewhere && refs.find((r) => r.location !== undefined && r.location !== this.opts.location);
    if (elsewhere) throw this.opts.refusesElsewhere!(run, elsewhere.location!);
    const dirs = [...new Set(refs.map((r) => r.remoteId))];
    const outcomes = new Map<string, DeleteOutcome>();
    const ours = (d: string) => posix.isAbsolute(d) && posix.normalize(d) === d && (posix.basename(d) === name || isCreatingLeftover(posix.basename(d), name));
    for (const d of dirs) if (!ours(d)) outcomes.set(d, 'not-owned'); // never outside a directory named for this run
    const todo = dirs.filter(ours);
    if (todo.length) {
      await this.withFs(async (fs) => {
        for (const d of todo) outcomes.set(d, await deleteRunDir(fs, d, run));
      });
    }
    return refs.map((r) => outcomes.get(r.remoteId)!);
  }

  async listOwned(): Promise<OwnedObject[]> {
    const workDir = this.workDir;
    return this.withFs(async (fs) => {
      const wd = await fs.lstat(workDir);
      if (!wd || wd.kind !== 'directory') return [];
      const owned: OwnedObject[] = [];
      for (const e of await fs.readdir(workDir)) {
        if (!e.name.startsWith('tower-') || e.kind !== 'directory') continue;
        const dir = posix.join(workDir, e.name);
        const marker = await readMarker(fs, dir).catch(() => null);
        if (marker && RUN_ID_PATTERN.test(marker.runId) && (runDirName(marker.runId) === e.name || isCreatingLeftover(e.name, runDirName(marker.runId)))) {
          owned.push({ remoteId: dir, runId: marker.runId, workspaceId: marker.workspaceId });
        }
      }
      return owned.sort((a, b) => a.remoteId.localeCompare(b.remoteId));
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.opts.close?.();
  }
}

/**
 * `tower-<run>.creating-<12 hex>`: where earlier versions of the local target built a run directory
 * before renaming it into place. A crash in between left it behind (holding only the marker); the
 * sweep removes it like the run's own directory.
 */
function isCreatingLeftover(entry: string, runDir: string): boolean {
  return entry.startsWith(`${runDir}.creating-`) && /^[0-9a-f]{12}$/.test(entry.slice(runDir.length + '.creating-'.length));
}

/** `p` for a message: "p on host:port", or just p on this host. */
const at = (fs: RemoteFs, p: string) => (fs.where ? `${p} on ${fs.where}` : p);

const isFor = (marker: OwnerMarker, run: RunContext) => marker.runId === run.runId && marker.workspaceId === run.workspaceId;

async function readMarker(fs: RemoteFs, dir: string): Promise<OwnerMarker | null> {
  const text = await fs.readSmall(posix.join(dir, MARKER_FILE), MAX_MARKER_BYTES);
  return text === null ? null : parseMarker(text);
}

/**
 * A directory without a marker that the broker itself left: owned by the current user and holding
 * nothing but temporary files of writeAtomic (a push that stopped before its marker was in place,
 * or a delete that stopped after removing it).
 */
async function isLeftover(fs: RemoteFs, dir: string, st: FileStat): Promise<boolean> {
  if (st.kind !== 'directory' || st.uid !== (await fs.currentUid())) return false;
  return (await fs.readdir(dir)).every((e) => e.kind === 'file' && TMP_NAME.test(e.name));
}

async function deleteRunDir(fs: RemoteFs, dir: string, run: RunContext): Promise<DeleteOutcome> {
  const st = await fs.lstat(dir);
  if (!st) return 'not-found';
  if (st.kind !== 'directory') return 'not-owned'; // a link or a file under our name: never followed
  const marker = await readMarker(fs, dir);
  if (!marker) {
    if (!(await isLeftover(fs, dir, st))) return 'not-owned';
    for (const e of await fs.readdir(dir)) await fs.unlink(posix.join(dir, e.name));
    await fs.rmdir(dir);
    return 'deleted';
  }
  if (!isFor(marker, run)) return 'not-owned';
  await fs.chmod(dir, DIR_MODE);
  // Everything but the marker (store, .nf-<hash>.secrets files Nextflow adds, anything else),
  // then the marker, then the directory.
  for (const e of await fs.readdir(dir)) {
    if (e.name !== MARKER_FILE) await removeTree(fs, posix.join(dir, e.name), e.kind);
  }
  await fs.unlink(posix.join(dir, MARKER_FILE));
  await fs.rmdir(dir);
  return 'deleted';
}

async function removeTree(fs: RemoteFs, p: string, kind: FileKind): Promise<void> {
  if (kind === 'directory') {
    await fs.chmod(p, DIR_MODE).catch(() => undefined);
    for (const e of await fs.readdir(p)) await removeTree(fs, posix.join(p, e.name), e.kind);
    await fs.rmdir(p);
  } else {
    await fs.unlink(p); // files and links alike: a link is removed, never followed
  }
}

/** mkdir -p, each new directory 0700 (before the umask). */
async function makeDirs(fs: RemoteFs, dir: string): Promise<void> {
  if (await fs.lstat(dir)) return;
  const parent = posix.dirname(dir);
  if (parent !== dir) await makeDirs(fs, parent);
  await fs.mkdir(dir, DIR_MODE);
}
