/**
 * The keyring: which key-encryption keys (master keys) this process holds.
 *
 * Where the master key comes from, first match wins:
 *   1. `masterKey` passed to openVault (a Buffer of 32 bytes);
 *   2. `masterKeyFile` passed to openVault;
 *   3. `BROKER_MASTER_KEY`: base64 of 32 random bytes (`openssl rand -base64 32`);
 *   4. `BROKER_MASTER_KEY_FILE`: a file holding that base64 text;
 *   5. `<dataDir>/master.key`.
 * Setting both environment variables is refused as ambiguous. A key file must be readable by its
 * owner only (0600); the vault creates it (0600, directory 0700) on first start, and only when the
 * vault holds nothing sealed: a missing key file for a non-empty vault is an error, never a new key.
 *
 * A key's id is `kek-` + 16 hex digits of a hash of the key (store/crypto.ts keyIdOf); rows store
 * the id of the key that wraps their data key.
 *
 * While a rewrap is in flight (store/rewrap.ts) the keyring also holds the next key: from
 * `<key file>.next` in file mode, from `BROKER_MASTER_KEY_NEXT` in environment mode. It decrypts with
 * either and seals new records under the next key. In file mode the keyring re-reads the key files
 * when they change on disk, so a running broker follows a rewrap done by the CLI.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { KEY_BYTES, keyIdOf, type Kek } from './crypto';
import { VaultKeyError } from '../domain/errors';

export const MASTER_KEY_ENV = 'BROKER_MASTER_KEY';
const MASTER_KEY_FILE_ENV = 'BROKER_MASTER_KEY_FILE';
export const MASTER_KEY_NEXT_ENV = 'BROKER_MASTER_KEY_NEXT';
const DEFAULT_KEY_FILE_NAME = 'master.key';

export interface KeyOptions {
  dataDir: string;
  masterKey?: Buffer;
  masterKeyFile?: string;
  env?: NodeJS.ProcessEnv;
}

export type KeySource =
  | { kind: 'explicit'; label: string }
  | { kind: 'env'; label: string }
  | { kind: 'file'; label: string; file: string };

export function generateKey(): Buffer {
  return crypto.randomBytes(KEY_BYTES);
}

function encodeKey(key: Buffer): string {
  return key.toString('base64');
}

const HOW_TO_MAKE = `a master key is the base64 encoding of ${KEY_BYTES} random bytes (make one with: openssl rand -base64 ${KEY_BYTES})`;

/** Decode base64 key text from `label` (an env var name or a file). Never echoes the text. */
function parseKeyMaterial(text: string, label: string): Buffer {
  const t = text.trim();
  if (!t) throw new VaultKeyError(`${label} is empty: ${HOW_TO_MAKE}`);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(t) || t.length % 4 !== 0) {
    throw new VaultKeyError(`${label} is not base64: ${HOW_TO_MAKE}`);
  }
  const key = Buffer.from(t, 'base64');
  if (key.length !== KEY_BYTES) {
    const n = key.length;
    key.fill(0);
    throw new VaultKeyError(`${label} decodes to ${n} bytes, not ${KEY_BYTES}: ${HOW_TO_MAKE}`);
  }
  return key;
}

/** Check an explicit key buffer. */
export function checkKeyBuffer(key: Buffer, label: string): Buffer {
  if (!Buffer.isBuffer(key) || key.length !== KEY_BYTES) {
    throw new VaultKeyError(`${label} must be ${KEY_BYTES} bytes, got ${Buffer.isBuffer(key) ? key.length : typeof key}`);
  }
  return Buffer.from(key);
}

/** Read a key file, or null when it does not exist. Refuses files others can read or write. */
export function readKeyFile(file: string): Buffer | null {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new VaultKeyError(`cannot read the master key file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  if (!st.isFile()) throw new VaultKeyError(`the master key file ${file} is not a regular file`);
  const mode = st.mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new VaultKeyError(
      `the master key file ${file} has mode 0${mode.toString(8)}: it must be 0600, readable by the broker's user only (chmod 600 ${file})`,
    );
  }
  const text = fs.readFileSync(file, 'utf8');
  return parseKeyMaterial(text, `the master key file ${file}`);
}

