/**
 * The audit trail: who did what, in which workspace, when, and the outcome; never a value.
 *
 * Append-only twice over: a trigger refuses UPDATE, DELETE and TRUNCATE (store/migrations.ts), and
 * each record carries `hash = SHA-256(prevHash + canonical JSON of the record)`, so an edit made by
 * someone who got past the trigger (a database owner) breaks the chain at that record, and `verify`
 * names it. Appends are serialized by an advisory lock, so brokers sharing one PostgreSQL server
 * keep one chain. A cut tail is not visible in the chain itself: keep `verify().head` elsewhere.
 */
import { createHash } from 'node:crypto';
import { ValidationError } from '../domain/errors';
import { toIso, type Db, type Row } from './db';
import type { AuditApi, AuditAppendOptions, AuditEntry, AuditFilter, AuditRecord, AuditVerification } from './types';
import type { PrincipalKind } from '../domain/access';

const AUDIT_LOCK = 0x5ecb40d0;
/** The link of the first record. */
const GENESIS = '0'.repeat(64);

const OUTCOMES = ['ok', 'refused', 'failed'] as const;
const VIAS = ['token', 'oidc', 'none', 'system', 'loopback'] as const;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** JSON with object keys sorted, the form the hash covers (jsonb keeps its own key order). */
function canonicalJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    isPlainObject(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : x,
  );
}

/** What the hash covers: every stored field but the hash itself. */
function hashedFields(r: Omit<AuditRecord, 'hash' | 'workspace'>): Record<string, unknown> {
  return {
    seq: r.seq,
    at: r.at,
    actorId: r.actor?.id ?? null,
    actorKind: r.actor?.kind ?? null,
    actorName: r.actor?.name ?? null,
    via: r.via,
    action: r.action,
    workspaceId: r.workspaceId ?? null,
    target: r.target ?? {},
    outcome: r.outcome,
    status: r.status ?? null,
    code: r.code ?? null,
    ip: r.ip ?? null,
    detail: r.detail ?? {},
    prevHash: r.prevHash,
  };
}

function recordHash(r: Omit<AuditRecord, 'hash' | 'workspace'>): string {
  return createHash('sha256').update(`${r.prevHash}\n${canonicalJson(hashedFields(r))}`, 'utf8').digest('hex');
}

function recordOf(r: Row): AuditRecord {
  return {
    seq: Number(r.seq),
    at: toIso(r.at),
    ...(r.actor_id != null ? { actor: { id: String(r.actor_id), kind: r.actor_kind as PrincipalKind, name: String(r.actor_name) } } : {}),
    via: r.via as AuditEntry['via'],
    action: String(r.action),
    ...(r.workspace_id != null ? { workspaceId: String(r.workspace_id) } : {}),
    ...(r.workspace_name != null ? { workspace: String(r.workspace_name) } : {}),
    target: (r.target ?? {}) as Record<string, string>,
    outcome: r.outcome as AuditEntry['outcome'],
    ...(r.status != null ? { status: Number(r.status) } : {}),
    ...(r.code != null ? { code: String(r.code) } : {}),
    ...(r.ip != null ? { ip: String(r.ip) } : {}),
    detail: (r.detail ?? {}) as AuditRecord['detail'],
    prevHash: String(r.prev_hash),
    hash: String(r.hash),
  };
}

function checkEntry(e: AuditEntry): void {
  if (typeof e?.action !== 'string' || e.action === '' || e.action.length > 100) throw new ValidationError('action', 'must be 1 to 100 characters');
  if (!(OUTCOMES as readonly string[]).includes(e.outcome)) throw new ValidationError('outcome', `must be one of ${OUTCOMES.join(', ')}`);
  if (!(VIAS as readonly string[]).includes(e.via)) throw new ValidationError('via', `must be one of ${VIAS.join(', ')}`);
  for (const [field, v] of [['target', e.target], ['detail', e.detail]] as const) {
    if (v === undefined) continue;
    if (!isPlainObject(v)) throw new ValidationError(field, 'must be an object');
    for (const [k, x] of Object.entries(v)) {
      const flat = typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean' || (Array.isArray(x) && x.every((y) => typeof y === 'string'));
      if (!flat) throw new ValidationError(`${field}.${k}`, 'must be a string, number, boolean or list of strings');
    }
  }
}

