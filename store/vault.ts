/**
 * The vault: workspaces, users, secrets, credentials and compute environments on PGlite (embedded)
 * or PostgreSQL, with secret values and credential secrets sealed by store/crypto.ts.
 *
 * Every write validates first and runs in one transaction, so a refused write changes nothing.
 * Listings and metadata never carry values; values leave only through readSecretValue and
 * readCredential. Errors name fields, rules and records, never values.
 */
import { randomUUID } from 'node:crypto';
import { credentialKind as defaultCredentialKind, type CredentialKind } from '../credentials';
import { platformSpec as defaultPlatformSpec, type PlatformSpec } from '../platforms';
import type { Platform, SecretRef } from '../domain/run';
import { aadFor, sealString, unsealString, type Kek } from './crypto';
import { toIso, UNIQUE_VIOLATION, DbError, type Db, type Queryable, type Row } from './db';
import { ConflictError, ValidationError, VaultKeyError, notFound } from '../domain/errors';
import { Keyring } from './master-key';
import { rewrapOpenStore } from './rewrap';
import { openStore, sealedOf, type OpenStore, type VaultOptions } from './open';
import { sqlRateSlots } from './rate-slots';
import type { RateSlots } from '../domain/rate';
import { assertEntityName, assertSecretName, assertSecretValue, secretNameProblem, storableTextProblem } from '../domain/rules';
import { SqlAccess } from './access';
import { SqlAudit } from './audit';
import type {
  AccessApi,
  AuditApi,
  ComputeEnv,
  ComputeEnvPatch,
  CredentialMeta,
  PrincipalRef,
  MasterKeyRotationResult,
  RotateMasterKeyOptions,
  ReplaceCredentialOptions,
  ResolveResult,
  SecretMeta,
  SecretScope,
  User,
  VaultApi,
  Workspace,
} from './types';

export type { VaultOptions } from './open';

// ---------------------------------------------------------------------------------------------

const SECRET_META = 'id, scope, owner_id, name, version, created_at, updated_at';
const CREDENTIAL_META = 'id, workspace_id, name, kind, public, created_at, updated_at';
const COMPUTE_ENV = 'id, workspace_id, name, platform, config, credential_id, created_at, updated_at';

function workspaceOf(r: Row): Workspace {
  return { id: String(r.id), name: String(r.name), createdAt: toIso(r.created_at) };
}

function secretMetaOf(r: Row): SecretMeta {
  return {
    id: String(r.id),
    scope: r.scope as SecretScope,
    ownerId: String(r.owner_id),
    name: String(r.name),
    version: Number(r.version),
    createdAt: toIso(r.created_at),
    updatedAt: toIso(r.updated_at),
  };
}

function credentialMetaOf(r: Row): CredentialMeta {
  return {
    id: String(r.id),
    workspaceId: String(r.workspace_id),
    name: String(r.name),
    kind: String(r.kind),
    public: (r.public ?? {}) as Record<string, unknown>,
    createdAt: toIso(r.created_at),
    updatedAt: toIso(r.updated_at),
  };
}

function computeEnvOf(r: Row): ComputeEnv {
  return {
    id: String(r.id),
    workspaceId: String(r.workspace_id),
    name: String(r.name),
    platform: r.platform as Platform,
    config: (r.config ?? {}) as Record<string, unknown>,
    credentialId: r.credential_id == null ? null : String(r.credential_id),
    createdAt: toIso(r.created_at),
    updatedAt: toIso(r.updated_at),
  };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}

/**
 * Refuse a string anywhere in settings or credential fields that the vault cannot store as given (a
 * NUL character, a lone surrogate), naming its field, e.g. `config.workDir` or `tags.0`.
 */
function assertStorable(v: unknown, field: string): void {
  if (typeof v === 'string') {
    const problem = storableTextProblem(v);
    if (problem) throw new ValidationError(field, problem);
  } else if (Array.isArray(v) || isPlainObject(v)) {
    for (const [k, inner] of Object.entries(v)) assertStorable(inner, field ? `${field}.${k}` : k);
  }
}

