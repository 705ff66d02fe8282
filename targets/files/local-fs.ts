/** `RemoteFs` on this host, with node:fs. Failures are node's own errors (code and path). */
import { constants as C, type Stats } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { tmpName, type DirEntry, type FileKind, type FileStat, type RemoteFs } from './fs';

const codeOf = (err: unknown) => (err as NodeJS.ErrnoException)?.code;

function kindOf(st: Pick<Stats, 'isFile' | 'isDirectory' | 'isSymbolicLink'>): FileKind {
  return st.isSymbolicLink() ? 'link' : st.isDirectory() ? 'directory' : st.isFile() ? 'file' : 'other';
}

/** Run `fn`; a missing path (ENOENT) is `missing` instead of an error. */
async function unlessMissing<T>(fn: () => Promise<T>, missing: T): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (codeOf(err) === 'ENOENT') return missing;
    throw err;
  }
}

export class LocalFs implements RemoteFs {
  readonly where = null;

  lstat(p: string): Promise<FileStat | null> {
    return unlessMissing(async () => {
      const st = await fs.lstat(p);
      return { kind: kindOf(st), mode: st.mode, uid: st.uid, size: st.size };
    }, null);
  }

  async mkdir(p: string, mode: number): Promise<boolean> {
    try {
      await fs.mkdir(p, { mode });
      return true;
    } catch (err) {
      if (codeOf(err) === 'EEXIST') return false;
      throw err;
    }
  }

  chmod(p: string, mode: number): Promise<void> {
    return fs.chmod(p, mode);
  }

  async readdir(p: string): Promise<DirEntry[]> {
    const entries = await fs.readdir(p, { withFileTypes: true });
    return entries.map((e) => ({ name: e.name, kind: kindOf(e) }));
  }

  /**
   * Opened with O_NOFOLLOW (a link fails with ELOOP) and O_NONBLOCK (a FIFO planted under the name
   * cannot hang the open), then checked on the open descriptor.
   */
  async readSmall(p: string, max: number): Promise<string | null> {
    let handle;
    try {
      handle = await fs.open(p, C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK);
    } catch (err) {
      if (['ENOENT', 'ELOOP', 'ENOTDIR'].includes(codeOf(err) ?? '')) return null;
      throw err;
    }
    try {
      const st = await handle.stat();
      if (!st.isFile() || st.size > max) return null;
      return await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  }

  async writeAtomic(dir: string, name: string, data: Buffer): Promise<void> {
    const tmp = path.join(dir, tmpName(name));
    // O_EXCL: never an existing file, never through a link.
    const handle = await fs.open(tmp, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600);
    let renamed = false;
    try {
      try {
        await handle.chmod(0o600); // open's mode passes through the umask
        await handle.writeFile(data);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await this.rename(tmp, path.join(dir, name));
      renamed = true;
    } finally {
      if (!renamed) await this.unlink(tmp).catch(() => undefined);
    }
  }

  unlink(p: string): Promise<void> {
    return unlessMissing(() => fs.unlink(p), undefined);
  }

  rmdir(p: string): Promise<void> {
    return unlessMissing(() => fs.rmdir(p), undefined);
  }

  rename(from: string, to: string): Promise<void> {
    return fs.rename(from, to);
  }

  currentUid(): Promise<number> {
    if (!process.getuid) return Promise.reject(new Error('the local target needs a POSIX system (file owners and modes)'));
    return Promise.resolve(process.getuid());
  }

  learnUid(): void {}
}
