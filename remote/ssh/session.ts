/**
 * One SSH connection per provider call, through a process-wide gate per host:port.
 *
 * Gate: a counting semaphore keyed by "host:port", shared by every compute environment and every
 * concurrent activity in this worker process. A caller holds a slot from before the TCP connect
 * until after the socket has closed, so the number of open connections to one login node never
 * exceeds the limit (each caller brings its own limit, from the compute environment's
 * maxConnections or the process default; a caller waits while the slots in use reach its limit).
 * A caller that waits longer than acquireTimeoutMs gets a retryable ConnectionError instead of
 * piling up behind a slow cluster; a session that runs longer than operationTimeoutMs is destroyed,
 * so a hung server cannot hold a slot forever.
 *
 * Host key: the server's key is hashed (SHA256, as `ssh-keygen -lf` prints it) and compared with the
 * pinned fingerprint before authentication; a mismatch aborts the handshake. Servers hold several
 * host keys (ed25519, ECDSA, RSA) and the operator may have pinned any of them, so the connect
 * offers one key family at a time until one matches, and remembers the family that matched.
 */
import { createHash } from 'node:crypto';
import { Client, type ClientChannel, type ConnectConfig, type ParsedKey, type PublicKeyAuthMethod, type SFTPWrapper } from 'ssh2';
import { checkPrivateKey, sshFingerprint } from '../../credentials/ssh';
import { DEFAULT_MAX_CONNECTIONS } from '../../platforms/hpc';
import { AuthenticationFailedError, ConnectionError, HostKeyMismatchError } from '../../domain/errors';

export interface SshEndpoint {
  host: string;
  port: number;
  user: string;
  hostKeyFingerprint: string;
  /** Most connections to host:port at once; the process default when unset. */
  maxConnections?: number;
}

export interface SessionTimeouts {
  /** TCP connect + handshake + authentication. */
  readyTimeoutMs: number;
  /** Whole session, from connect to close. */
  operationTimeoutMs: number;
  /** Waiting for a slot at the gate. */
  acquireTimeoutMs: number;
  keepaliveIntervalMs: number;
}

const defaults = {
  maxConnections: DEFAULT_MAX_CONNECTIONS,
  // Below the activity presets' limits (cloudWrite: 1 min heartbeat): waiting for a slot plus
  // connecting stays under a minute, and a session never outlives its activity by much.
  timeouts: { readyTimeoutMs: 20_000, operationTimeoutMs: 90_000, acquireTimeoutMs: 30_000, keepaliveIntervalMs: 10_000 } as SessionTimeouts,
};

/**
 * Process-wide settings (the worker sets them from its configuration, e.g. BROKER_HPC_MAX_CONNECTIONS).
 * A compute environment's own maxConnections wins over the default.
 */
export function configureSsh(opts: { maxConnections?: number; timeouts?: Partial<SessionTimeouts> }): void {
  if (opts.maxConnections !== undefined) {
    if (!Number.isInteger(opts.maxConnections) || opts.maxConnections < 1) throw new Error('maxConnections must be a positive integer');
    defaults.maxConnections = opts.maxConnections;
  }
  if (opts.timeouts) defaults.timeouts = { ...defaults.timeouts, ...opts.timeouts };
}

export function sshSettings(): { maxConnections: number; timeouts: SessionTimeouts } {
  return { maxConnections: defaults.maxConnections, timeouts: { ...defaults.timeouts } };
}

// ---------------------------------------------------------------------------------------------
// The gate

interface Waiter {
  limit: number;
  grant: () => void;
}

class HostGate {
  held = 0;
  open = 0;
  peakOpen = 0;
  peakHeld = 0;
  connects = 0;
  readonly queue: Waiter[] = [];

