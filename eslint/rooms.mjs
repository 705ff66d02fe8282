// The rooms of the code and the direction of their imports, enforced by lint.
//
// Each top-level folder is a room. A room may import only the rooms (or single modules) it lists
// under `imports`; `types` lists rooms it may import types from and nothing else (a type import
// leaves no trace at run time). The table must be acyclic: a cycle in it stops lint before anything
// is checked. Inside the project, a cycle of value imports between files fails lint too.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Bottom to top. README.md (Development) explains each room. */
export const ROOMS = {
  domain: { imports: [] },
  // Logging and metrics (pino, the Temporal runtime's logger and Prometheus exporter): no project code.
  telemetry: { imports: [] },
  codec: { imports: ['domain'] },
  credentials: { imports: ['domain'] },
  platforms: { imports: ['domain'] },
  workflows: { imports: ['domain'], types: ['activities'] },
  store: { imports: ['domain', 'credentials', 'platforms'] },
  remote: { imports: ['domain', 'credentials', 'platforms'] },
  targets: { imports: ['domain', 'credentials', 'platforms', 'remote'], types: ['store'] },
  rotators: { imports: ['domain', 'credentials', 'remote', 'store'] },
  verifiers: { imports: ['domain', 'credentials', 'platforms', 'remote', 'store'] },
  activities: { imports: ['domain', 'telemetry', 'targets', 'rotators', 'store'] },
  worker: { imports: ['domain', 'telemetry', 'codec', 'platforms', 'workflows', 'store', 'remote', 'targets', 'rotators', 'activities'] },
  // Services start and read workflows; of the rotators they need only the SDK-free kind table.
  services: { imports: ['domain', 'telemetry', 'codec', 'workflows', 'store', 'rotators/kinds'] },
  api: { imports: ['domain', 'telemetry', 'codec', 'credentials', 'platforms', 'store', 'verifiers', 'services'] },
  // The CLI speaks HTTP to the API; it borrows the API's answer types and opens the vault only for
  // `vault rewrap` (offline, on the database itself), and the API's package version for --version.
  cli: { imports: ['domain', 'codec', 'credentials', 'platforms', 'store', 'api/version'], types: ['services', 'verifiers', 'api'] },
  broker: { imports: ['domain', 'telemetry', 'codec', 'platforms', 'store', 'remote', 'targets', 'rotators', 'verifiers', 'activities', 'worker', 'services', 'api'] },
};

const roomOfEntry = (entry) => entry.split('/')[0];

/** Throws when the table has a cycle, naming it. */
export function assertAcyclic(rooms = ROOMS) {
  const state = new Map();
  const visit = (room, trail) => {
    if (state.get(room) === 'done') return;
    if (state.get(room) === 'open') {
      const cycle = [...trail.slice(trail.indexOf(room)), room].join(' → ');
      throw new Error(`eslint/rooms.mjs: the rooms import each other in a cycle: ${cycle}`);
    }
    state.set(room, 'open');
    const r = rooms[room];
    if (!r) throw new Error(`eslint/rooms.mjs: "${trail.at(-1)}" names an unknown room "${room}"`);
    for (const e of [...r.imports, ...(r.types ?? [])]) visit(roomOfEntry(e), [...trail, room]);
    state.set(room, 'done');
  };
  for (const room of Object.keys(rooms)) visit(room, []);
}
assertAcyclic();

const ROOT = path.dirname(path.dirname(new URL(import.meta.url).pathname));

function roomOf(file) {
  const rel = path.relative(ROOT, file);
  if (rel.startsWith('..')) return null;
  const top = rel.split(path.sep)[0];
  return Object.hasOwn(ROOMS, top) ? top : null;
}

/** `rotators/kinds.ts` or `rotators/kinds/index.ts` → 'rotators/kinds'. */
function moduleKey(target) {
  return path.relative(ROOT, target).split(path.sep).join('/').replace(/\.[cm]?[jt]s$/, '').replace(/\/index$/, '');
}

function allows(entries, key) {
  return entries.some((e) => key === e || key.startsWith(`${e}/`));
}

const isTypeOnlyImport = (node) =>
  node.importKind === 'type' || (node.specifiers?.length > 0 && node.specifiers.every((s) => s.importKind === 'type' || s.exportKind === 'type'));

