/**
 * A real registry (CNCF Distribution 2.8, Debian's `docker-registry`, installed by
 * scripts/test-deps.d/50-docker-registry.sh) on a free 127.0.0.1 port, for the registry verify and
 * ACR rotation suites. Each instance has its own temp directory with its config, storage and
 * authentication files, removed by close().
 *
 * Authentication, as the registry's config takes it:
 *   - `htpasswd` (default): HTTP Basic against a bcrypt htpasswd file written with `htpasswd -B`
 *     (apache2-utils). setPassword() rewrites the file (atomically, by rename). configuration.md says
 *     2.8 loads it "once, at startup", but 2.8.2 re-reads it when its modification time changes
 *     (checked: the old password is refused and the new one accepted on the next request, no
 *     restart), so no restart is needed; test/remote/registry-login.test.ts pins that.
 *   - `token`: the Bearer flow (`auth.token`), for a token service the test runs itself; the
 *     registry checks the JWTs it is handed against `rootCertBundle`.
 *
 * TLS (`tls: true`): a CA and a server certificate for 127.0.0.1 generated with openssl at start;
 * `ca` is the CA's PEM. Without TLS the registry speaks plain http (verify's `insecureHttp`).
 *
 * The binary missing is an error naming the install script: the suites fail, they never skip.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeTestCerts } from './test-ca';
import { restartablePort, spawnServer, waitForPort, type ServerProcess } from './process';

const REGISTRY_BIN = process.env.SECRET_BROKER_REGISTRY_BIN ?? '/usr/bin/docker-registry';
const HTPASSWD_BIN = process.env.SECRET_BROKER_HTPASSWD_BIN ?? '/usr/bin/htpasswd';
const INSTALL_HINT = 'run scripts/install-test-deps.sh (or scripts/test-deps.d/50-docker-registry.sh)';

export interface TokenAuthConfig {
  /** The token service's URL, as the registry's Bearer challenge names it. */
  realm: string;
  service: string;
  issuer: string;
  /** PEM of the certificate(s) whose keys sign the tokens. */
  rootCertBundle: string;
}

export interface DockerRegistryOptions {
  tls?: boolean;
  /** htpasswd users (name -> password); ignored with `token`. */
  users?: Record<string, string>;
  token?: TokenAuthConfig;
}

/** Resolves the registry and htpasswd binaries, or fails with the command that installs them. */
function registryTools(): { registry: string; htpasswd: string } {
  for (const bin of [REGISTRY_BIN, HTPASSWD_BIN]) {
    if (!fs.existsSync(bin)) throw new Error(`${bin} is not installed: ${INSTALL_HINT}`);
  }
  return { registry: REGISTRY_BIN, htpasswd: HTPASSWD_BIN };
}

