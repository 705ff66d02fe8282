/**
 * SSH keys as members paste them, through the vault: ed25519, ECDSA and RSA keys in OpenSSH, PEM
 * (PKCS#1/SEC1) and PKCS#8 format, plain and encrypted, then CRLF line ends, spaces and tabs at the
 * ends of lines (the BEGIN line's included), blank lines around, truncation anywhere, lines lost,
 * characters changed, public keys, and random text.
 *
 * The property: a pasted key whose only change is whitespace is accepted with its own fingerprint;
 * whatever the broker accepts, `ssh-keygen -y` reads from what the vault stored, with the fingerprint
 * the listing shows; whatever it refuses is a ValidationError naming privateKey or passphrase with a
 * rule that carries no key material, and the vault holds nothing new. PKCS#8 keys are refused
 * naming PKCS#8; public keys as public keys.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { utils } from 'ssh2';
import { sshFingerprint } from '../../credentials/ssh';
import { storableTextProblem } from '../../domain/rules';
import { leaks, useCredentialVault } from '../harness/credential-vault';
import { anyString, fuzz, thrown } from './fuzz';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-fuzz-ssh-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const PASS = 'fuzz-pass-7f3a9c';

interface Key {
  [fc.toStringMethod]?: () => string;
  label: string;
  privateKey: string;
  publicKey: string;
  fingerprint: string;
  passphrase?: string;
  /** The broker cannot read it: PKCS#8. */
  pkcs8?: boolean;
}

