/**
 * A small database handle over PGlite (embedded, data directory on disk) or a PostgreSQL server
 * (pg Pool, when a URL is given). The same SQL runs on both: $n parameters, jsonb, timestamptz,
 * bytea, text ids. Errors are re-thrown as DbError without the statement's parameters, so nothing
 * sealed or submitted travels further in an error than the SQLSTATE and the server's message.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Pool, PoolClient } from 'pg';

export type Row = Record<string, unknown>;

export interface Queryable {
  query<T extends Row = Row>(sql: string, params?: unknown[]): Promise<T[]>;
}

export interface Db extends Queryable {
  readonly backend: 'pglite' | 'postgresql';
  /** Run `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface DbOptions {
  /** The broker's data directory; PGlite keeps its files in `<dataDir>/vault-db`. */
  dataDir: string;
  /** A PostgreSQL URL; when set, PGlite is not used. */
  databaseUrl?: string;
}

/** A database error, stripped of the statement and its parameters. */
export class DbError extends Error {
  override readonly name = 'DbError';
  constructor(
    message: string,
    /** SQLSTATE, e.g. 23505 for a unique violation. */
    readonly code?: string,
    readonly constraint?: string,
  ) {
    super(message);
  }
}

export const UNIQUE_VIOLATION = '23505';

export function pgliteDir(dataDir: string): string {
  return path.join(dataDir, 'vault-db');
}

function sanitize(err: unknown): Error {
  if (err instanceof DbError) return err;
  const e = err as { message?: unknown; code?: unknown; constraint?: unknown };
  if (e && typeof e === 'object' && typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)) {
    return new DbError(String(e.message ?? 'database error'), e.code, typeof e.constraint === 'string' ? e.constraint : undefined);
  }
  if (err instanceof Error) {
    // Connection errors and the like: keep the message, drop anything attached to the error object.
    return new DbError(err.message);
  }
  return new DbError('database error');
}

