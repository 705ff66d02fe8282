/**
 * Numbered schema migrations, tracked in `schema_migrations` and applied when the vault opens, inside
 * the opening transaction (so a refused open leaves no trace) under an advisory lock (so brokers
 * starting together against one PostgreSQL server apply each migration once). Idempotent: applied
 * versions are skipped. Append new migrations; never edit an applied one.
 */
import type { Queryable } from './db';

export interface Migration {
  version: number;
  name: string;
  statements: string[];
}

/** Arbitrary constant identifying the vault's migration lock. */
const MIGRATION_LOCK = 0x5ecb40ce;

const sealedColumns = `
  kek_id text NOT NULL,
  wrapped_key bytea NOT NULL,
  ciphertext bytea NOT NULL`;

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'vault',
    statements: [
      `CREATE TABLE workspaces (
        id text PRIMARY KEY,
        name text NOT NULL UNIQUE,
        created_at timestamptz NOT NULL DEFAULT now()
      )`,
      `CREATE TABLE users (
        id text PRIMARY KEY,
        name text NOT NULL UNIQUE,
        created_at timestamptz NOT NULL DEFAULT now()
      )`,
      // One sealed canary per key-encryption key the vault is sealed under: proves a presented key.
      `CREATE TABLE vault_keys (
        kek_id text PRIMARY KEY,
        wrapped_key bytea NOT NULL,
        ciphertext bytea NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`,
      `CREATE TABLE secrets (
        id text PRIMARY KEY,
        scope text NOT NULL CHECK (scope IN ('workspace', 'user')),
        owner_id text NOT NULL,
        name text NOT NULL,
        version integer NOT NULL DEFAULT 1,
        ${sealedColumns},
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT secrets_scope_owner_name_key UNIQUE (scope, owner_id, name)
      )`,
      `CREATE INDEX secrets_kek_id_idx ON secrets (kek_id)`,
      `CREATE TABLE credentials (
        id text PRIMARY KEY,
        workspace_id text NOT NULL REFERENCES workspaces (id),
        name text NOT NULL,
        kind text NOT NULL,
        public jsonb NOT NULL DEFAULT '{}'::jsonb,
        ${sealedColumns},
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT credentials_workspace_name_key UNIQUE (workspace_id, name)
      )`,
      `CREATE INDEX credentials_kek_id_idx ON credentials (kek_id)`,
      `CREATE TABLE compute_environments (
        id text PRIMARY KEY,
        workspace_id text NOT NULL REFERENCES workspaces (id),
        name text NOT NULL,
        platform text NOT NULL,
        config jsonb NOT NULL DEFAULT '{}'::jsonb,
        credential_id text REFERENCES credentials (id) ON DELETE RESTRICT,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT compute_environments_workspace_name_key UNIQUE (workspace_id, name)
      )`,
      `CREATE INDEX compute_environments_credential_idx ON compute_environments (credential_id)`,
    ],
  },
  {
    version: 3,
    name: 'rate slots',
    statements: [
      // One row per rate-limited key (cloud account, region, kind of call): the time in epoch
      // milliseconds of its next free slot (store/rate-slots.ts).
      `CREATE TABLE rate_slots (
        key text PRIMARY KEY,
        next_ms double precision NOT NULL
      )`,
    ],
  },
];

/** Apply pending migrations. Call inside a transaction. Returns the versions it applied. */
export async function migrate(q: Queryable, migrations: Migration[] = MIGRATIONS): Promise<number[]> {
  await q.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`);
  await q.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
  )`);
  const rows = await q.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
  const applied = new Set(rows.map((r) => Number(r.version)));
  const known = Math.max(0, ...migrations.map((m) => m.version));
  const newest = Math.max(0, ...applied);
  if (newest > known) {
    throw new Error(`the vault database has schema version ${newest}, newer than this broker knows (${known}): upgrade the broker`);
  }
  const done: number[] = [];
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (applied.has(m.version)) continue;
    for (const sql of m.statements) await q.query(sql);
    await q.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
    done.push(m.version);
  }
  return done;
}
