/**
 * `local`: the Nextflow secrets file on this host, the embedded default. The head job runs as the
 * broker's own user, so the owner check is this process's uid.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import type { MissingPermission, PushResult, RemoteRef } from '../../workflows/shared';
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
} from '../nextflow-secrets-file';
import type { ComputeEnvRecord, DeleteOutcome, OwnedObject, PlainSecret, RunContext, SecretTarget, TargetDeps, VerifyResult } from '../types';
import type { LocalConfig } from './config';

export class NotOwnedError extends Error {
  override readonly name = 'NotOwnedError';
}

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

  async push(run: RunContext, secrets: PlainSecret[]): Promise<PushResult> {
    const dir = this.runDir(run.runId);
    await fs.mkdir(this.workDir, { recursive: true, mode: DIR_MODE });
    try {
      await fs.mkdir(dir, { mode: DIR_MODE });
      await fs.writeFile(path.join(dir, MARKER_FILE), renderMarker(run), { mode: FILE_MODE, flag: 'wx' });
    } catch (err) {
      if (!isCode(err, 'EEXIST')) throw err;
      await this.assertOwned(dir, run.runId); // a retried push: ours, carry on; anything else: refuse
    }
    await fs.chmod(dir, DIR_MODE); // mkdir's mode is filtered by the umask
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
    const storePath = path.join(dir, STORE_FILE);
    return { refs: this.plan(run, secrets.map((s) => s.name)), headJobEnv: headJobEnv(storePath) };
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

  private async deleteDir(dir: string, runId: string): Promise<DeleteOutcome> {
    if (path.dirname(dir) !== this.workDir || path.basename(dir) !== runDirName(runId)) return 'not-owned';
    try {
      await fs.lstat(dir);
    } catch (err) {
      if (isCode(err, 'ENOENT')) return 'not-found';
      throw err;
    }
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

  private async readMarker(dir: string) {
    try {
      return parseMarker(await fs.readFile(path.join(dir, MARKER_FILE), 'utf8'));
    } catch {
      return null;
    }
  }

  private async assertOwned(dir: string, runId: string): Promise<void> {
    const marker = await this.readMarker(dir);
    if (!marker || marker.runId !== runId) {
      throw new NotOwnedError(`${dir} exists and was not created by the broker for run ${runId}; refusing to write into it`);
    }
  }
}

export function createLocalTarget(ce: ComputeEnvRecord, deps: TargetDeps): LocalTarget {
  const config = ce.config as LocalConfig;
  return new LocalTarget(path.resolve(config.workDir ?? deps.localWorkDir));
}
