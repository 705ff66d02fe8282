/**
 * SSH credentials: what the kind accepts, each refusal with its own message naming the field, and
 * that a refused credential leaves nothing in the vault.
 */
import { useCredentialVault } from '../harness/credential-vault';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { credentialKind } from '../../credentials';
import { sshCredential } from '../../credentials/ssh';

interface Key {
  privateKey: string;
  publicKey: string;
  fingerprint: string;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-ssh-cred-'));
const PASS = `pp-${randomBytes(9).toString('base64url')}`;

function keygen(name: string, args: string[], passphrase = ''): Key {
  const file = path.join(dir, name);
  const r = spawnSync('ssh-keygen', ['-q', ...args, '-N', passphrase, '-C', `test-${name}`, '-f', file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ssh-keygen ${name} failed: ${r.stderr}`);
  const fp = /SHA256:\S+/.exec(spawnSync('ssh-keygen', ['-lf', `${file}.pub`], { encoding: 'utf8' }).stdout)![0];
  return { privateKey: fs.readFileSync(file, 'utf8'), publicKey: fs.readFileSync(`${file}.pub`, 'utf8'), fingerprint: fp };
}

const ed = keygen('ed', ['-t', 'ed25519'], PASS);
const rsa = keygen('rsa', ['-t', 'rsa', '-b', '2048']);
const ecdsa = keygen('ecdsa', ['-t', 'ecdsa']);
const rsaPemEnc = keygen('rsa-pem-enc', ['-t', 'rsa', '-b', '2048', '-m', 'PEM'], PASS);
const rsaPem = keygen('rsa-pem', ['-t', 'rsa', '-b', '2048', '-m', 'PEM']);
const rsaPkcs8 = keygen('rsa-pkcs8', ['-t', 'rsa', '-b', '2048', '-m', 'PKCS8']);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const lines = (k: string) => k.trim().split('\n');
/** Keep the BEGIN and END lines, drop the second half of the body. */
const halfBody = (k: string) => {
  const l = lines(k);
  const body = l.slice(1, -1);
  return [l[0], ...body.slice(0, Math.floor(body.length / 2)), l[l.length - 1]].join('\n') + '\n';
};
/** Every body line of every key: none may appear in a message. */
const keyMaterial = [ed, rsa, ecdsa, rsaPemEnc, rsaPem, rsaPkcs8].flatMap((k) => lines(k.privateKey).filter((l) => !l.startsWith('-----') && l.length > 16));

describe('ssh credential kind', () => {
  test('is registered as "ssh"', () => {
    expect(credentialKind('ssh')).toBe(sshCredential);
  });

  test('an ed25519 key with its passphrase: public key type and fingerprint, key and passphrase sealed', async () => {
    const parsed = await sshCredential.parse({ privateKey: ed.privateKey, passphrase: PASS });
    expect(parsed.public).toEqual({ keyType: 'ssh-ed25519', fingerprint: ed.fingerprint });
    expect(Object.keys(parsed.secret).sort()).toEqual(['passphrase', 'privateKey']);
    expect(parsed.secret.privateKey === ed.privateKey && parsed.secret.passphrase === PASS).toBe(true);
    expect(JSON.stringify(parsed.public)).not.toContain(PASS);
  });

  test.each([
    { reason: 'RSA (OpenSSH format) without passphrase', key: () => rsa, keyType: 'ssh-rsa' },
    { reason: 'ECDSA', key: () => ecdsa, keyType: 'ecdsa-sha2-nistp256' },
    { reason: 'RSA in PEM format', key: () => rsaPem, keyType: 'ssh-rsa' },
  ])('accepts $reason', async ({ key, keyType }) => {
    const parsed = await sshCredential.parse({ privateKey: key().privateKey, passphrase: '' });
    expect(parsed.public).toEqual({ keyType, fingerprint: key().fingerprint });
    expect(Object.keys(parsed.secret)).toEqual(['privateKey']);
  });

  test('accepts an encrypted PEM key with its passphrase, and a key pasted with CRLF line ends and blank lines around it', async () => {
    // Assert on public fields only, so a failure never prints key material.
    expect((await sshCredential.parse({ privateKey: rsaPemEnc.privateKey, passphrase: PASS })).public).toEqual({ keyType: 'ssh-rsa', fingerprint: rsaPemEnc.fingerprint });
    const pasted = `\r\n  ${ed.privateKey.replace(/\n/g, '\r\n')}\r\n\r\n`;
    const parsed = await sshCredential.parse({ privateKey: pasted, passphrase: PASS });
    expect(parsed.secret.privateKey === ed.privateKey).toBe(true);
  });
});

const refusals: { reason: string; fields: () => Record<string, unknown>; field: string; rule: RegExp }[] = [
  { reason: 'a public key pasted as the private key', fields: () => ({ privateKey: ed.publicKey }), field: 'privateKey', rule: /is a public key/ },
  { reason: 'an RSA public key pasted as the private key', fields: () => ({ privateKey: rsa.publicKey }), field: 'privateKey', rule: /is a public key/ },
  { reason: 'a key cut off before its END line', fields: () => ({ privateKey: rsa.privateKey.slice(0, Math.floor(rsa.privateKey.length * 0.6)) }), field: 'privateKey', rule: /truncated: the -----END/ },
  { reason: 'a key missing half its body', fields: () => ({ privateKey: halfBody(rsa.privateKey) }), field: 'privateKey', rule: /truncated or damaged/ },
  { reason: 'an encrypted key missing half its body', fields: () => ({ privateKey: halfBody(ed.privateKey), passphrase: PASS }), field: 'privateKey', rule: /truncated or damaged/ },
  { reason: 'a PEM key missing half its body (which a lenient parser accepts)', fields: () => ({ privateKey: halfBody(rsaPem.privateKey) }), field: 'privateKey', rule: /damaged/ },
  { reason: 'an encrypted key without its passphrase', fields: () => ({ privateKey: ed.privateKey }), field: 'passphrase', rule: /is required: the private key is encrypted/ },
  { reason: 'an encrypted key with an empty passphrase', fields: () => ({ privateKey: ed.privateKey, passphrase: '' }), field: 'passphrase', rule: /is required/ },
  { reason: 'an encrypted key with the wrong passphrase', fields: () => ({ privateKey: ed.privateKey, passphrase: 'not-the-passphrase' }), field: 'passphrase', rule: /does not decrypt/ },
  { reason: 'an encrypted PEM key with the wrong passphrase', fields: () => ({ privateKey: rsaPemEnc.privateKey, passphrase: 'not-the-passphrase' }), field: 'passphrase', rule: /does not decrypt/ },
  { reason: 'a passphrase for a key that is not encrypted', fields: () => ({ privateKey: rsa.privateKey, passphrase: 'stray-passphrase' }), field: 'passphrase', rule: /must be empty/ },
  { reason: 'text that is no key at all', fields: () => ({ privateKey: 'my key is in ~/.ssh/id_rsa' }), field: 'privateKey', rule: /not an SSH private key/ },
  { reason: 'a PKCS#8 key ssh2 cannot read', fields: () => ({ privateKey: rsaPkcs8.privateKey }), field: 'privateKey', rule: /format .*ssh-keygen -p/ },
  { reason: 'no private key', fields: () => ({ passphrase: PASS }), field: 'privateKey', rule: /is required/ },
  { reason: 'a private key that is not text', fields: () => ({ privateKey: 42 }), field: 'privateKey', rule: /must be a string/ },
  { reason: 'an oversized private key', fields: () => ({ privateKey: rsa.privateKey + 'A'.repeat(20_000) }), field: 'privateKey', rule: /longer than/ },
  { reason: 'a field ssh credentials do not have', fields: () => ({ privateKey: rsa.privateKey, username: 'alice' }), field: 'username', rule: /not a field/ },
];

describe('refusals', () => {
  test.each(refusals)('refuses $reason', async ({ fields, field, rule }) => {
    let err: unknown;
    try {
      await sshCredential.parse(fields());
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ name: 'ValidationError', field });
    expect((err as { rule: string }).rule).toMatch(rule);
    const msg = (err as Error).message;
    expect(msg).not.toContain(PASS);
    for (const l of keyMaterial) expect(msg.includes(l)).toBe(false);
  });

  test('every refusal has its own message', async () => {
    const messages = new Set<string>();
    for (const r of refusals.filter((x) => !/RSA public|empty passphrase|PEM key with the wrong|encrypted key missing/.test(x.reason))) {
      try {
        await sshCredential.parse(r.fields());
      } catch (e) {
        messages.add((e as Error).message);
      }
    }
    expect(messages.size).toBe(refusals.length - 4);
  });
});

describe('in the vault', () => {
  const ctx = useCredentialVault('hpc-ws');

  test.each(refusals)('stores nothing when refusing $reason', async ({ fields, field, rule }) => {
    await expect(ctx.vault.createCredential({ workspaceId: ctx.workspaceId, name: 'cluster-key', kind: 'ssh', fields: fields() })).rejects.toMatchObject({ name: 'ValidationError', field, rule: expect.stringMatching(rule) });
    expect(await ctx.vault.listCredentials(ctx.workspaceId)).toEqual([]);
  });

  test('stores a good key: listings show type and fingerprint only; providers read key and passphrase back', async () => {
    const meta = await ctx.vault.createCredential({ workspaceId: ctx.workspaceId, name: 'my-ssh-creds', kind: 'ssh', fields: { privateKey: ed.privateKey, passphrase: PASS } });
    expect(meta.public).toEqual({ keyType: 'ssh-ed25519', fingerprint: ed.fingerprint });
    const listed = JSON.stringify(await ctx.vault.listCredentials(ctx.workspaceId));
    expect(listed).not.toContain('PRIVATE KEY');
    expect(listed).not.toContain(PASS);
    const read = await ctx.vault.readCredential(meta.id);
    expect([read.kind, read.public]).toEqual(['ssh', meta.public]);
    expect(read.secret.privateKey === ed.privateKey && read.secret.passphrase === PASS).toBe(true);

    const ce = await ctx.vault.createComputeEnv({
      workspaceId: ctx.workspaceId,
      name: 'slurm-cluster',
      platform: 'hpc',
      config: { host: 'login.cluster.example', user: 'alice', hostKeyFingerprint: ed.fingerprint, workDir: '/shared/broker/' },
      credentialId: meta.id,
    });
    expect(ce.config).toEqual({ host: 'login.cluster.example', port: 22, user: 'alice', hostKeyFingerprint: ed.fingerprint, workDir: '/shared/broker' });
    await ctx.vault.deleteComputeEnv(ce.id);
    await ctx.vault.deleteCredential(meta.id);
  });
});