/** One bcrypt htpasswd line (the password goes through stdin, never the command line). */
function htpasswdLine(user: string, password: string): string {
  const r = spawnSync(registryTools().htpasswd, ['-niB', '-C', '5', user], { input: `${password}\n`, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`htpasswd exited ${r.status}: ${r.stderr.trim().split('\n').slice(-1)[0] ?? ''}`);
  const line = r.stdout.split('\n').find((l) => l.startsWith(`${user}:$2`));
  if (!line) throw new Error('htpasswd printed no bcrypt line');
  return line;
}


export class DockerRegistry {
  private proc: ServerProcess | undefined;
  private readonly users = new Map<string, string>();
  /** Every output of every run (restarts included). */
  private past = '';

  private constructor(
    private readonly dir: string,
    private readonly configFile: string,
    private readonly htpasswdFile: string,
    readonly port: number,
    /** The CA's PEM when started with TLS. */
    readonly ca: string | undefined,
    private readonly auth: 'htpasswd' | 'token',
  ) {}

  static async start(opts: DockerRegistryOptions = {}): Promise<DockerRegistry> {
    registryTools();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'docker-registry-'));
    try {
      const port = await restartablePort(); // reload(true) keeps it: outside the ephemeral range
      const tls = opts.tls ? makeTestCerts(dir, 'secret-broker docker-registry test CA') : undefined;
      const htpasswdFile = path.join(dir, 'htpasswd');
      fs.writeFileSync(htpasswdFile, '', { mode: 0o600 });
      const lines = [
        'version: 0.1',
        'log:',
        '  level: info',
        '  formatter: text',
        'storage:',
        '  filesystem:',
        `    rootdirectory: ${JSON.stringify(path.join(dir, 'data'))}`,
        '  maintenance:',
        '    uploadpurging:',
        '      enabled: false',
        'http:',
        `  addr: 127.0.0.1:${port}`,
        `  secret: ${randomBytes(16).toString('hex')}`,
        ...(tls ? ['  tls:', `    certificate: ${JSON.stringify(tls.certFile)}`, `    key: ${JSON.stringify(tls.keyFile)}`] : []),
        'auth:',
      ];
      if (opts.token) {
        const bundle = path.join(dir, 'token-roots.pem');
        fs.writeFileSync(bundle, opts.token.rootCertBundle);
        lines.push('  token:', `    realm: ${JSON.stringify(opts.token.realm)}`, `    service: ${JSON.stringify(opts.token.service)}`, `    issuer: ${JSON.stringify(opts.token.issuer)}`, `    rootcertbundle: ${JSON.stringify(bundle)}`);
      } else {
        lines.push('  htpasswd:', '    realm: secret-broker-test', `    path: ${JSON.stringify(htpasswdFile)}`);
      }
      const configFile = path.join(dir, 'config.yml');
      fs.writeFileSync(configFile, `${lines.join('\n')}\n`);
      const reg = new DockerRegistry(dir, configFile, htpasswdFile, port, tls ? fs.readFileSync(tls.caFile, 'utf8') : undefined, opts.token ? 'token' : 'htpasswd');
      for (const [u, p] of Object.entries(opts.users ?? {})) reg.users.set(u, p);
      reg.writeHtpasswd();
      await reg.launch();
      return reg;
    } catch (e) {
      fs.rmSync(dir, { recursive: true, force: true });
      throw e;
    }
  }

  /** `127.0.0.1:<port>`: what a container-registry credential's registryServer holds. */
  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  get tls(): boolean {
    return this.ca !== undefined;
  }

  running(): boolean {
    return this.proc !== undefined && this.proc.child.exitCode === null && this.proc.child.signalCode === null;
  }

  output(): string {
    return this.past + (this.proc?.output() ?? '');
  }

  /** Sets (or adds) a user's password: rewrites htpasswd, which the running registry re-reads. */
  async setPassword(user: string, password: string): Promise<void> {
    this.users.set(user, password);
    await this.reload();
  }

  async removeUser(user: string): Promise<void> {
    this.users.delete(user);
    await this.reload();
  }

  async stop(): Promise<void> {
    if (!this.proc) return;
    const p = this.proc;
    this.proc = undefined;
    await p.stop();
    this.past += p.output();
  }

  /** Starts again on the same port, with the same files. */
  async start(): Promise<void> {
    if (!this.running()) await this.launch();
  }

  async close(): Promise<void> {
    await this.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** Rewrites htpasswd; `restart` also restarts the registry (on the same port) if it runs. */
  async reload(restart = false): Promise<void> {
    this.writeHtpasswd();
    if (restart && this.running()) {
      await this.stop();
      await this.launch();
    }
  }

  private writeHtpasswd(): void {
    if (this.auth !== 'htpasswd') return;
    const text = [...this.users].map(([u, p]) => htpasswdLine(u, p)).join('\n');
    // A missing or empty file would make the registry invent a user; one unusable line avoids that.
    const body = text || htpasswdLine('nobody-secret-broker', randomBytes(24).toString('base64'));
    const tmp = `${this.htpasswdFile}.tmp`;
    fs.writeFileSync(tmp, `${body}\n`, { mode: 0o600 });
    fs.renameSync(tmp, this.htpasswdFile);
  }

  private async launch(): Promise<void> {
    const proc = spawnServer(REGISTRY_BIN, ['serve', this.configFile], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: this.dir } });
    this.proc = proc;
    const exited = new Promise<never>((_, reject) =>
      proc.child.once('exit', (code, signal) => reject(new Error(`docker-registry exited (${code ?? signal}) before listening:\n${proc.output().slice(-2_000)}`))),
    );
    try {
      await Promise.race([waitForPort(this.port, 20_000), exited]);
    } catch (e) {
      await proc.stop();
      this.proc = undefined;
      throw e;
    }
    exited.catch(() => undefined);
  }
}
