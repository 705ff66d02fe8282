/**
 * The rooms' import direction is enforced by lint (eslint/rooms.mjs): these tests run ESLint on
 * imports that go the wrong way, or in a cycle, and see them refused; and check that the API's side
 * of the broker loads no cloud SDK (a process that does not rotate or push does not load them).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

const refused = [
  { reason: 'the domain imports nothing of the project', file: 'domain/a.ts', source: "import { openVault } from '../store/vault';\nexport const v = openVault;\n", message: /^domain\/ may not import store\/vault: domain\/ may import nothing of the project/ },
  { reason: 'workflows import only the domain', file: 'workflows/b.ts', source: "import { createTarget } from '../targets';\nexport const t = createTarget;\n", message: /^workflows\/ may not import targets/ },
  { reason: 'workflows import activities as types only', file: 'workflows/c.ts', source: "import { createActivities } from '../activities';\nexport const a = createActivities;\n", message: /^workflows\/ may not import activities/ },
  { reason: 'the API never imports the CLI', file: 'api/d.ts', source: "import { buildCli } from '../cli/program';\nexport const b = buildCli;\n", message: /^api\/ may not import cli\/program/ },
  { reason: 'services reach the rotators only through their SDK-free kind table', file: 'services/e.ts', source: "import { createRotator } from '../rotators';\nexport const c = createRotator;\n", message: /^services\/ may not import rotators:/ },
  { reason: 'a require() counts', file: 'store/f.ts', source: "export const w = require('../workflows/pipeline-run');\n", message: /^store\/ may not import workflows\/pipeline-run/ },
  { reason: 'a dynamic import() counts', file: 'targets/g.ts', source: "export const l = () => import('../rotators/kinds');\n", message: /^targets\/ may not import rotators\/kinds/ },
  { reason: 'a type import upward is refused where only values are listed', file: 'store/h.ts', source: "import type { SecretTarget } from '../targets/types';\nexport type T = SecretTarget;\n", message: /^store\/ may not import targets\/types \(even as a type\)/ },
];
const allowed = [
  { reason: 'a room imports the rooms below it', file: 'activities/i.ts', source: "import { createTarget } from '../targets';\nexport const t = createTarget;\n" },
  { reason: 'workflows import activity types', file: 'workflows/j.ts', source: "import type { createActivities } from '../activities';\nexport type A = ReturnType<typeof createActivities>;\n" },
  { reason: 'services import the kind table', file: 'services/k.ts', source: "import { rotationKind } from '../rotators/kinds';\nexport const k = rotationKind;\n" },
  { reason: 'the CLI borrows the API answer types', file: 'cli/l.ts', source: "import type { VerifyReport } from '../verifiers';\nexport type R = VerifyReport;\n" },
];
const cycle = [
  { file: 'store/cycle-a.ts', source: "import { b } from './cycle-b';\nexport const a = () => b;\n" },
  { file: 'store/cycle-b.ts', source: "import { a } from './cycle-a';\nexport const b = () => a;\n" },
  { file: 'store/cycle-c.ts', source: "import type { a } from './cycle-a';\nexport type C = typeof a;\n" },
];

/**
 * ESLint with the project's rooms plugin (eslint/rooms.mjs, copied), run as a child process on a
 * scratch tree that holds the probe files at their room paths: what lint says of each file.
 */
