/**
 * Master key rotation of a vault that stays open (VaultApi.rotateMasterKey): the broker's own vault
 * re-wraps every data key while it keeps reading and writing, on PGlite (one opener only) and on
 * PostgreSQL. Afterwards a fresh open with only the new key works and the old key alone is refused.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { keyIdOf } from '../../store/crypto';
import { VaultKeyError } from '../../domain/errors';
import type { RewrapProgress, VaultApi } from '../../store/types';
import { openVault, type VaultOptions } from '../../store/vault';
import { BACKENDS, openRefusal, useBackend, vaultOptions, type Location } from './backends';

interface Stored {
  name: string;
  scope: 'workspace' | 'user';
  secretId: string;
  version: number;
  value: string;
}

interface Written {
  workspaceId: string;
  secrets: Stored[];
  credentials: { id: string; token: string }[];
}

async function populate(v: VaultApi, n: number, c: number): Promise<Written> {
  const ws = await v.createWorkspace('live');
  const user = await v.createUser('live-user');
  const out: Written = { workspaceId: ws.id, secrets: [], credentials: [] };
  for (let i = 0; i < n; i++) {
    const scope = i % 3 === 2 ? 'user' : 'workspace';
    const value = `live-value-${i}-${crypto.randomBytes(4).toString('hex')}`;
    const m = await v.setSecret({ scope, ownerId: scope === 'user' ? user.id : ws.id, name: `S_${i}`, value });
    out.secrets.push({ name: m.name, scope, secretId: m.id, version: m.version, value });
  }
  for (let i = 0; i < c; i++) {
    const token = `live-token-${i}-${crypto.randomBytes(4).toString('hex')}`;
    const m = await v.createCredential({ workspaceId: ws.id, name: `cred-${i}`, kind: 'test-token', fields: { token } });
    out.credentials.push({ id: m.id, token });
  }
  return out;
}

/** Write one more workspace secret through `v` and remember it. */
async function writeOne(v: VaultApi, w: Written, name: string): Promise<void> {
  const value = `${name.toLowerCase()}-${crypto.randomBytes(6).toString('hex')}`;
  const m = await v.setSecret({ scope: 'workspace', ownerId: w.workspaceId, name, value });
  w.secrets.push({ name, scope: 'workspace', secretId: m.id, version: m.version, value });
}

async function expectReadable(v: VaultApi, w: Written): Promise<void> {
  for (const s of w.secrets) expect(await v.readSecretValue({ name: s.name, scope: s.scope, secretId: s.secretId, version: s.version })).toBe(s.value);
  for (const c of w.credentials) expect((await v.readCredential(c.id)).secret).toEqual({ token: c.token });
}

async function expectOpensAndReads(opts: VaultOptions, w: Written): Promise<void> {
  const v = await openVault(opts);
  try {
    await expectReadable(v, w);
  } finally {
    await v.close();
  }
}

async function expectRefused(opts: VaultOptions): Promise<void> {
  const err = await openRefusal(opts);
  expect(err.message).toMatch(/does not open this vault/);
}

const readKey = (file: string) => Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64');
const keyFileOf = (loc: Location) => path.join(loc.dataDir, 'master.key');

