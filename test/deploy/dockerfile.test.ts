/**
 * The Dockerfile, linted (no Docker engine here to build it; hadolint is not in Debian): the
 * Docker language server's validator (dockerfile-utils, every rule an error) finds nothing, and the
 * project's own rules hold: pinned base image, `npm ci` only, production packages from
 * `npm ci --omit=dev`, the workflow bundle built at image build, the CLI in the image, an
 * unprivileged user, exec-form CMD, no secret in ENV or ARG, every COPY source in the build context.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { validate, ValidationSeverity } from 'dockerfile-utils';

const ROOT = path.resolve(__dirname, '../..');
const text = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');

interface Instruction {
  line: number;
  keyword: string;
  args: string;
}
interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

/** Instructions (continuations joined, comments dropped), grouped by stage. */
function parseDockerfile(source: string): { args: Record<string, string>; stages: Stage[] } {
  const instructions: Instruction[] = [];
  let buf = '';
  let start = 0;
  source.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!buf && (line === '' || line.startsWith('#'))) return;
    if (!buf) start = i + 1;
    buf += `${line.replace(/\\$/, '').trim()} `;
    if (!line.endsWith('\\')) {
      const [keyword, ...rest] = buf.trim().split(/\s+/);
      instructions.push({ line: start, keyword: keyword.toUpperCase(), args: rest.join(' ') });
      buf = '';
    }
  });
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args)!;
      stages.push({ from: m[1], name: m[2], instructions: [] });
    } else if (!stages.length && ins.keyword === 'ARG') {
      const [k, v] = ins.args.split('=');
      args[k] = v;
    } else stages.at(-1)?.instructions.push(ins);
  }
  return { args, stages };
}

const { args, stages } = parseDockerfile(text);
const final = stages.at(-1)!;
const all = stages.flatMap((s) => s.instructions);
const resolve = (image: string) => image.replace(/^\$\{(\w+)\}$/, (_, k: string) => args[k] ?? image);

test("dockerfile-utils (the Docker language server's validator) finds nothing, every rule an error", () => {
  const error = ValidationSeverity.ERROR;
  const diagnostics = validate(text, {
    deprecatedMaintainer: error,
    directiveCasing: error,
    emptyContinuationLine: error,
    instructionCasing: error,
    instructionCmdMultiple: error,
    instructionEntrypointMultiple: error,
    instructionHealthcheckMultiple: error,
    instructionJSONInSingleQuotes: error,
    instructionWorkdirRelative: error,
  });
  expect(diagnostics.map((d) => `line ${d.range.start.line + 1}: ${d.message}`)).toEqual([]);
});

test('the lint can fail: a broken Dockerfile is refused', () => {
  expect(validate('FROM node:24\nCOPY onlyone\nWORKDIR app\ncmd ["a"]\nCMD ["b"]\n', { instructionWorkdirRelative: ValidationSeverity.ERROR, instructionCasing: ValidationSeverity.ERROR, instructionCmdMultiple: ValidationSeverity.ERROR }).length).toBeGreaterThanOrEqual(4);
});

test('base images are pinned to a full version, through one ARG', () => {
  for (const s of stages) {
    const image = resolve(s.from);
    if (stages.some((o) => o.name === s.from)) continue; // FROM an earlier stage
    expect(image).toMatch(/^node:24\.\d+\.\d+-bookworm-slim$/);
  }
  expect(args.NODE_IMAGE).toBe(`node:${fs.readFileSync(path.join(ROOT, '.node-version'), 'utf8').trim()}-bookworm-slim`);
});

test('packages come from the lock: npm ci only, the image keeps the --omit=dev install', () => {
  const npm = all.filter((i) => i.keyword === 'RUN' && /\bnpm\b/.test(i.args)).map((i) => i.args);
  expect(npm.some((a) => /\bnpm (install|i|update)\b/.test(a))).toBe(false);
  const prod = stages.find((s) => s.instructions.some((i) => i.keyword === 'RUN' && /npm ci --omit=dev/.test(i.args)))!;
  expect(prod).toBeDefined();
  expect(final.instructions).toContainEqual(expect.objectContaining({ keyword: 'COPY', args: `--from=${prod.name} /app/node_modules ./node_modules` }));
  // The stage that builds lib/ runs the whole build: tsc and the workflow bundle.
  expect(all.some((i) => i.keyword === 'RUN' && i.args === 'scripts/build.sh')).toBe(true);
  expect(final.instructions).toContainEqual(expect.objectContaining({ keyword: 'COPY', args: '--from=build /app/lib ./lib' }));
});

test('the final image holds the CLI, runs as an unprivileged user, with an exec-form CMD', () => {
  const copies = final.instructions.filter((i) => i.keyword === 'COPY').map((i) => i.args);
  expect(copies).toContain('bin ./bin');
  expect(final.instructions.some((i) => i.keyword === 'RUN' && i.args.includes('ln -s /app/bin/secret-broker /usr/local/bin/secret-broker'))).toBe(true);
  const users = final.instructions.filter((i) => i.keyword === 'USER').map((i) => i.args);
  expect(users).toHaveLength(1);
  expect(users[0]).not.toMatch(/^(root|0)(:|$)/);
  const userAt = final.instructions.findIndex((i) => i.keyword === 'USER');
  const cmdAt = final.instructions.findIndex((i) => i.keyword === 'CMD');
  expect(userAt).toBeLessThan(cmdAt);
  // Nothing after USER runs as root again.
  expect(final.instructions.slice(userAt).filter((i) => i.keyword === 'RUN')).toEqual([]);
  expect(JSON.parse(final.instructions[cmdAt].args)).toEqual(['node', 'lib/broker/main.js', '--role', 'all']);
});

test('no secret in ENV or ARG', () => {
  for (const i of [...all, ...Object.keys(args).map((k) => ({ keyword: 'ARG', args: k, line: 0 }))]) {
    if (i.keyword !== 'ENV' && i.keyword !== 'ARG') continue;
    const names = i.args.split(/\s+/).map((kv) => kv.split('=')[0]);
    for (const n of names) expect(n).not.toMatch(/KEY|PASSWORD|TOKEN|SECRET|DATABASE_URL/i);
  }
});

/** .dockerignore as the docker CLI reads it: patterns from the context's root, `*` within one path element. */
function ignored(file: string): boolean {
  const patterns = fs
    .readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  return patterns.some((p) => {
    const re = new RegExp(`^${p.replace(/\./g, '\\.').replace(/\*/g, '[^/]*')}(/|$)`);
    return re.test(file);
  });
}

test('every COPY from the build context is there and not left out by .dockerignore; keys and state are left out', () => {
  for (const i of all.filter((x) => x.keyword === 'COPY' && !x.args.startsWith('--from'))) {
    const sources = i.args.split(/\s+/).slice(0, -1);
    for (const src of sources) {
      if (src === '.') continue;
      expect({ src, exists: fs.existsSync(path.join(ROOT, src)), ignored: ignored(src) }).toEqual({ src, exists: true, ignored: false });
    }
  }
  for (const f of ['deploy/secrets/master.key', '.data/vault', 'node_modules/x', 'lib/broker/main.js', '.git/config', '.env']) expect({ f, ignored: ignored(f) }).toEqual({ f, ignored: true });
  // What the build stage compiles is in the context.
  for (const f of ['tsconfig.json', 'tsconfig.build.json', 'scripts/build.sh', 'scripts/lib.sh', 'workflows/index.ts', 'broker/main.ts']) expect({ f, ignored: ignored(f) }).toEqual({ f, ignored: false });
});
