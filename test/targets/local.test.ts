/** The `local` target on real files: layout, idempotence, ownership, links. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LocalTarget } from '../../targets/files/local';
import type { RunContext } from '../../targets/types';

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-local-'));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const run = (runId: string, workDir: string): RunContext => ({
  runId,
  workspaceId: 'w1',
  computeEnv: { id: 'ce1', workspaceId: 'w1', name: 'laptop', platform: 'local', config: { workDir }, credentialId: null },
});

test('push writes the Nextflow store 0600 in a 0700 directory; a retried push replaces it and leaves no temp files', async () => {
  const workDir = path.join(root, 'runs');
  const t = new LocalTarget(workDir);
  const r = run('r1', workDir);
  await t.push(r, [{ name: 'A', value: 'first' }]);
  const res = await t.push(r, [{ name: 'A', value: 'second' }]);
  const dir = path.join(workDir, 'tower-r1');
  expect(res.headJobEnv).toEqual({ NXF_SECRETS_FILE: path.join(dir, 'store.json'), NXF_ENABLE_SECRETS: 'true' });
  expect(JSON.parse(fs.readFileSync(path.join(dir, 'store.json'), 'utf8'))).toEqual([{ name: 'A', value: 'second' }]);
  expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
  expect(fs.statSync(path.join(dir, 'store.json')).mode & 0o777).toBe(0o600);
  expect(fs.readdirSync(dir).sort()).toEqual(['.secret-broker.json', 'store.json']);
  expect(fs.readdirSync(workDir)).toEqual(['tower-r1']);
  expect(await t.verify(r, [])).toEqual({ ok: true });
});

test('verify names a store file whose mode was loosened', async () => {
  const workDir = path.join(root, 'runs');
  const t = new LocalTarget(workDir);
  const r = run('r2', workDir);
  await t.push(r, [{ name: 'A', value: 'v' }]);
  fs.chmodSync(path.join(workDir, 'tower-r2', 'store.json'), 0o644);
  const result = await t.verify(r, []);
  expect(result.ok).toBe(false);
  expect(JSON.stringify(result)).toContain('mode 0600');
});

test('a directory under the run name that the broker did not create is refused and never deleted', async () => {
  const workDir = path.join(root, 'runs');
  fs.mkdirSync(path.join(workDir, 'tower-r3'), { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(workDir, 'tower-r3', 'data'), 'theirs');
  const t = new LocalTarget(workDir);
  const r = run('r3', workDir);
  await expect(t.push(r, [{ name: 'A', value: 'v' }])).rejects.toMatchObject({ name: 'NotOwnedError' });
  const ref = t.plan(r, ['A']);
  expect(await t.delete(r, ref)).toEqual(['not-owned']);
  expect(fs.readFileSync(path.join(workDir, 'tower-r3', 'data'), 'utf8')).toBe('theirs');
});

test('a link under the run name is never followed, by push or by delete', async () => {
  const workDir = path.join(root, 'runs');
  const elsewhere = path.join(root, 'elsewhere');
  fs.mkdirSync(workDir, { mode: 0o700 });
  fs.mkdirSync(elsewhere);
  fs.writeFileSync(path.join(elsewhere, 'keep'), 'x');
  fs.symlinkSync(elsewhere, path.join(workDir, 'tower-r4'));
  const t = new LocalTarget(workDir);
  const r = run('r4', workDir);
  await expect(t.push(r, [{ name: 'A', value: 'v' }])).rejects.toMatchObject({ name: 'NotOwnedError' });
  expect(await t.delete(r, t.plan(r, ['A']))).toEqual(['not-owned']);
  expect(fs.readdirSync(elsewhere)).toEqual(['keep']);
});

test('delete removes the directory the ref recorded even after the workDir setting changed', async () => {
  const oldDir = path.join(root, 'old');
  const t = new LocalTarget(oldDir);
  const r = run('r5', oldDir);
  await t.push(r, [{ name: 'A', value: 'v' }]);
  const refs = t.plan(r, ['A']);
  const moved = new LocalTarget(path.join(root, 'new'));
  expect(await moved.delete(r, refs)).toEqual(['deleted']);
  expect(fs.existsSync(path.join(oldDir, 'tower-r5'))).toBe(false);
  expect(await moved.delete(r, refs)).toEqual(['not-found']);
});

test('a work directory other users can write is refused', async () => {
  const workDir = path.join(root, 'shared');
  fs.mkdirSync(workDir);
  fs.chmodSync(workDir, 0o777);
  const t = new LocalTarget(workDir);
  await expect(t.push(run('r6', workDir), [{ name: 'A', value: 'v' }])).rejects.toMatchObject({ name: 'InvalidInputError' });
  expect(fs.readdirSync(workDir)).toEqual([]);
});

test('listOwned finds only marked run directories', async () => {
  const workDir = path.join(root, 'runs');
  const t = new LocalTarget(workDir);
  await t.push(run('r7', workDir), [{ name: 'A', value: 'v' }]);
  fs.mkdirSync(path.join(workDir, 'tower-foreign'));
  expect(await t.listOwned()).toEqual([{ remoteId: path.join(workDir, 'tower-r7'), runId: 'r7', workspaceId: 'w1' }]);
});
