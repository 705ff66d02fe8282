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
import { VaultKeyError } from '../domain/errors';
import {
  checkKeyBuffer,
  fsyncDir,
  generateKey,
  type KeySource,
  MASTER_KEY_ENV,
  MASTER_KEY_NEXT_ENV,
  nextKeyFile,
  readKeyFile,
  resolveKeySource,
  retiredKeyFile,
  writeKeyFile,
} from './master-key';
import type { MasterKeyRotationResult, RewrapProgress } from './types';
import { insertCanary, openStore, type OpenStore, type VaultOptions } from './open';

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

/** What a rewrap did (store/types.ts MasterKeyRotationResult). */
export type RewrapResult = MasterKeyRotationResult;

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

export interface RewrapStoreOptions {
  /**
   * The new key. Key file mode: written to `master.key.next` unless a rewrap is in flight (then it
   * must be that rewrap's key). Environment and explicit mode: it must already be the keyring's next
   * key (openStore's `nextKey`, or BROKER_MASTER_KEY_NEXT).
   */
  newKey?: Buffer;
  /**
   * A retried rotation names the key it was moving to. If no rewrap is in flight and the vault is
   * already wholly under that key, the rotation finished before the retry: report it and change
   * nothing, instead of starting another rotation.
   */
  resumeKeyId?: string;
  /** Called once the new key is known, before any row changes (a caller records `newKeyId` to resume with). */
  onStart?: (s: { newKeyId: string; total: number; skipped: number }) => void | Promise<void>;
  /** Called after each re-wrapped row; throwing stops the rewrap (it resumes when run again). */
  onProgress?: (p: RewrapProgress) => void | Promise<void>;
}

/** Why a keyring without a next key cannot rotate in environment or explicit mode, and what to do. */
function cannotChooseKey(source: KeySource): string {
  if (source.kind === 'env') {
    return (
      `the master key comes from ${MASTER_KEY_ENV}, which the broker cannot change: generate a new key (openssl rand -base64 32), ` +
      `set ${MASTER_KEY_NEXT_ENV} to it on every broker and restart them, then start the rotation again; when it has finished, ` +
      `set ${MASTER_KEY_ENV} to the new key, unset ${MASTER_KEY_NEXT_ENV} and restart the brokers`
    );
  }
  return `the master key comes from ${source.label}, which the broker cannot change: open the vault with a next key (or use a key file) to rotate it`;
}

/**
 * The rewrap itself, over a store that is already open: the CLI's own (rewrapVault) or a running
 * broker's vault (VaultApi.rotateMasterKey). The keyring is shared with whoever else uses the store,
 * so from the moment the new key is known every writer seals under it, and rows under either key
 * stay readable throughout. In key file mode the keyring follows the renamed files afterwards (it
 * keeps every key it has seen, so reads never miss).
 */
export async function rewrapOpenStore(store: OpenStore, opts: RewrapStoreOptions = {}): Promise<RewrapResult> {
  const { db, keyring } = store;
  const source = keyring.source;
  const given = opts.newKey ? checkKeyBuffer(opts.newKey, 'the new master key') : undefined;
  const nextSteps: string[] = [];
  try {
    // Follow key files another process changed (a rewrap begun elsewhere).
    keyring.refresh();
    const current = keyring.current();
    const inFlight = keyring.next();

    if (!inFlight && opts.resumeKeyId !== undefined) {
      if (current && current.id === opts.resumeKeyId && (await countRows(db, 'kek_id <> $1', current.id)) === 0) {
        const skipped = await countRows(db, 'kek_id = $1', current.id);
        await opts.onStart?.({ newKeyId: current.id, total: 0, skipped });
        return {
          newKeyId: current.id,
          oldKeyIds: [],
          total: 0,
          rewrapped: 0,
          skipped,
          secrets: 0,
          credentials: 0,
          ...(source.kind === 'file' ? { keyFile: source.file } : {}),
          nextSteps,
        };
      }
      throw new VaultKeyError(
        `the rotation to ${opts.resumeKeyId} is neither in flight nor finished (the vault's current key is ${current?.id ?? 'none'}, and no next key is present); start a new rotation`,
      );
    }

    let nextFile: string | undefined;
    if (source.kind === 'file') {
      nextFile = nextKeyFile(source.file);
      if (inFlight && given && inFlight.id !== keyIdOf(given)) {
        throw new VaultKeyError(
          `a rewrap to ${inFlight.id} is in flight (${nextFile}); run the rewrap again without a new key to finish it before starting another`,
        );
      }
      if (!inFlight) {
        const fresh = given ? Buffer.from(given) : generateKey();
        try {
          if (current && keyIdOf(fresh) === current.id) {
            throw new VaultKeyError(`the new key is the current key (${current.id}): give a different key`);
          }
          writeKeyFile(nextFile, fresh);
        } finally {
          fresh.fill(0);
        }
        keyring.refresh();
      }
    } else if (!inFlight) {
      throw new VaultKeyError(cannotChooseKey(source));
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
    await opts.onStart?.({ newKeyId: to.id, total, skipped });
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
      // The keyring reads the renamed files: current is the new key, no next; it still holds the old one.
      keyring.refresh();
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
    given?.fill(0);
  }
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
  try {
    let nextKeyForOpen: Buffer | undefined;
    if (source.kind === 'file') {
      // Refuse a second rotation before opening anything.
      const inFlight = readKeyFile(nextKeyFile(source.file));
      try {
        if (inFlight && given && keyIdOf(inFlight) !== keyIdOf(given)) {
          throw new VaultKeyError(
            `a rewrap to ${keyIdOf(inFlight)} is in flight (${nextKeyFile(source.file)}); run the rewrap again without a new key to finish it before starting another`,
          );
        }
      } finally {
        inFlight?.fill(0);
      }
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
      return await rewrapOpenStore(store, { ...(given ? { newKey: given } : {}), ...(opts.onProgress ? { onProgress: opts.onProgress } : {}) });
    } finally {
      await store.close();
    }
  } finally {
    given?.fill(0);
  }
}