function keygen(label: string, args: string[], passphrase = ''): Key {
  const file = path.join(dir, label);
  // -a 1: one KDF round, so decrypting a fuzzed encrypted key takes milliseconds, not a tenth of a second.
  const r = spawnSync('ssh-keygen', ['-q', '-a', '1', ...args, '-N', passphrase, '-C', `fuzz-${label}`, '-f', file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ssh-keygen ${label}: ${r.stderr}`);
  const fp = /SHA256:\S+/.exec(spawnSync('ssh-keygen', ['-lf', `${file}.pub`], { encoding: 'utf8' }).stdout)![0];
  return {
    // A counterexample names the key instead of printing it.
    [fc.toStringMethod]: () => label,
    label,
    privateKey: fs.readFileSync(file, 'utf8'),
    publicKey: fs.readFileSync(`${file}.pub`, 'utf8'),
    fingerprint: fp,
    ...(passphrase ? { passphrase } : {}),
    ...(args.includes('PKCS8') ? { pkcs8: true } : {}),
  };
}

const KEYS: Key[] = [
  keygen('ed25519', ['-t', 'ed25519']),
  keygen('ed25519-enc', ['-t', 'ed25519'], PASS),
  keygen('ecdsa', ['-t', 'ecdsa']),
  keygen('rsa', ['-t', 'rsa', '-b', '2048']),
  keygen('rsa-pem', ['-t', 'rsa', '-b', '2048', '-m', 'PEM']),
  keygen('rsa-pem-enc', ['-t', 'rsa', '-b', '2048', '-m', 'PEM'], PASS),
  keygen('ecdsa-pem', ['-t', 'ecdsa', '-m', 'PEM']),
  keygen('rsa-pkcs8', ['-t', 'rsa', '-b', '2048', '-m', 'PKCS8']),
  keygen('ecdsa-pkcs8', ['-t', 'ecdsa', '-m', 'PKCS8']),
];
const keyOf = (keys: Key[]) => fc.constantFrom(...keys);
const byLabel = (label: string): Key => KEYS.find((k) => k.label === label)!;
const readable = KEYS.filter((k) => !k.pkcs8);
/** Every body line of every key, and the passphrase: none may appear in an error. */
const secrets = [PASS, ...KEYS.flatMap((k) => k.privateKey.split('\n').filter((l) => l.length > 16 && !l.startsWith('-----')))];

/** The fingerprint ssh-keygen reads from a private key file's text, or null when it cannot read it. */
function sshKeygenFingerprint(text: string, passphrase: string | undefined): string | null {
  const file = path.join(dir, `check-${process.hrtime.bigint()}`);
  fs.writeFileSync(file, text, { mode: 0o600 });
  try {
    const pub = spawnSync('ssh-keygen', ['-y', '-P', passphrase ?? '', '-f', file], { encoding: 'utf8' });
    if (pub.status !== 0) return null;
    const blob = pub.stdout.trim().split(/\s+/)[1];
    return blob ? sshFingerprint(Buffer.from(blob, 'base64')) : null;
  } finally {
    fs.rmSync(file, { force: true });
  }
}

type Lines = string[];
const asLines = (k: string): Lines => k.replace(/\n$/, '').split('\n');
const whitespace = fc.constantFrom(' ', '  ', '\t', ' \t ', '\u00a0');

/** Changes that are whitespace only: the key must be accepted, with its own fingerprint. */
const whitespaceEdit = fc.oneof(
  fc.constant((l: Lines) => l.join('\r\n') + '\r\n'),
  fc.tuple(whitespace).map(([w]) => (l: Lines) => [l[0] + w, ...l.slice(1)].join('\n')),
  fc.tuple(fc.array(fc.tuple(fc.nat(), whitespace), { minLength: 1, maxLength: 6 })).map(([edits]) => (l: Lines) => {
    const out = [...l];
    for (const [i, w] of edits) out[i % out.length] += w;
    return out.join('\n');
  }),
  fc.tuple(fc.constantFrom('\n', '\n\n', '\r\n', ' \n'), fc.constantFrom('', '\n', '\n\n', '  \r\n')).map(([before, after]) => (l: Lines) => before + l.join('\n') + after),
  fc.constant((l: Lines) => l.join('\n')),
  fc.constant((l: Lines) => `\ufeff${l.join('\n')}\n`),
);

/** Damage: truncation, a lost line, a changed character, a duplicated line. The key may be refused or, if still the same key, accepted. */
const damage = fc.oneof(
  fc.tuple(fc.double({ min: 0, max: 1, noNaN: true })).map(([f]) => (l: Lines) => {
    const text = l.join('\n') + '\n';
    return text.slice(0, Math.floor(text.length * f));
  }),
  fc.nat().map((i) => (l: Lines) => l.filter((_, j) => j !== 1 + (i % Math.max(1, l.length - 2))).join('\n')),
  fc.tuple(fc.nat(), fc.nat(), fc.constantFrom(...'AZaz09+/=-_.!é')).map(([i, j, c]) => (l: Lines) => {
    const out = [...l];
    const n = 1 + (i % Math.max(1, out.length - 2));
    const line = out[n]!;
    const at = j % Math.max(1, line.length);
    out[n] = line.slice(0, at) + c + line.slice(at + 1);
    return out.join('\n');
  }),
  fc.nat().map((i) => (l: Lines) => {
    const n = 1 + (i % Math.max(1, l.length - 2));
    return [...l.slice(0, n + 1), l[n], ...l.slice(n + 1)].join('\n');
  }),
);

describe('ssh keys through the vault', () => {
  const ctx = useCredentialVault('fuzz-ssh');
  let n = 0;

  /** Store the fields; on refusal check the error and that the vault is unchanged. Returns the stored key, or the refusal. */
  async function attempt(fields: Record<string, unknown>): Promise<{ ok: true; privateKey: string; fingerprint: string } | { ok: false; field: string; rule: string }> {
    const before = await ctx.vault.listCredentials(ctx.workspaceId);
    const name = `key-${++n}`;
    const err = await thrown(() => ctx.vault.createCredential({ workspaceId: ctx.workspaceId, name, kind: 'ssh', fields }));
    if (err !== undefined) {
      expect(err).toMatchObject({ name: 'ValidationError', field: expect.stringMatching(/^(privateKey|passphrase)$/) });
      const pastedLines = typeof fields.privateKey === 'string' ? fields.privateKey.split(/\r?\n/).filter((l) => !l.includes('-----') && l.trim().length >= 12) : [];
      expect(leaks(err, [...secrets, ...pastedLines, fields.passphrase])).toBe(false);
      expect(await ctx.vault.listCredentials(ctx.workspaceId)).toEqual(before);
      const e = err as { field: string; rule: string };
      return { ok: false, field: e.field, rule: e.rule };
    }
    const meta = (await ctx.vault.listCredentials(ctx.workspaceId)).find((c) => c.name === name)!;
    const stored = await ctx.vault.readCredential(meta.id);
    await ctx.vault.deleteCredential(meta.id);
    // What was stored is what was described: the listing's fingerprint is the stored key's.
    const parsed = utils.parseKey(stored.secret.privateKey!, stored.secret.passphrase);
    const key = Array.isArray(parsed) ? parsed[0]! : parsed;
    if (key instanceof Error) throw new Error(`the vault stored a key ssh2 cannot read: ${key.message}`);
    expect(sshFingerprint(key.getPublicSSH())).toBe(meta.public.fingerprint);
    expect(stored.secret.passphrase).toBe(fields.passphrase === '' ? undefined : fields.passphrase);
    return { ok: true, privateKey: stored.secret.privateKey!, fingerprint: String(meta.public.fingerprint) };
  }

  test('a key changed only by whitespace (CRLF, spaces after -----BEGIN ...-----, blank lines) is accepted as itself', async () => {
    await fc.assert(
      fc.asyncProperty(keyOf(readable), whitespaceEdit, async (key, edit) => {
        const pasted = edit(asLines(key.privateKey));
        const r = await attempt({ privateKey: pasted, ...(key.passphrase ? { passphrase: key.passphrase } : {}) });
        expect(r).toMatchObject({ ok: true, fingerprint: key.fingerprint });
        // Stored as ssh-keygen wrote it.
        expect(r.ok && r.privateKey === key.privateKey).toBe(true);
      }),
      fuzz(150),
    );
  });

  test('damaged keys are refused naming the field, or accepted only as a key ssh-keygen reads with the same fingerprint', async () => {
    // Not the encrypted OpenSSH key: a damaged rounds field may ask for seconds of bcrypt (the next test).
    await fc.assert(
      fc.asyncProperty(keyOf(readable.filter((k) => k.label !== 'ed25519-enc')), damage, async (key, edit) => {
        const pasted = edit(asLines(key.privateKey));
        const r = await attempt({ privateKey: pasted, ...(key.passphrase ? { passphrase: key.passphrase } : {}) });
        if (!r.ok) return;
        expect(sshKeygenFingerprint(r.privateKey, key.passphrase)).toBe(r.fingerprint);
      }),
      fuzz(200),
    );
  });

  test('an encrypted OpenSSH key asking for more than 128 bcrypt rounds is refused at once, not decrypted for hours', async () => {
    const key = byLabel('ed25519-enc');
    const bytes = Buffer.from(asLines(key.privateKey).slice(1, -1).join(''), 'base64');
    // magic, cipher, kdf name, then kdf options: salt length, salt, rounds.
    let at = 15;
    for (let i = 0; i < 2; i++) at += 4 + bytes.readUInt32BE(at);
    const roundsAt = at + 4 + 4 + bytes.readUInt32BE(at + 4);
    expect(bytes.readUInt32BE(roundsAt)).toBe(1);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 129, max: 0xffffffff }), async (rounds) => {
        const b = Buffer.from(bytes);
        b.writeUInt32BE(rounds, roundsAt);
        const pasted = `-----BEGIN OPENSSH PRIVATE KEY-----\n${b.toString('base64').replace(/(.{70})/g, '$1\n')}\n-----END OPENSSH PRIVATE KEY-----\n`;
        const t0 = Date.now();
        const r = await attempt({ privateKey: pasted, passphrase: PASS });
        expect(r).toMatchObject({ ok: false, field: 'privateKey', rule: expect.stringContaining(`${rounds} key derivation rounds`) });
        expect(Date.now() - t0).toBeLessThan(2000);
      }),
      fuzz(20),
    );
  });

  test('a damaged ed25519 key ssh2 answers with nothing (no key, no Error) is refused, not a TypeError (found by fuzzing)', async () => {
    const lines = asLines(byLabel('ed25519').privateKey);
    lines[1] = lines[1]!.slice(0, 51) + 'A' + lines[1]!.slice(52);
    const damaged = lines.join('\n') + '\n';
    expect(utils.parseKey(damaged)).toBeUndefined();
    expect(await attempt({ privateKey: damaged })).toMatchObject({ ok: false, field: 'privateKey', rule: expect.stringMatching(/^is truncated or damaged/) });
  });

  test('a key cut before its END line is refused as truncated', async () => {
    await fc.assert(
      fc.asyncProperty(keyOf(KEYS), fc.double({ min: 0.05, max: 0.95, noNaN: true }), async (key, f) => {
        const endAt = key.privateKey.indexOf('-----END');
        const pasted = key.privateKey.slice(0, Math.floor(endAt * f) + 12);
        fc.pre(/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(pasted) && !pasted.includes('-----END'));
        const r = await attempt({ privateKey: pasted, ...(key.passphrase ? { passphrase: key.passphrase } : {}) });
        expect(r).toMatchObject({ ok: false, field: 'privateKey', rule: expect.stringMatching(/^is truncated: the -----END/) });
      }),
      fuzz(60),
    );
  });

  test('PKCS#8 keys are refused naming PKCS#8 and how to rewrite them, whatever the whitespace', async () => {
    await fc.assert(
      fc.asyncProperty(keyOf(KEYS.filter((k) => k.pkcs8)), whitespaceEdit, async (key, edit) => {
        const r = await attempt({ privateKey: edit(asLines(key.privateKey)) });
        expect(r).toMatchObject({ ok: false, field: 'privateKey', rule: expect.stringMatching(/PKCS#8.*ssh-keygen -p -f KEYFILE/) });
      }),
      fuzz(40),
    );
  });

  test('public keys are refused as public keys', async () => {
    await fc.assert(
      fc.asyncProperty(keyOf(KEYS), whitespaceEdit, async (key, edit) => {
        const r = await attempt({ privateKey: edit(asLines(key.publicKey)) });
        expect(r).toMatchObject({ ok: false, field: 'privateKey', rule: expect.stringMatching(/is a public key/) });
      }),
      fuzz(40),
    );
  });

  test('any text, any passphrase: refused naming privateKey or passphrase, never a crash', async () => {
    const text = fc.oneof(
      anyString(200),
      fc.tuple(anyString(40), anyString(40)).map(([a, b]) => `-----BEGIN OPENSSH PRIVATE KEY-----\n${a}\n-----END OPENSSH PRIVATE KEY-----\n${b}`),
      fc.tuple(fc.constantFrom('RSA ', 'EC ', 'DSA ', 'ENCRYPTED ', '', 'OPENSSH '), fc.base64String({ maxLength: 300 })).map(
        ([t, b]) => `-----BEGIN ${t}PRIVATE KEY-----\n${b}\n-----END ${t}PRIVATE KEY-----\n`,
      ),
    );
    await fc.assert(
      fc.asyncProperty(text, fc.option(anyString(20), { nil: undefined }), async (privateKey, passphrase) => {
        const r = await attempt({ privateKey, ...(passphrase === undefined ? {} : { passphrase }) });
        expect(r.ok).toBe(false);
        // A damaged key in a format the broker reads is damaged, not "a format the broker cannot read".
        if (/-----BEGIN (OPENSSH |RSA |EC )PRIVATE KEY-----/.test(privateKey) && !r.ok) expect(r.rule).not.toMatch(/format the broker cannot read/);
      }),
      fuzz(300),
    );
  });

  test('passphrases: the right one is needed for an encrypted key, none for a plain one; one no key file can hold is refused as such', async () => {
    await fc.assert(
      fc.asyncProperty(keyOf(readable), fc.oneof(anyString(20), fc.constant(PASS)), async (key, passphrase) => {
        const r = await attempt({ privateKey: key.privateKey, passphrase });
        const unstorable = storableTextProblem(passphrase);
        if (unstorable !== null) {
          // A NUL ends an OpenSSH passphrase; a lone surrogate has no UTF-8 bytes.
          expect(r).toMatchObject({ ok: false, field: 'passphrase', rule: unstorable });
        } else if (passphrase === '') {
          expect(r.ok).toBe(!key.passphrase);
        } else if (key.passphrase) {
          expect(r.ok).toBe(passphrase === key.passphrase);
          if (!r.ok) expect(r).toMatchObject({ field: 'passphrase', rule: 'does not decrypt the private key (wrong passphrase)' });
        } else {
          expect(r).toMatchObject({ ok: false, field: 'passphrase', rule: 'must be empty: the private key is not encrypted' });
        }
      }),
      fuzz(80),
    );
  });
});