const direction = {
  meta: { type: 'problem', docs: { description: 'each room imports only the rooms below it' }, schema: [] },
  create(context) {
    const file = context.filename;
    const from = roomOf(file);
    if (!from) return {};
    const check = (node, source, typeOnly) => {
      if (typeof source !== 'string' || !source.startsWith('.')) return;
      const target = path.resolve(path.dirname(file), source);
      const to = roomOf(target);
      if (!to || to === from) return;
      const key = moduleKey(target);
      const r = ROOMS[from];
      if (allows(r.imports, key)) return;
      if (typeOnly && allows(r.types ?? [], key)) return;
      const may = [...r.imports, ...(r.types ?? []).map((t) => `${t} (types only)`)].join(', ') || 'nothing of the project';
      context.report({ node, message: `${from}/ may not import ${key}${typeOnly ? ' (even as a type)' : ''}: ${from}/ may import ${may} (eslint/rooms.mjs)` });
    };
    const literal = (n) => (n && n.type === 'Literal' ? n.value : undefined);
    return {
      ImportDeclaration: (n) => check(n, n.source.value, isTypeOnlyImport(n)),
      ExportNamedDeclaration: (n) => n.source && check(n, n.source.value, n.exportKind === 'type' || isTypeOnlyImport(n)),
      ExportAllDeclaration: (n) => check(n, n.source.value, n.exportKind === 'type'),
      ImportExpression: (n) => check(n, literal(n.source), false),
      CallExpression(n) {
        const c = n.callee;
        const isRequire = c.type === 'Identifier' && c.name === 'require';
        const isResolve = c.type === 'MemberExpression' && c.object.type === 'Identifier' && c.object.name === 'require' && c.property.name === 'resolve';
        if (isRequire || isResolve) check(n, literal(n.arguments[0]), false);
      },
    };
  },
};

// ---- file-level cycles ---------------------------------------------------------------------------

const VALUE_IMPORT = /^\s*(?:import|export)\s+(?!type\b)(?:[^'";]*?\sfrom\s+)?['"](\.[^'"]+)['"]/gm;
let cyclic; // file → the cycle it is part of

function isTypeOnlyClause(stmt) {
  const m = /^\s*(?:import|export)\s+\{([^}]*)\}\s*from/.exec(stmt);
  if (!m) return false;
  const specs = m[1].split(',').map((x) => x.trim()).filter(Boolean);
  return specs.length > 0 && specs.every((x) => x.startsWith('type '));
}

function resolveTs(from, spec) {
  const base = path.resolve(path.dirname(from), spec);
  for (const c of [`${base}.ts`, path.join(base, 'index.ts')]) if (fs.existsSync(c)) return c;
  return null;
}

function projectCycles() {
  if (cyclic) return cyclic;
  const files = [];
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) files.push(p);
    }
  };
  for (const room of Object.keys(ROOMS)) if (fs.existsSync(path.join(ROOT, room))) walk(path.join(ROOT, room));
  const edges = new Map();
  for (const f of files) {
    const text = fs.readFileSync(f, 'utf8');
    const out = [];
    for (const m of text.matchAll(VALUE_IMPORT)) {
      if (isTypeOnlyClause(m[0])) continue; // `import { type A, type B } from` leaves nothing at run time
      const to = resolveTs(f, m[1]);
      if (to) out.push(to);
    }
    edges.set(f, out);
  }
  // Tarjan's strongly connected components.
  let index = 0;
  const idx = new Map(), low = new Map(), onStack = new Set(), stack = [];
  cyclic = new Map();
  const strong = (v) => {
    idx.set(v, index); low.set(v, index); index++;
    stack.push(v); onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!idx.has(w)) { strong(w); low.set(v, Math.min(low.get(v), low.get(w))); }
      else if (onStack.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const comp = [];
      let w;
      do { w = stack.pop(); onStack.delete(w); comp.push(w); } while (w !== v);
      if (comp.length > 1) for (const f of comp) cyclic.set(f, comp.map((c) => path.relative(ROOT, c)).sort());
    }
  };
  for (const f of files) if (!idx.has(f)) strong(f);
  return cyclic;
}

const noCycle = {
  meta: { type: 'problem', docs: { description: 'no cycle of value imports between files' }, schema: [] },
  create(context) {
    const cycle = projectCycles().get(context.filename);
    if (!cycle) return {};
    return {
      Program(node) {
        context.report({ node, loc: { line: 1, column: 0 }, message: `this file is part of an import cycle: ${cycle.join(', ')}` });
      },
    };
  },
};

export default { rules: { direction, 'no-cycle': noCycle } };