/**
 * PostgreSQL's text and jsonb hold neither NUL nor a lone surrogate, yet a refused request may carry
 * them (a secret name with a NUL is refused, and the refusal is audited): such characters are
 * recorded as the six characters `\\uXXXX`, so the attempt is on the trail as it was made.
 */
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const storable = (s: string) => s.replace(UNSTORABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

function storableFields(v: Record<string, unknown> | undefined): Record<string, unknown> {
  return Object.fromEntries(Object.entries(v ?? {}).map(([k, x]) => [storable(k), typeof x === 'string' ? storable(x) : Array.isArray(x) ? x.map((y: string) => storable(y)) : x]));
}

const SELECT = `SELECT a.*, w.name AS workspace_name FROM audit_log a LEFT JOIN workspaces w ON w.id = a.workspace_id`;

export class SqlAudit implements AuditApi {
  constructor(private readonly db: () => Db) {}

  async append(entry: AuditEntry, options: AuditAppendOptions = {}): Promise<AuditRecord> {
    checkEntry(entry);
    const eventKey = options.eventKey;
    if (eventKey !== undefined && (typeof eventKey !== 'string' || eventKey === '' || eventKey.length > 1000)) throw new ValidationError('eventKey', 'must be 1 to 1000 characters');
    return this.db().tx(async (q) => {
      await q.query(`SELECT pg_advisory_xact_lock(${AUDIT_LOCK})`);
      if (eventKey !== undefined) {
        // Under the lock, so two attempts racing each other append one record between them.
        const [already] = await q.query(`${SELECT} WHERE a.event_key = $1`, [eventKey]);
        if (already) return recordOf(already);
      }
      const [last] = await q.query('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1');
      const [clock] = await q.query('SELECT now() AS now');
      const record: Omit<AuditRecord, 'hash'> = {
        seq: last ? Number(last.seq) + 1 : 1,
        // Milliseconds, as stored and read back, so the hash covers exactly what a reader sees.
        at: toIso(clock!.now),
        ...(entry.actor ? { actor: { id: entry.actor.id, kind: entry.actor.kind, name: entry.actor.name } } : {}),
        via: entry.via,
        action: entry.action,
        ...(entry.workspaceId ? { workspaceId: entry.workspaceId } : {}),
        target: storableFields(entry.target) as AuditRecord['target'],
        outcome: entry.outcome,
        ...(entry.status !== undefined ? { status: entry.status } : {}),
        ...(entry.code !== undefined ? { code: entry.code } : {}),
        ...(entry.ip !== undefined ? { ip: entry.ip } : {}),
        detail: storableFields(entry.detail) as AuditRecord['detail'],
        prevHash: last ? String(last.hash) : GENESIS,
      };
      const hash = recordHash(record);
      await q.query(
        `INSERT INTO audit_log (seq, at, actor_id, actor_kind, actor_name, via, action, workspace_id, target, outcome, status, code, ip, detail, prev_hash, hash, event_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11, $12, $13, $14::jsonb, $15, $16, $17)`,
        [
          record.seq,
          record.at,
          record.actor?.id ?? null,
          record.actor?.kind ?? null,
          record.actor?.name ?? null,
          record.via,
          record.action,
          record.workspaceId ?? null,
          JSON.stringify(record.target),
          record.outcome,
          record.status ?? null,
          record.code ?? null,
          record.ip ?? null,
          JSON.stringify(record.detail),
          record.prevHash,
          hash,
          eventKey ?? null,
        ],
      );
      return { ...record, hash };
    });
  }

  async list(filter: AuditFilter): Promise<AuditRecord[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, v: unknown) => {
      params.push(v);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (filter.workspaceIds) add('a.workspace_id = ANY(?::text[])', filter.workspaceIds);
    if (filter.actorId) add('a.actor_id = ?', filter.actorId);
    if (filter.since) add('a.at >= ?::timestamptz', filter.since);
    if (filter.until) add('a.at <= ?::timestamptz', filter.until);
    if (filter.action) add('a.action = ?', filter.action);
    if (filter.outcome) add('a.outcome = ?', filter.outcome);
    if (filter.afterSeq !== undefined) add('a.seq > ?', filter.afterSeq);
    params.push(filter.limit);
    const rows = await this.db().query(`${SELECT}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY a.seq LIMIT $${params.length}`, params);
    return rows.map(recordOf);
  }

  async verify(): Promise<AuditVerification> {
    const db = this.db();
    let prev = GENESIS;
    let expected = 1;
    let records = 0;
    for (;;) {
      const rows = await db.query(`${SELECT} WHERE a.seq >= $1 ORDER BY a.seq LIMIT 1000`, [expected]);
      if (!rows.length) break;
      for (const row of rows) {
        const r = recordOf(row);
        if (r.seq !== expected) return { ok: false, records, brokenAt: { seq: expected, reason: `record ${expected} is missing` } };
        if (r.prevHash !== prev) return { ok: false, records, brokenAt: { seq: r.seq, reason: 'its link does not match the hash of the record before it' } };
        if (recordHash(r) !== r.hash) return { ok: false, records, brokenAt: { seq: r.seq, reason: 'its content does not match its hash (the record was changed)' } };
        prev = r.hash;
        expected++;
        records++;
      }
    }
    return { ok: true, records, ...(records ? { head: prev } : {}) };
  }
}
