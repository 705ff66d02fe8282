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
    version: 2,
    name: 'identities, roles, tokens, audit',
    statements: [
      // Persons are the vault's users; services (the launch service, CI) are callers that are not persons.
      `ALTER TABLE users ADD COLUMN broker_admin boolean NOT NULL DEFAULT false`,
      `CREATE TABLE services (
        id text PRIMARY KEY,
        name text NOT NULL UNIQUE,
        broker_admin boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now()
      )`,
      // One OIDC subject (of one issuer) per principal, one principal per subject.
      `CREATE TABLE oidc_subjects (
        issuer text NOT NULL,
        subject text NOT NULL,
        principal_id text NOT NULL UNIQUE,
        principal_kind text NOT NULL CHECK (principal_kind IN ('user', 'service')),
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (issuer, subject)
      )`,
      `CREATE TABLE memberships (
        workspace_id text NOT NULL REFERENCES workspaces (id),
        principal_id text NOT NULL,
        principal_kind text NOT NULL CHECK (principal_kind IN ('user', 'service')),
        role text NOT NULL CHECK (role IN ('view', 'launch', 'connect', 'maintainer', 'admin', 'owner')),
        on_behalf boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (workspace_id, principal_id),
        CONSTRAINT memberships_on_behalf_service CHECK (NOT on_behalf OR principal_kind = 'service')
      )`,
      `CREATE INDEX memberships_principal_idx ON memberships (principal_id)`,
      // A token is stored only as the SHA-256 of its text; the text is shown once, when made.
      `CREATE TABLE api_tokens (
        id text PRIMARY KEY,
        principal_id text NOT NULL,
        principal_kind text NOT NULL CHECK (principal_kind IN ('user', 'service')),
        name text NOT NULL,
        token_hash bytea NOT NULL UNIQUE,
        created_by text,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        last_used_at timestamptz,
        revoked_at timestamptz,
        revoked_by text
      )`,
      `CREATE INDEX api_tokens_principal_idx ON api_tokens (principal_id)`,
      // The audit trail: append-only (the trigger refuses UPDATE, DELETE and TRUNCATE), and each
      // record carries the hash of the one before it (store/audit.ts), so an edit that gets past the
      // trigger still shows.
      `CREATE TABLE audit_log (
        seq bigint PRIMARY KEY,
        at timestamptz NOT NULL,
        actor_id text,
        actor_kind text,
        actor_name text,
        via text NOT NULL,
        action text NOT NULL,
        workspace_id text,
        target jsonb NOT NULL DEFAULT '{}'::jsonb,
        outcome text NOT NULL CHECK (outcome IN ('ok', 'refused', 'failed')),
        status integer,
        code text,
        ip text,
        detail jsonb NOT NULL DEFAULT '{}'::jsonb,
        prev_hash text NOT NULL,
        hash text NOT NULL
      )`,
      `CREATE INDEX audit_log_workspace_idx ON audit_log (workspace_id, seq)`,
      `CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, seq)`,
      `CREATE INDEX audit_log_at_idx ON audit_log (at)`,
      `CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = '55000';
       END
       $$`,
      `CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()`,
      `CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()`,
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
  {
    version: 4,
    name: 'audit event keys',
    statements: [
      // The idempotency key of a record a retried writer may append twice (store/audit.ts). Not part
      // of the record's hash: it names the attempt, not what happened.
      `ALTER TABLE audit_log ADD COLUMN event_key text`,
      `CREATE UNIQUE INDEX audit_log_event_key_idx ON audit_log (event_key) WHERE event_key IS NOT NULL`,
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
