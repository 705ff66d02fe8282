/**
 * Identities, roles and tokens in the vault's database (migration 2): services beside the vault's
 * users, broker administrators, OIDC subjects, workspace memberships and API tokens.
 *
 * A token's text is made here, handed out once, and kept only as its SHA-256: 32 random bytes need
 * no slow hash, and a database dump holds nothing that authenticates. Every write validates first and
 * runs in one transaction, so a refused write changes nothing.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { isRole, TOKEN_PATTERN, TOKEN_PREFIX, type Membership, type Principal, type PrincipalKind, type Role } from '../domain/access';
import { ConflictError, ValidationError, notFound } from '../domain/errors';
import { assertEntityName } from '../domain/rules';
import { toIso, type Db, type Queryable, type Row } from './db';
import type { AccessApi, MemberInfo, PrincipalRecord, PrincipalRef, TokenCheck, TokenMeta } from './types';

/** Serializes the checks that span rows: the last owner, the last broker administrator, bootstrap. */
const ACCESS_LOCK = 0x5ecb40cf;

/** A token's SHA-256, as stored. */
function tokenHash(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

function newTokenText(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

const PRINCIPALS = `
  SELECT p.id, p.kind, p.name, p.broker_admin, p.created_at, o.issuer, o.subject FROM (
    SELECT id, 'user' AS kind, name, broker_admin, created_at FROM users
    UNION ALL
    SELECT id, 'service' AS kind, name, broker_admin, created_at FROM services
  ) p LEFT JOIN oidc_subjects o ON o.principal_id = p.id`;

function principalOf(r: Row): PrincipalRecord {
  return {
    id: String(r.id),
    kind: r.kind as PrincipalKind,
    name: String(r.name),
    brokerAdmin: r.broker_admin === true,
    createdAt: toIso(r.created_at),
    ...(r.issuer != null ? { oidc: { issuer: String(r.issuer), subject: String(r.subject) } } : {}),
  };
}

const TOKEN_META = `
  SELECT t.id, t.name, t.principal_id, t.principal_kind, t.created_by, t.created_at, t.expires_at, t.last_used_at, t.revoked_at,
         t.expires_at <= now() AS expired, COALESCE(u.name, s.name) AS principal_name, COALESCE(u.broker_admin, s.broker_admin) AS broker_admin
  FROM api_tokens t
  LEFT JOIN users u ON t.principal_kind = 'user' AND u.id = t.principal_id
  LEFT JOIN services s ON t.principal_kind = 'service' AND s.id = t.principal_id`;

function tokenMetaOf(r: Row): TokenMeta {
  return {
    id: String(r.id),
    name: String(r.name),
    principal: { id: String(r.principal_id), kind: r.principal_kind as PrincipalKind, name: String(r.principal_name ?? r.principal_id) },
    createdAt: toIso(r.created_at),
    ...(r.created_by != null ? { createdBy: String(r.created_by) } : {}),
    expiresAt: toIso(r.expires_at),
    ...(r.last_used_at != null ? { lastUsedAt: toIso(r.last_used_at) } : {}),
    ...(r.revoked_at != null ? { revokedAt: toIso(r.revoked_at) } : {}),
  };
}

function membershipOf(r: Row): Membership {
  return { workspaceId: String(r.workspace_id), principalId: String(r.principal_id), role: r.role as Role, onBehalf: r.on_behalf === true };
}

function memberInfoOf(r: Row): MemberInfo {
  return {
    workspaceId: String(r.workspace_id),
    principal: { id: String(r.principal_id), kind: r.principal_kind as PrincipalKind, name: String(r.principal_name ?? r.principal_id) },
    role: r.role as Role,
    onBehalf: r.on_behalf === true,
    createdAt: toIso(r.created_at),
    updatedAt: toIso(r.updated_at),
  };
}

function checkOidc(link: { issuer: string; subject: string }): void {
  if (typeof link?.issuer !== 'string' || link.issuer === '') throw new ValidationError('issuer', 'must be a non-empty string');
  if (typeof link.subject !== 'string' || link.subject === '' || link.subject.length > 255) {
    throw new ValidationError('oidcSubject', 'must be 1 to 255 characters (the "sub" claim of the OIDC tokens)');
  }
}

function requireId(v: unknown, field: string): string {
  if (typeof v !== 'string' || v === '') throw new ValidationError(field, 'must be a non-empty string');
  return v;
}

export class SqlAccess implements AccessApi {
  constructor(private readonly db: () => Db) {}

  private async findPrincipal(q: Queryable, idOrName: unknown, kind?: PrincipalKind): Promise<PrincipalRecord> {
    const key = requireId(idOrName, kind === 'service' ? 'service' : kind === 'user' ? 'user' : 'identity');
    const rows = await q.query(`${PRINCIPALS} WHERE (p.id = $1 OR p.name = $1)${kind ? ' AND p.kind = $2' : ''} ORDER BY (p.id = $1) DESC`, kind ? [key, kind] : [key]);
    if (!rows.length) throw notFound(kind ?? 'identity', key);
    return principalOf(rows[0]!);
  }

  principal(idOrName: string, kind?: PrincipalKind): Promise<PrincipalRecord> {
    return this.findPrincipal(this.db(), idOrName, kind);
  }

  async listPrincipals(kind: PrincipalKind): Promise<PrincipalRecord[]> {
    return (await this.db().query(`${PRINCIPALS} WHERE p.kind = $1 ORDER BY p.name`, [kind])).map(principalOf);
  }

  async createPrincipal(kind: PrincipalKind, name: string, opts: { brokerAdmin?: boolean; oidc?: { issuer: string; subject: string } } = {}): Promise<PrincipalRecord> {
    if (kind !== 'user' && kind !== 'service') throw new ValidationError('kind', 'must be user or service');
    assertEntityName(name);
    if (opts.brokerAdmin !== undefined && typeof opts.brokerAdmin !== 'boolean') throw new ValidationError('brokerAdmin', 'must be true or false');
    if (opts.oidc) checkOidc(opts.oidc);
    return this.db().tx(async (q) => {
      const clash = await q.query('SELECT 1 FROM users WHERE name = $1 UNION ALL SELECT 1 FROM services WHERE name = $1', [name]);
      if (clash.length) {
        throw new ConflictError(kind === 'user' ? `user "${name}" already exists` : `an identity named "${name}" already exists (user and service names are unique together)`);
      }
      const id = randomUUID();
      await q.query(`INSERT INTO ${kind === 'user' ? 'users' : 'services'} (id, name, broker_admin) VALUES ($1, $2, $3)`, [id, name, opts.brokerAdmin === true]);
      if (opts.oidc) await this.linkOidc(q, { id, kind }, opts.oidc);
      return this.findPrincipal(q, id, kind);
    });
  }

  private async linkOidc(q: Queryable, p: { id: string; kind: PrincipalKind }, link: { issuer: string; subject: string }): Promise<void> {
    const taken = await q.query('SELECT principal_id FROM oidc_subjects WHERE issuer = $1 AND subject = $2', [link.issuer, link.subject]);
    if (taken.length && taken[0]!.principal_id !== p.id) throw new ConflictError('this OIDC subject is already mapped to another identity');
    await q.query('DELETE FROM oidc_subjects WHERE principal_id = $1', [p.id]);
    await q.query('INSERT INTO oidc_subjects (issuer, subject, principal_id, principal_kind) VALUES ($1, $2, $3, $4)', [link.issuer, link.subject, p.id, p.kind]);
  }

  async updatePrincipal(idOrName: string, kind: PrincipalKind, patch: { brokerAdmin?: boolean; oidc?: { issuer: string; subject: string } | null }): Promise<PrincipalRecord> {
    if (patch.brokerAdmin !== undefined && typeof patch.brokerAdmin !== 'boolean') throw new ValidationError('brokerAdmin', 'must be true or false');
    if (patch.oidc) checkOidc(patch.oidc);
    return this.db().tx(async (q) => {
      await q.query(`SELECT pg_advisory_xact_lock(${ACCESS_LOCK})`);
      const p = await this.findPrincipal(q, idOrName, kind);
      if (patch.brokerAdmin !== undefined) {
        if (p.brokerAdmin && !patch.brokerAdmin) {
          const [n] = await q.query<{ n: number }>('SELECT (SELECT count(*) FROM users WHERE broker_admin) + (SELECT count(*) FROM services WHERE broker_admin) AS n');
          if (Number(n?.n) <= 1) throw new ConflictError('the broker keeps at least one broker administrator: make another one first');
        }
        await q.query(`UPDATE ${p.kind === 'user' ? 'users' : 'services'} SET broker_admin = $2 WHERE id = $1`, [p.id, patch.brokerAdmin]);
      }
      if (patch.oidc === null) await q.query('DELETE FROM oidc_subjects WHERE principal_id = $1', [p.id]);
      else if (patch.oidc) await this.linkOidc(q, p, patch.oidc);
      return this.findPrincipal(q, p.id);
    });
  }

  async principalByOidc(issuer: string, subject: string): Promise<Principal | undefined> {
    const rows = await this.db().query(`${PRINCIPALS} WHERE o.issuer = $1 AND o.subject = $2`, [issuer, subject]);
    if (!rows.length) return undefined;
    const { createdAt: _c, oidc: _o, ...p } = principalOf(rows[0]!);
    return p;
  }

  // -- memberships -------------------------------------------------------------------------------

  async membership(workspaceId: string, principalId: string): Promise<Membership | undefined> {
    const [row] = await this.db().query('SELECT * FROM memberships WHERE workspace_id = $1 AND principal_id = $2', [workspaceId, principalId]);
    return row ? membershipOf(row) : undefined;
  }

  async membershipsOf(principalId: string): Promise<Membership[]> {
    return (await this.db().query('SELECT * FROM memberships WHERE principal_id = $1', [principalId])).map(membershipOf);
  }

  private async members(q: Queryable, workspaceId: string, principalId?: string): Promise<MemberInfo[]> {
    const rows = await q.query(
      `SELECT m.*, COALESCE(u.name, s.name) AS principal_name FROM memberships m
       LEFT JOIN users u ON m.principal_kind = 'user' AND u.id = m.principal_id
       LEFT JOIN services s ON m.principal_kind = 'service' AND s.id = m.principal_id
       WHERE m.workspace_id = $1${principalId ? ' AND m.principal_id = $2' : ''} ORDER BY principal_name`,
      principalId ? [workspaceId, principalId] : [workspaceId],
    );
    return rows.map(memberInfoOf);
  }

  private async workspaceId(q: Queryable, idOrName: unknown): Promise<string> {
    const key = requireId(idOrName, 'workspaceId');
    const [row] = await q.query('SELECT id FROM workspaces WHERE id = $1 OR name = $1 ORDER BY (id = $1) DESC LIMIT 1', [key]);
    if (!row) throw notFound('workspace', key);
    return String(row.id);
  }

  async listMembers(workspaceId: string): Promise<MemberInfo[]> {
    const db = this.db();
    return this.members(db, await this.workspaceId(db, workspaceId));
  }

  /** Throws when `principalId` is the workspace's only owner. Call with the access lock held. */
  private async keepAnOwner(q: Queryable, workspaceId: string, principalId: string): Promise<void> {
    const owners = await q.query<{ principal_id: string }>("SELECT principal_id FROM memberships WHERE workspace_id = $1 AND role = 'owner'", [workspaceId]);
    if (owners.length === 1 && owners[0]!.principal_id === principalId) {
      throw new ConflictError('a workspace keeps at least one owner: make another member owner first');
    }
  }

  async setMember(workspaceId: string, principalId: string, role: Role, opts: { onBehalf?: boolean } = {}): Promise<MemberInfo> {
    if (!isRole(role)) throw new ValidationError('role', 'must be one of view, launch, connect, maintainer, admin, owner');
    if (opts.onBehalf !== undefined && typeof opts.onBehalf !== 'boolean') throw new ValidationError('onBehalf', 'must be true or false');
    return this.db().tx(async (q) => {
      await q.query(`SELECT pg_advisory_xact_lock(${ACCESS_LOCK})`);
      const ws = await this.workspaceId(q, workspaceId);
      const p = await this.findPrincipal(q, principalId);
      if (opts.onBehalf && p.kind !== 'service') throw new ValidationError('onBehalf', 'only a service identity (the launch service) can hold the on-behalf right');
      const [current] = await q.query('SELECT role FROM memberships WHERE workspace_id = $1 AND principal_id = $2', [ws, p.id]);
      if (current?.role === 'owner' && role !== 'owner') await this.keepAnOwner(q, ws, p.id);
      await q.query(
        `INSERT INTO memberships (workspace_id, principal_id, principal_kind, role, on_behalf) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (workspace_id, principal_id) DO UPDATE SET role = EXCLUDED.role, on_behalf = EXCLUDED.on_behalf, updated_at = now()`,
        [ws, p.id, p.kind, role, opts.onBehalf === true],
      );
      return (await this.members(q, ws, p.id))[0]!;
    });
  }

  async removeMember(workspaceId: string, principalId: string): Promise<void> {
    await this.db().tx(async (q) => {
      await q.query(`SELECT pg_advisory_xact_lock(${ACCESS_LOCK})`);
      const ws = await this.workspaceId(q, workspaceId);
      const p = await this.findPrincipal(q, principalId);
      const [current] = await q.query('SELECT role FROM memberships WHERE workspace_id = $1 AND principal_id = $2', [ws, p.id]);
      if (!current) throw notFound('member', p.name);
      if (current.role === 'owner') await this.keepAnOwner(q, ws, p.id);
      await q.query('DELETE FROM memberships WHERE workspace_id = $1 AND principal_id = $2', [ws, p.id]);
    });
  }

  // -- tokens ------------------------------------------------------------------------------------

  private async insertToken(q: Queryable, p: PrincipalRef, name: string, ttlMs: number, createdBy?: string): Promise<{ token: string; meta: TokenMeta }> {
    const token = newTokenText();
    const id = randomUUID();
    await q.query(
      `INSERT INTO api_tokens (id, principal_id, principal_kind, name, token_hash, created_by, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, now() + ($7::bigint * interval '1 millisecond'))`,
      [id, p.id, p.kind, name, tokenHash(token), createdBy ?? null, ttlMs],
    );
    const [row] = await q.query(`${TOKEN_META} WHERE t.id = $1`, [id]);
    return { token, meta: tokenMetaOf(row!) };
  }

  async createToken(input: { principalId: string; name: string; ttlMs: number; createdBy?: string }): Promise<{ token: string; meta: TokenMeta }> {
    assertEntityName(input?.name);
    if (!Number.isInteger(input.ttlMs) || input.ttlMs < 1000) throw new ValidationError('expiresIn', 'must be at least 1s');
    return this.db().tx(async (q) => {
      const p = await this.findPrincipal(q, input.principalId);
      return this.insertToken(q, p, input.name, input.ttlMs, input.createdBy);
    });
  }

  async checkToken(token: string): Promise<TokenCheck> {
    if (typeof token !== 'string' || !TOKEN_PATTERN.test(token)) return { ok: false, reason: 'malformed' };
    const db = this.db();
    const [row] = await db.query(`${TOKEN_META} WHERE t.token_hash = $1`, [tokenHash(token)]);
    if (!row || row.principal_name == null) return { ok: false, reason: 'unknown' };
    if (row.revoked_at != null) return { ok: false, reason: 'revoked' };
    if (row.expired === true) return { ok: false, reason: 'expired' };
    // The last use, to the minute: one write a minute per token, not one per request.
    await db.query(`UPDATE api_tokens SET last_used_at = now() WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`, [row.id]);
    const meta = tokenMetaOf(row);
    return { ok: true, token: meta, principal: { ...meta.principal, brokerAdmin: row.broker_admin === true } };
  }

  async listTokens(principalId?: string): Promise<TokenMeta[]> {
    const rows = principalId
      ? await this.db().query(`${TOKEN_META} WHERE t.principal_id = $1 ORDER BY t.created_at, t.id`, [principalId])
      : await this.db().query(`${TOKEN_META} ORDER BY t.created_at, t.id`);
    return rows.map(tokenMetaOf);
  }

  async getToken(id: string): Promise<TokenMeta> {
    const key = requireId(id, 'id');
    const [row] = await this.db().query(`${TOKEN_META} WHERE t.id = $1`, [key]);
    if (!row) throw notFound('token', key);
    return tokenMetaOf(row);
  }

  async revokeToken(id: string, by?: string): Promise<TokenMeta> {
    const key = requireId(id, 'id');
    return this.db().tx(async (q) => {
      const rows = await q.query('UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, now()), revoked_by = COALESCE(revoked_by, $2) WHERE id = $1 RETURNING id', [key, by ?? null]);
      if (!rows.length) throw notFound('token', key);
      const [row] = await q.query(`${TOKEN_META} WHERE t.id = $1`, [key]);
      return tokenMetaOf(row!);
    });
  }

  async bootstrapAdmin(name: string, ttlMs: number, opts: { force?: boolean } = {}): Promise<{ token: string; meta: TokenMeta } | undefined> {
    assertEntityName(name);
    return this.db().tx(async (q) => {
      await q.query(`SELECT pg_advisory_xact_lock(${ACCESS_LOCK})`);
      if (!opts.force) {
        const usable = await q.query(
          `SELECT 1 FROM api_tokens t
           WHERE t.revoked_at IS NULL AND t.expires_at > now()
             AND (EXISTS (SELECT 1 FROM users u WHERE u.id = t.principal_id AND u.broker_admin)
               OR EXISTS (SELECT 1 FROM services s WHERE s.id = t.principal_id AND s.broker_admin))
           LIMIT 1`,
        );
        if (usable.length) return undefined;
      }
      const [existing] = await q.query('SELECT id, broker_admin FROM users WHERE name = $1', [name]);
      let id: string;
      if (existing) {
        if (existing.broker_admin !== true) throw new ConflictError(`user "${name}" exists and is not a broker administrator: bootstrap under another name`);
        id = String(existing.id);
      } else {
        const clash = await q.query('SELECT 1 FROM services WHERE name = $1', [name]);
        if (clash.length) throw new ConflictError(`a service named "${name}" exists: bootstrap under another name`);
        id = randomUUID();
        await q.query('INSERT INTO users (id, name, broker_admin) VALUES ($1, $2, true)', [id, name]);
      }
      return this.insertToken(q, { id, kind: 'user', name }, 'bootstrap', ttlMs, id);
    });
  }
}
