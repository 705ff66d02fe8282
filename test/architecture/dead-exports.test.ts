/**
 * Dead code cannot land: `make lint` and `make test` run knip (knip.jsonc), which fails on a file no
 * entry reaches and on an export no other file imports. Here knip runs, with the project's own
 * knip.jsonc, on a scratch project laid out like this one: once with a dead export, an exported value
 * only its own file uses and an unused file, which it must name and fail on; once without, which passes.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
const KNIP = path.join(ROOT, 'node_modules/knip/bin/knip.js');

interface KnipReport {
  files: string[];
  issues: { file: string; exports: { name: string }[]; types: { name: string }[] }[];
}

/** knip (the project's version and knip.jsonc) on a scratch project holding these files. */
function knip(files: Record<string, string>): { status: number | null; report: KnipReport; stderr: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'knip-probe-'));
  try {
    fs.copyFileSync(path.join(ROOT, 'knip.jsonc'), path.join(dir, 'knip.jsonc'));
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'knip-probe', version: '0.0.0', private: true }));
    for (const [file, source] of Object.entries(files)) {
      fs.mkdirSync(path.join(dir, path.dirname(file)), { recursive: true });
      fs.writeFileSync(path.join(dir, file), source);
    }
    const r = spawnSync(process.execPath, [KNIP, '--no-progress', '--no-config-hints', '--reporter', 'json'], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    return { status: r.status, report: JSON.parse(r.stdout) as KnipReport, stderr: r.stderr };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const exportsOf = (report: KnipReport, file: string) => report.issues.filter((i) => i.file === file).flatMap((i) => i.exports.map((e) => e.name)).sort();
const typesOf = (report: KnipReport) => report.issues.flatMap((i) => i.types.map((t) => `${i.file}: ${t.name}`));

// An entry (broker/main.ts, as in knip.jsonc) that uses one function of the domain; the CLI's entry,
// whose main is loaded by path and says so (@public); an option type only its own module names.
const clean = {
  'broker/main.ts': "import { leaseMs } from '../domain/run';\nconsole.log(leaseMs(30));\n",
  'cli/main.ts': '/** @public bin/secret-broker calls it by path. */\nexport function main(): void {\n  process.exitCode = 0;\n}\n',
  'domain/run.ts':
    'export interface LeaseOptions {\n  days: number;\n}\n' +
    'const DAY_MS = 86_400_000;\n' +
    'export function leaseMs(days: number, opts: LeaseOptions = { days }): number {\n  return opts.days * DAY_MS;\n}\n',
};
const dirty = {
  ...clean,
  'domain/run.ts':
    clean['domain/run.ts'].replace('const DAY_MS', 'export const DAY_MS') + // a value only its own file uses
    'export const MAX_LEASE_DAYS = 366;\n', // used nowhere
  'domain/orphan.ts': "export const orphan = 'nothing imports this file';\n",
};

test('knip fails on a dead export, an exported value only its own file uses and an unused file, naming each', () => {
  const { status, report, stderr } = knip(dirty);
  expect({ status, stderr }).toEqual({ status: 1, stderr: '' });
  expect(report.files).toEqual(['domain/orphan.ts']);
  expect(exportsOf(report, 'domain/run.ts')).toEqual(['DAY_MS', 'MAX_LEASE_DAYS']);
  // An exported type only its own module uses is that module's interface (ignoreExportsUsedInFile).
  expect(typesOf(report)).toEqual([]);
});

test('knip passes the same project without them', () => {
  const { status, report, stderr } = knip(clean);
  expect({ status, stderr }).toEqual({ status: 0, stderr: '' });
  expect(report.files).toEqual([]);
  expect(report.issues.filter((i) => i.exports.length || i.types.length)).toEqual([]);
});