function lintScratch(files: { file: string; source: string }[]): Map<string, string[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rooms-lint-'));
  try {
    fs.mkdirSync(path.join(dir, 'eslint'));
    fs.copyFileSync(path.join(ROOT, 'eslint/rooms.mjs'), path.join(dir, 'eslint/rooms.mjs'));
    for (const f of files) {
      fs.mkdirSync(path.join(dir, path.dirname(f.file)), { recursive: true });
      fs.writeFileSync(path.join(dir, f.file), f.source);
    }
    fs.writeFileSync(
      path.join(dir, 'eslint.config.mjs'),
      "import tseslint from 'typescript-eslint';\nimport rooms from './eslint/rooms.mjs';\n" +
        "export default [{ files: ['**/*.ts'], languageOptions: { parser: tseslint.parser }, plugins: { rooms }, rules: { 'rooms/direction': 'error', 'rooms/no-cycle': 'error' } }];\n",
    );
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
    let out: string;
    try {
      out = execFileSync(process.execPath, [path.join(ROOT, 'node_modules/eslint/bin/eslint.js'), '--format', 'json', ...files.map((f) => f.file)], { cwd: dir, encoding: 'utf8' });
    } catch (err) {
      out = (err as { stdout: string }).stdout;
    }
    const results = JSON.parse(out) as { filePath: string; messages: { message: string; fatal?: boolean }[] }[];
    return new Map(results.map((r) => [path.relative(dir, r.filePath), r.messages.map((m) => m.message)]));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

let said: Map<string, string[]>;
beforeAll(() => {
  said = lintScratch([...refused, ...allowed, ...cycle]);
});

test.each(refused)('refused: $reason', ({ file, message }) => {
  expect(said.get(file)).toHaveLength(1);
  expect(said.get(file)![0]).toMatch(message);
});

test.each(allowed)('allowed: $reason', ({ file }) => {
  expect(said.get(file)).toEqual([]);
});

test('a cycle of value imports between two files fails lint, naming both; a type import is no cycle', () => {
  const named = 'this file is part of an import cycle: store/cycle-a.ts, store/cycle-b.ts';
  expect(said.get('store/cycle-a.ts')).toEqual([named]);
  expect(said.get('store/cycle-b.ts')).toEqual([named]);
  expect(said.get('store/cycle-c.ts')).toEqual([]);
});

test('the rooms table itself must be acyclic: a cycle stops lint naming it', () => {
  const check = (rooms: object) =>
    execFileSync(process.execPath, ['--input-type=module', '-e', `import { assertAcyclic } from ${JSON.stringify(path.join(ROOT, 'eslint/rooms.mjs'))}; assertAcyclic(${JSON.stringify(rooms)});`], {
      encoding: 'utf8',
      stdio: 'pipe',
    });
  expect(() => check({ a: { imports: ['b'] }, b: { imports: ['c'] }, c: { imports: ['a'] } })).toThrow(/cycle: a → b → c → a/);
  expect(() => check({ a: { imports: [] }, b: { imports: ['a'], types: ['a'] } })).not.toThrow();
});

test('the API, the services and the broker process (before it starts a worker) load no cloud SDK and not the worker', () => {
  // The compiled tree (make test builds lib/), in a fresh process: what its modules pull in.
  const script = `
    for (const m of ['api/server', 'services/pipeline-runs', 'services/rotations', 'services/vault-key', 'broker/main']) require('./lib/' + m + '.js');
    const files = Object.keys(require.cache).filter((p) => p.includes('/node_modules/')).map((p) => p.split('/node_modules/').pop());
    const pkgs = new Set(files.map((f) => f.split('/').slice(0, f.startsWith('@') ? 2 : 1).join('/')));
    console.log(JSON.stringify({ pkgs: [...pkgs].sort(), worker: files.filter((f) => f.startsWith('@temporalio/worker/')) }));`;
  const { pkgs: loaded, worker } = JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8' })) as { pkgs: string[]; worker: string[] };
  expect(loaded).toContain('fastify'); // the probe sees what is loaded
  expect(loaded.filter((p) => /^@aws-sdk\/|^@azure\/|^@google-cloud\/|^google-auth-library$|^webpack$/.test(p))).toEqual([]);
  // Of @temporalio/worker, only the runtime (its logger and Prometheus exporter: telemetry/runtime.ts).
  expect(worker.length).toBeGreaterThan(0);
  expect(worker.filter((f) => !/^@temporalio\/worker\/(package\.json|lib\/(runtime|runtime-options|runtime-logger|runtime-metrics|logger|utils|pkg|connection-options)\.js)$/.test(f))).toEqual([]);
});
