/**
 * Every package the code imports is a direct dependency: runtime code's in `dependencies`, test and
 * benchmark code's in `dependencies` or `devDependencies`. A package that only arrives through
 * another one (@azure/logger through @azure/identity, @aws-sdk/types through the AWS clients) can
 * change version or vanish with that other package's next release.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { builtinModules } from 'node:module';

const ROOT = path.resolve(__dirname, '../..');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
};
/** The runtime rooms: what tsconfig.build.json compiles into lib/. */
const RUNTIME_DIRS = (JSON.parse(fs.readFileSync(path.join(ROOT, 'tsconfig.build.json'), 'utf8')) as { include: string[] }).include;
const TEST_DIRS = ['test', 'bench'];
const TOP_FILES = ['eslint.config.mjs', 'eslint/rooms.mjs', 'jest.config.js', 'jest.bench.config.js', 'bin/secret-broker', 'scripts/check-native.js'];
const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
/** Packages a file deliberately loads from inside another package, so not declared on their own. */
const THROUGH: Record<string, { file: string; why: string }> = {
  protobufjs: { file: 'test/replay/history-json.ts', why: 'the copy @temporalio/proto resolves: protojson must build the same message types' },
};

function sources(dir: string): string[] {
  const abs = path.join(ROOT, dir);
  if (!fs.existsSync(abs)) return [];
  return fs.readdirSync(abs, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(ts|js|mjs|cjs)$/.test(e.name))
    .map((e) => path.relative(ROOT, path.join(e.parentPath, e.name)));
}

/** Package names a file imports: import/export ... from, import(), require(), require.resolve(), jest.mock(). */
function importedPackages(file: string): Set<string> {
  const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
  const found = new Set<string>();
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire(?:\.resolve)?\s*\(\s*|\bjest\.(?:mock|requireActual)\s*\(\s*)(['"])([^'"\n]+)\1/g;
  for (const m of text.matchAll(re)) {
    const spec = m[2];
    if (spec.startsWith('.') || spec.startsWith('/') || builtins.has(spec) || builtins.has(spec.split('/')[0])) continue;
    const parts = spec.split('/');
    found.add(spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]);
  }
  return found;
}

function undeclared(files: string[], declared: Set<string>): string[] {
  const out: string[] = [];
  for (const f of files) for (const p of importedPackages(f)) if (!declared.has(p) && THROUGH[p]?.file !== f) out.push(`${p} (${f})`);
  return out.sort();
}

test('the scan finds the imports it is meant to find', () => {
  expect(RUNTIME_DIRS).toEqual(expect.arrayContaining(['domain', 'workflows', 'cli', 'broker']));
  expect(sources('cli').length).toBeGreaterThan(3);
  expect([...importedPackages('cli/program.ts')]).toContain('commander');
  expect([...importedPackages('store/db.ts')]).toContain('@electric-sql/pglite');
});

test('runtime code imports only packages in dependencies', () => {
  const files = RUNTIME_DIRS.flatMap(sources).concat('bin/secret-broker', 'scripts/check-native.js');
  expect(undeclared(files, new Set(Object.keys(pkg.dependencies ?? {})))).toEqual([]);
});

test('test, benchmark and tool-config code imports only declared packages', () => {
  const declared = new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.devDependencies ?? {})]);
  const files = TEST_DIRS.flatMap(sources).concat(TOP_FILES.filter((f) => fs.existsSync(path.join(ROOT, f))));
  expect(undeclared(files, declared)).toEqual([]);
});