/** Create a key file (mode 0600, directory 0700), refusing to overwrite an existing one. */
export function writeKeyFile(file: string, key: Buffer): void {
  const dir = path.dirname(file);
  if (!fs.existsSync(dir)) fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const fd = fs.openSync(file, 'wx', 0o600);
  try {
    fs.writeSync(fd, encodeKey(key) + '\n');
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.chmodSync(file, 0o600); // the umask may have narrowed it further; make it exactly 0600
  fsyncDir(dir);
}

export function fsyncDir(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    /* not supported everywhere; best effort */
  }
}

function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name];
  if (v === undefined) return undefined;
  if (v.trim() === '') throw new VaultKeyError(`${name} is set but empty: unset it or set it to ${HOW_TO_MAKE.replace('a master key is ', '')}`);
  return v;
}

/** Where the master key comes from, without reading it yet. */
export function resolveKeySource(opts: KeyOptions): KeySource {
  const env = opts.env ?? process.env;
  if (opts.masterKey) return { kind: 'explicit', label: 'the master key passed to the vault' };
  if (opts.masterKeyFile) {
    const file = path.resolve(opts.masterKeyFile);
    return { kind: 'file', file, label: `the master key file ${file}` };
  }
  const fromEnv = envValue(env, MASTER_KEY_ENV);
  const fromEnvFile = envValue(env, MASTER_KEY_FILE_ENV);
  if (fromEnv !== undefined && fromEnvFile !== undefined) {
    throw new VaultKeyError(`both ${MASTER_KEY_ENV} and ${MASTER_KEY_FILE_ENV} are set: set only one`);
  }
  if (fromEnv !== undefined) return { kind: 'env', label: MASTER_KEY_ENV };
  const file = path.resolve(fromEnvFile ?? path.join(opts.dataDir, DEFAULT_KEY_FILE_NAME));
  return { kind: 'file', file, label: `the master key file ${file}` };
}

export function nextKeyFile(file: string): string {
  return `${file}.next`;
}

export function retiredKeyFile(file: string, kekId: string): string {
  return `${file}.retired-${kekId}`;
}

function statSig(file: string): string {
  try {
    const st = fs.statSync(file);
    return `${st.ino}:${st.size}:${st.mtimeMs}:${st.mode}`;
  } catch {
    return 'absent';
  }
}

function kek(key: Buffer): Kek {
  return { id: keyIdOf(key), key };
}

/**
 * The keys this process holds. Loading never creates anything: a missing key file leaves `current`
 * empty, and the vault decides (by whether it holds sealed data) whether to mint one.
 */
export class Keyring {
  private cur: Kek | null = null;
  private nxt: Kek | null = null;
  /** Every key seen by this process, for decrypting rows sealed under a key that was since replaced. */
  private readonly seen = new Map<string, Kek>();
  private sig = '';

