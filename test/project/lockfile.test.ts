/**
 * package-lock.json is the one lock that `npm ci` and `npm install` both accept as it is: the install
 * scripts run `npm ci`, the image runs `npm ci` then `npm prune --omit=dev`, and neither
 * `make start` nor `make test` may rewrite the lock in a fresh clone.
 *
 * The lock once lacked every other platform's optional binaries (@swc/core-darwin-*, ...): npm ci
 * refused it ("Missing: ... from lock file") and the first `npm install` of a clone added them.
 * Every npm call here is offline with an empty cache: the lock alone must answer, nothing downloads.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
const pkg = readJson(path.join(ROOT, 'package.json')) as PackageJson;
const lock = readJson(path.join(ROOT, 'package-lock.json')) as Lock;

interface PackageJson {
  name: string;
  version: string;
  engines?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}
interface LockEntry extends PackageJson {
  dev?: boolean;
  optional?: boolean;
  peer?: boolean;
}
interface Lock {
  name: string;
  version: string;
  lockfileVersion: number;
  packages: Record<string, LockEntry>;
}

function readJson(file: string): unknown {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

/** Node's resolution over the lock's flat map: node_modules/a/node_modules/b, then up to the root. */
function resolveInLock(from: string, name: string): string | undefined {
  for (let dir = from; ; ) {
    const key = `${dir ? `${dir}/` : ''}node_modules/${name}`;
    if (lock.packages[key]) return key;
    if (!dir) return undefined;
    const i = dir.lastIndexOf('/node_modules/');
    dir = i < 0 ? '' : dir.slice(0, i);
  }
}

interface Run {
  code: number;
  out: string;
}

function npm(cwd: string, args: string[]): Promise<Run> {
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-npm-cache-'));
  const env = { ...process.env, npm_config_update_notifier: 'false' };
  return new Promise((resolve) => {
    execFile(
      'npm',
      [...args, '--offline', `--cache=${cache}`, '--ignore-scripts', '--no-audit', '--no-fund'],
      { cwd, env, timeout: 120_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        fs.rmSync(cache, { recursive: true, force: true });
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, out: `${stdout}${stderr}` });
      },
    );
  });
}

