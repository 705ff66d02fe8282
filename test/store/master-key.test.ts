/** Where the master key comes from, and what happens when it is wrong, missing or malformed. */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { keyIdOf } from '../../store/crypto';
import { openDb } from '../../store/db';
import type { VaultApi } from '../../store/types';
import { openVault, type VaultOptions } from '../../store/vault';
import { BACKENDS, openRefusal, useBackend, vaultOptions, type Location } from './backends';

const b64 = (k: Buffer) => k.toString('base64');

/** A small vault with one secret and one credential; returns what to read back. */
async function populate(v: VaultApi) {
  const ws = await v.createWorkspace('keys');
  const s = await v.setSecret({ scope: 'workspace', ownerId: ws.id, name: 'KEY_TEST', value: 'key-test-value' });
  const c = await v.createCredential({ workspaceId: ws.id, name: 'tok', kind: 'test-token', fields: { token: 'key-test-token' } });
  return { secretId: s.id, credentialId: c.id };
}

async function expectReadable(opts: VaultOptions, ids: { secretId: string; credentialId: string }) {
  const v = await openVault(opts);
  try {
    expect(await v.readSecretValue({ name: 'KEY_TEST', scope: 'workspace', secretId: ids.secretId, version: 1 })).toBe('key-test-value');
    expect((await v.readCredential(ids.credentialId)).secret).toEqual({ token: 'key-test-token' });
    expect((await v.listWorkspaces()).map((w) => w.name)).toEqual(['keys']);
  } finally {
    await v.close();
  }
}

const refusal = openRefusal;

async function canaryIds(loc: Location): Promise<string[]> {
  const db = await openDb(loc);
  try {
    return (await db.query<{ kek_id: string }>('SELECT kek_id FROM vault_keys ORDER BY kek_id')).map((r) => r.kek_id);
  } finally {
    await db.close();
  }
}