/** JSON with object keys sorted: jsonb keeps its own key order, so compare values this way. */
function canonicalJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    isPlainObject(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : x,
  ) ?? 'undefined';
}

function requireString(v: unknown, field: string): string {
  if (typeof v !== 'string' || v === '') throw new ValidationError(field, 'must be a non-empty string');
  return v;
}

function checkScope(scope: unknown): SecretScope {
  if (scope !== 'workspace' && scope !== 'user') throw new ValidationError('scope', 'must be "workspace" or "user"');
  return scope;
}

function isUniqueViolation(err: unknown): boolean {
  return err instanceof DbError && err.code === UNIQUE_VIOLATION;
}

/** Thrown inside a transaction to run it again (a concurrent writer created the same row). */
class Retry extends Error {}

async function withRetry<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof Retry && attempt < 3) continue;
      if (err instanceof Retry) throw new ConflictError('the record changed concurrently three times; try again');
      throw err;
    }
  }
}

/** Open the vault. See VaultOptions for where the master key comes from (store/master-key.ts). */
export async function openVault(opts: VaultOptions): Promise<VaultApi> {
  const store = await openStore(opts);
  return new SqlVault(store, opts);
}

class SqlVault implements VaultApi {
  private closed = false;
  readonly rateSlots?: RateSlots;
  private readonly db: Db;
  private readonly keyring: Keyring;
  private readonly kinds: (name: string) => CredentialKind;
  private readonly specs: (platform: string) => PlatformSpec;
  readonly access: AccessApi;
  readonly audit: AuditApi;

  constructor(
    private readonly store: OpenStore,
    opts: VaultOptions,
  ) {
    this.db = store.db;
    if (this.db.backend === 'postgresql') this.rateSlots = sqlRateSlots(this.db);
    this.keyring = store.keyring;
    this.kinds = opts.credentialKinds ?? defaultCredentialKind;
    this.specs = opts.platformSpecs ?? defaultPlatformSpec;
    this.access = new SqlAccess(() => this.live());
    this.audit = new SqlAudit(() => this.live());
  }

  private live(): Db {
    if (this.closed) throw new Error('the vault is closed');
    return this.db;
  }

  private keyFor(kekId: string, what: string): Kek {
    const k = this.keyring.get(kekId);
    if (!k) {
      throw new VaultKeyError(
        `${what} is sealed under ${kekId}, a key this process does not hold (it holds ${this.keyring.describe()})`,
      );
    }
    return k;
  }

  // -- workspaces and users ---------------------------------------------------------------------

  private async createNamed(table: 'workspaces' | 'users', what: string, name: string, owner?: PrincipalRef): Promise<Workspace> {
    assertEntityName(name);
    const db = this.live();
    return db.tx(async (q) => {
      const clash = await q.query(`SELECT id FROM ${table} WHERE name = $1`, [name]);
      if (clash.length) throw new ConflictError(`${what} "${name}" already exists`);
      // Users and services (store/access.ts) share one namespace: a member is named by either.
      if (table === 'users' && (await q.query('SELECT id FROM services WHERE name = $1', [name])).length) {
        throw new ConflictError(`an identity named "${name}" already exists (user and service names are unique together)`);
      }
      try {
        const [row] = await q.query(`INSERT INTO ${table} (id, name) VALUES ($1, $2) RETURNING id, name, created_at`, [randomUUID(), name]);
        if (owner) {
          await q.query(`INSERT INTO memberships (workspace_id, principal_id, principal_kind, role) VALUES ($1, $2, $3, 'owner')`, [row!.id, owner.id, owner.kind]);
        }
        return workspaceOf(row!);
      } catch (err) {
        if (isUniqueViolation(err)) throw new ConflictError(`${what} "${name}" already exists`);
        throw err;
      }
    });
  }

  private async findNamed(q: Queryable, table: 'workspaces' | 'users', what: string, idOrName: unknown): Promise<Workspace> {
    if (typeof idOrName !== 'string' || idOrName === '') throw new ValidationError(what === 'workspace' ? 'workspaceId' : 'userId', 'must be a non-empty string');
    const rows = await q.query(`SELECT id, name, created_at FROM ${table} WHERE id = $1 OR name = $1 ORDER BY (id = $1) DESC LIMIT 1`, [idOrName]);
    if (!rows.length) throw notFound(what, idOrName);
    return workspaceOf(rows[0]!);
  }

