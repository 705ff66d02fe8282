/**
 * Envelope encryption with AES-256-GCM (node:crypto).
 *
 * Each record gets its own random 32-byte data key (DEK). The DEK encrypts the record's value under
 * a random 12-byte IV with additional authenticated data naming the record (`secret:<id>`), so a
 * ciphertext copied into another row does not decrypt. The DEK is itself encrypted ("wrapped") by a
 * key-encryption key (KEK, the master key) under AAD `dek:<record aad>`; the row stores the KEK's id
 * so keys can rotate (store/rewrap.ts re-wraps DEKs without touching the value ciphertext).
 *
 * Blob layout (both the wrapped DEK and the value ciphertext): 1 format byte (0x01), 12-byte IV,
 * ciphertext, 16-byte GCM tag.
 */
import * as crypto from 'node:crypto';
import { VaultIntegrityError } from '../domain/errors';

export const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const FORMAT_V1 = 0x01;
const ALG = 'aes-256-gcm';

/** A key-encryption key and its id. */
export interface Kek {
  readonly id: string;
  readonly key: Buffer;
}

/** What a row stores for one sealed value. */
export interface Sealed {
  kekId: string;
  wrappedKey: Buffer;
  ciphertext: Buffer;
}

/** The id a key is known by: `kek-` + 16 hex digits of a domain-separated SHA-256 of the key. */
export function keyIdOf(key: Buffer): string {
  if (key.length !== KEY_BYTES) throw new Error(`a master key must be ${KEY_BYTES} bytes`);
  return 'kek-' + crypto.createHash('sha256').update('secret-broker kek id\0').update(key).digest('hex').slice(0, 16);
}

function encrypt(key: Buffer, aad: string, plaintext: Buffer): Buffer {
  const iv = crypto.randomBytes(IV_BYTES);
  const cipher = crypto.createCipheriv(ALG, key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([Buffer.from([FORMAT_V1]), iv, body, cipher.getAuthTag()]);
}

/** Decrypts or throws VaultIntegrityError naming only `what`. */
function decrypt(key: Buffer, aad: string, blob: Buffer, what: string): Buffer {
  if (blob.length < 1 + IV_BYTES + TAG_BYTES || blob[0] !== FORMAT_V1) {
    throw new VaultIntegrityError(`${what}: not a sealed blob this vault understands`);
  }
  const iv = blob.subarray(1, 1 + IV_BYTES);
  const tag = blob.subarray(blob.length - TAG_BYTES);
  const body = blob.subarray(1 + IV_BYTES, blob.length - TAG_BYTES);
  const decipher = crypto.createDecipheriv(ALG, key, iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(tag);
  const out = decipher.update(body);
  try {
    const last = decipher.final();
    return last.length ? Buffer.concat([out, last]) : out;
  } catch {
    out.fill(0);
    throw new VaultIntegrityError(`${what}: does not decrypt (the row was altered, or belongs to another record)`);
  }
}

/** Seal `plaintext` for the record named by `aad`. The caller still owns (and should zero) `plaintext`. */
function seal(kek: Kek, aad: string, plaintext: Buffer): Sealed {
  const dek = crypto.randomBytes(KEY_BYTES);
  try {
    return {
      kekId: kek.id,
      ciphertext: encrypt(dek, aad, plaintext),
      wrappedKey: encrypt(kek.key, `dek:${aad}`, dek),
    };
  } finally {
    dek.fill(0);
  }
}

/** Open a sealed record. The caller must zero the returned buffer when done with it. */
function unseal(kek: Kek, aad: string, sealed: Sealed): Buffer {
  if (sealed.kekId !== kek.id) throw new Error(`internal: record sealed under ${sealed.kekId}, not ${kek.id}`);
  const dek = decrypt(kek.key, `dek:${aad}`, sealed.wrappedKey, `${aad} data key`);
  try {
    return decrypt(dek, aad, sealed.ciphertext, aad);
  } finally {
    dek.fill(0);
  }
}

/** Re-wrap a record's data key under another KEK; the value ciphertext is unchanged. */
export function rewrapKey(from: Kek, to: Kek, aad: string, wrappedKey: Buffer): Buffer {
  const dek = decrypt(from.key, `dek:${aad}`, wrappedKey, `${aad} data key`);
  try {
    return encrypt(to.key, `dek:${aad}`, dek);
  } finally {
    dek.fill(0);
  }
}

/** Seal a string; the UTF-8 copy is zeroed afterwards. */
export function sealString(kek: Kek, aad: string, value: string): Sealed {
  const buf = Buffer.from(value, 'utf8');
  try {
    return seal(kek, aad, buf);
  } finally {
    buf.fill(0);
  }
}

/** Open a sealed string; the decrypted buffer is zeroed once decoded. */
export function unsealString(kek: Kek, aad: string, sealed: Sealed): string {
  const buf = unseal(kek, aad, sealed);
  try {
    return buf.toString('utf8');
  } finally {
    buf.fill(0);
  }
}

/** Record identities bound into the ciphertexts. */
export const aadFor = {
  secret: (id: string) => `secret:${id}`,
  credential: (id: string) => `credential:${id}`,
  canary: (kekId: string) => `canary:${kekId}`,
};
