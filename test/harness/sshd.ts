/**
 * A real OpenSSH sshd on a free loopback port, for the hpc provider and workflow tests.
 *
 * Each instance has its own directory with generated host keys (ed25519 and RSA), its own config
 * (public key only, no PAM, StrictModes on, the sftp subsystem) and its own authorized_keys for the
 * test user, holding two client keys: ed25519 with a passphrase and RSA without one. When this
 * process runs as root the test user is a dedicated account (default `sbhpc`, created by
 * scripts/test-deps.d/20-openssh.sh); otherwise it is the current user.
 *
 * stop() and start() keep the port and host keys, so a test can take the "cluster" away and bring
 * the same one back; regenerateHostKeys() makes it a different one.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { restartablePort, spawnServer, type ServerProcess } from './process';

const SSHD = '/usr/sbin/sshd';
const INSTALL_HINT = 'run scripts/install-test-deps.sh (or scripts/test-deps.d/20-openssh.sh)';
const isRoot = () => process.getuid?.() === 0;

export interface SshKeyPair {
  type: 'ed25519' | 'rsa';
  privateKey: string;
  publicKey: string;
  passphrase?: string;
  /** SHA256:..., as ssh-keygen -lf prints it. */
  fingerprint: string;
}

export interface Sshd {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly uid: number;
  readonly gid: number;
  /** The ed25519 host key's fingerprint: what an operator pins. */
  readonly hostKeyFingerprint: string;
  readonly hostKeyFingerprints: { ed25519: string; rsa: string };
  readonly keys: { ed25519: SshKeyPair; rsa: SshKeyPair };
  /** A fresh directory owned by the test user, mode 0700: an hpc compute environment's workDir. */
  makeWorkDir(): string;
  /** Run a command as the test user (root: setuid; otherwise as ourselves). */
  runAsUser(cmd: string, args: string[]): { code: number | null; stdout: string; stderr: string };
  running(): boolean;
  stop(): Promise<void>;
  /** Start again on the same port with the same host keys. */
  start(): Promise<void>;
  /**
   * New host keys (restarting if running): the "reinstalled login node". Resolves with a function
   * that puts the previous keys back (restarting if running).
   */
  regenerateHostKeys(): Promise<() => Promise<void>>;
  /** sshd's log (connections, auth results; never key material). */
  output(): string;
  /** Stop and remove every file this instance made. */
  close(): Promise<void>;
}

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) throw new Error(`${cmd} failed to start (${(r.error as NodeJS.ErrnoException).code}): ${INSTALL_HINT}`);
  if (r.status !== 0) throw new Error(`${path.basename(cmd)} ${args[0]} exited ${r.status}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return r.stdout;
}

function fingerprintOf(pubFile: string): string {
  const m = /(SHA256:[A-Za-z0-9+/]{43})/.exec(run('ssh-keygen', ['-l', '-E', 'sha256', '-f', pubFile]));
  if (!m) throw new Error(`no SHA256 fingerprint for ${pubFile}`);
  return m[1];
}

function userInfo(name: string): { uid: number; gid: number; home: string } {
  const r = spawnSync('getent', ['passwd', name], { encoding: 'utf8' });
  const f = r.status === 0 ? r.stdout.trim().split(':') : [];
  if (f.length < 7) throw new Error(`test user ${name} does not exist: ${INSTALL_HINT}`);
  return { uid: Number(f[2]), gid: Number(f[3]), home: f[5] };
}

function genKey(file: string, type: 'ed25519' | 'rsa', passphrase: string, comment: string): void {
  run('ssh-keygen', ['-q', '-t', type, ...(type === 'rsa' ? ['-b', '2048'] : []), '-N', passphrase, '-C', comment, '-f', file]);
}

export interface SshdOptions {
  user?: string;
  /** `ForceCommand internal-sftp`: an account that can transfer files but run no command. */
  sftpOnly?: boolean;
}

export async function startSshd(opts: SshdOptions = {}): Promise<Sshd> {
  if (!fs.existsSync(SSHD)) throw new Error(`${SSHD} is missing: ${INSTALL_HINT}`);
  const root = isRoot();
  const user = root ? (opts.user ?? process.env.SECRET_BROKER_SSH_USER ?? 'sbhpc') : os.userInfo().username;
  const { uid, gid } = userInfo(user);

  // Every directory on the way to authorized_keys must be owned by root or the user and not
  // writable by others (StrictModes), so not under /tmp.
  const base = root ? '/run/secret-broker-sshd' : path.join(os.homedir(), '.cache', 'secret-broker', 'sshd');
  fs.mkdirSync(base, { recursive: true, mode: 0o755 });
  fs.chmodSync(base, 0o755);
  const dir = fs.mkdtempSync(path.join(base, 'sshd-'));
  try {
    return await setUp(dir, root, user, uid, gid, opts);
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

async function setUp(dir: string, root: boolean, user: string, uid: number, gid: number, opts: SshdOptions): Promise<Sshd> {
  fs.chmodSync(dir, 0o755);
  if (root) fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // privilege separation dir

  const hostKey = (t: string) => path.join(dir, `ssh_host_${t}_key`);
  const hostKeyFingerprints = { ed25519: '', rsa: '' };
  const makeHostKeys = () => {
    for (const t of ['ed25519', 'rsa'] as const) {
      fs.rmSync(hostKey(t), { force: true });
      fs.rmSync(hostKey(t) + '.pub', { force: true });
      genKey(hostKey(t), t, '', 'sb-test-host');
      hostKeyFingerprints[t] = fingerprintOf(hostKey(t) + '.pub');
    }
  };
  let generation = 0;
  const saveHostKeys = (): string => {
    const saved = path.join(dir, `host-keys-${++generation}`);
    fs.mkdirSync(saved, { mode: 0o700 });
    for (const t of ['ed25519', 'rsa']) for (const ext of ['', '.pub']) fs.copyFileSync(hostKey(t) + ext, path.join(saved, path.basename(hostKey(t)) + ext));
    return saved;
  };
  const loadHostKeys = (saved: string) => {
    for (const t of ['ed25519', 'rsa'] as const) {
      for (const ext of ['', '.pub']) fs.copyFileSync(path.join(saved, path.basename(hostKey(t)) + ext), hostKey(t) + ext);
      fs.chmodSync(hostKey(t), 0o600);
      hostKeyFingerprints[t] = fingerprintOf(hostKey(t) + '.pub');
    }
  };
  makeHostKeys();

  // Client keys: ed25519 with a passphrase, RSA without one.
  const clientDir = path.join(dir, 'client');
  fs.mkdirSync(clientDir, { mode: 0o700 });
  const passphrase = randomBytes(12).toString('base64url');
  const pair = (type: 'ed25519' | 'rsa', pass?: string): SshKeyPair => {
    const file = path.join(clientDir, `id_${type}`);
    genKey(file, type, pass ?? '', `sb-test-${type}`);
    return {
      type,
      privateKey: fs.readFileSync(file, 'utf8'),
      publicKey: fs.readFileSync(file + '.pub', 'utf8').trim(),
      passphrase: pass,
      fingerprint: fingerprintOf(file + '.pub'),
    };
  };
  const keys = { ed25519: pair('ed25519', passphrase), rsa: pair('rsa') };

  const akDir = path.join(dir, 'authorized_keys');
  fs.mkdirSync(akDir, { mode: 0o755 });
  fs.writeFileSync(path.join(akDir, user), `${keys.ed25519.publicKey}\n${keys.rsa.publicKey}\n`, { mode: 0o644 });

  // stop() and start() keep the port: one outside the ephemeral range, which nothing takes meanwhile.
  const port = await restartablePort();
  const configFile = path.join(dir, 'sshd_config');
  const config = (extra: string[]) =>
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      'AddressFamily inet',
      `HostKey ${hostKey('ed25519')}`,
      `HostKey ${hostKey('rsa')}`,
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${akDir}/%u`,
      'AuthenticationMethods publickey',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes yes',
      'PermitRootLogin no',
      `AllowUsers ${user}`,
      'Subsystem sftp internal-sftp',
      'LogLevel VERBOSE',
      'MaxStartups 200',
      'MaxSessions 20',
      'MaxAuthTries 6',
      ...(opts.sftpOnly ? ['ForceCommand internal-sftp'] : []),
      ...extra,
      '',
    ].join('\n');
  // Newer OpenSSH (9.8+) penalises sources with failed logins; tests fail logins on purpose.
  fs.writeFileSync(configFile, config(['PerSourcePenalties no']), { mode: 0o644 });
  if (spawnSync(SSHD, ['-t', '-f', configFile]).status !== 0) fs.writeFileSync(configFile, config([]), { mode: 0o644 });
  run(SSHD, ['-t', '-f', configFile]);

  const workDirs: string[] = [];
  let server: ServerProcess | undefined;
  let log = '';

  const start = async () => {
    if (server && server.child.exitCode === null && server.child.signalCode === null) return;
    const s = spawnServer(SSHD, ['-D', '-e', '-f', configFile]);
    server = s;
    const deadline = Date.now() + 15_000;
    while (!/Server listening on 127\.0\.0\.1 port/.test(s.output())) {
      if (s.child.exitCode !== null || s.child.signalCode !== null) {
        throw new Error(`sshd exited at start: ${s.output().trim().split('\n').slice(-5).join(' | ')}`);
      }
      if (Date.now() > deadline) {
        await s.stop();
        throw new Error(`sshd did not listen on port ${port} within 15 s`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const stop = async () => {
    if (!server) return;
    await server.stop();
    log += server.output();
    server = undefined;
  };

  await start();

  return {
    host: '127.0.0.1',
    port,
    user,
    uid,
    gid,
    get hostKeyFingerprint() {
      return hostKeyFingerprints.ed25519;
    },
    hostKeyFingerprints,
    keys,
    makeWorkDir() {
      const d = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-hpc-work-'));
      if (root) fs.chownSync(d, uid, gid);
      fs.chmodSync(d, 0o700);
      workDirs.push(d);
      return d;
    },
    runAsUser(cmd, args) {
      const r = spawnSync(cmd, args, { encoding: 'utf8', ...(root ? { uid, gid } : {}) });
      return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
    },
    running: () => !!server && server.child.exitCode === null && server.child.signalCode === null,
    stop,
    start,
    async regenerateHostKeys() {
      const wasRunning = !!server;
      await stop();
      const saved = saveHostKeys();
      makeHostKeys();
      if (wasRunning) await start();
      return async () => {
        const running = !!server;
        await stop();
        loadHostKeys(saved);
        if (running) await start();
      };
    },
    output: () => log + (server?.output() ?? ''),
    async close() {
      await stop();
      for (const d of workDirs) fs.rmSync(d, { recursive: true, force: true });
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