  async createWorkspace(name: string, owner?: PrincipalRef): Promise<Workspace> {
    return this.createNamed('workspaces', 'workspace', name, owner);
  }

  async getWorkspace(idOrName: string): Promise<Workspace> {
    return this.findNamed(this.live(), 'workspaces', 'workspace', idOrName);
  }

  async listWorkspaces(): Promise<Workspace[]> {
    return (await this.live().query('SELECT id, name, created_at FROM workspaces ORDER BY name')).map(workspaceOf);
  }

  async createUser(name: string): Promise<User> {
    return this.createNamed('users', 'user', name);
  }

  async getUser(idOrName: string): Promise<User> {
    return this.findNamed(this.live(), 'users', 'user', idOrName);
  }

  async listUsers(): Promise<User[]> {
    return (await this.live().query('SELECT id, name, created_at FROM users ORDER BY name')).map(workspaceOf);
  }

  private owner(q: Queryable, scope: SecretScope, ownerId: unknown): Promise<Workspace> {
    if (typeof ownerId !== 'string' || ownerId === '') throw new ValidationError('ownerId', 'must be a non-empty string');
    return scope === 'workspace' ? this.findNamed(q, 'workspaces', 'workspace', ownerId) : this.findNamed(q, 'users', 'user', ownerId);
  }

  // -- secrets ----------------------------------------------------------------------------------

  async setSecret(input: { scope: SecretScope; ownerId: string; name: string; value: string }): Promise<SecretMeta> {
    const scope = checkScope(input?.scope);
    assertSecretName(input.name);
    assertSecretValue(input.value);
    const { name, value } = input;
    const db = this.live();
    return withRetry(() =>
      db.tx(async (q) => {
        const owner = await this.owner(q, scope, input.ownerId);
        const [existing] = await q.query<{ id: string }>(
          'SELECT id FROM secrets WHERE scope = $1 AND owner_id = $2 AND name = $3 FOR UPDATE',
          [scope, owner.id, name],
        );
        const key = this.keyring.sealingKey();
        if (existing) {
          const s = sealString(key, aadFor.secret(existing.id), value);
          const [row] = await q.query(
            `UPDATE secrets SET version = version + 1, kek_id = $2, wrapped_key = $3, ciphertext = $4, updated_at = now()
             WHERE id = $1 RETURNING ${SECRET_META}`,
            [existing.id, s.kekId, s.wrappedKey, s.ciphertext],
          );
          return secretMetaOf(row!);
        }
        const id = randomUUID();
        const s = sealString(key, aadFor.secret(id), value);
        const rows = await q.query(
          `INSERT INTO secrets (id, scope, owner_id, name, version, kek_id, wrapped_key, ciphertext)
           VALUES ($1, $2, $3, $4, 1, $5, $6, $7)
           ON CONFLICT ON CONSTRAINT secrets_scope_owner_name_key DO NOTHING
           RETURNING ${SECRET_META}`,
          [id, scope, owner.id, name, s.kekId, s.wrappedKey, s.ciphertext],
        );
        if (!rows.length) throw new Retry();
        return secretMetaOf(rows[0]!);
      }),
    );
  }

  async deleteSecret(input: { scope: SecretScope; ownerId: string; name: string }): Promise<void> {
    const scope = checkScope(input?.scope);
    assertSecretName(input.name);
    await this.live().tx(async (q) => {
      const owner = await this.owner(q, scope, input.ownerId);
      const rows = await q.query('DELETE FROM secrets WHERE scope = $1 AND owner_id = $2 AND name = $3 RETURNING id', [scope, owner.id, input.name]);
      if (!rows.length) throw notFound(`${scope} secret`, input.name);
    });
  }

  async listSecrets(input: { scope: SecretScope; ownerId: string }): Promise<SecretMeta[]> {
    const scope = checkScope(input?.scope);
    const db = this.live();
    const owner = await this.owner(db, scope, input.ownerId);
    const rows = await db.query(`SELECT ${SECRET_META} FROM secrets WHERE scope = $1 AND owner_id = $2 ORDER BY name`, [scope, owner.id]);
    return rows.map(secretMetaOf);
  }

