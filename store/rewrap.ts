/**
 * Re-wrap every data key under a new master key (key rotation). Only the wrapped data keys change;
 * value ciphertexts stay as they are.
 *
 * Key file mode (the default, `<dataDir>/master.key` or BROKER_MASTER_KEY_FILE):
 *   1. the new key is written to `master.key.next` (0600) before any row changes; from then on every
 *      keyring (including a running broker's, which re-reads the key files when they change) holds
 *      both keys and seals new records under the new one;
 *   2. rows are re-wrapped one by one; rows already under the new key are skipped, so a crash or an
 *      interruption is repaired by running the rewrap again (it finds `master.key.next` and resumes);
 *   3. at the end the old key is kept as `master.key.retired-<old id>` and `master.key.next` is
 *      renamed over `master.key`. Once satisfied, the operator removes the retired file (or moves it
 *      offline): until then it still decrypts backups taken before the rotation.
 *
 * Environment mode (BROKER_MASTER_KEY): the broker cannot change the environment, so the operator
 *   1. generates the new key (`openssl rand -base64 32`) and sets BROKER_MASTER_KEY_NEXT to it on the
 *      running brokers (restart them), so they read rows under either key and seal under the new one;
 *   2. runs the rewrap with the new key given explicitly (`newKey`/`newKeyFile`, or it takes
 *      BROKER_MASTER_KEY_NEXT); an interrupted run is resumed by running it again with the same key;
 *   3. sets BROKER_MASTER_KEY to the new key, unsets BROKER_MASTER_KEY_NEXT and restarts the brokers.
 *   After the rewrap the old key alone no longer opens the vault.
 *
 * With the embedded database (PGlite) only one process may open the data directory: stop the broker
 * before running the rewrap. With PostgreSQL the rewrap runs beside live brokers.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { aadFor, keyIdOf, rewrapKey, type Kek } from './crypto';
import { toBuffer, type Queryable } from './db';
import { VaultKeyError } from './errors';
import {
  checkKeyBuffer,
  fsyncDir,
  generateKey,
  MASTER_KEY_ENV,
  MASTER_KEY_NEXT_ENV,
  nextKeyFile,
  readKeyFile,
  resolveKeySource,
  retiredKeyFile,
  writeKeyFile,
} from './master-key';
import type { RewrapProgress } from './types';
import { insertCanary, openStore, type VaultOptions } from './vault';

export interface RewrapOptions {
  dataDir: string;
  databaseUrl?: string;
  /** The current key, as openVault takes it (default: BROKER_MASTER_KEY, BROKER_MASTER_KEY_FILE, <dataDir>/master.key). */
  masterKey?: Buffer;
  masterKeyFile?: string;
  env?: NodeJS.ProcessEnv;
  /** The new key. In key file mode it may be omitted: a fresh key is generated (or an in-flight one resumed). */
  newKey?: Buffer;
  /** A 0600 file holding the new key (base64). */
  newKeyFile?: string;
  /** Called after each re-wrapped row; throwing stops the rewrap (it resumes when run again). */
  onProgress?: (p: RewrapProgress) => void | Promise<void>;
}

export interface RewrapResult {
  /** The key everything is now wrapped under. */
  newKeyId: string;
  /** The keys rows were wrapped under before (besides the new key). */
  oldKeyIds: string[];
  /** Rows that needed re-wrapping when this run started. */
  total: number;
  /** Rows this run re-wrapped. */
  rewrapped: number;
  /** Rows already under the new key when this run started (re-wrapped by an earlier, interrupted run). */
  skipped: number;
  secrets: number;
  credentials: number;
  /** Key file mode: where the new key now lives, and where the old one was kept. */
  keyFile?: string;
  retiredKeyFile?: string;
  /** What the operator still has to do (environment mode). */
  nextSteps: string[];
}

const TABLES = [
  { table: 'secrets', aad: aadFor.secret },
  { table: 'credentials', aad: aadFor.credential },
] as const;

async function countRows(q: Queryable, where: string, kekId: string): Promise<number> {
  const [row] = await q.query<{ n: number }>(
    `SELECT ((SELECT count(*) FROM secrets WHERE ${where}) + (SELECT count(*) FROM credentials WHERE ${where}))::int AS n`,
    [kekId],
  );
  return Number(row?.n ?? 0);
}

function explicitNewKey(opts: RewrapOptions): Buffer | undefined {
  if (opts.newKey) return checkKeyBuffer(opts.newKey, 'the new master key');
  if (opts.newKeyFile) {
    const key = readKeyFile(opts.newKeyFile);
    if (!key) throw new VaultKeyError(`the new master key file ${opts.newKeyFile} does not exist`);
    return key;
  }
  return undefined;
}

