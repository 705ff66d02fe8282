/** Master key rotation: every data key re-wrapped, resumable, old key refused afterwards. */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { keyIdOf } from '../../store/crypto';
import { VaultKeyError } from '../../domain/errors';
import { rewrapVault } from '../../store/rewrap';
import type { RewrapProgress, VaultApi } from '../../store/types';
import { openVault, type VaultOptions } from '../../store/vault';
import { BACKENDS, openRefusal, useBackend, vaultOptions, type Location } from './backends';

interface Written {
  secrets: { name: string; scope: 'workspace' | 'user'; secretId: string; value: string }[];
  credentials: { id: string; token: string }[];
}

/** `n` secrets (some user-scoped) and `c` credentials. */
async function populate(v: VaultApi, n: number, c: number): Promise<Written> {
  const ws = await v.createWorkspace('rot');
  const user = await v.createUser('rot-user');
  const out: Written = { secrets: [], credentials: [] };
  for (let i = 0; i < n; i++) {
    const scope = i % 3 === 2 ? 'user' : 'workspace';
    const value = `rewrap-value-${i}-${crypto.randomBytes(4).toString('hex')}`;
    const m = await v.setSecret({ scope, ownerId: scope === 'user' ? user.id : ws.id, name: `S_${i}`, value });
    out.secrets.push({ name: m.name, scope, secretId: m.id, value });
  }
  for (let i = 0; i < c; i++) {
    const token = `rewrap-token-${i}`;
    const m = await v.createCredential({ workspaceId: ws.id, name: `cred-${i}`, kind: 'test-token', fields: { token } });
    out.credentials.push({ id: m.id, token });
  }
  return out;
}

async function expectAllReadable(opts: VaultOptions, w: Written): Promise<void> {
  const v = await openVault(opts);
  try {
    for (const s of w.secrets) expect(await v.readSecretValue({ name: s.name, scope: s.scope, secretId: s.secretId, version: 1 })).toBe(s.value);
    for (const c of w.credentials) expect((await v.readCredential(c.id)).secret).toEqual({ token: c.token });
  } finally {
    await v.close();
  }
}

/** Opening is refused, naming the key the vault needs and the caller lacks. */
async function expectRefused(opts: VaultOptions, needed: string): Promise<void> {
  const err = await openRefusal(opts);
  expect(err.message).toMatch(new RegExp(`sealed under [^.]*${needed}`));
  expect(err.message).toMatch(new RegExp(`key with id ${needed}`));
}

const readKey = (file: string) => Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64');
const mode = (file: string) => fs.statSync(file).mode & 0o777;