  async resolveSecrets(input: { workspaceId: string; userId: string; names: string[] }): Promise<ResolveResult> {
    if (!Array.isArray(input?.names)) throw new ValidationError('names', 'must be a list of secret names');
    const names: string[] = [];
    input.names.forEach((n, i) => {
      const problem = secretNameProblem(n);
      if (problem) throw new ValidationError(`names[${i}]`, problem);
      if (!names.includes(n)) names.push(n);
    });
    const db = this.live();
    return db.tx(async (q) => {
      const ws = await this.findNamed(q, 'workspaces', 'workspace', input.workspaceId);
      const user = await this.findNamed(q, 'users', 'user', input.userId);
      const who = { workspaceName: ws.name, userName: user.name };
      if (!names.length) return { found: [], missing: [], ...who };
      const rows = await q.query(
        `SELECT id, scope, name, version FROM secrets
         WHERE ((scope = 'workspace' AND owner_id = $1) OR (scope = 'user' AND owner_id = $2)) AND name = ANY($3::text[])`,
        [ws.id, user.id, names],
      );
      const found: SecretRef[] = [];
      const missing: string[] = [];
      for (const name of names) {
        const hit = rows.find((r) => r.name === name && r.scope === 'user') ?? rows.find((r) => r.name === name && r.scope === 'workspace');
        if (!hit) missing.push(name);
        else found.push({ name, scope: hit.scope as SecretScope, secretId: String(hit.id), version: Number(hit.version) });
      }
      return { found, missing, ...who };
    });
  }

  /**
   * The current value of the secret a ref points at. A ref whose secret was deleted (or whose name or
   * scope no longer match the row) is NotFoundError; a ref whose secret was replaced since it was
   * resolved reads the current version.
   */
  async readSecretValue(ref: SecretRef): Promise<string> {
    const secretId = requireString(ref?.secretId, 'secretId');
    const [row] = await this.live().query('SELECT id, scope, name, kek_id, wrapped_key, ciphertext FROM secrets WHERE id = $1', [secretId]);
    if (!row || row.name !== ref.name || row.scope !== ref.scope) throw notFound('secret', typeof ref.name === 'string' ? ref.name : secretId);
    const what = `secret "${String(row.name)}" (${secretId})`;
    return unsealString(this.keyFor(String(row.kek_id), what), aadFor.secret(secretId), sealedOf(row));
  }

  /** The current values of the secrets these refs point at, in one query, in the refs' order. */
  async readSecretValues(refs: SecretRef[]): Promise<string[]> {
    if (!Array.isArray(refs)) throw new ValidationError('refs', 'must be a list of secret refs');
    const ids = refs.map((ref, i) => requireString(ref?.secretId, `refs[${i}].secretId`));
    if (!ids.length) return [];
    const rows = await this.live().query('SELECT id, scope, name, kek_id, wrapped_key, ciphertext FROM secrets WHERE id = ANY($1::text[])', [ids]);
    const byId = new Map(rows.map((r) => [String(r.id), r]));
    return refs.map((ref, i) => {
      const row = byId.get(ids[i]);
      if (!row || row.name !== ref.name || row.scope !== ref.scope) throw notFound('secret', typeof ref.name === 'string' ? ref.name : ids[i]);
      return unsealString(this.keyFor(String(row.kek_id), `secret "${String(row.name)}" (${ids[i]})`), aadFor.secret(ids[i]), sealedOf(row));
    });
  }

  // -- credentials ------------------------------------------------------------------------------

