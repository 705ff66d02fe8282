/**
 * `local`: the Nextflow secrets file on this host, the embedded default. The head job runs as the
 * broker's own user, so the owner check is this process's uid.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
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
} from './secrets-file';
import type { DeleteOutcome, OwnedObject, PlainSecret, RunContext, SecretTarget, TargetDeps, VerifyResult } from '../types';
import type { LocalConfig } from '../../platforms/local';
import { InvalidInputError, NotOwnedError } from '../../domain/errors';
import { type ComputeEnvRecord } from '../../domain/run';

const isCode = (err: unknown, code: string) => (err as NodeJS.ErrnoException)?.code === code;

export class LocalTarget implements SecretTarget {
  readonly platform = 'local' as const;

  constructor(readonly workDir: string) {}

  runDir(runId: string): string {
    return path.join(this.workDir, runDirName(runId));
  }

  plan(run: RunContext, names: string[]): RemoteRef[] {
    const dir = this.runDir(run.runId);
    return names.map((secretName) => ({ platform: 'local', computeEnvId: run.computeEnv.id, secretName, remoteId: dir, location: os.hostname() }));
  }

  async push(run: RunContext, secrets: PlainSecret[], progress?: (done: number) => void): Promise<PushResult> {
    const dir = this.runDir(run.runId);
    await this.checkWorkDir();
    await this.createRunDir(dir, run);
    // Atomic: the value is only ever in a 0600 file, first under a temporary name, then renamed.
    const tmp = path.join(dir, `.${STORE_FILE}.${randomBytes(6).toString('hex')}.tmp`);
    const handle = await fs.open(tmp, 'wx', FILE_MODE);
    try {
      await handle.writeFile(renderStore(secrets));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, path.join(dir, STORE_FILE));
    progress?.(secrets.length);
    const storePath = path.join(dir, STORE_FILE);
    return { refs: this.plan(run, secrets.map((s) => s.name)), headJobEnv: headJobEnv(storePath) };
  }

  /** The work directory exists, is a real directory, and other users cannot plant things in it. */
  private async checkWorkDir(): Promise<void> {
    await fs.mkdir(this.workDir, { recursive: true, mode: DIR_MODE });
    const st = await fs.lstat(this.workDir);
    const sticky = (st.mode & 0o1000) !== 0;
    if (!st.isDirectory() || ((st.mode & 0o022) !== 0 && !sticky)) {
      throw new InvalidInputError(`work directory ${this.workDir} must be a directory that only its owner can write (mode is ${(st.mode & 0o7777).toString(8)})`);
    }
  }

  /**
   * Create the run directory with its ownership marker in one step: build it under a temporary name,
   * then rename. A crash leaves either nothing or a complete, marked directory; a retry adopts ours
   * and refuses anything else (a link, another owner, another run's marker).
   */
  private async createRunDir(dir: string, run: RunContext): Promise<void> {
    const tmp = `${dir}.creating-${randomBytes(6).toString('hex')}`;
    await fs.mkdir(tmp, { mode: DIR_MODE });
    try {
      await fs.chmod(tmp, DIR_MODE); // mkdir's mode is filtered by the umask
      await fs.writeFile(path.join(tmp, MARKER_FILE), renderMarker(run), { mode: FILE_MODE, flag: 'wx' });
      await fs.rename(tmp, dir);
    } catch (err) {
      await fs.rm(tmp, { recursive: true, force: true });
      if (!['EEXIST', 'ENOTEMPTY', 'ENOTDIR'].some((c) => isCode(err, c))) throw err;
      await this.assertOwned(dir, run.runId); // a retried push: ours, carry on; anything else: refuse
    }
  }

  async verify(run: RunContext, _refs: RemoteRef[]): Promise<VerifyResult> {
    const dir = this.runDir(run.runId);
    const uid = process.getuid?.() ?? -1;
    const missing: MissingPermission[] = [];
    const check = async (p: string, want: number, kind: 'directory' | 'file') => {
      let st;
      try {
        st = await fs.lstat(p);
      } catch (err) {
        if (!isCode(err, 'ENOENT')) throw err;
        missing.push({ principal: 'head job', permission: `${kind} exists`, resource: p, grant: 'push the run secrets again' });
        return;
      }
      if (kind === 'directory' ? !st.isDirectory() : !st.isFile()) {
        missing.push({ principal: 'head job', permission: `is a plain ${kind}`, resource: p, grant: `remove ${p}; it must not be a link` });
        return;
      }
      const problem = modeProblem(st.mode, want);
      if (problem) missing.push({ principal: 'head job', permission: `mode ${want.toString(8).padStart(4, '0')}`, resource: p, grant: `chmod ${want.toString(8)} ${p} (${problem})` });
      if (uid >= 0 && st.uid !== uid) missing.push({ principal: 'head job', permission: `owner uid ${uid}`, resource: p, grant: `chown ${uid} ${p} (owner is uid ${st.uid})` });
    };
    await check(dir, DIR_MODE, 'directory');
    await check(path.join(dir, STORE_FILE), FILE_MODE, 'file');
    return missing.length ? { ok: false, missing } : { ok: true };
  }

  async delete(run: RunContext, refs: RemoteRef[]): Promise<DeleteOutcome[]> {
    const byDir = new Map<string, DeleteOutcome>();
    for (const dir of new Set(refs.map((r) => r.remoteId))) {
      byDir.set(dir, await this.deleteDir(dir, run.runId));
    }
    return refs.map((r) => byDir.get(r.remoteId)!);
  }

  /**
   * Delete the directory the ref recorded, even if the compute environment's workDir changed since:
   * the name and the marker, not the current settings, say whether it is this run's.
   */
  private async deleteDir(dir: string, runId: string): Promise<DeleteOutcome> {
    if (!path.isAbsolute(dir) || path.basename(dir) !== runDirName(runId)) return 'not-owned';
    let st;
    try {
      st = await fs.lstat(dir);
    } catch (err) {
      if (isCode(err, 'ENOENT')) return 'not-found';
      throw err;
    }
    if (!st.isDirectory()) return 'not-owned'; // a link or a file under our name: never followed
    const marker = await this.readMarker(dir);
    if (!marker || marker.runId !== runId) return 'not-owned';
    await fs.rm(dir, { recursive: true, force: true });
    return 'deleted';
  }

  async listOwned(): Promise<OwnedObject[]> {
    let entries: string[];
    try {
      entries = await fs.readdir(this.workDir);
    } catch (err) {
      if (isCode(err, 'ENOENT')) return [];
      throw err;
    }
    const owned: OwnedObject[] = [];
    for (const name of entries.filter((e) => e.startsWith('tower-'))) {
      const dir = path.join(this.workDir, name);
      const marker = await this.readMarker(dir);
      if (marker && runDirName(marker.runId) === name) owned.push({ remoteId: dir, runId: marker.runId, workspaceId: marker.workspaceId });
    }
    return owned;
  }

  async close(): Promise<void> {}

  /** The marker, read without following links; null when absent or not the broker's. */
  private async readMarker(dir: string) {
    let handle;
    try {
      handle = await fs.open(path.join(dir, MARKER_FILE), fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
      return parseMarker(await handle.readFile('utf8'));
    } catch {
      return null;
    } finally {
      await handle?.close();
    }
  }

  private async assertOwned(dir: string, runId: string): Promise<void> {
    const st = await fs.lstat(dir);
    const uid = process.getuid?.();
    const marker = st.isDirectory() && (uid === undefined || st.uid === uid) ? await this.readMarker(dir) : null;
    if (!marker || marker.runId !== runId) {
      throw new NotOwnedError(`${dir} exists and was not created by the broker for run ${runId}; refusing to write into it`);
    }
  }
}

export function createLocalTarget(ce: ComputeEnvRecord, deps: TargetDeps): LocalTarget {
  const config = ce.config as LocalConfig;
  return new LocalTarget(path.resolve(config.workDir ?? deps.localWorkDir));
}
