/**
 * The hpc provider against a real OpenSSH sshd on loopback: files and modes as the test user sees
 * them, ownership, idempotency, the three connection error types and the per-host connection limit.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { sshCredential } from '../../credentials/ssh';
import { createTarget } from '../../targets';
import { configureSsh, connectionStats, resetConnectionStats, sshSettings } from '../../remote/ssh/session';
import type { HpcTarget } from '../../targets/files/hpc';
import type { PlainSecret, RunContext, TargetDeps } from '../../targets/types';
import { startSshd, type Sshd, type SshKeyPair } from '../harness/sshd';
import { rejectionCatcher } from '../harness/caught';
import { type ComputeEnvRecord } from '../../domain/run';

let sshd: Sshd;
const errorsSeen: Error[] = [];
const secretValuesUsed = new Set<string>();
let seq = 0;

beforeAll(async () => {
  sshd = await startSshd();
});
afterAll(async () => {
  await sshd?.close();
});

function deps(key: SshKeyPair): TargetDeps {
  return {
    localWorkDir: os.tmpdir(),
    async readCredential() {
      const parsed = await sshCredential.parse({ privateKey: key.privateKey, passphrase: key.passphrase });
      return { kind: 'ssh', public: parsed.public, secret: parsed.secret };
    },
  };
}

function computeEnv(workDir: string, over: Record<string, unknown> = {}): ComputeEnvRecord {
  return {
    id: `ce-${++seq}`,
    workspaceId: 'ws-1',
    name: 'cluster',
    platform: 'hpc',
    config: { host: sshd.host, port: sshd.port, user: sshd.user, hostKeyFingerprint: sshd.hostKeyFingerprint, workDir, ...over },
    credentialId: 'cred-1',
  };
}

async function target(workDir: string, opts: { key?: SshKeyPair; config?: Record<string, unknown> } = {}): Promise<HpcTarget> {
  return (await createTarget(computeEnv(workDir, opts.config), deps(opts.key ?? sshd.keys.ed25519))) as HpcTarget;
}

function runOf(t: HpcTarget, runId = `run${++seq}x`): RunContext {
  return { runId, workspaceId: 'ws-1', computeEnv: t.ce };
}

function secrets(...pairs: [string, string][]): PlainSecret[] {
  return pairs.map(([name, value]) => {
    secretValuesUsed.add(value);
    return { name, value };
  });
}

const caught = rejectionCatcher(errorsSeen);

const mode = (p: string) => fs.lstatSync(p).mode & 0o7777;

describe('hpc target against a real sshd', () => {
  test('push writes the Nextflow store 0600 in a 0700 run directory owned by the SSH user; verify; delete removes it', async () => {
    const workDir = sshd.makeWorkDir();
    const t = await target(workDir);
    const run = runOf(t);
    const input = secrets(['DB_PASSWORD', "pa ss'w$ord (é) & <x>"], ['API_TOKEN', 'tok-123456']);

    const result = await t.push(run, input);
    const dir = path.join(workDir, `tower-${run.runId}`);
    const store = path.join(dir, 'store.json');
    expect(result.headJobEnv).toEqual({ NXF_SECRETS_FILE: store, NXF_ENABLE_SECRETS: 'true' });
    expect(result.refs.map((r) => [r.platform, r.secretName, r.remoteId])).toEqual([
      ['hpc', 'DB_PASSWORD', dir],
      ['hpc', 'API_TOKEN', dir],
    ]);

    // As the test user: the JSON array Nextflow's LocalSecretsProvider reads.
    const cat = sshd.runAsUser('cat', [store]);
    expect(cat.code).toBe(0);
    expect(JSON.parse(cat.stdout)).toEqual(input);
    expect(mode(dir)).toBe(0o700);
    expect(mode(store)).toBe(0o600);
    expect(fs.lstatSync(dir).uid).toBe(sshd.uid);
    expect(fs.lstatSync(store).uid).toBe(sshd.uid);
    expect(fs.readdirSync(dir).sort()).toEqual(['.secret-broker.json', 'store.json']);
    expect(JSON.parse(fs.readFileSync(path.join(dir, '.secret-broker.json'), 'utf8'))).toEqual({
      broker: 'secret-broker',
      runId: run.runId,
      workspaceId: 'ws-1',
    });
    if (process.getuid?.() === 0) {
      // Nobody else can read it, not even with the directory opened up.
      fs.chmodSync(workDir, 0o755);
      const other = spawnSync('cat', [store], { uid: 65534, gid: 65534, encoding: 'utf8' });
      expect(other.status).not.toBe(0);
      fs.chmodSync(workDir, 0o700);
    }

    await expect(t.verify(run, result.refs)).resolves.toEqual({ ok: true });
    await expect(t.delete(run, result.refs)).resolves.toEqual(['deleted', 'deleted']);
    expect(fs.existsSync(dir)).toBe(false);
    await expect(t.delete(run, result.refs)).resolves.toEqual(['not-found', 'not-found']);
    await t.close();
  });

  test('an RSA key without a passphrase works the same way', async () => {
    const workDir = sshd.makeWorkDir();
    const t = await target(workDir, { key: sshd.keys.rsa });
    const run = runOf(t);
    const { refs } = await t.push(run, secrets(['RSA_SECRET', 'value-from-rsa-run']));
    expect(JSON.parse(sshd.runAsUser('cat', [path.join(workDir, `tower-${run.runId}`, 'store.json')]).stdout)).toEqual([
      { name: 'RSA_SECRET', value: 'value-from-rsa-run' },
    ]);
    await expect(t.verify(run, refs)).resolves.toEqual({ ok: true });
    await expect(t.delete(run, refs)).resolves.toEqual(['deleted']);
    expect(fs.readdirSync(workDir)).toEqual([]);
  });

  test('a retried push replaces the store atomically and leaves no temporary files', async () => {
    const workDir = sshd.makeWorkDir();
    const t = await target(workDir);
    const run = runOf(t);
    await t.push(run, secrets(['TOKEN', 'first-value']));
    const again = await t.push(run, secrets(['TOKEN', 'second-value'], ['OTHER', 'other-value']));
    const dir = path.join(workDir, `tower-${run.runId}`);
    expect(fs.readdirSync(dir).sort()).toEqual(['.secret-broker.json', 'store.json']);
    expect(JSON.parse(sshd.runAsUser('cat', [path.join(dir, 'store.json')]).stdout)).toEqual([
      { name: 'TOKEN', value: 'second-value' },
      { name: 'OTHER', value: 'other-value' },
    ]);
    expect(mode(path.join(dir, 'store.json'))).toBe(0o600);
    await expect(t.delete(run, again.refs)).resolves.toEqual(['deleted', 'deleted']);
  });

  test('a push adopts the empty directory an interrupted attempt left (no marker yet)', async () => {
    const workDir = sshd.makeWorkDir();
    const t = await target(workDir);
    const run = runOf(t);
    const dir = path.join(workDir, `tower-${run.runId}`);
    expect(sshd.runAsUser('mkdir', ['-m', '0755', dir]).code).toBe(0);
    const { refs } = await t.push(run, secrets(['TOKEN', 'adopted-value']));
    expect(mode(dir)).toBe(0o700);
    await expect(t.verify(run, refs)).resolves.toEqual({ ok: true });
    await t.delete(run, refs);
  });

  test('delete removes the whole run directory, including the .nf-<hash>.secrets files Nextflow leaves', async () => {
    const workDir = sshd.makeWorkDir();
    const t = await target(workDir);
    const run = runOf(t);
    const { refs } = await t.push(run, secrets(['TOKEN', 'nf-value']));
    const dir = path.join(workDir, `tower-${run.runId}`);
    expect(sshd.runAsUser('sh', ['-c', `umask 077; echo 'export TOKEN="nf-value"' > ${dir}/.nf-0123abcd.secrets; mkdir ${dir}/sub; touch ${dir}/sub/x; ln -s /etc/passwd ${dir}/link`]).code).toBe(0);
    await expect(t.delete(run, refs)).resolves.toEqual(['deleted']);
    expect(fs.existsSync(dir)).toBe(false);
    expect(fs.existsSync('/etc/passwd')).toBe(true);
  });

  test('after the workDir setting moved, delete still removes the directory the refs recorded', async () => {
    const oldWorkDir = sshd.makeWorkDir();
    const t = await target(oldWorkDir);
    const run = runOf(t);
    const { refs } = await t.push(run, secrets(['TOKEN', 'moved-value']));
    const moved = await target(sshd.makeWorkDir());
    await expect(moved.delete({ ...run, computeEnv: moved.ce }, refs)).resolves.toEqual(['deleted']);
    expect(fs.existsSync(path.join(oldWorkDir, `tower-${run.runId}`))).toBe(false);
    await moved.close();
    await t.close();
  });

  test('refs recorded on another host are an error, never a silent "deleted"', async () => {
    const t = await target(sshd.makeWorkDir());
    const run = runOf(t);
    const refs = t.plan(run, ['TOKEN']).map((r) => ({ ...r, location: 'someone@other-cluster' }));
    const err = await caught(t.delete(run, refs));
    expect(err.message).toContain('other-cluster');
    expect(err.message).toContain('compute-envs update');
    await t.close();
  });

  test('a directory without the broker marker is never written to nor deleted', async () => {
    const workDir = sshd.makeWorkDir();
    const t = await target(workDir);
    const run = runOf(t);
    const dir = path.join(workDir, `tower-${run.runId}`);
    expect(sshd.runAsUser('sh', ['-c', `mkdir -m 700 ${dir} && echo keep > ${dir}/data.txt`]).code).toBe(0);

    const err = await caught(t.push(run, secrets(['TOKEN', 'must-not-land'])));
    expect(err.name).toBe('NotOwnedError');
    expect(err.message).toContain(dir);
    expect(fs.readdirSync(dir)).toEqual(['data.txt']);

    const refs = t.plan(run, ['TOKEN']);
    await expect(t.delete(run, refs)).resolves.toEqual(['not-owned']);
    expect(fs.readFileSync(path.join(dir, 'data.txt'), 'utf8')).toBe('keep\n');

    // Marked for another run: also not this run's to delete.
    const other = runOf(t);
    const otherDir = path.join(workDir, `tower-${other.runId}`);
    await t.push(other, secrets(['TOKEN', 'other-run-value']));
    fs.writeFileSync(path.join(otherDir, '.secret-broker.json'), JSON.stringify({ broker: 'secret-broker', runId: 'someone-else', workspaceId: 'ws-1' }));
    await expect(t.delete(other, t.plan(other, ['TOKEN']))).resolves.toEqual(['not-owned']);
    expect(fs.existsSync(path.join(otherDir, 'store.json'))).toBe(true);

    // A ref that points anywhere but this run's directory is refused without looking.
    const stray = [{ ...refs[0], remoteId: workDir }];
    await expect(t.delete(run, stray)).resolves.toEqual(['not-owned']);
    expect(fs.existsSync(workDir)).toBe(true);
  });

  test('verify names every wrong mode and a missing store', async () => {
    const workDir = sshd.makeWorkDir();
    const t = await target(workDir);
    const run = runOf(t);
    const { refs } = await t.push(run, secrets(['TOKEN', 'verify-value']));
    const dir = path.join(workDir, `tower-${run.runId}`);
    fs.chmodSync(dir, 0o755);
    fs.chmodSync(path.join(dir, 'store.json'), 0o644);
    const bad = await t.verify(run, refs);
    expect(bad.ok).toBe(false);
    const missing = bad.ok ? [] : bad.missing;
    expect(missing.map((m) => [m.permission, path.basename(m.resource.split(':').pop()!)])).toEqual([
      ['mode 0700', `tower-${run.runId}`],
      ['mode 0600', 'store.json'],
    ]);
    expect(missing[0].grant).toContain('chmod 700');
    fs.chmodSync(dir, 0o700);
    fs.unlinkSync(path.join(dir, 'store.json'));
    const gone = await t.verify(run, refs);
    expect(gone.ok ? [] : gone.missing.map((m) => m.permission)).toEqual(['file exists']);
    await t.delete(run, refs);
  });

  test('listOwned finds the broker directories and nothing else', async () => {
    const workDir = sshd.makeWorkDir();
    const t = await target(workDir);
    const a = runOf(t);
    const b = runOf(t);
    await t.push(a, secrets(['TOKEN', 'list-a']));
    await t.push(b, secrets(['TOKEN', 'list-b']));
    expect(sshd.runAsUser('mkdir', [path.join(workDir, 'tower-notours'), path.join(workDir, 'unrelated')]).code).toBe(0);
    await expect(t.listOwned()).resolves.toEqual(
      [a, b].map((r) => ({ remoteId: path.join(workDir, `tower-${r.runId}`), runId: r.runId, workspaceId: 'ws-1' })).sort((x, y) => x.remoteId.localeCompare(y.remoteId)),
    );
  });

  test('a changed host key fails with HostKeyMismatchError and writes nothing', async () => {
    const workDir = sshd.makeWorkDir();
    const other = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-otherkey-'));
    spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(other, 'k')]);
    const wrongFp = /SHA256:\S+/.exec(spawnSync('ssh-keygen', ['-lf', path.join(other, 'k.pub')], { encoding: 'utf8' }).stdout)![0];
    fs.rmSync(other, { recursive: true, force: true });

    const t = await target(workDir, { config: { hostKeyFingerprint: wrongFp } });
    const err = await caught(t.push(runOf(t), secrets(['TOKEN', 'never-sent'])));
    expect(err.name).toBe('HostKeyMismatchError');
    expect(err.message).toContain(wrongFp);
    expect(err.message).toContain(sshd.hostKeyFingerprints.ed25519);
    expect(fs.readdirSync(workDir)).toEqual([]);
  });

  test('pinning the RSA host key instead of the ed25519 one also connects', async () => {
    const workDir = sshd.makeWorkDir();
    const t = await target(workDir, { config: { hostKeyFingerprint: sshd.hostKeyFingerprints.rsa } });
    const run = runOf(t);
    const { refs } = await t.push(run, secrets(['TOKEN', 'rsa-pinned']));
    await expect(t.delete(run, refs)).resolves.toEqual(['deleted']);
  });

  test('a key the server does not know fails with AuthenticationFailedError', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-unknownkey-'));
    spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(tmp, 'k')]);
    const stranger: SshKeyPair = { type: 'ed25519', privateKey: fs.readFileSync(path.join(tmp, 'k'), 'utf8'), publicKey: '', fingerprint: '' };
    fs.rmSync(tmp, { recursive: true, force: true });
    const workDir = sshd.makeWorkDir();
    const t = await target(workDir, { key: stranger });
    const err = await caught(t.push(runOf(t), secrets(['TOKEN', 'never-sent-2'])));
    expect(err.name).toBe('AuthenticationFailedError');
    expect(err.message).toContain(sshd.user);
    expect(fs.readdirSync(workDir)).toEqual([]);
  });

  test('nothing listening fails with a retryable ConnectionError', async () => {
    const { freePort } = await import('../harness/process');
    const t = await target(sshd.makeWorkDir(), { config: { port: await freePort() } });
    const err = await caught(t.push(runOf(t), secrets(['TOKEN', 'never-sent-3'])));
    expect(err.name).toBe('ConnectionError');
    expect(err.message).toMatch(/ECONNREFUSED/);
  });

  test('a missing workDir fails the push with a clear message', async () => {
    const t = await target('/nonexistent/sb-work');
    const err = await caught(t.push(runOf(t), secrets(['TOKEN', 'never-sent-4'])));
    expect(err.name).toBe('InvalidInputError');
    expect(err.message).toContain('/nonexistent/sb-work');
  });

  test('a workDir other users can write (not sticky) is refused before anything is written', async () => {
    const workDir = sshd.makeWorkDir();
    fs.chmodSync(workDir, 0o770);
    const t = await target(workDir);
    const err = await caught(t.push(runOf(t), secrets(['TOKEN', 'never-sent-6'])));
    expect(err.name).toBe('InvalidInputError');
    expect(err.message).toContain(workDir);
    expect(err.message).toContain('only its owner can write');
    expect(fs.readdirSync(workDir)).toEqual([]);
    fs.chmodSync(workDir, 0o1777); // sticky, like /tmp: others cannot rename or remove what is ours
    const run = runOf(t);
    const { refs } = await t.push(run, secrets(['TOKEN', 'sticky-value']));
    await expect(t.delete(run, refs)).resolves.toEqual(['deleted']);
    fs.chmodSync(workDir, 0o700);
  });

  test('delete finishes a directory an interrupted push left with only a temporary file in it', async () => {
    const workDir = sshd.makeWorkDir();
    const t = await target(workDir);
    const run = runOf(t);
    const dir = path.join(workDir, `tower-${run.runId}`);
    expect(sshd.runAsUser('sh', ['-c', `mkdir -m 700 ${dir} && touch ${dir}/.secret-broker.json.0123456789ab.tmp`]).code).toBe(0);
    await expect(t.delete(run, t.plan(run, ['TOKEN']))).resolves.toEqual(['deleted']);
    expect(fs.existsSync(dir)).toBe(false);
  });

  test('a workDir the SSH user may not write fails with PermissionDeniedError', async () => {
    const readOnly = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-hpc-ro-'));
    try {
      if (process.getuid?.() !== 0) fs.chmodSync(readOnly, 0o555); // not root: our own dir, made read-only
      else fs.chmodSync(readOnly, 0o755); // root-owned: the test user can look, not write
      const t = await target(readOnly);
      const err = await caught(t.push(runOf(t), secrets(['TOKEN', 'never-sent-5'])));
      expect(err.name).toBe('PermissionDeniedError');
      expect(err.message).toContain(readOnly);
      expect(fs.readdirSync(readOnly)).toEqual([]);
    } finally {
      fs.chmodSync(readOnly, 0o700);
      fs.rmSync(readOnly, { recursive: true, force: true });
    }
  });

  test('sshd down: ConnectionError; back up (same port, same host key): the same call succeeds', async () => {
    const workDir = sshd.makeWorkDir();
    const t = await target(workDir);
    const run = runOf(t);
    const { refs } = await t.push(run, secrets(['TOKEN', 'outage-value']));
    await sshd.stop();
    try {
      const err = await caught(t.delete(run, refs));
      expect(err.name).toBe('ConnectionError');
    } finally {
      await sshd.start();
    }
    await expect(t.delete(run, refs)).resolves.toEqual(['deleted']);
    expect(fs.readdirSync(workDir)).toEqual([]);
  });

  test('an sftp-only account (no commands) works: the uid comes from a probe file, which is removed', async () => {
    const sftpOnly = await startSshd({ sftpOnly: true });
    try {
      const workDir = sftpOnly.makeWorkDir();
      const ce = { ...computeEnv(workDir), config: { host: sftpOnly.host, port: sftpOnly.port, user: sftpOnly.user, hostKeyFingerprint: sftpOnly.hostKeyFingerprint, workDir } };
      const t = (await createTarget(ce, deps(sftpOnly.keys.rsa))) as HpcTarget;
      const run = runOf(t);
      const dir = path.join(workDir, `tower-${run.runId}`);
      // An empty directory of the user's: adopting it needs the user's uid before anything is written.
      expect(sftpOnly.runAsUser('mkdir', [dir]).code).toBe(0);
      const started = Date.now();
      const { refs } = await t.push(run, secrets(['TOKEN', 'sftp-only-value']));
      expect(Date.now() - started).toBeLessThan(8_000); // the refused command did not hang the session
      expect(fs.readdirSync(workDir)).toEqual([`tower-${run.runId}`]);
      await expect(t.verify(run, refs)).resolves.toEqual({ ok: true });
      await expect(t.delete(run, refs)).resolves.toEqual(['deleted']);
      expect(fs.readdirSync(workDir)).toEqual([]);
    } finally {
      await sftpOnly.close();
    }
  });

  test('20 concurrent pushes with maxConnections 3 never have more than 3 SSH connections open', async () => {
    const workDir = sshd.makeWorkDir();
    const limited = await target(workDir, { key: sshd.keys.rsa, config: { maxConnections: 3 } });
    resetConnectionStats(sshd.host, sshd.port);
    const runs = Array.from({ length: 20 }, () => runOf(limited));
    const results = await Promise.all(runs.map((r, i) => limited.push(r, secrets(['TOKEN', `concurrent-${i}`]))));
    const stats = connectionStats(sshd.host, sshd.port);
    expect(stats.connects).toBeGreaterThanOrEqual(20);
    expect(stats.peakOpen).toBeLessThanOrEqual(3);
    expect(stats.peakOpen).toBeGreaterThanOrEqual(2); // they did run side by side
    expect(stats.open).toBe(0);
    expect(fs.readdirSync(workDir)).toHaveLength(20);

    // The counter sees real concurrency: with a high limit the same load opens more at once.
    const loose = await target(workDir, { key: sshd.keys.rsa, config: { maxConnections: 20 } });
    resetConnectionStats(sshd.host, sshd.port);
    await Promise.all(runs.map((r, i) => loose.delete(r, results[i].refs)));
    expect(connectionStats(sshd.host, sshd.port).peakOpen).toBeGreaterThan(3);
    expect(fs.readdirSync(workDir)).toEqual([]);
  });

  test('a caller that waits too long for a slot gets a retryable ConnectionError instead of queueing forever', async () => {
    const workDir = sshd.makeWorkDir();
    const t = await target(workDir, { key: sshd.keys.rsa, config: { maxConnections: 1 } });
    const before = sshSettings().timeouts;
    configureSsh({ timeouts: { acquireTimeoutMs: 50 } });
    try {
      const outcomes = await Promise.allSettled(Array.from({ length: 4 }, (_, i) => t.push(runOf(t), secrets(['TOKEN', `queued-${i}`]))));
      const failed = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected').map((o) => o.reason as Error);
      errorsSeen.push(...failed);
      expect(outcomes[0].status).toBe('fulfilled');
      expect(failed.length).toBe(3);
      for (const err of failed) expect([err.name, err.message]).toEqual(['ConnectionError', expect.stringMatching(/all 1 SSH connections to .* stayed busy/)]);
      expect(connectionStats(sshd.host, sshd.port).waiting).toBe(0);
    } finally {
      configureSsh({ timeouts: before });
    }
  });

  test('no error message carries a secret value or key material', () => {
    expect(errorsSeen.length).toBeGreaterThanOrEqual(6);
    const forbidden = [
      ...secretValuesUsed,
      sshd.keys.ed25519.passphrase!,
      ...sshd.keys.ed25519.privateKey.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----')),
      ...sshd.keys.rsa.privateKey.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----')),
    ];
    for (const err of errorsSeen) {
      const text = `${err.name} ${err.message} ${err.stack ?? ''}`;
      for (const f of forbidden) expect(text.includes(f)).toBe(false);
    }
  });
});