/** A directory holding only `files` copied from the repo (what a Dockerfile COPY or a clone brings). */
function copyOf(files: string[]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-lock-'));
  for (const f of files) if (fs.existsSync(path.join(ROOT, f))) fs.copyFileSync(path.join(ROOT, f), path.join(dir, f));
  return dir;
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('package-lock.json against package.json', () => {
  test('the root entry is package.json: name, version, engines, every dependency with the same exact pin', () => {
    expect(lock.lockfileVersion).toBe(3);
    const root = lock.packages[''];
    expect(root.name).toBe(pkg.name);
    expect(root.version).toBe(pkg.version);
    expect(root.engines).toEqual(pkg.engines);
    expect(root.dependencies ?? {}).toEqual(pkg.dependencies ?? {});
    expect(root.devDependencies ?? {}).toEqual(pkg.devDependencies ?? {});
    expect(root.optionalDependencies ?? {}).toEqual(pkg.optionalDependencies ?? {});
  });

  test('every dependency is pinned exactly and locked at that version', () => {
    const wrong: string[] = [];
    for (const [section, deps] of [['dependencies', pkg.dependencies], ['devDependencies', pkg.devDependencies]] as const) {
      for (const [name, spec] of Object.entries(deps ?? {})) {
        if (!/^\d+\.\d+\.\d+$/.test(spec)) wrong.push(`${section}.${name}: "${spec}" is not an exact version`);
        const entry = lock.packages[`node_modules/${name}`];
        if (entry?.version !== spec) wrong.push(`${section}.${name}: ${spec} in package.json, ${entry?.version ?? 'absent'} in the lock`);
        if (section === 'dependencies' && entry?.dev) wrong.push(`${name}: a dependency, but the lock marks it dev-only`);
      }
    }
    expect(wrong).toEqual([]);
  });

  test("every locked package's dependencies resolve inside the lock, other platforms' optional binaries included", () => {
    const missing: string[] = [];
    for (const [key, entry] of Object.entries(lock.packages)) {
      if (key === '' || entry.peer) continue;
      for (const name of [...Object.keys(entry.dependencies ?? {}), ...Object.keys(entry.optionalDependencies ?? {})]) {
        if (!resolveInLock(key, name)) missing.push(`${name} (wanted by ${key})`);
      }
    }
    // The ones that went missing before were optional platform packages: name them if they do again.
    const swc = lock.packages['node_modules/@swc/core'];
    if (swc) {
      for (const name of Object.keys(swc.optionalDependencies ?? {})) expect(lock.packages[`node_modules/${name}`]?.optional).toBe(true);
    }
    expect(missing).toEqual([]);
  });
});

describe('npm accepts the lock as it is (offline, empty cache: the lock alone answers)', () => {
  test('npm ci --dry-run in a clean copy of package.json + package-lock.json + .npmrc', async () => {
    const dir = copyOf(['package.json', 'package-lock.json', '.npmrc']);
    dirs.push(dir);
    const r = await npm(dir, ['ci', '--dry-run']);
    expect({ code: r.code, refused: r.out.match(/npm error .*/g) ?? [] }).toEqual({ code: 0, refused: [] });
  });

  test("npm ci --omit=dev --dry-run in the image's build context (the files the Dockerfile copies before npm ci)", async () => {
    const dockerfile = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    // The first COPY of the build stage: exactly what `npm ci` sees in the image.
    const copied = /^COPY\s+(.+?)\s+\.\/\s*$/m.exec(dockerfile)?.[1].split(/\s+/) ?? [];
    expect(copied).toEqual(['package.json', 'package-lock.json']);
    const dir = copyOf(copied);
    dirs.push(dir);
    const r = await npm(dir, ['ci', '--omit=dev', '--dry-run']);
    expect({ code: r.code, refused: r.out.match(/npm error .*/g) ?? [] }).toEqual({ code: 0, refused: [] });
  });

  test('npm install --package-lock-only leaves the lock byte for byte as committed', async () => {
    const dir = copyOf(['package.json', 'package-lock.json', '.npmrc']);
    dirs.push(dir);
    const r = await npm(dir, ['install', '--package-lock-only']);
    expect(r.code).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'package-lock.json'), 'utf8')).toBe(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8'));
  });
});

describe('after the install that make start / make test ran', () => {
  const git = fs.existsSync(path.join(ROOT, '.git'));

  (git ? test : test.skip)('git status shows no change to the lock unless package.json changed with it', async () => {
    const status = await new Promise<string>((resolve, reject) =>
      execFile('git', ['status', '--porcelain', '--', 'package.json', 'package-lock.json'], { cwd: ROOT }, (err, stdout) =>
        err ? reject(err) : resolve(stdout),
      ),
    );
    const changed = status
      .split('\n')
      .filter(Boolean)
      .map((l) => l.slice(3));
    // A deliberate dependency change edits both; an install that rewrote the lock edits only the lock.
    if (!changed.includes('package.json')) expect(changed).toEqual([]);
  });

  test('node_modules was installed from this lock (npm ci wrote its copy of it)', () => {
    const hidden = path.join(ROOT, 'node_modules', '.package-lock.json');
    expect(fs.existsSync(hidden)).toBe(true);
    const installed = (readJson(hidden) as Lock).packages;
    const differ = Object.keys(lock.packages)
      .filter((k) => k !== '' && installed[k] && installed[k].version !== lock.packages[k].version)
      .map((k) => `${k}: ${lock.packages[k].version} locked, ${installed[k].version} installed`);
    expect(differ).toEqual([]);
  });
});
