/**
 * Settings of an `hpc` compute environment: a cluster login node reached over SSH. Pure validation
 * (no ssh2 import), so the vault can use it.
 */
import * as path from 'node:path';
import { ValidationError } from '../domain/errors';
import type { PlatformSpec } from './index';

/** Process-wide default for concurrent SSH connections to one host:port. */
export const DEFAULT_MAX_CONNECTIONS = 4;
const MAX_MAX_CONNECTIONS = 64;

// A type alias (not an interface) so it is assignable to Record<string, unknown>.
export type HpcConfig = {
  /** Login node name or address. */
  host: string;
  /** SSH port; 22 unless set. */
  port: number;
  /** The account the head job runs as; the run directory is owned by it. */
  user: string;
  /** The login node's host key, `SHA256:...` as `ssh-keygen -lf` prints it. A mismatch fails. */
  hostKeyFingerprint: string;
  /** Absolute directory on storage shared by the login node and the compute nodes. */
  workDir: string;
  /** Most SSH connections the broker opens to this host:port at once (default 4). */
  maxConnections?: number;
};

const KEYS = ['host', 'port', 'user', 'hostKeyFingerprint', 'workDir', 'maxConnections'];
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;
const IPV6 = /^\[?[0-9A-Fa-f:.]+\]?$/;
const USER = /^[a-z_][a-z0-9_.-]{0,31}\$?$/i;
// 32 bytes of SHA-256 in unpadded base64 are 43 characters.
const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}=?$/;

function str(config: Record<string, unknown>, key: string): string {
  const v = config[key];
  if (typeof v !== 'string' || v.trim() === '') throw new ValidationError(`config.${key}`, 'is required');
  return v.trim();
}

function int(config: Record<string, unknown>, key: string, min: number, max: number): number | undefined {
  const v = config[key];
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw new ValidationError(`config.${key}`, `must be a whole number from ${min} to ${max}`);
  }
  return n;
}

export function parseHpcConfig(config: Record<string, unknown>): HpcConfig {
  const unknownKeys = Object.keys(config).filter((k) => !KEYS.includes(k));
  if (unknownKeys.length) {
    throw new ValidationError(`config.${unknownKeys[0]}`, `is not a setting of hpc compute environments (allowed: ${KEYS.join(', ')})`);
  }
  const host = str(config, 'host');
  if (host.length > 253 || !(HOST.test(host) || (host.includes(':') && IPV6.test(host)))) {
    throw new ValidationError('config.host', 'must be a host name or IP address');
  }
  const port = int(config, 'port', 1, 65535) ?? 22;
  const user = str(config, 'user');
  if (!USER.test(user)) throw new ValidationError('config.user', 'must be a POSIX user name (letters, digits, _ . -; at most 32 characters)');

  const fp = str(config, 'hostKeyFingerprint');
  if (!FINGERPRINT.test(fp)) {
    throw new ValidationError(
      'config.hostKeyFingerprint',
      'must be the host key SHA256 fingerprint, SHA256: followed by 43 base64 characters, as `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` prints it on the login node',
    );
  }
  const workDir = str(config, 'workDir');
  if (!path.posix.isAbsolute(workDir)) throw new ValidationError('config.workDir', 'must be an absolute path on the cluster');
  const normalized = path.posix.normalize(workDir).replace(/(.)\/+$/, '$1');
  if (normalized === '/') throw new ValidationError('config.workDir', 'must not be the root directory');

  const maxConnections = int(config, 'maxConnections', 1, MAX_MAX_CONNECTIONS);
  const out: HpcConfig = { host: host.replace(/^\[(.*)\]$/, '$1'), port, user, hostKeyFingerprint: fp.replace(/=$/, ''), workDir: normalized };
  if (maxConnections !== undefined) out.maxConnections = maxConnections;
  return out;
}

export const hpcPlatform: PlatformSpec = {
  platform: 'hpc',
  credentialKind: 'ssh',
  parseConfig: parseHpcConfig,
};
