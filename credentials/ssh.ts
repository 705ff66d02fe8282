/**
 * SSH credentials (Seqera Platform "SSH credentials"): a private key, pasted with its BEGIN/END lines, and an optional
 * passphrase. Parsed with ssh2's own key parser, the one the hpc provider connects with, and
 * proven usable by signing and verifying a probe, so a key the broker accepts is a key it can log in
 * with. Each refusal names the field and says what is wrong; no message contains key material.
 *
 * Public fields: keyType, fingerprint (SHA256, as `ssh-keygen -lf` prints it).
 * Secret fields: privateKey, passphrase (only when the key is encrypted).
 */
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { utils, type ParsedKey } from 'ssh2';
import { ValidationError } from '../domain/errors';
import type { CredentialKind, ParsedCredential } from './kinds';

const MAX_KEY_CHARS = 16_384;
const MAX_PASSPHRASE_CHARS = 1_024;
const FIELDS = ['privateKey', 'passphrase'];

const PRIVATE_BEGIN = /-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----/;
const PRIVATE_END = /-----END ([A-Z0-9 ]*)PRIVATE KEY-----/;
const PUTTY = /^PuTTY-User-Key-File-\d+:/m;
const PUBLIC_KEY =
  /^(?:(?:ssh-(?:rsa|dss|ed25519|ed448)|ecdsa-sha2-\S+|sk-\S+)\s+AAAA|-----BEGIN (?:RSA |EC )?PUBLIC KEY-----|---- BEGIN SSH2 PUBLIC KEY ----)/;

/** `SHA256:<base64, no padding>` of an SSH public key blob: the form `ssh-keygen -lf` prints. */
export function sshFingerprint(publicKeyBlob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(publicKeyBlob).digest('base64').replace(/=+$/, '');
}

/** The outcome of reading a key: a usable key, or the field and rule to refuse it with. */
export type KeyCheck = { ok: true; key: ParsedKey } | { ok: false; field: 'privateKey' | 'passphrase'; rule: string };

const refuse = (field: 'privateKey' | 'passphrase', rule: string): KeyCheck => ({ ok: false, field, rule });

const PASTE_WHOLE = 'paste the whole private key file, from its -----BEGIN line to its -----END line';