describe.each(BACKENDS)('master key on %s', (name) => {
  const backend = useBackend(name);

  test('first start creates <dataDir>/master.key (0600, dir 0700) and later starts use it', async () => {
    const loc = await backend.fresh();
    const first = await openVault(vaultOptions(loc));
    const ids = await populate(first);
    await first.close();
    const file = path.join(loc.dataDir, 'master.key');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(loc.dataDir).mode & 0o777).toBe(0o700);
    const key = Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64');
    expect(key).toHaveLength(32);
    expect(await canaryIds(loc)).toEqual([keyIdOf(key)]);
    // The same key arrives through the environment too.
    await expectReadable(vaultOptions(loc), ids);
    await expectReadable(vaultOptions(loc, { env: { BROKER_MASTER_KEY: b64(key) } }), ids);
  });

  test('a wrong key is refused with both key ids and what to set, and nothing is changed', async () => {
    const loc = await backend.fresh();
    const right = crypto.randomBytes(32);
    const wrong = crypto.randomBytes(32);
    const v = await openVault(vaultOptions(loc, { masterKey: right }));
    const ids = await populate(v);
    await v.close();

    const viaEnv = await refusal(vaultOptions(loc, { env: { BROKER_MASTER_KEY: b64(wrong) } }));
    expect(viaEnv.message).toContain(`presented ${keyIdOf(wrong)} (from BROKER_MASTER_KEY)`);
    expect(viaEnv.message).toContain(`sealed under ${keyIdOf(right)}`);
    expect(viaEnv.message).toMatch(/Set BROKER_MASTER_KEY to the key with id kek-/);
    expect(viaEnv.message).toMatch(/Nothing was changed/);
    expect(viaEnv.message).not.toContain(b64(wrong));

    const viaBuffer = await refusal(vaultOptions(loc, { masterKey: wrong }));
    expect(viaBuffer.message).toContain(keyIdOf(wrong));

    const keyFile = path.join(loc.dataDir, 'elsewhere.key');
    fs.writeFileSync(keyFile, b64(wrong) + '\n', { mode: 0o600 });
    const viaFile = await refusal(vaultOptions(loc, { env: { BROKER_MASTER_KEY_FILE: keyFile } }));
    expect(viaFile.message).toContain(`from the master key file ${keyFile}`);
    expect(viaFile.message).toContain(keyIdOf(right));

    // Nothing was written: no canary for the wrong key, no default key file, everything readable.
    expect(await canaryIds(loc)).toEqual([keyIdOf(right)]);
    expect(fs.existsSync(path.join(loc.dataDir, 'master.key'))).toBe(false);
    await expectReadable(vaultOptions(loc, { masterKey: right }), ids);
  });

  test('a missing key file for a non-empty vault is an error, never a new key', async () => {
    const loc = await backend.fresh();
    const v = await openVault(vaultOptions(loc));
    const ids = await populate(v);
    await v.close();
    const file = path.join(loc.dataDir, 'master.key');
    const saved = fs.readFileSync(file);
    fs.rmSync(file);

    const err = await refusal(vaultOptions(loc));
    expect(err.message).toContain(`${file} does not exist`);
    expect(err.message).toMatch(/never created for a vault that is not empty/);
    expect(err.message).toContain(keyIdOf(Buffer.from(saved.toString().trim(), 'base64')));
    expect(fs.existsSync(file)).toBe(false);

    fs.writeFileSync(file, saved, { mode: 0o600 });
    await expectReadable(vaultOptions(loc), ids);
  });

  test('a key given in the environment creates no key file', async () => {
    const loc = await backend.fresh();
    const key = crypto.randomBytes(32);
    const v = await openVault(vaultOptions(loc, { env: { BROKER_MASTER_KEY: b64(key) } }));
    await v.close();
    expect(fs.existsSync(path.join(loc.dataDir, 'master.key'))).toBe(false);
    expect(await canaryIds(loc)).toEqual([keyIdOf(key)]);
  });

  const secretish = Buffer.from('sixteen byte key').toString('base64');
  test.each([
    { reason: 'not base64', env: { BROKER_MASTER_KEY: 'not base64 at all!' }, rule: /BROKER_MASTER_KEY is not base64/ },
    { reason: '16 bytes instead of 32', env: { BROKER_MASTER_KEY: secretish }, rule: /decodes to 16 bytes, not 32/ },
    { reason: 'empty variable', env: { BROKER_MASTER_KEY: '' }, rule: /BROKER_MASTER_KEY is set but empty/ },
    {
      reason: 'both variables set',
      env: { BROKER_MASTER_KEY: b64(crypto.randomBytes(32)), BROKER_MASTER_KEY_FILE: '/nonexistent/master.key' },
      rule: /both BROKER_MASTER_KEY and BROKER_MASTER_KEY_FILE are set/,
    },
  ])('bad key material is refused: $reason', async ({ env, rule }) => {
    const loc = await backend.fresh();
    const err = await refusal(vaultOptions(loc, { env }));
    expect(err.message).toMatch(rule);
    expect(err.message).not.toContain(secretish);
    expect(err.message).toMatch(/openssl rand -base64 32|set only one|unset it/);
  });

  test('an explicit key buffer of the wrong length is refused', async () => {
    const loc = await backend.fresh();
    const err = await refusal(vaultOptions(loc, { masterKey: crypto.randomBytes(31) }));
    expect(err.message).toMatch(/must be 32 bytes, got 31/);
  });

  test.each([
    { reason: 'world-readable', mode: 0o644 },
    { reason: 'group-readable', mode: 0o640 },
    { reason: 'group-writable', mode: 0o620 },
  ])('a key file others can reach is refused: $reason', async ({ mode }) => {
    const loc = await backend.fresh();
    const v = await openVault(vaultOptions(loc));
    const ids = await populate(v);
    await v.close();
    const file = path.join(loc.dataDir, 'master.key');
    fs.chmodSync(file, mode);
    const err = await refusal(vaultOptions(loc));
    expect(err.message).toContain(`has mode 0${mode.toString(8)}`);
    expect(err.message).toContain(`chmod 600 ${file}`);
    fs.chmodSync(file, 0o600);
    await expectReadable(vaultOptions(loc), ids);
  });

  test('a key file with bad contents is refused without echoing them', async () => {
    const loc = await backend.fresh();
    const file = path.join(loc.dataDir, 'bad.key');
    fs.mkdirSync(loc.dataDir, { recursive: true });
    fs.writeFileSync(file, `${secretish}\n`, { mode: 0o600 });
    const err = await refusal(vaultOptions(loc, { masterKeyFile: file }));
    expect(err.message).toContain(`the master key file ${file} decodes to 16 bytes`);
    expect(err.message).not.toContain(secretish);
  });
});
