/**
 * deploy/postgres-init.sh (what the postgres image runs once on an empty data directory) against a
 * real PostgreSQL with password authentication: a password full of quotes, backslashes, semicolons
 * and psql syntax becomes exactly the broker user's password, and nothing in it runs as SQL.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { postgresBinDir, startPostgres, type PostgresServer } from '../harness/postgres';

const ROOT = path.resolve(__dirname, '../..');
const SCRIPT = path.join(ROOT, 'deploy/postgres-init.sh');
const run = promisify(execFile);

let pg: PostgresServer;

beforeAll(async () => {
  pg = await startPostgres({ database: 'initcheck' });
  // Password authentication over TCP for everyone but the superuser the harness and the script use.
  const hba = path.join(pg.dataDir, 'data', 'pg_hba.conf');
  fs.writeFileSync(hba, 'local all all trust\nhost all postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n');
  await pg.sql('SELECT pg_reload_conf()', 'postgres');
});

afterAll(async () => {
  await pg?.stop();
});

function init(env: NodeJS.ProcessEnv) {
  return run('bash', [SCRIPT], {
    env: { PATH: `${postgresBinDir()}:${process.env.PATH}`, PGHOST: '127.0.0.1', PGPORT: String(pg.port), POSTGRES_USER: 'postgres', POSTGRES_DB: 'postgres', ...env },
  });
}

async function connectAs(user: string, password: string, database: string): Promise<string> {
  const c = new Client({ host: '127.0.0.1', port: pg.port, user, password, database });
  await c.connect();
  try {
    const r = await c.query<{ who: string; db: string }>('SELECT current_user AS who, current_database() AS db');
    return `${r.rows[0].who}@${r.rows[0].db}`;
  } finally {
    await c.end();
  }
}

const NASTY = `it's "q"; DROP ROLE postgres; -- \\' $1 :'x' :"y" \\g ${'$'}{HOME} ünï`;

test('a password with quotes, backslashes and psql syntax is the broker user password, as given', async () => {
  const { stdout, stderr } = await init({ BROKER_DB_PASSWORD: NASTY });
  expect(`${stdout}${stderr}`).not.toContain('DROP ROLE');
  expect(await connectAs('broker', NASTY, 'broker')).toBe('broker@broker');
  await expect(connectAs('broker', 'wrong', 'broker')).rejects.toThrow(/password authentication failed/);
  // Nothing in the password ran: the superuser is still there, and owns no surprise.
  await pg.sql('SELECT 1', 'postgres');
  const c = new Client({ host: '127.0.0.1', port: pg.port, user: 'postgres', database: 'postgres' });
  await c.connect();
  const roles = await c.query<{ rolname: string }>("SELECT rolname FROM pg_roles WHERE rolname IN ('postgres', 'broker') ORDER BY 1");
  const dbs = await c.query<{ datname: string; owner: string }>("SELECT datname, pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = 'broker'");
  await c.end();
  expect(roles.rows.map((r) => r.rolname)).toEqual(['broker', 'postgres']);
  expect(dbs.rows).toEqual([{ datname: 'broker', owner: 'broker' }]);
});

test('without BROKER_DB_PASSWORD it stops before touching the server', async () => {
  const err = (await init({}).catch((e: unknown) => e)) as { code: number; stderr: string };
  expect(err.code).not.toBe(0);
  expect(err.stderr).toMatch(/BROKER_DB_PASSWORD: set BROKER_DB_PASSWORD/);
});