  async createCredential(input: { workspaceId: string; name: string; kind: string; fields: Record<string, unknown> }): Promise<CredentialMeta> {
    assertEntityName(input?.name);
    if (typeof input.kind !== 'string') throw new ValidationError('kind', 'must be a string');
    const kind = this.kinds(input.kind);
    if (!isPlainObject(input.fields)) throw new ValidationError('fields', 'must be an object');
    assertStorable(input.fields, '');
    const parsed = await kind.parse(input.fields);
    if (!isPlainObject(parsed.public) || !isPlainObject(parsed.secret)) throw new Error(`internal: credential kind ${kind.kind} returned a malformed result`);
    for (const [field, v] of Object.entries(parsed.secret)) {
      if (typeof v !== 'string') throw new ValidationError(`fields.${field}`, 'must be a string');
    }
    const name = input.name;
    return this.live().tx(async (q) => {
      const ws = await this.findNamed(q, 'workspaces', 'workspace', input.workspaceId);
      const clash = await q.query('SELECT id FROM credentials WHERE workspace_id = $1 AND name = $2', [ws.id, name]);
      const conflict = () => new ConflictError(`credential "${name}" already exists in workspace "${ws.name}"`);
      if (clash.length) throw conflict();
      const id = randomUUID();
      const s = sealString(this.keyring.sealingKey(), aadFor.credential(id), JSON.stringify(parsed.secret));
      try {
        const [row] = await q.query(
          `INSERT INTO credentials (id, workspace_id, name, kind, public, kek_id, wrapped_key, ciphertext)
           VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8) RETURNING ${CREDENTIAL_META}`,
          [id, ws.id, name, kind.kind, JSON.stringify(parsed.public), s.kekId, s.wrappedKey, s.ciphertext],
        );
        return credentialMetaOf(row!);
      } catch (err) {
        if (isUniqueViolation(err)) throw conflict();
        throw err;
      }
    });
  }

  private async findCredential(q: Queryable, idOrName: unknown, workspaceId?: string): Promise<Row> {
    const key = requireString(idOrName, 'credentialId');
    let rows: Row[];
    if (workspaceId !== undefined) {
      const ws = await this.findNamed(q, 'workspaces', 'workspace', workspaceId);
      rows = await q.query(`SELECT ${CREDENTIAL_META} FROM credentials WHERE workspace_id = $1 AND (id = $2 OR name = $2)`, [ws.id, key]);
    } else {
      rows = await q.query(`SELECT ${CREDENTIAL_META} FROM credentials WHERE id = $1 OR name = $1`, [key]);
    }
    const byId = rows.find((r) => r.id === key);
    if (byId) return byId;
    if (rows.length > 1) throw new ValidationError('workspaceId', 'required: several workspaces have a credential with this name');
    if (!rows.length) throw notFound('credential', key);
    return rows[0]!;
  }

  async getCredential(idOrName: string, workspaceId?: string): Promise<CredentialMeta> {
    return credentialMetaOf(await this.findCredential(this.live(), idOrName, workspaceId));
  }

  async listCredentials(workspaceId: string): Promise<CredentialMeta[]> {
    const db = this.live();
    const ws = await this.findNamed(db, 'workspaces', 'workspace', workspaceId);
    return (await db.query(`SELECT ${CREDENTIAL_META} FROM credentials WHERE workspace_id = $1 ORDER BY name`, [ws.id])).map(credentialMetaOf);
  }

  async deleteCredential(id: string): Promise<void> {
    const key = requireString(id, 'id');
    await this.live().tx(async (q) => {
      const [row] = await q.query('SELECT id, name FROM credentials WHERE id = $1 FOR UPDATE', [key]);
      if (!row) throw notFound('credential', key);
      const users = await q.query('SELECT name FROM compute_environments WHERE credential_id = $1 ORDER BY name', [key]);
      if (users.length) {
        throw new ConflictError(
          `credential "${String(row.name)}" is used by compute environment${users.length > 1 ? 's' : ''} ${users.map((u) => `"${String(u.name)}"`).join(', ')}: delete or change them first`,
        );
      }
      await q.query('DELETE FROM credentials WHERE id = $1', [key]);
    });
  }

  async readCredential(id: string): Promise<{ kind: string; public: Record<string, unknown>; secret: Record<string, string> }> {
    const key = requireString(id, 'id');
    const [row] = await this.live().query('SELECT id, name, kind, public, kek_id, wrapped_key, ciphertext FROM credentials WHERE id = $1', [key]);
    if (!row) throw notFound('credential', key);
    const what = `credential "${String(row.name)}" (${key})`;
    const json = unsealString(this.keyFor(String(row.kek_id), what), aadFor.credential(key), sealedOf(row));
    return { kind: String(row.kind), public: (row.public ?? {}) as Record<string, unknown>, secret: JSON.parse(json) as Record<string, string> };
  }