  private constructor(
    readonly source: KeySource,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  /**
   * Load the keyring. `nextKey` (explicit or environment mode only) adds the key a rewrap moves to.
   */
  static load(opts: KeyOptions & { nextKey?: Buffer }): Keyring {
    const source = resolveKeySource(opts);
    const ring = new Keyring(source, opts.env ?? process.env);
    if (source.kind === 'explicit') {
      ring.cur = kek(checkKeyBuffer(opts.masterKey!, source.label));
      if (opts.nextKey) ring.nxt = kek(checkKeyBuffer(opts.nextKey, 'the next master key'));
    } else if (source.kind === 'env') {
      ring.cur = kek(parseKeyMaterial(ring.env[MASTER_KEY_ENV]!, MASTER_KEY_ENV));
      const next = envValue(ring.env, MASTER_KEY_NEXT_ENV);
      if (opts.nextKey) ring.nxt = kek(checkKeyBuffer(opts.nextKey, 'the next master key'));
      else if (next !== undefined) ring.nxt = kek(parseKeyMaterial(next, MASTER_KEY_NEXT_ENV));
    } else {
      if (opts.nextKey) throw new Error('internal: in file mode the next key lives in the .next key file');
      ring.reloadFiles();
    }
    if (ring.nxt && ring.cur && ring.nxt.id === ring.cur.id) ring.nxt = null;
    ring.remember();
    return ring;
  }

  private remember(): void {
    for (const k of [this.cur, this.nxt]) if (k && !this.seen.has(k.id)) this.seen.set(k.id, k);
  }

  private reloadFiles(): void {
    if (this.source.kind !== 'file') return;
    const file = this.source.file;
    const next = nextKeyFile(file);
    this.sig = `${statSig(file)}|${statSig(next)}`;
    const cur = readKeyFile(file);
    const nxt = readKeyFile(next);
    this.cur = cur ? this.known(cur) : null;
    this.nxt = nxt ? this.known(nxt) : null;
    if (this.nxt && this.cur && this.nxt.id === this.cur.id) this.nxt = null;
    this.remember();
  }

  /** The Kek for this key material, reusing (and zeroing the duplicate of) one already held. */
  private known(key: Buffer): Kek {
    const have = this.seen.get(keyIdOf(key));
    if (!have) return kek(key);
    key.fill(0);
    return have;
  }

  /** File mode: re-read the key files if they changed on disk. Returns true when they did. */
  refresh(): boolean {
    if (this.source.kind !== 'file') return false;
    const file = this.source.file;
    if (`${statSig(file)}|${statSig(nextKeyFile(file))}` === this.sig) return false;
    this.reloadFiles();
    return true;
  }

  get keyFile(): string | null {
    return this.source.kind === 'file' ? this.source.file : null;
  }

  current(): Kek | null {
    return this.cur;
  }

  next(): Kek | null {
    return this.nxt;
  }

  /** The key new records are sealed under: the next key while a rewrap is in flight. */
  sealingKey(): Kek {
    this.refresh();
    const k = this.nxt ?? this.cur;
    if (!k) throw new VaultKeyError(`no master key: ${this.source.label} does not exist`);
    return k;
  }

  /** The key with this id, re-reading the key files once if it is not known yet. */
  get(id: string): Kek | undefined {
    const k = this.seen.get(id);
    if (k) return k;
    if (this.refresh()) return this.seen.get(id);
    return undefined;
  }

  /** The ids of the keys presented (current and next), for messages. */
  presentedIds(): string[] {
    return [this.cur, this.nxt].filter((k): k is Kek => !!k).map((k) => k.id);
  }

  has(id: string): boolean {
    return this.seen.has(id);
  }

  /** Describe what was presented, e.g. `kek-0123456789abcdef (from BROKER_MASTER_KEY)`. */
  describe(): string {
    const ids = this.presentedIds();
    if (!ids.length) return `no key (${this.source.label} does not exist)`;
    const next = this.nxt ? ` and next key ${this.nxt.id}` : '';
    return `${this.cur ? this.cur.id : 'no current key'}${next} (from ${this.source.label})`;
  }

  /** File mode, empty vault only: create the key file with a fresh key. */
  mint(): Kek {
    if (this.source.kind !== 'file') throw new Error('internal: only a key file can be created');
    const key = generateKey();
    try {
      writeKeyFile(this.source.file, key);
    } catch (err) {
      key.fill(0);
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        // Another process created it first: use theirs.
        this.reloadFiles();
        if (this.cur) return this.cur;
      }
      throw new VaultKeyError(`cannot create the master key file ${this.source.file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    this.cur = kek(key);
    this.sig = `${statSig(this.source.file)}|${statSig(nextKeyFile(this.source.file))}`;
    this.remember();
    return this.cur;
  }

  /** Zero every key this process holds. */
  close(): void {
    for (const k of this.seen.values()) k.key.fill(0);
    this.seen.clear();
    this.cur = null;
    this.nxt = null;
  }
}

/** What to tell an operator to set so that the keyring holds the key(s) named in `ids`. */
export function keyConfigHint(source: KeySource, dataDir: string, ids: string[]): string {
  const which = ids.length === 1 ? `the key with id ${ids[0]}` : `the keys with ids ${ids.join(', ')}`;
  const def = path.join(dataDir, DEFAULT_KEY_FILE_NAME);
  switch (source.kind) {
    case 'env':
      return `set ${MASTER_KEY_ENV} to ${which} (base64; during a rewrap also ${MASTER_KEY_NEXT_ENV})`;
    case 'explicit':
      return `pass ${which}`;
    case 'file':
      return `restore ${source.file} holding ${which} (mode 0600), or point ${MASTER_KEY_FILE_ENV} at such a file, or set ${MASTER_KEY_ENV} (default file: ${def})`;
  }
}
