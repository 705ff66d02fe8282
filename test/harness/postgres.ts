/**
 * A throwaway PostgreSQL cluster from the Debian package (/usr/lib/postgresql/<version>/bin):
 * initdb into a fresh temp dir, a server on a free 127.0.0.1 port with its unix socket in that dir,
 * and a database. PostgreSQL refuses to run as root, so as root the dir is handed to the `postgres`
 * user and initdb/postgres run through `runuser -u postgres --`.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { freePort, spawnServer, waitForPort } from './process';

const run = promisify(execFile);

export interface PostgresServer {
  /** URL of the database created for the caller. */
  url: string;
  /** The temp dir holding the cluster (`<dataDir>/data`) and the socket. */
  dataDir: string;
  port: number;
  /** Create another database on the same server; returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** Run one statement as the superuser in the given database (default: the caller's). */
  sql(statement: string, database?: string): Promise<void>;
  /** Everything the server printed. */
  output(): string;
  stop(): Promise<void>;
}

export function postgresBinDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root)
    ? fs
        .readdirSync(root)
        .filter((v) => fs.existsSync(path.join(root, v, 'bin', 'postgres')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (!versions.length) {
    throw new Error(`PostgreSQL is not installed under ${root}: run scripts/install-test-deps.sh (make test does)`);
  }
  return path.join(root, versions[0]!, 'bin');
}

async function postgresIds(): Promise<{ uid: number; gid: number }> {
  const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
  const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
  return { uid, gid };
}

function chownR(dir: string, uid: number, gid: number): void {
  fs.chownSync(dir, uid, gid);
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) chownR(p, uid, gid);
    else fs.lchownSync(p, uid, gid);
  }
}

const USER = 'postgres';

export async function startPostgres(opts: { database?: string } = {}): Promise<PostgresServer> {
  const bin = postgresBinDir();
  const asRoot = process.getuid?.() === 0;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-pg-'));
  const pgdata = path.join(dataDir, 'data');
  const as = (cmd: string, args: string[]): [string, string[]] => (asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args]);
  let server: ReturnType<typeof spawnServer> | undefined;
  const cleanup = async () => {
    await server?.stop('SIGINT');
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    if (asRoot) {
      const { uid, gid } = await postgresIds();
      chownR(dataDir, uid, gid);
    }
    const [initCmd, initArgs] = as(path.join(bin, 'initdb'), [
      '-D',
      pgdata,
      '-U',
      USER,
      '--auth=trust',
      '--encoding=UTF8',
      '--locale=C',
      '--no-sync',
    ]);
    try {
      await run(initCmd, initArgs, { cwd: dataDir });
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`initdb failed: ${e.stderr || e.message}`);
    }
    const port = await freePort();
    const [pgCmd, pgArgs] = as(path.join(bin, 'postgres'), [
      '-D',
      pgdata,
      '-p',
      String(port),
      '-k',
      dataDir,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'max_connections=50',
    ]);
    server = spawnServer(pgCmd, pgArgs, { cwd: dataDir });
    const srv = server;
    const base = `postgresql://${USER}@127.0.0.1:${port}`;
    try {
      await waitForPort(port, 30_000);
    } catch (err) {
      throw new Error(`${(err as Error).message}; server output:\n${srv.output()}`);
    }
    // The port opens before the server accepts sessions ("the database system is starting up").
    const deadline = Date.now() + 30_000;
    for (;;) {
      const c = new Client({ connectionString: `${base}/postgres` });
      try {
        await c.connect();
        await c.query('SELECT 1');
        await c.end();
        break;
      } catch (err) {
        await c.end().catch(() => undefined);
        if (Date.now() > deadline) throw new Error(`PostgreSQL did not accept connections: ${(err as Error).message}\n${srv.output()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const sql = async (statement: string, database = opts.database ?? 'vault') => {
      const c = new Client({ connectionString: `${base}/${database}` });
      await c.connect();
      try {
        await c.query(statement);
      } finally {
        await c.end();
      }
    };
    const createDatabase = async (name: string) => {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${name}`);
      await sql(`CREATE DATABASE ${name}`, 'postgres');
      return `${base}/${name}`;
    };
    const url = await createDatabase(opts.database ?? 'vault');
    return { url, dataDir, port, createDatabase, sql, output: () => srv.output(), stop: cleanup };
  } catch (err) {
    await cleanup().catch(() => undefined);
    throw err;
  }
}