  acquire(limit: number, timeoutMs: number, where: string): Promise<() => void> {
    return new Promise((resolve, reject) => {
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        this.held--;
        this.pump();
      };
      const take = () => {
        this.held++;
        this.peakHeld = Math.max(this.peakHeld, this.held);
        resolve(release);
      };
      if (this.held < limit && this.queue.length === 0) return take();
      const waiter: Waiter = {
        limit,
        grant: () => {
          clearTimeout(timer);
          take();
        },
      };
      const timer = setTimeout(() => {
        const i = this.queue.indexOf(waiter);
        if (i >= 0) this.queue.splice(i, 1);
        reject(new ConnectionError(`all ${limit} SSH connections to ${where} stayed busy for ${Math.round(timeoutMs / 1000)} s; will retry`));
        this.pump();
      }, timeoutMs);
      this.queue.push(waiter);
    });
  }

  /** Grant waiting callers in arrival order, each against its own limit. */
  private pump(): void {
    for (let i = 0; i < this.queue.length; ) {
      const w = this.queue[i];
      if (this.held < w.limit) {
        this.queue.splice(i, 1);
        w.grant();
      } else {
        i++;
      }
    }
  }
}

const gates = new Map<string, HostGate>();

function gate(host: string, port: number): HostGate {
  const key = `${host}:${port}`;
  let g = gates.get(key);
  if (!g) gates.set(key, (g = new HostGate()));
  return g;
}

export interface ConnectionStats {
  /** SSH sockets open right now, counted from socket connect to socket close. */
  open: number;
  /** Most sockets open at once since the last reset. */
  peakOpen: number;
  /** Gate slots held now, and the most at once. */
  held: number;
  peakHeld: number;
  /** Callers waiting for a slot. */
  waiting: number;
  /** TCP connections opened since the last reset. */
  connects: number;
}

export function connectionStats(host: string, port: number): ConnectionStats {
  const g = gate(host, port);
  return { open: g.open, peakOpen: g.peakOpen, held: g.held, peakHeld: g.peakHeld, waiting: g.queue.length, connects: g.connects };
}

export function resetConnectionStats(host: string, port: number): void {
  const g = gate(host, port);
  g.peakOpen = g.open;
  g.peakHeld = g.held;
  g.connects = 0;
}

// ---------------------------------------------------------------------------------------------
// Keys

/** Decrypting an ed25519 key runs bcrypt-pbkdf (~0.3 s of CPU); keep a few decrypted keys. */
const keyCache = new Map<string, ParsedKey>();
const KEY_CACHE_MAX = 32;

/** The credential's key, parsed; AuthenticationFailedError (naming no secret) when unusable. */
export function loadPrivateKey(privateKey: string | undefined, passphrase: string | undefined): ParsedKey {
  if (!privateKey) throw new AuthenticationFailedError('the SSH credential has no private key');
  const id = createHash('sha256').update(privateKey).update('\0').update(passphrase ?? '').digest('hex');
  const hit = keyCache.get(id);
  if (hit) {
    keyCache.delete(id);
    keyCache.set(id, hit);
    return hit;
  }
  const check = checkPrivateKey(privateKey, passphrase || undefined);
  if (!check.ok) throw new AuthenticationFailedError(`the SSH credential cannot be used: ${check.field} ${check.rule}`);
  keyCache.set(id, check.key);
  while (keyCache.size > KEY_CACHE_MAX) keyCache.delete(keyCache.keys().next().value as string);
  return check.key;
}

// ---------------------------------------------------------------------------------------------
// Connecting

const HOST_KEY_FAMILIES: Record<string, string[]> = {
  ed25519: ['ssh-ed25519'],
  ecdsa: ['ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521'],
  rsa: ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};
/** host:port → the host key family that matched the pin last time. */
const matchedFamily = new Map<string, string>();

function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const n = blob.readUInt32BE(0);
  return n > 0 && n < 64 && blob.length >= 4 + n ? blob.subarray(4, 4 + n).toString('latin1') : 'unknown';
}

type Attempt =
  | { kind: 'ready'; client: Client }
  | { kind: 'mismatch'; keyType: string; fingerprint: string }
  | { kind: 'no-common-algorithm' };

const where = (ep: SshEndpoint) => `${ep.host}:${ep.port}`;

