/**
 * Identities, roles, tokens and the audit trail in the vault, on PGlite and on PostgreSQL: a token is
 * kept only as its hash (the database files never hold its text), expires, is revoked, records its
 * last use; memberships keep an owner; the first administrator is made once; the audit trail is
 * append-only and an edited record breaks its hash chain.
 */
import * as crypto from 'node:crypto';
import { openDb } from '../../store/db';
import { openVault } from '../../store/vault';
import type { VaultApi } from '../../store/types';
import { ConflictError, NotFoundError, ValidationError } from '../../domain/errors';
import { TOKEN_PATTERN } from '../../domain/access';
import { BACKENDS, filesContaining, useBackend, vaultOptions, type Location } from './backends';

describe.each(BACKENDS)('identities and audit on %s', (name) => {
  const backend = useBackend(name);
  let loc: Location;
  let v: VaultApi;

  beforeEach(async () => {
    loc = await backend.fresh();
    v = await openVault(vaultOptions(loc));
  });
  afterEach(async () => {
    await v?.close();
  });

  test('a token: recognisable, random, shown once, stored only as its hash', async () => {
    const alice = await v.access.createPrincipal('user', 'alice');
    const a = await v.access.createToken({ principalId: alice.id, name: 'laptop', ttlMs: 3_600_000 });
    const b = await v.access.createToken({ principalId: alice.id, name: 'ci', ttlMs: 3_600_000 });
    expect(a.token).toMatch(TOKEN_PATTERN);
    expect(a.token).not.toBe(b.token);
    expect(a.meta).toMatchObject({ name: 'laptop', principal: { id: alice.id, kind: 'user', name: 'alice' } });
    expect(JSON.stringify(await v.access.listTokens(alice.id))).not.toContain(a.token);
    const ok = await v.access.checkToken(a.token);
    expect(ok).toMatchObject({ ok: true, principal: { id: alice.id, kind: 'user', name: 'alice', brokerAdmin: false }, token: { id: a.meta.id } });
    await v.close();
    await backend.flush(loc);
    // Control: the token's name is on disk, so the search reads the right files.
    expect(filesContaining(backend.databaseFiles(loc), 'laptop').length).toBeGreaterThan(0);
    expect(filesContaining(backend.databaseFiles(loc), a.token)).toEqual([]);
    expect(filesContaining(backend.databaseFiles(loc), a.token.slice(4))).toEqual([]);
    v = await openVault(vaultOptions(loc));
  });

  test('malformed, unknown, revoked and expired tokens are refused, each saying which', async () => {
    const bob = await v.access.createPrincipal('user', 'bob');
    expect(await v.access.checkToken('not-a-token')).toEqual({ ok: false, reason: 'malformed' });
    expect(await v.access.checkToken(`sbt_${'A'.repeat(43)}`)).toEqual({ ok: false, reason: 'unknown' });
    const t = await v.access.createToken({ principalId: bob.id, name: 'short', ttlMs: 1000 });
    expect((await v.access.checkToken(t.token)).ok).toBe(true);
    await new Promise((r) => setTimeout(r, 1100));
    expect(await v.access.checkToken(t.token)).toEqual({ ok: false, reason: 'expired' });
    const r = await v.access.createToken({ principalId: bob.id, name: 'r', ttlMs: 3_600_000 });
    const revoked = await v.access.revokeToken(r.meta.id, bob.id);
    expect(revoked.revokedAt).toEqual(expect.any(String));
    expect(await v.access.checkToken(r.token)).toEqual({ ok: false, reason: 'revoked' });
    // Revoking again keeps the first time.
    expect((await v.access.revokeToken(r.meta.id)).revokedAt).toBe(revoked.revokedAt);
    await expect(v.access.revokeToken(crypto.randomUUID())).rejects.toBeInstanceOf(NotFoundError);
  });

  test('the last use is recorded', async () => {
    const c = await v.access.createPrincipal('service', 'launcher');
    const t = await v.access.createToken({ principalId: c.id, name: 'x', ttlMs: 3_600_000 });
    expect((await v.access.getToken(t.meta.id)).lastUsedAt).toBeUndefined();
    await v.access.checkToken(t.token);
    expect((await v.access.getToken(t.meta.id)).lastUsedAt).toEqual(expect.any(String));
  });

  test('user and service names are one namespace; a refused create stores nothing', async () => {
    await v.access.createPrincipal('service', 'launcher');
    await expect(v.access.createPrincipal('user', 'launcher')).rejects.toBeInstanceOf(ConflictError);
    await expect(v.createUser('launcher')).rejects.toBeInstanceOf(ConflictError);
    await expect(v.access.createPrincipal('user', 'bad name')).rejects.toBeInstanceOf(ValidationError);
    await v.access.createPrincipal('user', 'carol', { oidc: { issuer: 'https://idp', subject: 'sub-1' } });
    // The subject is taken: neither the user nor anything else is created.
    await expect(v.access.createPrincipal('user', 'dave', { oidc: { issuer: 'https://idp', subject: 'sub-1' } })).rejects.toBeInstanceOf(ConflictError);
    expect((await v.access.listPrincipals('user')).map((p) => p.name)).toEqual(['carol']);
    expect(await v.access.principalByOidc('https://idp', 'sub-1')).toMatchObject({ name: 'carol', kind: 'user' });
    expect(await v.access.principalByOidc('https://other-idp', 'sub-1')).toBeUndefined();
  });

  test('memberships: a workspace keeps an owner; the on-behalf right is for services', async () => {
    const alice = await v.access.createPrincipal('user', 'alice');
    const launcher = await v.access.createPrincipal('service', 'launcher');
    const ws = await v.createWorkspace('genomics', alice);
    expect(await v.access.membership(ws.id, alice.id)).toMatchObject({ role: 'owner' });
    await expect(v.access.setMember(ws.id, alice.id, 'admin')).rejects.toThrow(/at least one owner/);
    await expect(v.access.removeMember(ws.id, alice.id)).rejects.toThrow(/at least one owner/);
    await expect(v.access.setMember(ws.id, alice.id, 'owner', { onBehalf: true })).rejects.toMatchObject({ field: 'onBehalf' });
    await v.access.setMember(ws.id, launcher.id, 'launch', { onBehalf: true });
    expect((await v.access.listMembers('genomics')).map((m) => [m.principal.name, m.role, m.onBehalf])).toEqual([
      ['alice', 'owner', false],
      ['launcher', 'launch', true],
    ]);
    await v.access.setMember(ws.id, launcher.id, 'owner');
    await v.access.setMember(ws.id, alice.id, 'view');
    await v.access.removeMember(ws.id, alice.id);
    expect(await v.access.membership(ws.id, alice.id)).toBeUndefined();
    await expect(v.access.removeMember(ws.id, alice.id)).rejects.toBeInstanceOf(NotFoundError);
  });

  test('the broker keeps a broker administrator', async () => {
    const root = await v.access.createPrincipal('user', 'root', { brokerAdmin: true });
    await expect(v.access.updatePrincipal('root', 'user', { brokerAdmin: false })).rejects.toThrow(/at least one broker administrator/);
    await v.access.createPrincipal('service', 'ops', { brokerAdmin: true });
    expect((await v.access.updatePrincipal(root.id, 'user', { brokerAdmin: false })).brokerAdmin).toBe(false);
  });

  test('bootstrap: the first administrator once; again only when no administrator holds a usable token', async () => {
    const first = await v.access.bootstrapAdmin('admin', 3_600_000);
    expect(first!.meta.principal.name).toBe('admin');
    expect(await v.access.checkToken(first!.token)).toMatchObject({ ok: true, principal: { brokerAdmin: true } });
    expect(await v.access.bootstrapAdmin('admin', 3_600_000)).toBeUndefined();
    await v.access.revokeToken(first!.meta.id);
    const second = await v.access.bootstrapAdmin('admin', 3_600_000);
    expect(second!.meta.principal.id).toBe(first!.meta.principal.id);
    // Forced (the token file is gone): a new token for the same administrator.
    expect((await v.access.bootstrapAdmin('admin', 3_600_000, { force: true }))!.meta.principal.id).toBe(first!.meta.principal.id);
    // A person of that name who is no administrator is not promoted.
    await v.access.createPrincipal('user', 'mallory');
    await expect(v.access.bootstrapAdmin('mallory', 3_600_000, { force: true })).rejects.toBeInstanceOf(ConflictError);
  });

  test('audit: appended in order, each linked to the one before; the trigger refuses changes; an edit breaks the chain there', async () => {
    const alice = await v.access.createPrincipal('user', 'alice');
    const ws = await v.createWorkspace('genomics', alice);
    const actor = { id: alice.id, kind: 'user' as const, name: 'alice' };
    for (let i = 0; i < 5; i++) {
      await v.audit.append({ actor, via: 'token', action: 'setWorkspaceSecret', workspaceId: ws.id, target: { workspace: 'genomics', name: `S_${i}` }, outcome: 'ok', status: 200 });
    }
    await v.audit.append({ via: 'none', action: 'listWorkspaces', outcome: 'refused', status: 401, code: 'unauthenticated', ip: '127.0.0.1' });
    const all = await v.audit.list({ limit: 100 });
    expect(all.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(all[0]).toMatchObject({ workspace: 'genomics', actor, target: { name: 'S_0' }, prevHash: '0'.repeat(64) });
    for (let i = 1; i < all.length; i++) expect(all[i]!.prevHash).toBe(all[i - 1]!.hash);
    expect(await v.audit.list({ limit: 100, workspaceIds: [ws.id], afterSeq: 3 })).toHaveLength(2);
    expect(await v.audit.list({ limit: 100, outcome: 'refused' })).toHaveLength(1);
    expect(await v.audit.verify()).toEqual({ ok: true, records: 6, head: all[5]!.hash });
    await v.close();

    const db = await openDb(loc);
    try {
      await expect(db.query(`UPDATE audit_log SET outcome = 'refused' WHERE seq = 3`)).rejects.toThrow(/append-only/);
      await expect(db.query('DELETE FROM audit_log WHERE seq = 6')).rejects.toThrow(/append-only/);
      await expect(db.query('TRUNCATE audit_log')).rejects.toThrow(/append-only/);
      // Someone who owns the database gets past the trigger: the chain still shows the edit.
      await db.query('ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update');
      await db.query(`UPDATE audit_log SET target = '{"workspace":"genomics","name":"OTHER"}'::jsonb WHERE seq = 3`);
    } finally {
      await db.close();
    }
    v = await openVault(vaultOptions(loc));
    expect(await v.audit.verify()).toEqual({ ok: false, records: 2, brokenAt: { seq: 3, reason: expect.stringMatching(/does not match its hash/) } });
  });

  test('audit: a refused request naming a NUL or a lone surrogate is recorded, those characters as \\uXXXX text', async () => {
    const rec = await v.audit.append({ via: 'token', action: 'setWorkspaceSecret', target: { name: 'A\u0000B\ud800', other: '\udc00' }, outcome: 'refused', status: 400, code: 'validation' });
    expect(rec.target).toEqual({ name: 'A\\u0000B\\ud800', other: '\\udc00' });
    const [back] = await v.audit.list({ limit: 10 });
    expect(back!.target).toEqual(rec.target);
    expect(await v.audit.verify()).toMatchObject({ ok: true, records: 1 });
  });

  test('audit: an append with an event key already on the trail appends nothing and returns the first record, even when attempts race', async () => {
    const entry = { via: 'system', action: 'runLeaseExpired', target: { runId: 'r1' }, outcome: 'ok', detail: { deleted: 2 } } as const;
    const first = await v.audit.append(entry, { eventKey: 'run-r1/abc/3' });
    const again = await v.audit.append({ ...entry, detail: { deleted: 0 } }, { eventKey: 'run-r1/abc/3' });
    expect(again).toEqual(first);
    const racing = await Promise.all([1, 2, 3].map(() => v.audit.append(entry, { eventKey: 'run-r2/def/3' })));
    expect(new Set(racing.map((r) => r.seq)).size).toBe(1);
    // Without a key, or with another one, every append is a record.
    await v.audit.append(entry);
    await v.audit.append(entry, { eventKey: 'run-r1/abc/4' });
    expect((await v.audit.list({ limit: 100 })).map((r) => r.seq)).toEqual([1, 2, 3, 4]);
    expect(await v.audit.verify()).toMatchObject({ ok: true, records: 4 });
    await expect(v.audit.append(entry, { eventKey: '' })).rejects.toThrow(ValidationError);
  });

  test('audit: a removed record, or one whose hash was recomputed, breaks the chain too', async () => {
    for (let i = 0; i < 4; i++) await v.audit.append({ via: 'system', action: 'sweep', outcome: 'ok', detail: { n: i } });
    await v.close();
    const db = await openDb(loc);
    try {
      await db.query('ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update');
      await db.query(`UPDATE audit_log SET detail = '{"n": 9}'::jsonb, hash = repeat('a', 64) WHERE seq = 2`);
    } finally {
      await db.close();
    }
    v = await openVault(vaultOptions(loc));
    expect((await v.audit.verify()).brokenAt?.seq).toBe(2);
    await v.close();
    const db2 = await openDb(loc);
    try {
      await db2.query('DELETE FROM audit_log WHERE seq = 2');
    } finally {
      await db2.close();
    }
    v = await openVault(vaultOptions(loc));
    expect(await v.audit.verify()).toMatchObject({ ok: false, brokenAt: { seq: 2, reason: 'record 2 is missing' } });
  });
});