  async listCredentialsOfKind(kind: string): Promise<CredentialMeta[]> {
    if (typeof kind !== 'string' || kind === '') throw new ValidationError('kind', 'must be a non-empty string');
    return (await this.live().query(`SELECT ${CREDENTIAL_META} FROM credentials WHERE kind = $1 ORDER BY workspace_id, name`, [kind])).map(credentialMetaOf);
  }

  async replaceCredentialSecret(
    id: string,
    patch: Record<string, string>,
    expect?: Record<string, string>,
    opts: ReplaceCredentialOptions = {},
  ): Promise<CredentialMeta> {
    const key = requireString(id, 'id');
    if (!isPlainObject(patch) || Object.keys(patch).length === 0) throw new ValidationError('patch', 'must name at least one secret field');
    for (const [field, v] of Object.entries(patch)) {
      if (typeof v !== 'string') throw new ValidationError(`patch.${field}`, 'must be a string');
    }
    if (expect !== undefined && !isPlainObject(expect)) throw new ValidationError('expect', 'must be an object');
    const publicFields = opts.publicFields ?? [];
    if (!Array.isArray(publicFields) || publicFields.some((f) => typeof f !== 'string' || f === '')) {
      throw new ValidationError('publicFields', 'must be a list of field names');
    }
    return this.live().tx(async (q) => {
      const [row] = await q.query('SELECT id, name, kind, public, kek_id, wrapped_key, ciphertext FROM credentials WHERE id = $1 FOR UPDATE', [key]);
      if (!row) throw notFound('credential', key);
      const what = `credential "${String(row.name)}" (${key})`;
      const secret = JSON.parse(unsealString(this.keyFor(String(row.kek_id), what), aadFor.credential(key), sealedOf(row))) as Record<string, string>;
      const pub = (row.public ?? {}) as Record<string, unknown>;
      const changedPublic = new Set<string>();
      for (const field of Object.keys(patch)) {
        if (Object.hasOwn(secret, field)) continue;
        if (Object.hasOwn(pub, field)) {
          if (!publicFields.includes(field)) {
            throw new ValidationError(`patch.${field}`, `is a public field of ${what}; it changes only when named in publicFields`);
          }
          changedPublic.add(field);
          continue;
        }
        throw new ValidationError(`patch.${field}`, `is not a secret field of ${what}`);
      }
      if (expect) {
        for (const [field, v] of Object.entries(expect)) {
          // The caller read the credential before; a concurrent change makes this write stale.
          const current = Object.hasOwn(secret, field) ? secret[field] : Object.hasOwn(pub, field) ? pub[field] : undefined;
          if (current !== v) throw new ConflictError(`${what} changed since it was read (field ${field}); read it again`);
        }
      }
      const parsed = await this.kinds(String(row.kind)).parse({ ...pub, ...secret, ...patch });
      // The kind decides what is public; only the fields named may move, and nothing may move between the two parts.
      for (const field of new Set([...Object.keys(pub), ...Object.keys(parsed.public)])) {
        const moved = changedPublic.has(field) ? !Object.hasOwn(parsed.public, field) : canonicalJson(parsed.public[field]) !== canonicalJson(pub[field]);
        if (moved) throw new Error(`internal: replacing fields of ${what} changed its public field ${field}`);
      }
      const s = sealString(this.keyring.sealingKey(), aadFor.credential(key), JSON.stringify(parsed.secret));
      const [updated] = await q.query(
        `UPDATE credentials SET public = $5::jsonb, kek_id = $2, wrapped_key = $3, ciphertext = $4, updated_at = now() WHERE id = $1 RETURNING ${CREDENTIAL_META}`,
        [key, s.kekId, s.wrappedKey, s.ciphertext, JSON.stringify(parsed.public)],
      );
      return credentialMetaOf(updated!);
    });
  }

  // -- compute environments ---------------------------------------------------------------------