/** Re-wrap every data key under the new master key. Safe to run again after an interruption. */
export async function rewrapVault(opts: RewrapOptions): Promise<RewrapResult> {
  const vaultOpts: VaultOptions = {
    dataDir: opts.dataDir,
    databaseUrl: opts.databaseUrl,
    masterKey: opts.masterKey,
    masterKeyFile: opts.masterKeyFile,
    env: opts.env,
  };
  const source = resolveKeySource({ ...vaultOpts, dataDir: opts.dataDir });
  const given = explicitNewKey(opts);
  const nextSteps: string[] = [];

  let nextFile: string | undefined;
  let nextKeyForOpen: Buffer | undefined;
  if (source.kind === 'file') {
    nextFile = nextKeyFile(source.file);
    const inFlight = readKeyFile(nextFile);
    if (inFlight && given && keyIdOf(inFlight) !== keyIdOf(given)) {
      throw new VaultKeyError(
        `a rewrap to ${keyIdOf(inFlight)} is in flight (${nextFile}); run the rewrap again without a new key to finish it before starting another`,
      );
    }
    inFlight?.fill(0);
  } else {
    const env = opts.env ?? process.env;
    nextKeyForOpen = given;
    if (!nextKeyForOpen && (source.kind === 'explicit' || env[MASTER_KEY_NEXT_ENV] === undefined)) {
      throw new VaultKeyError(
        `the master key comes from ${source.label}, which the broker cannot change: give the new key explicitly (a 0600 key file, or ${MASTER_KEY_NEXT_ENV})`,
      );
    }
  }

  // Opening checks the current key (and an in-flight next key) against the vault before anything changes.
  const store = await openStore(vaultOpts, nextKeyForOpen);
  try {
    const { db, keyring } = store;
    const current = keyring.current();
    if (nextFile && !keyring.next()) {
      const fresh = given ?? generateKey();
      if (current && keyIdOf(fresh) === current.id) {
        throw new VaultKeyError(`the new key is the current key (${current.id}): give a different key`);
      }
      writeKeyFile(nextFile, fresh);
      fresh.fill(0);
      keyring.refresh();
    }
    const to: Kek | null = keyring.next();
    if (!to) {
      throw new VaultKeyError(`the new key is the current key (${current?.id ?? 'none'}): give a different key`);
    }
    if (given && keyIdOf(given) !== to.id) throw new Error('internal: the keyring did not take the new key');

    const oldKeyIds = (await store.keyIdsInUse()).filter((id) => id !== to.id);
    await insertCanary(db, to);
    const total = await countRows(db, 'kek_id <> $1', to.id);
    const skipped = await countRows(db, 'kek_id = $1', to.id);
    const counts = { secrets: 0, credentials: 0 };
    let done = 0;

    for (;;) {
      for (const { table, aad } of TABLES) {
        for (;;) {
          const rows = await db.query(`SELECT id, kek_id, wrapped_key FROM ${table} WHERE kek_id <> $1 ORDER BY id LIMIT 100`, [to.id]);
          if (!rows.length) break;
          for (const row of rows) {
            const id = String(row.id);
            const fromId = String(row.kek_id);
            const from = keyring.get(fromId);
            if (!from) throw new VaultKeyError(`${table} row ${id} is wrapped under ${fromId}, a key this process does not hold`);
            const wrapped = rewrapKey(from, to, aad(id), toBuffer(row.wrapped_key));
            const updated = await db.query(`UPDATE ${table} SET kek_id = $1, wrapped_key = $2 WHERE id = $3 AND kek_id = $4 RETURNING id`, [
              to.id,
              wrapped,
              id,
              fromId,
            ]);
            // Zero rows: a writer replaced the record meanwhile (under the new key); the next pass sees it.
            if (!updated.length) continue;
            counts[table]++;
            done++;
            await opts.onProgress?.({ done, total: Math.max(total, done) });
          }
        }
      }
      // Retire the old canaries only once no row needs an old key; a writer that sealed under an old
      // key meanwhile sends us round again.
      const finished = await db.tx(async (q) => {
        if ((await countRows(q, 'kek_id <> $1', to.id)) > 0) return false;
        await q.query('DELETE FROM vault_keys WHERE kek_id <> $1', [to.id]);
        return true;
      });
      if (finished) break;
    }

    const result: RewrapResult = {
      newKeyId: to.id,
      oldKeyIds,
      total,
      rewrapped: done,
      skipped,
      secrets: counts.secrets,
      credentials: counts.credentials,
      nextSteps,
    };

    if (source.kind === 'file' && nextFile) {
      const file = source.file;
      if (current && current.id !== to.id) {
        const retired = retiredKeyFile(file, current.id);
        if (!fs.existsSync(retired)) {
          try {
            fs.linkSync(file, retired);
          } catch {
            writeKeyFile(retired, current.key);
          }
        }
        result.retiredKeyFile = retired;
        nextSteps.push(`remove ${retired} (or move it offline) once backups taken before the rotation are no longer needed`);
      }
      fs.renameSync(nextFile, file);
      fsyncDir(path.dirname(file));
      result.keyFile = file;
    } else {
      nextSteps.push(
        `set ${MASTER_KEY_ENV} to the new key (${to.id}) on every broker, unset ${MASTER_KEY_NEXT_ENV}, and restart them; the old key${
          oldKeyIds.length > 1 ? 's' : ''
        } (${oldKeyIds.join(', ') || 'none'}) no longer open${oldKeyIds.length > 1 ? '' : 's'} the vault`,
      );
    }
    return result;
  } finally {
    await store.close();
  }
}