function describeSocketError(err: Error & { code?: unknown; level?: unknown }): string {
  const code = typeof err.code === 'string' && /^[A-Z_]+$/.test(err.code) ? err.code : undefined;
  switch (err.level) {
    case 'client-timeout':
      return 'timed out';
    case 'client-dns':
      return 'the host name does not resolve';
    case 'client-socket':
      return code ? `socket error ${code}` : 'socket error';
    case 'handshake':
    case 'protocol':
      return 'the SSH handshake failed';
    default:
      return code ? `error ${code}` : 'the connection closed';
  }
}

function attempt(ep: SshEndpoint, key: ParsedKey, family: string[], t: SessionTimeouts, g: HostGate): Promise<Attempt> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    let seen: { keyType: string; fingerprint: string } | undefined;
    let matched = false;
    let settled = false;
    let counted = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      fn();
    };
    client.on('connect', () => {
      counted = true;
      g.open++;
      g.connects++;
      g.peakOpen = Math.max(g.peakOpen, g.open);
    });
    // A failed attempt settles only once its socket has closed, so a slot is never handed on while
    // the previous connection in it is still open.
    let failure: (() => void) | undefined;
    let closeTimer: NodeJS.Timeout | undefined;
    client.on('close', () => {
      if (counted) {
        counted = false;
        g.open--;
      }
      clearTimeout(closeTimer);
      settle(failure ?? (() => reject(new ConnectionError(`SSH connection to ${where(ep)} closed before it was ready`))));
    });
    client.on('ready', () => settle(() => resolve({ kind: 'ready', client })));
    client.on('error', (err: Error & { level?: unknown }) => {
      if (settled || failure) return;
      if (seen && !matched) {
        const offered = seen;
        failure = () => resolve({ kind: 'mismatch', ...offered });
      } else if (err.level === 'client-authentication') {
        failure = () =>
          reject(
            new AuthenticationFailedError(
              `${where(ep)} refused the SSH credential for user ${ep.user} (public key authentication failed): ` +
                `add the credential's public key to ~${ep.user}/.ssh/authorized_keys on the login node`,
            ),
          );
      } else if (err.level === 'handshake' && /no matching host key/i.test(err.message)) {
        failure = () => resolve({ kind: 'no-common-algorithm' });
      } else {
        const why = describeSocketError(err);
        failure = () => reject(new ConnectionError(`cannot connect to ${where(ep)} as ${ep.user}: ${why}`));
      }
      client.destroy();
      closeTimer = setTimeout(() => settle(failure!), 5_000); // 'close' normally follows at once
    });
    // Anything thrown here would come from configuration, never from key material (already parsed).
    const config: ConnectConfig = {
      host: ep.host,
      port: ep.port,
      username: ep.user,
      authHandler: [{ type: 'publickey', username: ep.user, key } as PublicKeyAuthMethod],
      tryKeyboard: false,
      readyTimeout: t.readyTimeoutMs,
      keepaliveInterval: t.keepaliveIntervalMs,
      keepaliveCountMax: 3,
      algorithms: { serverHostKey: family as NonNullable<ConnectConfig['algorithms']>['serverHostKey'] },
      hostVerifier: (hostKey: Buffer) => {
        seen = { keyType: keyTypeOf(hostKey), fingerprint: sshFingerprint(hostKey) };
        matched = seen.fingerprint === ep.hostKeyFingerprint;
        return matched;
      },
    };
    try {
      client.connect(config);
    } catch {
      settle(() => reject(new ConnectionError(`cannot connect to ${where(ep)}: invalid connection settings`)));
    }
  });
}