  async createComputeEnv(input: {
    workspaceId: string;
    name: string;
    platform: Platform;
    config: Record<string, unknown>;
    credentialId?: string | null;
  }): Promise<ComputeEnv> {
    assertEntityName(input?.name);
    if (typeof input.platform !== 'string') throw new ValidationError('platform', 'must be a string');
    const spec = this.specs(input.platform);
    const rawConfig = input.config ?? {};
    if (!isPlainObject(rawConfig)) throw new ValidationError('config', 'must be an object');
    assertStorable(rawConfig, 'config');
    const config = spec.parseConfig(rawConfig);
    const name = input.name;
    const credentialRef = input.credentialId;
    return this.live().tx(async (q) => {
      const ws = await this.findNamed(q, 'workspaces', 'workspace', input.workspaceId);
      const credentialId = await this.credentialFor(q, spec, ws, credentialRef);
      const conflict = () => new ConflictError(`compute environment "${name}" already exists in workspace "${ws.name}"`);
      const clash = await q.query('SELECT id FROM compute_environments WHERE workspace_id = $1 AND name = $2', [ws.id, name]);
      if (clash.length) throw conflict();
      try {
        const [row] = await q.query(
          `INSERT INTO compute_environments (id, workspace_id, name, platform, config, credential_id)
           VALUES ($1, $2, $3, $4, $5::jsonb, $6) RETURNING ${COMPUTE_ENV}`,
          [randomUUID(), ws.id, name, spec.platform, JSON.stringify(config), credentialId],
        );
        return computeEnvOf(row!);
      } catch (err) {
        if (isUniqueViolation(err)) throw conflict();
        throw err;
      }
    });
  }

  /**
   * The credential a compute environment of `spec` may use: `ref` (id or name) resolved in `ws` and
   * checked against the platform's kind; null for platforms that take none. Shared by create and
   * update, so both apply the same rules with the same words.
   */
  private async credentialFor(q: Queryable, spec: PlatformSpec, ws: Workspace, ref: unknown): Promise<string | null> {
    if (!spec.credentialKind) {
      if (ref !== undefined && ref !== null) throw new ValidationError('credentialId', `${spec.platform} compute environments take no credential`);
      return null;
    }
    if (ref === undefined || ref === null || ref === '') {
      throw new ValidationError('credentialId', `required: ${spec.platform} compute environments need a "${spec.credentialKind}" credential`);
    }
    if (typeof ref !== 'string') throw new ValidationError('credentialId', 'must be a string');
    const [cred] = await q.query('SELECT id, kind FROM credentials WHERE workspace_id = $1 AND (id = $2 OR name = $2) ORDER BY (id = $2) DESC LIMIT 1', [ws.id, ref]);
    if (!cred) throw new ValidationError('credentialId', `no such credential in workspace "${ws.name}"`);
    if (cred.kind !== spec.credentialKind) {
      throw new ValidationError('credentialId', `must be a "${spec.credentialKind}" credential, not "${String(cred.kind)}"`);
    }
    return String(cred.id);
  }

  /** One compute environment by id, or by name (within the workspace when given); `lock` takes its row lock. */
  private async findComputeEnv(q: Queryable, idOrName: unknown, workspaceId: string | undefined, lock = false): Promise<Row> {
    const key = requireString(idOrName, 'computeEnvId');
    const forUpdate = lock ? ' FOR UPDATE' : '';
    let rows: Row[];
    if (workspaceId !== undefined) {
      const ws = await this.findNamed(q, 'workspaces', 'workspace', workspaceId);
      rows = await q.query(`SELECT ${COMPUTE_ENV} FROM compute_environments WHERE workspace_id = $1 AND (id = $2 OR name = $2)${forUpdate}`, [ws.id, key]);
    } else {
      rows = await q.query(`SELECT ${COMPUTE_ENV} FROM compute_environments WHERE id = $1 OR name = $1${forUpdate}`, [key]);
    }
    const byId = rows.find((r) => r.id === key);
    if (byId) return byId;
    if (rows.length > 1) throw new ValidationError('workspaceId', 'required: several workspaces have a compute environment with this name');
    if (!rows.length) throw notFound('compute environment', key);
    return rows[0]!;
  }

