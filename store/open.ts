/**
 * Opening the vault's store: the database (PGlite or PostgreSQL), its migrations, and the check that
 * the presented master key opens what is sealed, all in one transaction, so a refused key leaves the
 * database exactly as it was. The vault (vault.ts) and the rewrap (rewrap.ts) both start here.
 */
import * as fs from 'node:fs';
import type { CredentialKind } from '../credentials';
import type { PlatformSpec } from '../platforms';
import { VaultKeyError } from '../domain/errors';
import { aadFor, sealString, unsealString, type Kek, type Sealed } from './crypto';
import { openDb, toBuffer, type Db, type Queryable, type Row } from './db';
import { keyConfigHint, Keyring } from './master-key';
import { migrate } from './migrations';

export interface VaultOptions {
  /** The broker's data directory: PGlite files (`vault-db/`) and, by default, `master.key`. */
  dataDir: string;
  /** PostgreSQL URL; PGlite under dataDir when absent. */
  databaseUrl?: string;
  /** The master key itself (32 bytes); wins over every other source. */
  masterKey?: Buffer;
  /** A file holding the base64 master key (mode 0600); wins over the environment. */
  masterKeyFile?: string;
  /** Where BROKER_MASTER_KEY / BROKER_MASTER_KEY_FILE / BROKER_MASTER_KEY_NEXT are read; process.env by default. */
  env?: NodeJS.ProcessEnv;
  /** Credential kinds by name; credentials/index.ts by default. */
  credentialKinds?: (name: string) => CredentialKind;
  /** Platform specs by name; platforms/index.ts by default. */
  platformSpecs?: (platform: string) => PlatformSpec;
}

/** Known plaintext sealed once per key-encryption key, to prove a presented key. */
const CANARY = 'secret-broker vault canary v1';

/** The internals rewrap needs: the open database and the keyring, after the key check. */
export interface OpenStore {
  db: Db;
  keyring: Keyring;
  /** Every key id that seals something in the vault (rows and canaries). */
  keyIdsInUse(q?: Queryable): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * Open the database, apply migrations and check the master key, all in one transaction: a refused
 * key leaves the database exactly as it was.
 */
export async function openStore(opts: VaultOptions, nextKey?: Buffer): Promise<OpenStore> {
  fs.mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  const keyring = Keyring.load({ ...opts, nextKey });
  let db: Db;
  try {
    db = await openDb({ dataDir: opts.dataDir, databaseUrl: opts.databaseUrl });
  } catch (err) {
    keyring.close();
    throw err;
  }
  try {
    await db.tx(async (q) => {
      await migrate(q);
      await checkKeys(q, keyring, opts.dataDir);
    });
  } catch (err) {
    await db.close().catch(() => undefined);
    keyring.close();
    throw err;
  }
  return {
    db,
    keyring,
    keyIdsInUse: (q = db) => keyIdsInUse(q),
    async close() {
      await db.close();
      keyring.close();
    },
  };
}

async function keyIdsInUse(q: Queryable): Promise<string[]> {
  const rows = await q.query<{ kek_id: string }>(
    `SELECT kek_id FROM vault_keys
     UNION SELECT DISTINCT kek_id FROM secrets
     UNION SELECT DISTINCT kek_id FROM credentials
     ORDER BY kek_id`,
  );
  return rows.map((r) => r.kek_id);
}

export function sealedOf(r: Row): Sealed {
  return { kekId: String(r.kek_id), wrappedKey: toBuffer(r.wrapped_key), ciphertext: toBuffer(r.ciphertext) };
}

export async function insertCanary(q: Queryable, k: Kek): Promise<void> {
  const s = sealString(k, aadFor.canary(k.id), CANARY);
  await q.query(
    `INSERT INTO vault_keys (kek_id, wrapped_key, ciphertext) VALUES ($1, $2, $3) ON CONFLICT (kek_id) DO NOTHING`,
    [s.kekId, s.wrappedKey, s.ciphertext],
  );
}

const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

async function checkKeys(q: Queryable, keyring: Keyring, dataDir: string): Promise<void> {
  const inUse = await keyIdsInUse(q);
  if (inUse.length === 0) {
    // Nothing sealed yet: the only moment a key file may be created.
    if (!keyring.presentedIds().length) keyring.mint();
    await insertCanary(q, keyring.sealingKey());
    return;
  }
  const sealedUnder = inUse.join(', ');
  if (!keyring.presentedIds().length) {
    throw new VaultKeyError(
      `no master key: ${keyring.source.label} does not exist, but this vault holds data sealed under ${sealedUnder}. ` +
        `A new key is never created for a vault that is not empty: ${keyConfigHint(keyring.source, dataDir, inUse)}. Nothing was changed.`,
    );
  }
  const missing = inUse.filter((id) => !keyring.has(id));
  if (missing.length) {
    throw new VaultKeyError(
      `the master key does not open this vault: presented ${keyring.describe()}; the vault is sealed under ${sealedUnder}` +
        `${missing.length < inUse.length ? ` (missing ${missing.join(', ')})` : ''}. ` +
        `${capitalize(keyConfigHint(keyring.source, dataDir, missing))}. Nothing was changed.`,
    );
  }
  const canaries = await q.query('SELECT kek_id, wrapped_key, ciphertext FROM vault_keys');
  for (const c of canaries) {
    const k = keyring.get(String(c.kek_id))!;
    let ok = false;
    try {
      ok = unsealString(k, aadFor.canary(k.id), sealedOf(c)) === CANARY;
    } catch {
      ok = false;
    }
    if (!ok) {
      throw new VaultKeyError(
        `the key check for ${k.id} failed: the key has the right id but does not open the vault's canary (the vault_keys table was altered). Nothing was changed.`,
      );
    }
  }
  const sealing = keyring.sealingKey();
  if (!canaries.some((c) => c.kek_id === sealing.id)) await insertCanary(q, sealing);
}