describe.each(BACKENDS)('rewrap on %s', (name) => {
  const backend = useBackend(name);
  const rewrapOpts = (loc: Location) => ({ dataDir: loc.dataDir, databaseUrl: loc.databaseUrl, env: {} });

  test('key file mode: new key in master.key, old kept as retired, values readable only with the new key', async () => {
    const loc = await backend.fresh();
    const v = await openVault(vaultOptions(loc));
    const w = await populate(v, 5, 2);
    await v.close();
    const keyFile = path.join(loc.dataDir, 'master.key');
    const oldKey = readKey(keyFile);

    const progress: RewrapProgress[] = [];
    const r = await rewrapVault({ ...rewrapOpts(loc), onProgress: (p) => void progress.push(p) });

    const newKey = readKey(keyFile);
    expect(r).toMatchObject({ newKeyId: keyIdOf(newKey), oldKeyIds: [keyIdOf(oldKey)], total: 7, rewrapped: 7, skipped: 0, secrets: 5, credentials: 2 });
    expect(progress.map((p) => p.done)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(progress.every((p) => p.total === 7)).toBe(true);
    expect(r.newKeyId).not.toBe(keyIdOf(oldKey));
    expect(mode(keyFile)).toBe(0o600);
    expect(fs.existsSync(`${keyFile}.next`)).toBe(false);
    const retired = `${keyFile}.retired-${keyIdOf(oldKey)}`;
    expect(r.retiredKeyFile).toBe(retired);
    expect(readKey(retired).equals(oldKey)).toBe(true);
    expect(mode(retired)).toBe(0o600);

    await expectAllReadable(vaultOptions(loc), w);
    await expectAllReadable(vaultOptions(loc, { masterKey: newKey }), w);
    await expectRefused(vaultOptions(loc, { masterKey: oldKey }), r.newKeyId);
  });

  test('an interrupted rewrap resumes where it stopped; the vault stays readable in between', async () => {
    const loc = await backend.fresh();
    const v = await openVault(vaultOptions(loc));
    const w = await populate(v, 6, 2);
    await v.close();
    const keyFile = path.join(loc.dataDir, 'master.key');
    const oldKey = readKey(keyFile);

    const stop = new Error('simulated crash after 3 rows');
    await expect(
      rewrapVault({
        ...rewrapOpts(loc),
        onProgress: (p) => {
          if (p.done === 3) throw stop;
        },
      }),
    ).rejects.toBe(stop);

    // Mid-rotation: master.key unchanged, the next key waits beside it, and a broker opening now
    // holds both keys and reads everything.
    expect(readKey(keyFile).equals(oldKey)).toBe(true);
    const nextFile = `${keyFile}.next`;
    expect(mode(nextFile)).toBe(0o600);
    const nextKey = readKey(nextFile);
    await expectAllReadable(vaultOptions(loc), w);
    // Neither key alone opens a half-rotated vault.
    await expectRefused(vaultOptions(loc, { masterKey: oldKey }), keyIdOf(nextKey));
    await expectRefused(vaultOptions(loc, { masterKey: nextKey }), keyIdOf(oldKey));
    // A different new key is refused while this rotation is unfinished.
    await expect(rewrapVault({ ...rewrapOpts(loc), newKey: crypto.randomBytes(32) })).rejects.toThrow(/in flight/);

    const r = await rewrapVault(rewrapOpts(loc));
    expect(r).toMatchObject({ newKeyId: keyIdOf(nextKey), total: 5, rewrapped: 5, skipped: 3 });
    expect(readKey(keyFile).equals(nextKey)).toBe(true);
    expect(fs.existsSync(nextFile)).toBe(false);
    await expectAllReadable(vaultOptions(loc, { masterKey: nextKey }), w);
    await expectRefused(vaultOptions(loc, { masterKey: oldKey }), keyIdOf(nextKey));
  });

  test('environment mode: the new key is given explicitly; afterwards only it opens the vault', async () => {
    const loc = await backend.fresh();
    const oldKey = crypto.randomBytes(32);
    const newKey = crypto.randomBytes(32);
    const env = { BROKER_MASTER_KEY: oldKey.toString('base64') };
    const v = await openVault(vaultOptions(loc, { env }));
    const w = await populate(v, 4, 1);
    await v.close();

    await expect(rewrapVault({ ...rewrapOpts(loc), env })).rejects.toThrow(/give the new key explicitly/);

    // Interrupted after 2 rows; brokers given BROKER_MASTER_KEY_NEXT read everything meanwhile.
    await expect(
      rewrapVault({
        ...rewrapOpts(loc),
        env,
        newKey,
        onProgress: (p) => {
          if (p.done === 2) throw new Error('interrupted');
        },
      }),
    ).rejects.toThrow('interrupted');
    await expectAllReadable(vaultOptions(loc, { env: { ...env, BROKER_MASTER_KEY_NEXT: newKey.toString('base64') } }), w);

    const r = await rewrapVault({ ...rewrapOpts(loc), env, newKey });
    expect(r).toMatchObject({ newKeyId: keyIdOf(newKey), oldKeyIds: [keyIdOf(oldKey)], total: 3, rewrapped: 3, skipped: 2 });
    expect(r.nextSteps.join(' ')).toMatch(/set BROKER_MASTER_KEY to the new key/);
    expect(fs.existsSync(path.join(loc.dataDir, 'master.key'))).toBe(false);

    await expectAllReadable(vaultOptions(loc, { env: { BROKER_MASTER_KEY: newKey.toString('base64') } }), w);
    await expectRefused(vaultOptions(loc, { env }), keyIdOf(newKey));
  });

  test('refusals leave the vault as it was: wrong current key, new key equal to the current one', async () => {
    const loc = await backend.fresh();
    const v = await openVault(vaultOptions(loc));
    const w = await populate(v, 2, 0);
    await v.close();
    const keyFile = path.join(loc.dataDir, 'master.key');
    const key = readKey(keyFile);

    await expect(rewrapVault({ ...rewrapOpts(loc), newKey: Buffer.from(key) })).rejects.toThrow(/new key is the current key/);
    await expect(rewrapVault({ ...rewrapOpts(loc), masterKey: crypto.randomBytes(32), newKey: crypto.randomBytes(32) })).rejects.toThrow(VaultKeyError);
    expect(fs.existsSync(`${keyFile}.next`)).toBe(false);
    await expectAllReadable(vaultOptions(loc, { masterKey: key }), w);
  });

  // PGlite allows one opener per data dir, so there the rewrap runs with the broker stopped (store/rewrap.ts).
  const serverOnly = name === 'postgresql' ? test : test.skip;
  serverOnly('a broker that opened before the rotation follows it (re-reads the key files)', async () => {
    const loc = await backend.fresh();
    const before = await openVault(vaultOptions(loc));
    const w = await populate(before, 3, 1);
    const r = await rewrapVault(rewrapOpts(loc));
    try {
      for (const s of w.secrets) expect(await before.readSecretValue({ name: s.name, scope: s.scope, secretId: s.secretId, version: 1 })).toBe(s.value);
      // New writes from the old process are sealed under the new key.
      const ws = await before.getWorkspace('rot');
      await before.setSecret({ scope: 'workspace', ownerId: ws.id, name: 'AFTER', value: 'after-rotation' });
    } finally {
      await before.close();
    }
    await expectAllReadable(vaultOptions(loc, { masterKey: readKey(path.join(loc.dataDir, 'master.key')) }), w);
    await expectRefused(vaultOptions(loc, { masterKey: readKey(r.retiredKeyFile!) }), r.newKeyId);
  });
});
