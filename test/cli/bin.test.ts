/**
 * bin/secret-broker as a shell runs it: a reader that closes the pipe early gets no stack trace,
 * and a checkout that was never built says to run `make start` first.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'secret-broker');
const built = fs.existsSync(path.join(ROOT, 'lib', 'cli', 'main.js'));

(built ? test : test.skip)('stdout closed before the help is written: exit 141 as with SIGPIPE, nothing on stderr', async () => {
  const child = spawn(process.execPath, [BIN, '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
  // The reader is gone before the CLI writes anything.
  child.stdout.destroy();
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  expect({ code, stderr }).toEqual({ code: 141, stderr: '' });
});

test('a checkout that was never built: one line saying to run make start first', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-unbuilt-'));
  try {
    fs.mkdirSync(path.join(dir, 'bin'));
    fs.copyFileSync(BIN, path.join(dir, 'bin', 'secret-broker'));
    const r = spawnSync(process.execPath, [path.join(dir, 'bin', 'secret-broker'), 'workspaces', 'list'], { cwd: dir, encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('secret-broker is not built yet (lib/cli/main.js is missing): run `make start` first (it builds the CLI and starts the broker), or `make build` to build only.\n');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