/** ssh2's key parser, with a throw turned into the Error it otherwise returns. */
function parseKey(pem: string, passphrase?: string): ParsedKey | ParsedKey[] | Error {
  try {
    return passphrase === undefined ? utils.parseKey(pem) : utils.parseKey(pem, passphrase);
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

/**
 * Read a private key the way the hpc provider will use it. Shared by credential validation and the
 * provider (which re-checks what it reads from the vault before connecting).
 */
export function checkPrivateKey(text: string, passphrase: string | undefined): KeyCheck {
  const pem = text.trim();
  if (PUBLIC_KEY.test(pem)) {
    return refuse('privateKey', 'is a public key (the .pub file); paste the private key instead: the file without .pub, starting with -----BEGIN');
  }
  const putty = PUTTY.test(pem);
  if (!putty && !PRIVATE_BEGIN.test(pem)) {
    return refuse('privateKey', `is not an SSH private key: ${PASTE_WHOLE}`);
  }
  if (!putty && !PRIVATE_END.test(pem)) {
    return refuse('privateKey', `is truncated: the -----END ... PRIVATE KEY----- line is missing; ${PASTE_WHOLE}`);
  }

  const rounds = bcryptRounds(pem);
  if (rounds !== null && rounds > MAX_BCRYPT_ROUNDS) {
    return refuse(
      'privateKey',
      `is encrypted with ${rounds} key derivation rounds (ssh-keygen -a); the broker reads keys of at most ${MAX_BCRYPT_ROUNDS}, ` +
        'as every read costs that much CPU: rewrite it with `ssh-keygen -p -a 64 -f KEYFILE`',
    );
  }

  // Without a passphrase first: this tells an encrypted key from a plain one.
  const plain = parseKey(pem);
  const encrypted = plain instanceof Error && /no passphrase given/i.test(plain.message);
  let parsed: ParsedKey | ParsedKey[] | Error;
  if (encrypted) {
    if (passphrase === undefined) return refuse('passphrase', 'is required: the private key is encrypted');
    parsed = parseKey(pem, passphrase);
    if (parsed instanceof Error && /passphrase|integrity|decrypt/i.test(parsed.message)) {
      return refuse('passphrase', 'does not decrypt the private key (wrong passphrase)');
    }
  } else {
    if (passphrase !== undefined && !(plain instanceof Error)) {
      return refuse('passphrase', 'must be empty: the private key is not encrypted');
    }
    parsed = plain;
  }
  if (parsed instanceof Error) {
    const pkcs8 = /^(ENCRYPTED )?$/.exec(PRIVATE_BEGIN.exec(pem)?.[1] ?? 'not pem');
    if (pkcs8) {
      return refuse(
        'privateKey',
        `is a${pkcs8[1] ? 'n encrypted' : ''} PKCS#8 key (-----BEGIN ${pkcs8[1] ?? ''}PRIVATE KEY-----), a format the broker cannot read (it reads OpenSSH and PEM keys); ` +
          'rewrite it in OpenSSH format with `ssh-keygen -p -f KEYFILE`',
      );
    }
    // ssh2 says "unsupported" of a damaged key in a format it reads, too: only an unknown BEGIN label is a format.
    const known = /^(OPENSSH |RSA |EC |DSA )$/.test(PRIVATE_BEGIN.exec(pem)?.[1] ?? '');
    if (!known && /^unsupported key format$/i.test(parsed.message.trim())) {
      return refuse(
        'privateKey',
        'is in a format the broker cannot read (it reads OpenSSH and PEM keys); rewrite it in OpenSSH format with `ssh-keygen -p -f KEYFILE`',
      );
    }
    return refuse('privateKey', `is truncated or damaged (it does not parse as an SSH private key); ${PASTE_WHOLE}`);
  }
  let key: ParsedKey;
  if (Array.isArray(parsed)) {
    if (parsed.length !== 1) return refuse('privateKey', `holds ${parsed.length} keys; paste exactly one`);
    key = parsed[0];
  } else {
    key = parsed;
  }
  // ssh2 answers some damaged OpenSSH keys with nothing at all, neither a key nor an Error.
  if (!key || typeof key.isPrivateKey !== 'function') {
    return refuse('privateKey', `is truncated or damaged (it does not parse as an SSH private key); ${PASTE_WHOLE}`);
  }
  if (!key.isPrivateKey()) {
    return refuse('privateKey', 'is a public key; paste the private key instead: the file without .pub, starting with -----BEGIN');
  }
  if (key.type === 'ssh-dss') {
    return refuse('privateKey', 'is a DSA key, which current OpenSSH servers refuse; use an ed25519, ECDSA or RSA key');
  }
  // Prove the private half matches the public half: catches keys damaged in the middle that a
  // lenient parser still accepts (a truncated PEM body, a changed character).
  const probe = Buffer.from('secret-broker key check');
  let usable = false;
  try {
    const sig: Buffer | Error = key.sign(probe);
    usable = !(sig instanceof Error) && key.verify(probe, sig) === true;
  } catch {
    usable = false;
  }
  if (!usable) return refuse('privateKey', `is damaged: it parses but cannot sign with its own public key; ${PASTE_WHOLE}`);
  const damage = putty ? null : damageOf(pem, key, passphrase);
  if (damage) return refuse('privateKey', `is damaged: ${damage} (a character changed or lost?); ${PASTE_WHOLE}`);
  return { ok: true, key };
}

/**
 * Most bcrypt rounds of an encrypted OpenSSH key the broker decrypts. ssh2 derives the key in
 * JavaScript, synchronously: 16 rounds (ssh-keygen's default) take about a second, and a damaged
 * rounds field (up to 2^32 - 1) would hold the API or the worker for days.
 */
const MAX_BCRYPT_ROUNDS = 128;

/** The bcrypt rounds of an OpenSSH-format key encrypted with bcrypt, or null (not one, or unreadable). */
function bcryptRounds(pem: string): number | null {
  const m = /-----BEGIN OPENSSH PRIVATE KEY-----\n([A-Za-z0-9+/=\n]{0,400})/.exec(pem);
  if (!m) return null;
  const bytes = Buffer.from(m[1]!.replace(/\n/g, ''), 'base64');
  let at = 'openssh-key-v1\0'.length;
  const string = (): Buffer | null => {
    if (at + 4 > bytes.length) return null;
    const n = bytes.readUInt32BE(at);
    if (at + 4 + n > bytes.length) return null;
    at += 4 + n;
    return bytes.subarray(at - n, at);
  };
  if (string() === null || string()?.toString('latin1') !== 'bcrypt') return null;
  const options = string();
  if (!options || options.length < 8) return null;
  const saltLength = options.readUInt32BE(0);
  return 4 + saltLength + 4 <= options.length ? options.readUInt32BE(4 + saltLength) : null;
}

/** How many length-prefixed strings follow the key type in an OpenSSH private key, per type. */
const PRIVATE_FIELDS: Record<string, number> = { 'ssh-ed25519': 2, 'ssh-rsa': 6 };

/**
 * What OpenSSH checks when it loads a key and ssh2 does not, so that a key the broker accepts is one
 * `ssh-keygen` reads too. PEM keys: OpenSSL (which OpenSSH reads them with, as node:crypto does)
 * reads them, headers, padding and all. OpenSSH-format keys: the body is canonical base64, the public
 * key written beside the private one is the key's own, and (unencrypted) the two check integers
 * agree and the padding is 1, 2, 3 ... Null when none of that is wrong.
 */
function damageOf(pem: string, key: ParsedKey, passphrase: string | undefined): string | null {
  const m = /-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----\n([\s\S]*?)\n?-----END \1PRIVATE KEY-----/.exec(pem);
  if (!m) return 'its BEGIN and END lines do not match';
  if (m[1] !== 'OPENSSH ') {
    let openssl: Buffer;
    try {
      const privateKey = createPrivateKey({ key: pem, format: 'pem', ...(passphrase === undefined ? {} : { passphrase }) });
      openssl = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
    } catch {
      return 'OpenSSL, which OpenSSH reads PEM keys with, cannot read it';
    }
    // A damaged public point beside an intact private number: ssh2 and OpenSSH would see two keys.
    const ssh2 = createPublicKey(key.getPublicPEM()).export({ type: 'spki', format: 'der' });
    return openssl.equals(ssh2) ? null : 'the public key written in it is not the public half of its private key';
  }
  const body = m[2]!.split('\n').join('');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body) || body.length % 4 !== 0 || Buffer.from(body, 'base64').toString('base64') !== body) {
    return 'its body is not valid base64';
  }
  const bytes = Buffer.from(body, 'base64');
  let at = 'openssh-key-v1\0'.length;
  const u32 = (): number => {
    if (at + 4 > bytes.length) throw new RangeError('short');
    at += 4;
    return bytes.readUInt32BE(at - 4);
  };
  const string = (): Buffer => {
    const n = u32();
    if (at + n > bytes.length) throw new RangeError('short');
    at += n;
    return bytes.subarray(at - n, at);
  };
  try {
    const cipher = string().toString('latin1');
    string(); // kdf name
    string(); // kdf options
    if (u32() !== 1) return 'it does not hold exactly one key';
    if (!string().equals(key.getPublicSSH())) return 'the public key written in it is not the public half of its private key';
    if (cipher !== 'none') return null; // the rest is encrypted: ssh2 decrypted and checked it
    const priv = string();
    if (at !== bytes.length) return 'it has bytes after its private key';
    const check1 = priv.readUInt32BE(0);
    if (priv.readUInt32BE(4) !== check1) return 'its two check numbers differ';
    let p = 8;
    const field = (): void => {
      if (p + 4 > priv.length) throw new RangeError('short');
      p += 4 + priv.readUInt32BE(p);
      if (p > priv.length) throw new RangeError('short');
    };
    const typeEnd = 8 + 4 + priv.readUInt32BE(8);
    const type = priv.subarray(12, typeEnd).toString('latin1');
    const fields = PRIVATE_FIELDS[type] ?? (type.startsWith('ecdsa-sha2-') ? 3 : undefined);
    if (fields === undefined) return null;
    p = typeEnd;
    const strings: Buffer[] = [];
    for (let i = 0; i < fields + 1; i++) {
      // The key's fields, then the comment.
      const start = p;
      field();
      strings.push(priv.subarray(start + 4, p));
    }
    // The private half repeats the public key; OpenSSH refuses a key whose copies differ.
    const wire = (...parts: Buffer[]) =>
      Buffer.concat(
        parts.flatMap((b) => {
          const length = Buffer.alloc(4);
          length.writeUInt32BE(b.length);
          return [length, b];
        }),
      );
    const typeBytes = Buffer.from(type, 'latin1');
    const publicCopy =
      type === 'ssh-rsa' ? wire(typeBytes, strings[1]!, strings[0]!) : type === 'ssh-ed25519' ? wire(typeBytes, strings[0]!) : wire(typeBytes, strings[0]!, strings[1]!);
    if (!publicCopy.equals(key.getPublicSSH())) return 'its private half holds a public key that is not its own';
    if (type === 'ssh-ed25519' && (strings[1]!.length !== 64 || !strings[1]!.subarray(32).equals(strings[0]!))) {
      return 'its private half holds a public key that is not its own';
    }
    const mpints = type === 'ssh-rsa' ? strings.slice(0, 6) : type === 'ssh-ed25519' ? [] : [strings[2]!];
    if (mpints.some((b) => b.length > 0 && (b[0]! & 0x80) !== 0)) return 'one of its numbers is negative';
    if (strings[fields]!.includes(0)) return 'its comment holds a NUL byte';
    for (let i = 1; p < priv.length; i++, p++) if (priv[p] !== i) return 'its padding is not 1, 2, 3 ...';
    return null;
  } catch {
    return 'its structure is cut short';
  }
}

