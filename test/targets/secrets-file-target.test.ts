/**
 * The shared secrets-file target (targets/files/target.ts) on this host's files, through the `local`
 * target: the paths that were hpc's alone before local and hpc shared one algorithm (adopting what
 * an interrupted push left, the owner check, finishing an interrupted delete, run id rules) and the
 * ones neither suite reached (links and FIFOs in place of the marker, a closed target).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LocalTarget } from '../../targets/files/local';
import { LocalFs } from '../../targets/files/local-fs';
import type { RunContext } from '../../targets/types';

let root: string;
let workDir: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-files-'));
  workDir = path.join(root, 'runs');
  fs.mkdirSync(workDir, { mode: 0o700 });
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const isRoot = process.getuid?.() === 0;
const asRoot = isRoot ? test : test.skip;

const run = (runId: string, workspaceId = 'w1'): RunContext => ({
  runId,
  workspaceId,
  computeEnv: { id: 'ce1', workspaceId, name: 'laptop', platform: 'local', config: { workDir }, credentialId: null },
});
const mode = (p: string) => fs.lstatSync(p).mode & 0o7777;
const marker = (r: RunContext) => JSON.stringify({ broker: 'secret-broker', runId: r.runId, workspaceId: r.workspaceId });

describe('push', () => {
  test('adopts the empty directory an interrupted push left (no marker yet), making it 0700', async () => {
    const t = new LocalTarget(workDir);
    const r = run('adopt1');
    const dir = path.join(workDir, 'tower-adopt1');
    fs.mkdirSync(dir);
    fs.chmodSync(dir, 0o755);
    const { refs } = await t.push(r, [{ name: 'A', value: 'adopted' }]);
    expect(mode(dir)).toBe(0o700);
    expect(fs.readdirSync(dir).sort()).toEqual(['.secret-broker.json', 'store.json']);
    expect(JSON.parse(fs.readFileSync(path.join(dir, '.secret-broker.json'), 'utf8'))).toEqual(JSON.parse(marker(r)));
    await expect(t.verify(r, refs)).resolves.toEqual({ ok: true });
  });

  test("adopts a directory holding only the broker's temporary file of an interrupted marker write", async () => {
    const t = new LocalTarget(workDir);
    const r = run('adopt2');
    const dir = path.join(workDir, 'tower-adopt2');
    fs.mkdirSync(dir, { mode: 0o700 });
    fs.writeFileSync(path.join(dir, '.secret-broker.json.0123456789ab.tmp'), '', { mode: 0o600 });
    await t.push(r, [{ name: 'A', value: 'v' }]);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'store.json'), 'utf8'))).toEqual([{ name: 'A', value: 'v' }]);
  });

  test('refuses a directory marked for the same run id in another workspace, and leaves it alone', async () => {
    const t = new LocalTarget(workDir);
    const dir = path.join(workDir, 'tower-shared1');
    fs.mkdirSync(dir, { mode: 0o700 });
    fs.writeFileSync(path.join(dir, '.secret-broker.json'), marker(run('shared1', 'w2')));
    const err = (await t.push(run('shared1', 'w1'), [{ name: 'A', value: 'must-not-land' }]).catch((e: unknown) => e)) as Error;
    expect(err.name).toBe('NotOwnedError');
    expect(err.message).toContain(dir);
    expect(err.message).toContain('marked for another run');
    expect(fs.readdirSync(dir)).toEqual(['.secret-broker.json']);
    expect(await t.delete(run('shared1', 'w1'), t.plan(run('shared1', 'w1'), ['A']))).toEqual(['not-owned']);
    expect(fs.existsSync(dir)).toBe(true);
  });

  asRoot("refuses a run directory that belongs to another user, even an empty one, and never deletes it", async () => {
    const t = new LocalTarget(workDir);
    const r = run('theirs1');
    const dir = path.join(workDir, 'tower-theirs1');
    fs.mkdirSync(dir, { mode: 0o700 });
    fs.chownSync(dir, 65534, 65534);
    const err = (await t.push(r, [{ name: 'A', value: 'must-not-land' }]).catch((e: unknown) => e)) as Error;
    expect([err.name, err.message]).toEqual(['NotOwnedError', expect.stringContaining('belongs to uid 65534')]);
    expect(fs.readdirSync(dir)).toEqual([]);
    expect(await t.delete(r, t.plan(r, ['A']))).toEqual(['not-owned']);
    expect(fs.lstatSync(dir).uid).toBe(65534);
  });

  test('refuses a run id that is not a safe directory name, before touching anything', async () => {
    const t = new LocalTarget(workDir);
    for (const bad of ['../escape', 'a/b', '', '.hidden']) {
      await expect(t.push(run(bad), [{ name: 'A', value: 'v' }])).rejects.toMatchObject({ name: 'InvalidInputError' });
    }
    expect(fs.readdirSync(root)).toEqual(['runs']);
    expect(fs.readdirSync(workDir)).toEqual([]);
  });

  test('a work directory that is a link is refused', async () => {
    const linked = path.join(root, 'linked');
    fs.symlinkSync(workDir, linked);
    const t = new LocalTarget(linked);
    await expect(t.push(run('link1'), [{ name: 'A', value: 'v' }])).rejects.toMatchObject({ name: 'InvalidInputError' });
    expect(fs.readdirSync(workDir)).toEqual([]);
  });

  test('a closed target refuses further calls', async () => {
    const t = new LocalTarget(workDir);
    await t.close();
    await expect(t.push(run('closed1'), [{ name: 'A', value: 'v' }])).rejects.toThrow('local target is closed');
    expect(fs.readdirSync(workDir)).toEqual([]);
  });
});

describe('delete', () => {
  test('finishes an interrupted delete: an empty directory of ours under the run name', async () => {
    const t = new LocalTarget(workDir);
    const r = run('half1');
    const dir = path.join(workDir, 'tower-half1');
    fs.mkdirSync(dir, { mode: 0o700 });
    expect(await t.delete(r, t.plan(r, ['A']))).toEqual(['deleted']);
    expect(fs.existsSync(dir)).toBe(false);
  });

  test('removes subdirectories and links inside the run directory without following the links', async () => {
    const t = new LocalTarget(workDir);
    const r = run('tree1');
    const { refs } = await t.push(r, [{ name: 'A', value: 'v' }]);
    const dir = path.join(workDir, 'tower-tree1');
    const outside = path.join(root, 'outside');
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'keep'), 'x');
    fs.writeFileSync(path.join(dir, '.nf-0123abcd.secrets'), 'export A="v"\n', { mode: 0o600 });
    fs.mkdirSync(path.join(dir, 'sub'));
    fs.writeFileSync(path.join(dir, 'sub', 'x'), 'y');
    fs.chmodSync(path.join(dir, 'sub'), 0o500);
    fs.symlinkSync(outside, path.join(dir, 'link'));
    expect(await t.delete(r, refs)).toEqual(['deleted']);
    expect(fs.existsSync(dir)).toBe(false);
    expect(fs.readdirSync(outside)).toEqual(['keep']);
  });

  test('a marker that is a link or a FIFO is not a marker (and does not hang the read)', async () => {
    const t = new LocalTarget(workDir);
    const elsewhere = path.join(root, 'elsewhere');
    fs.mkdirSync(elsewhere);
    const linked = run('lm1');
    fs.writeFileSync(path.join(elsewhere, '.secret-broker.json'), marker(linked));
    fs.mkdirSync(path.join(workDir, 'tower-lm1'), { mode: 0o700 });
    fs.symlinkSync(path.join(elsewhere, '.secret-broker.json'), path.join(workDir, 'tower-lm1', '.secret-broker.json'));
    const fifo = run('fifo1');
    fs.mkdirSync(path.join(workDir, 'tower-fifo1'), { mode: 0o700 });
    await new Promise<void>((resolve, reject) =>
      spawn('mkfifo', [path.join(workDir, 'tower-fifo1', '.secret-broker.json')]).on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`mkfifo ${code}`)))),
    );
    expect(await t.delete(linked, t.plan(linked, ['A']))).toEqual(['not-owned']);
    expect(await t.delete(fifo, t.plan(fifo, ['A']))).toEqual(['not-owned']);
    await expect(t.push(linked, [{ name: 'A', value: 'v' }])).rejects.toMatchObject({ name: 'NotOwnedError' });
    expect(fs.readdirSync(path.join(workDir, 'tower-lm1'))).toEqual(['.secret-broker.json']);
    expect(await t.listOwned()).toEqual([]);
  });

  test('refs recorded on another host are looked for here (a local work directory has no other way in)', async () => {
    const t = new LocalTarget(workDir);
    const r = run('moved1');
    const { refs } = await t.push(r, [{ name: 'A', value: 'v' }]);
    expect(await t.delete(r, refs.map((x) => ({ ...x, location: 'another-host' })))).toEqual(['deleted']);
  });
});

describe('listOwned', () => {
  test('lists marked directories in order and skips links to them', async () => {
    const t = new LocalTarget(workDir);
    await t.push(run('b2'), [{ name: 'A', value: 'v' }]);
    await t.push(run('a1'), [{ name: 'A', value: 'v' }]);
    fs.symlinkSync(path.join(workDir, 'tower-a1'), path.join(workDir, 'tower-c3'));
    expect(await t.listOwned()).toEqual([
      { remoteId: path.join(workDir, 'tower-a1'), runId: 'a1', workspaceId: 'w1' },
      { remoteId: path.join(workDir, 'tower-b2'), runId: 'b2', workspaceId: 'w1' },
    ]);
  });
});

test('a .creating- directory an earlier version left behind (marker only) is listed as its run\'s and deleted; a foreign one is not', async () => {
  const t = new LocalTarget(workDir);
  const r = run('crashed1');
  const left = path.join(workDir, 'tower-crashed1.creating-0123456789ab');
  fs.mkdirSync(left, { mode: 0o700 });
  fs.writeFileSync(path.join(left, '.secret-broker.json'), marker(r), { mode: 0o600 });
  const foreign = path.join(workDir, 'tower-crashed1.creating-zzzz');
  fs.mkdirSync(foreign, { mode: 0o700 });
  fs.writeFileSync(path.join(foreign, '.secret-broker.json'), marker(r), { mode: 0o600 });
  expect(await t.listOwned()).toEqual([{ remoteId: left, runId: 'crashed1', workspaceId: 'w1' }]);
  const ref = { platform: 'local' as const, computeEnvId: 'ce1', secretName: '(sweep)', remoteId: left };
  expect(await t.delete(r, [ref, { ...ref, remoteId: foreign }])).toEqual(['deleted', 'not-owned']);
  expect(fs.existsSync(left)).toBe(false);
  expect(fs.existsSync(foreign)).toBe(true);
});

describe('LocalFs', () => {
  test('writeAtomic leaves exactly one 0600 file, whatever the umask, and replaces an old one', async () => {
    const lfs = new LocalFs();
    const old = process.umask(0o277);
    try {
      await lfs.writeAtomic(workDir, 'f', Buffer.from('one'));
      await lfs.writeAtomic(workDir, 'f', Buffer.from('two'));
    } finally {
      process.umask(old);
    }
    expect(fs.readdirSync(workDir)).toEqual(['f']);
    expect(mode(path.join(workDir, 'f'))).toBe(0o600);
    expect(fs.readFileSync(path.join(workDir, 'f'), 'utf8')).toBe('two');
  });

  test('lstat, unlink and rmdir treat a missing path as nothing there', async () => {
    const lfs = new LocalFs();
    const missing = path.join(workDir, 'missing');
    await expect(lfs.lstat(missing)).resolves.toBeNull();
    await expect(lfs.unlink(missing)).resolves.toBeUndefined();
    await expect(lfs.rmdir(missing)).resolves.toBeUndefined();
    await expect(lfs.readSmall(missing, 10)).resolves.toBeNull();
  });
});
