/**
 * SSH credentials (Seqera Platform "SSH credentials"): a private key, pasted with its BEGIN/END lines, and an optional
 * passphrase. Parsed with ssh2's own key parser, the one the hpc provider connects with, and
 * proven usable by signing and verifying a probe, so a key the broker accepts is a key it can log in
 * with. Each refusal names the field and says what is wrong; no message contains key material.
 *
 * Public fields: keyType, fingerprint (SHA256, as `ssh-keygen -lf` prints it).
 * Secret fields: privateKey, passphrase (only when the key is encrypted).
 */
import { createHash } from 'node:crypto';
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

  // Without a passphrase first: this tells an encrypted key from a plain one.
  const plain = utils.parseKey(pem);
  const encrypted = plain instanceof Error && /no passphrase given/i.test(plain.message);
  let parsed: ParsedKey | ParsedKey[] | Error;
  if (encrypted) {
    if (passphrase === undefined) return refuse('passphrase', 'is required: the private key is encrypted');
    parsed = utils.parseKey(pem, passphrase);
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
    if (/^unsupported key format$/i.test(parsed.message.trim())) {
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
  return { ok: true, key };
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

    const normalized = privateKey.replace(/\r\n?/g, '\n').trim() + '\n';
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