/** bytea comes back as Buffer from pg and Uint8Array from PGlite: hand out Buffers either way. */
export function toBuffer(v: unknown): Buffer {
  if (Buffer.isBuffer(v)) return v;
  // Values may come from another realm (a worker, a test VM): check the shape, not instanceof.
  if (ArrayBuffer.isView(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  throw new DbError('expected a bytea value');
}

export function toIso(v: unknown): string {
  if (Object.prototype.toString.call(v) === '[object Date]') return (v as Date).toISOString();
  if (typeof v === 'string') return new Date(v).toISOString();
  throw new DbError('expected a timestamp value');
}

export async function openDb(opts: DbOptions): Promise<Db> {
  return opts.databaseUrl ? openPostgres(opts.databaseUrl) : openPglite(pgliteDir(opts.dataDir));
}

/**
 * PGlite runs in a worker thread. Its Node build loads parts of itself with dynamic `import()`,
 * which test runners that evaluate modules in a VM (jest) cannot serve; a worker runs in plain
 * Node. It also keeps the WASM engine's work off the caller's event loop.
 */
const PGLITE_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const path = require('node:path');
const { PGlite } = require(workerData.lib);
let db;
// Compiling the WASM engine takes seconds; the compiled modules go back to the opener for reuse.
const compile = (name) => WebAssembly.compile(fs.readFileSync(path.join(path.dirname(workerData.lib), name)));
const errorOf = (e) => ({
  message: String((e && e.message) || e),
  code: e && typeof e.code === 'string' ? e.code : undefined,
  constraint: e && typeof e.constraint === 'string' ? e.constraint : undefined,
});
parentPort.on('message', async (m) => {
  try {
    if (m.op === 'open') {
      const fresh = !workerData.modules;
      const modules = workerData.modules || { pglite: await compile('pglite.wasm'), initdb: await compile('initdb.wasm') };
      db = await PGlite.create({ dataDir: workerData.dir, pgliteWasmModule: modules.pglite, initdbWasmModule: modules.initdb });
      parentPort.postMessage({ id: m.id, ok: true, modules: fresh ? modules : undefined });
    } else if (m.op === 'query') {
      const r = await db.query(m.sql, m.params);
      parentPort.postMessage({ id: m.id, ok: true, rows: r.rows });
    } else if (m.op === 'close') {
      if (db) await db.close();
      db = undefined;
      parentPort.postMessage({ id: m.id, ok: true });
    }
  } catch (e) {
    parentPort.postMessage({ id: m.id, ok: false, error: errorOf(e) });
  }
});
`;

interface WorkerReply {
  id: number;
  ok: boolean;
  rows?: Row[];
  modules?: WasmModules;
  error?: { message: string; code?: string; constraint?: string };
}

/** Compiled PGlite engine modules (WebAssembly.Module), shared by every PGlite this process opens. */
interface WasmModules {
  pglite: unknown;
  initdb: unknown;
}
let wasmModules: WasmModules | undefined;

async function openPglite(dir: string): Promise<Db> {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { Worker } = await import('node:worker_threads');
  const worker = new Worker(PGLITE_WORKER, { eval: true, workerData: { lib: require.resolve('@electric-sql/pglite'), dir, modules: wasmModules } });
  const pending = new Map<number, { resolve: (r: WorkerReply) => void; reject: (e: Error) => void }>();
  let seq = 0;
  let dead: Error | undefined;
  worker.on('message', (m: WorkerReply) => {
    if (m.modules) wasmModules ??= m.modules;
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (!pending.size) worker.unref();
    p.resolve(m);
  });
  const fail = (err: Error) => {
    dead ??= err;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  worker.on('error', (err) => fail(new DbError(`the embedded database stopped: ${err.message}`)));
  worker.on('exit', () => fail(new DbError('the embedded database is closed')));

  const call = (msg: { op: 'open' | 'close' } | { op: 'query'; sql: string; params: unknown[] }): Promise<Row[]> => {
    if (dead) return Promise.reject(dead);
    const id = ++seq;
    worker.ref(); // keep the process alive while a request is in flight, not while idle
    return new Promise<WorkerReply>((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker.postMessage({ id, ...msg });
    }).then((r) => {
      if (!r.ok) throw new DbError(r.error?.message ?? 'database error', r.error?.code, r.error?.constraint);
      return r.rows ?? [];
    });
  };

  // One statement or transaction at a time: a transaction holds the lock from BEGIN to COMMIT.
  let lock: Promise<void> = Promise.resolve();
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = lock.then(fn);
    lock = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  };

  try {
    await call({ op: 'open' });
  } catch (err) {
    await worker.terminate();
    throw new DbError(`cannot open the embedded database at ${dir}: ${(err as Error).message}`);
  }
  worker.unref();
  const inTx: Queryable = {
    query: <T extends Row = Row>(sql: string, params: unknown[] = []) => call({ op: 'query', sql, params }) as Promise<T[]>,
  };
  let closed = false;
  return {
    backend: 'pglite',
    query: <T extends Row = Row>(sql: string, params: unknown[] = []) => exclusive(() => inTx.query<T>(sql, params)),
    tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
      return exclusive(async () => {
        await inTx.query('BEGIN');
        let result: T;
        try {
          result = await fn(inTx);
        } catch (err) {
          await inTx.query('ROLLBACK').catch(() => undefined);
          throw err;
        }
        try {
          await inTx.query('COMMIT');
        } catch (err) {
          await inTx.query('ROLLBACK').catch(() => undefined);
          throw err;
        }
        return result;
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      await exclusive(async () => {
        try {
          await call({ op: 'close' });
        } finally {
          await worker.terminate();
        }
      });
    },
  };
}

async function openPostgres(url: string): Promise<Db> {
  const { Pool } = await import('pg');
  const pool: Pool = new Pool({ connectionString: url, max: 5 });
  // An idle client losing its connection must not crash the process; the next query reports it.
  pool.on('error', () => undefined);
  const q = (runner: Pool | PoolClient): Queryable => ({
    async query<T extends Row = Row>(sql: string, params: unknown[] = []): Promise<T[]> {
      try {
        return (await runner.query(sql, params as unknown[])).rows as T[];
      } catch (err) {
        throw sanitize(err);
      }
    },
  });
  try {
    await pool.query('SELECT 1');
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw new DbError(`cannot reach the vault database: ${sanitize(err).message}`);
  }
  let closed = false;
  return {
    backend: 'postgresql',
    query: q(pool).query,
    async tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
      let client: PoolClient;
      try {
        client = await pool.connect();
      } catch (err) {
        throw sanitize(err);
      }
      let fromFn = false;
      try {
        await client.query('BEGIN');
        let result: T;
        try {
          result = await fn(q(client));
        } catch (err) {
          fromFn = true;
          throw err;
        }
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw fromFn ? err : sanitize(err);
      } finally {
        client.release();
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}
