/**
 * The tests, the broker and the CLI run on Node 24 (engines.node), with ssh2's native crypto binding
 * and cpu-features built for that Node: ssh2 silently falls back to pure JS when they do not load,
 * which is what happens when npm builds them against another Node's headers (~/.npmrc nodedir=/usr).
 */
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { CACHE_DIR } from '../harness/tools';

const ROOT = path.resolve(__dirname, '../..');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string; engines: { node: string } };
const PIN = fs.readFileSync(path.join(ROOT, '.node-version'), 'utf8').trim();
const major = (v: string) => Number(v.replace(/^v/, '').split('.')[0]);

test('this Node satisfies engines.node (>= 24), and the pin is a Node 24', () => {
  expect(pkg.engines.node).toBe('>=24');
  expect(major(process.version)).toBeGreaterThanOrEqual(24);
  expect(PIN).toMatch(/^24\.\d+\.\d+$/);
});

test("ssh2 loads its native crypto binding and cpu-features in this Node (not ssh2's pure-JS fallback)", () => {
  const crypto = require('ssh2/lib/protocol/crypto.js') as { bindingAvailable: boolean };
  expect(crypto.bindingAvailable).toBe(true);
  const cpu = (createRequire(require.resolve('ssh2'))('cpu-features') as () => { arch: string })();
  expect(typeof cpu.arch).toBe('string');
});

test('scripts/check-native.js, which the install runs, agrees', () => {
  const out = execFileSync(process.execPath, ['scripts/check-native.js'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  expect(out).toBe('');
});

/** A node older than 24 on PATH (the system Node 20 on the machines this project runs on), if any. */
function olderNode(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const p = path.join(dir, 'node');
    if (!dir || !fs.existsSync(p)) continue;
    try {
      if (major(execFileSync(p, ['--version'], { encoding: 'utf8' }).trim()) < 24) return p;
    } catch {
      // not runnable: look further
    }
  }
  return undefined;
}

function run(node: string, env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(node, [path.join(ROOT, 'bin/secret-broker'), '--version'], { env: { ...process.env, ...env }, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

describe('bin/secret-broker (needs lib/: make test builds it first)', () => {
  const built = fs.existsSync(path.join(ROOT, 'lib/cli/main.js'));
  const older = olderNode();
  const cached = path.join(CACHE_DIR, `node-v${PIN}`, 'bin', 'node');

  (built ? test : test.skip)('runs under this Node', async () => {
    await expect(run(process.execPath, {})).resolves.toEqual({ code: 0, stdout: `${pkg.version}\n`, stderr: '' });
  });

  (built && older && fs.existsSync(cached) ? test : test.skip)('started by an older node, it runs itself with the cached Node 24', async () => {
    await expect(run(older!, { SECRET_BROKER_CACHE: CACHE_DIR })).resolves.toEqual({ code: 0, stdout: `${pkg.version}\n`, stderr: '' });
    // Without the cached Node it refuses, saying how to get it, rather than run on the old one.
    const r = await run(older!, { SECRET_BROKER_CACHE: path.join(ROOT, 'no-such-cache') });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`secret-broker needs Node 24 or newer; this is v`);
    expect(r.stderr).toContain(`installs Node ${PIN}`);
  });
});