  async getComputeEnv(idOrName: string, workspaceId?: string): Promise<ComputeEnv> {
    return computeEnvOf(await this.findComputeEnv(this.live(), idOrName, workspaceId));
  }

  async updateComputeEnv(idOrName: string, workspaceId: string | undefined, patch: ComputeEnvPatch): Promise<ComputeEnv> {
    const key = requireString(idOrName, 'computeEnvId');
    if (!isPlainObject(patch)) throw new ValidationError('patch', 'must be an object');
    for (const field of Object.keys(patch)) {
      if (field === 'platform') throw new ValidationError('platform', 'cannot be changed: create a new compute environment for the other platform');
      if (field !== 'config' && field !== 'credentialId') throw new ValidationError(field, 'cannot be changed (only config and credentialId can)');
    }
    const { config: rawConfig, credentialId: credentialRef } = patch;
    if (rawConfig === undefined && credentialRef === undefined) throw new ValidationError('patch', 'must change config, credentialId or both');
    if (rawConfig !== undefined && !isPlainObject(rawConfig)) throw new ValidationError('config', 'must be an object');
    if (rawConfig !== undefined) assertStorable(rawConfig, 'config');
    return this.live().tx(async (q) => {
      // The row lock orders concurrent updates of one environment; nothing is written until every
      // check below has passed, and any refusal rolls the transaction back.
      const current = computeEnvOf(await this.findComputeEnv(q, key, workspaceId, true));
      const spec = this.specs(current.platform);
      const config = rawConfig === undefined ? current.config : spec.parseConfig(rawConfig);
      let credentialId = current.credentialId;
      if (credentialRef !== undefined) {
        const ws = await this.findNamed(q, 'workspaces', 'workspace', current.workspaceId);
        credentialId = await this.credentialFor(q, spec, ws, credentialRef);
      }
      // now() is the transaction's start; never let updated_at stand still or go back (clock steps,
      // two updates within one millisecond), so a reader can tell that a change happened.
      const [row] = await q.query(
        `UPDATE compute_environments
         SET config = $2::jsonb, credential_id = $3, updated_at = GREATEST(now(), updated_at + interval '1 millisecond')
         WHERE id = $1 RETURNING ${COMPUTE_ENV}`,
        [current.id, JSON.stringify(config), credentialId],
      );
      return computeEnvOf(row!);
    });
  }

  async listComputeEnvs(workspaceId: string): Promise<ComputeEnv[]> {
    const db = this.live();
    const ws = await this.findNamed(db, 'workspaces', 'workspace', workspaceId);
    return (await db.query(`SELECT ${COMPUTE_ENV} FROM compute_environments WHERE workspace_id = $1 ORDER BY name`, [ws.id])).map(computeEnvOf);
  }

  async deleteComputeEnv(id: string): Promise<void> {
    const key = requireString(id, 'id');
    const rows = await this.live().query('DELETE FROM compute_environments WHERE id = $1 RETURNING id', [key]);
    if (!rows.length) throw notFound('compute environment', key);
  }

  // -- master key rotation ----------------------------------------------------------------------

  /** The rotation under way in this vault, if any: calls queue behind it (one rotation at a time). */
  private rotation: Promise<unknown> = Promise.resolve();

  async rotateMasterKey(opts: RotateMasterKeyOptions = {}): Promise<MasterKeyRotationResult> {
    this.live();
    const run = this.rotation.then(() =>
      rewrapOpenStore(this.store, {
        ...(opts.resumeKeyId !== undefined ? { resumeKeyId: opts.resumeKeyId } : {}),
        ...(opts.onStart ? { onStart: opts.onStart } : {}),
        onProgress: async (p) => {
          // Closing stops the rotation at the next row; it resumes when started again.
          // A plain Error, not a VaultKeyError: a closing process is no refusal, and a retry (on this or
          // another worker) finishes the rotation.
          if (this.closed) throw new Error('the vault closed during the master key rotation; start it again to finish it');
          await opts.onProgress?.(p);
        },
      }),
    );
    this.rotation = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.rotation;
    await this.store.close();
  }
}