describe.each(BACKENDS)('live master key rotation on %s', (name) => {
  const backend = useBackend(name);

  test('key file mode: the open vault reads and writes before, during and after; then only the new key opens it', async () => {
    const loc = await backend.fresh();
    const v = await openVault(vaultOptions(loc));
    const keyFile = keyFileOf(loc);
    const oldKey = readKey(keyFile);
    let result;
    const w = await populate(v, 5, 2);
    try {
      // Before.
      await expectReadable(v, w);
      await writeOne(v, w, 'BEFORE');

      // During: the next key waits beside the current one; old and new rows both read, new writes go under the new key.
      const progress: RewrapProgress[] = [];
      const started: string[] = [];
      let sawDuring = false;
      result = await v.rotateMasterKey({
        onStart: (s) => void started.push(s.newKeyId),
        onProgress: async (p) => {
          progress.push(p);
          if (p.done !== 3) return;
          expect(fs.existsSync(`${keyFile}.next`)).toBe(true);
          expect(readKey(keyFile).equals(oldKey)).toBe(true);
          await expectReadable(v, w);
          await writeOne(v, w, 'DURING');
          await v.createCredential({ workspaceId: w.workspaceId, name: 'cred-during', kind: 'test-token', fields: { token: 'during-token-1234' } }).then((m) =>
            w.credentials.push({ id: m.id, token: 'during-token-1234' }),
          );
          sawDuring = true;
        },
      });
      expect(sawDuring).toBe(true);
      const newKey = readKey(keyFile);
      expect(result).toMatchObject({ newKeyId: keyIdOf(newKey), oldKeyIds: [keyIdOf(oldKey)], total: 8, rewrapped: 8, skipped: 0, secrets: 6, credentials: 2 });
      expect(started).toEqual([keyIdOf(newKey)]);
      expect(progress.map((p) => p.done)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(result.retiredKeyFile).toBe(`${keyFile}.retired-${keyIdOf(oldKey)}`);
      expect(fs.existsSync(`${keyFile}.next`)).toBe(false);
      expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600);
      // Nothing in the result is key material.
      const text = JSON.stringify(result);
      for (const k of [oldKey, newKey]) {
        expect(text).not.toContain(k.toString('base64'));
        expect(text).not.toContain(k.toString('hex'));
      }

      // After: the same process keeps working (it follows the renamed key file).
      await expectReadable(v, w);
      await writeOne(v, w, 'AFTER');
      await expectReadable(v, w);
    } finally {
      await v.close();
    }

    const newKey = readKey(keyFile);
    await expectOpensAndReads(vaultOptions(loc, { masterKey: newKey }), w);
    await expectOpensAndReads(vaultOptions(loc), w);
    await expectRefused(vaultOptions(loc, { masterKey: oldKey }));
  });

  test('interrupted (onProgress throws) and resumed by the next call; a retry naming the finished key changes nothing', async () => {
    const loc = await backend.fresh();
    const keyFile = keyFileOf(loc);
    const v = await openVault(vaultOptions(loc));
    const oldKey = readKey(keyFile);
    let nextKey: Buffer;
    let newKeyId: string;
    const w = await populate(v, 6, 2);
    try {
      const stop = new Error('simulated crash after 3 rows');
      let startedWith = '';
      await expect(
        v.rotateMasterKey({
          onStart: (s) => void (startedWith = s.newKeyId),
          onProgress: (p) => {
            if (p.done === 3) throw stop;
          },
        }),
      ).rejects.toBe(stop);
      // Half-rotated: still reads and writes.
      nextKey = readKey(`${keyFile}.next`);
      expect(startedWith).toBe(keyIdOf(nextKey));
      await expectReadable(v, w);
      await writeOne(v, w, 'HALFWAY');

      // A retry naming the in-flight key finishes that rotation, not another one.
      const r = await v.rotateMasterKey({ resumeKeyId: keyIdOf(nextKey) });
      expect(r).toMatchObject({ newKeyId: keyIdOf(nextKey), oldKeyIds: [keyIdOf(oldKey)], total: 5, rewrapped: 5 });
      // 3 re-wrapped before the crash, plus HALFWAY written under the new key.
      expect(r.skipped).toBe(4);
      expect(readKey(keyFile).equals(nextKey)).toBe(true);
      newKeyId = r.newKeyId;

      // A retry after the rotation finished (its result was lost) reports it and starts nothing.
      const again = await v.rotateMasterKey({ resumeKeyId: newKeyId });
      expect(again).toMatchObject({ newKeyId, oldKeyIds: [], total: 0, rewrapped: 0, skipped: 9 });
      expect(fs.existsSync(`${keyFile}.next`)).toBe(false);
      expect(readKey(keyFile).equals(nextKey)).toBe(true);
      // A retry naming a key that is neither in flight nor current is refused.
      await expect(v.rotateMasterKey({ resumeKeyId: 'kek-0000000000000000' })).rejects.toThrow(/neither in flight nor finished/);
      await expectReadable(v, w);
    } finally {
      await v.close();
    }
    await expectOpensAndReads(vaultOptions(loc, { masterKey: nextKey }), w);
    await expectRefused(vaultOptions(loc, { masterKey: oldKey }));
  });

  test('environment mode without BROKER_MASTER_KEY_NEXT: refused, saying what to do; nothing changes', async () => {
    const loc = await backend.fresh();
    const oldKey = crypto.randomBytes(32);
    const env = { BROKER_MASTER_KEY: oldKey.toString('base64') };
    const v = await openVault(vaultOptions(loc, { env }));
    const w = await populate(v, 2, 1);
    try {
      const err = await v.rotateMasterKey().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(VaultKeyError);
      expect((err as Error).message).toMatch(/BROKER_MASTER_KEY, which the broker cannot change/);
      expect((err as Error).message).toMatch(/set BROKER_MASTER_KEY_NEXT to it on every broker and restart them/);
      expect((err as Error).message).not.toContain(oldKey.toString('base64'));
      await expectReadable(v, w);
    } finally {
      await v.close();
    }
    expect(fs.readdirSync(loc.dataDir).filter((f) => f.startsWith('master.key'))).toEqual([]);
    await expectOpensAndReads(vaultOptions(loc, { env }), w);
  });

  test('environment mode with BROKER_MASTER_KEY_NEXT: the running broker finishes the rotation; then only the new key opens', async () => {
    const loc = await backend.fresh();
    const oldKey = crypto.randomBytes(32);
    const newKey = crypto.randomBytes(32);
    const before = await openVault(vaultOptions(loc, { env: { BROKER_MASTER_KEY: oldKey.toString('base64') } }));
    const w = await populate(before, 4, 1);
    await before.close();

    // The operator sets BROKER_MASTER_KEY_NEXT and restarts the broker.
    const env = { BROKER_MASTER_KEY: oldKey.toString('base64'), BROKER_MASTER_KEY_NEXT: newKey.toString('base64') };
    const v = await openVault(vaultOptions(loc, { env }));
    try {
      // Sealed under the next key already, before the rotation starts.
      await writeOne(v, w, 'RESTARTED');
      const r = await v.rotateMasterKey({
        onProgress: async (p) => {
          if (p.done === 2) {
            await expectReadable(v, w);
            await writeOne(v, w, 'DURING');
          }
        },
      });
      expect(r).toMatchObject({ newKeyId: keyIdOf(newKey), oldKeyIds: [keyIdOf(oldKey)], total: 5, rewrapped: 5, skipped: 1 });
      expect(r.nextSteps.join(' ')).toMatch(/set BROKER_MASTER_KEY to the new key/);
      await expectReadable(v, w);
      await writeOne(v, w, 'AFTER');
    } finally {
      await v.close();
    }
    expect(fs.existsSync(path.join(loc.dataDir, 'master.key'))).toBe(false);
    await expectOpensAndReads(vaultOptions(loc, { env: { BROKER_MASTER_KEY: newKey.toString('base64') } }), w);
    await expectRefused(vaultOptions(loc, { env: { BROKER_MASTER_KEY: oldKey.toString('base64') } }));
  });

  test('two rotations asked at once run one after the other; closing the vault stops a rotation it can resume', async () => {
    const loc = await backend.fresh();
    const keyFile = keyFileOf(loc);
    const v = await openVault(vaultOptions(loc));
    const w = await populate(v, 3, 0);
    const [a, b] = await Promise.all([v.rotateMasterKey(), v.rotateMasterKey()]);
    expect(b.oldKeyIds).toEqual([a.newKeyId]);
    expect(keyIdOf(readKey(keyFile))).toBe(b.newKeyId);
    await expectReadable(v, w);

    let closing: Promise<void> | undefined;
    await expect(
      v.rotateMasterKey({
        onProgress: (p) => {
          if (p.done === 1) closing = v.close();
        },
      }),
    ).rejects.toThrow(/vault closed during the master key rotation/);
    await closing;
    const inFlight = keyIdOf(readKey(`${keyFile}.next`));
    const again = await openVault(vaultOptions(loc));
    try {
      await expectReadable(again, w);
      expect((await again.rotateMasterKey()).newKeyId).toBe(inFlight);
    } finally {
      await again.close();
    }
  });
});
