/**
 * A missing test peer stops `make test` naming the peer and the script that installs it: jest.config.js
 * checks every peer before any suite runs. Here it is loaded in a child process against an empty
 * tool cache, as on a machine where an install step failed.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

function loadConfig(env: Record<string, string>): { status: number | null; stderr: string; leftOut: string } {
  const r = spawnSync(process.execPath, ['-e', 'require("./jest.config.js"); process.stdout.write(process.env.BROKER_TEST_LEFT_OUT || "")'], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
  return { status: r.status, stderr: r.stderr, leftOut: r.stdout };
}

test('with every peer installed (this run), nothing is left out', () => {
  const r = loadConfig({});
  expect(r.status).toBe(0);
  expect(r.leftOut).toBe(process.env.BROKER_TEST_LEFT_OUT ?? '');
});

test('a missing peer fails the run, naming the peer, where it was looked for, and its install script', () => {
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'no-peers-'));
  try {
    const r = loadConfig({ SECRET_BROKER_CACHE: empty });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`test peer missing: Temporal CLI (dev server) (${path.join(empty, 'venv/bin/temporal')}); install it with scripts/install-tools.sh`);
  } finally {
    fs.rmSync(empty, { recursive: true, force: true });
  }
});

test('with only the Temporal tools and moto missing, moto is named after Temporal is found', () => {
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'some-peers-'));
  try {
    const real = process.env.SECRET_BROKER_CACHE ?? path.join(os.homedir(), '.cache', 'secret-broker');
    fs.mkdirSync(path.join(cache, 'venv/bin'), { recursive: true });
    for (const t of ['temporal', 'temporal-test-server']) fs.symlinkSync(path.join(real, 'venv/bin', t), path.join(cache, 'venv/bin', t));
    const r = loadConfig({ SECRET_BROKER_CACHE: cache });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('test peer missing: moto');
    expect(r.stderr).toContain('install it with scripts/test-deps.d/30-moto.sh');
  } finally {
    fs.rmSync(cache, { recursive: true, force: true });
  }
});