async function connect(ep: SshEndpoint, key: ParsedKey, t: SessionTimeouts, g: HostGate): Promise<Client> {
  const id = where(ep);
  const preferred = matchedFamily.get(id);
  const order = Object.keys(HOST_KEY_FAMILIES).sort((a, b) => (a === preferred ? -1 : b === preferred ? 1 : 0));
  const offered: string[] = [];
  for (const fam of order) {
    const r = await attempt(ep, key, HOST_KEY_FAMILIES[fam], t, g);
    if (r.kind === 'ready') {
      matchedFamily.set(id, fam);
      return r.client;
    }
    if (r.kind === 'mismatch') offered.push(`${r.keyType} ${r.fingerprint}`);
  }
  if (!offered.length) throw new ConnectionError(`cannot connect to ${id}: the server offers no host key type the broker supports`);
  throw new HostKeyMismatchError(
    `host key of ${id} does not match the pinned fingerprint ${ep.hostKeyFingerprint} (the server offered ${offered.join(', ')}). ` +
      'Refusing to connect: either the login node was reinstalled or re-keyed, or something is intercepting the connection. ' +
      "Confirm the new key out of band (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on the node) and update the compute environment's hostKeyFingerprint.",
  );
}

// ---------------------------------------------------------------------------------------------
// Sessions

export interface SshSession {
  readonly sftp: SFTPWrapper;
  /** "host:port", for messages. */
  readonly where: string;
  /** Run a command without a shell-visible secret; resolves with exit code and stdout. */
  exec(command: string): Promise<{ code: number | null; stdout: string }>;
}

/** Sessions currently running, so close() can cut them. */
export type SessionSet = Set<Client>;

/**
 * Open one connection (through the gate), hand `fn` an SFTP session on it, and close it again,
 * whatever happens. Every error leaving here is one of the provider's named errors or comes from `fn`.
 */
export async function withSession<T>(ep: SshEndpoint, key: ParsedKey, fn: (s: SshSession) => Promise<T>, live?: SessionSet): Promise<T> {
  const t = defaults.timeouts;
  const g = gate(ep.host, ep.port);
  const release = await g.acquire(ep.maxConnections ?? defaults.maxConnections, t.acquireTimeoutMs, where(ep));
  let client: Client | undefined;
  try {
    client = await connect(ep, key, t, g);
    live?.add(client);
    const c = client;
    const closed = new Promise<void>((resolve) => c.once('close', () => resolve()));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new ConnectionError(`SSH session to ${where(ep)} did not finish within ${Math.round(t.operationTimeoutMs / 1000)} s`));
        c.destroy();
      }, t.operationTimeoutMs);
    });
    // A dropped connection surfaces as failed SFTP calls; keep the emitter from throwing meanwhile.
    c.on('error', () => undefined);
    try {
      const sftp = await Promise.race([openSftp(c, ep), deadline]);
      const session: SshSession = { sftp, where: where(ep), exec: (cmd) => exec(c, cmd, ep) };
      return await Promise.race([fn(session), deadline]);
    } finally {
      clearTimeout(timer);
      c.end();
      // The slot is released only once the socket is gone; give a stuck close a bound.
      const hardStop = setTimeout(() => c.destroy(), 5_000);
      await closed;
      clearTimeout(hardStop);
      live?.delete(c);
    }
  } finally {
    release();
  }
}

function openSftp(c: Client, ep: SshEndpoint): Promise<SFTPWrapper> {
  return new Promise((resolve, reject) => {
    c.sftp((err, sftp) => {
      if (err) reject(new ConnectionError(`${where(ep)} did not open an SFTP session: the SSH server needs the sftp subsystem enabled`));
      else resolve(sftp);
    });
  });
}

function exec(c: Client, command: string, ep: SshEndpoint, timeoutMs = 10_000): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    c.exec(command, (err, stream: ClientChannel) => {
      if (err) return reject(new ConnectionError(`${where(ep)} refused to run a command`));
      let stdout = '';
      // An account with a forced command (e.g. sftp-only) may run something else that waits for input.
      const timer = setTimeout(() => {
        resolve({ code: null, stdout: '' });
        stream.close();
      }, timeoutMs);
      stream.on('data', (b: Buffer) => {
        if (stdout.length < 4096) stdout += b.toString('utf8');
      });
      stream.stderr.on('data', () => undefined);
      stream.on('close', (code: number | null) => {
        clearTimeout(timer);
        resolve({ code, stdout });
      });
      stream.end(); // no input
    });
  });
}