function optionalString(fields: Record<string, unknown>, name: string): string | undefined {
  const v = fields[name];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new ValidationError(name, 'must be a string');
  return v;
}

export const sshCredential: CredentialKind = {
  kind: 'ssh',
  description: 'SSH private key (OpenSSH or PEM format, with its BEGIN/END lines) and optional passphrase, for HPC compute environments',
  parse(fields: Record<string, unknown>): ParsedCredential {
    const extra = Object.keys(fields).filter((k) => !FIELDS.includes(k));
    if (extra.length) throw new ValidationError(extra[0], `is not a field of ssh credentials (allowed: ${FIELDS.join(', ')})`);

    const privateKey = optionalString(fields, 'privateKey');
    if (privateKey === undefined) throw new ValidationError('privateKey', `is required: ${PASTE_WHOLE}`);
    if (privateKey.length > MAX_KEY_CHARS) {
      throw new ValidationError('privateKey', `is longer than ${MAX_KEY_CHARS} characters; an SSH private key is a few kilobytes`);
    }
    const passphrase = optionalString(fields, 'passphrase');
    if (passphrase !== undefined && passphrase.length > MAX_PASSPHRASE_CHARS) {
      throw new ValidationError('passphrase', `is longer than ${MAX_PASSPHRASE_CHARS} characters`);
    }

    // Line ends and whitespace at the ends of lines are no part of a key (OpenSSL's PEM reader, which
    // OpenSSH uses for PEM keys, ignores it too): keys pasted with CRLF or trailing spaces are read
    // and stored as the file ssh-keygen would write.
    const normalized =
      privateKey
        .replace(/\r\n?/g, '\n')
        .split('\n')
        .map((line) => line.trimEnd())
        .join('\n')
        .trim() + '\n';
    const check = checkPrivateKey(normalized, passphrase);
    if (!check.ok) throw new ValidationError(check.field, check.rule);

    const secret: Record<string, string> = { privateKey: normalized };
    if (passphrase !== undefined) secret.passphrase = passphrase;
    return {
      public: { keyType: check.key.type, fingerprint: sshFingerprint(check.key.getPublicSSH()) },
      secret,
    };
  },
};
