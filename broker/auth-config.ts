/**
 * The broker's identity and access settings from the environment, apart from the rest of its
 * configuration (broker/config.ts): TLS, OIDC, the failed-authentication limit, the codec's
 * loopback rule, the first broker administrator and where its token goes, the Web UI links, and
 * who may listen beyond loopback. Every bad value is refused naming its variable.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AuthOptions } from '../api/auth';
import { MAX_DURATION_MS } from '../api/duration';
import { ENTITY_NAME } from '../domain/rules';

export interface AuthConfig {
  auth: AuthOptions;
  /** Serve HTTPS with these (PEM). */
  tls?: { cert: Buffer; key: Buffer; certFile: string; keyFile: string };
  /** Where the first broker administrator's token is written (0600), for the CLI. */
  adminTokenFile: string;
  /** The first broker administrator's user name; undefined: no bootstrap. */
  bootstrapAdmin?: string;
  /** The life of a bootstrap token. */
  bootstrapTokenTtlMs: number;
  /** The Temporal Web UI, for links to runs. */
  webUiUrl: string;
}

const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

function url(value: string | undefined, name: string): URL | undefined {
  if (!value) return undefined;
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new Error(`${name}: must be a URL, got "${value}"`);
  }
  // An OIDC issuer and its keys are fetched over https; plain http only on this host (tests, a local issuer).
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && LOOPBACK_HOSTS.has(u.hostname))) {
    throw new Error(`${name}: must be an https URL (http only on 127.0.0.1 or localhost), got "${value}"`);
  }
  return u;
}

function pemFile(file: string, name: string, marker: RegExp): Buffer {
  let b: Buffer;
  try {
    b = fs.readFileSync(file);
  } catch (err) {
    throw new Error(`${name}: cannot read "${file}" (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (!marker.test(b.toString('utf8'))) throw new Error(`${name}: "${file}" is not a PEM file of the expected kind`);
  return b;
}

function whole(value: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name}: must be a whole number from ${min} to ${max}, got "${value}"`);
  return n;
}

function flag(value: string | undefined, name: string): boolean {
  if (value === undefined || value === '' || value === '0' || value === 'false') return false;
  if (value === '1' || value === 'true') return true;
  throw new Error(`${name}: must be 1 or 0, got "${value}"`);
}

/** A duration like the API's: a whole number and s, m, h or d. */
function duration(value: string | undefined, name: string, fallback: string): number {
  const v = value || fallback;
  const m = /^([1-9][0-9]{0,5})([smhd])$/.exec(v);
  if (!m) throw new Error(`${name}: must be a whole number followed by s, m, h or d (for example 90d), got "${v}"`);
  const ms = Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
  if (ms > MAX_DURATION_MS) throw new Error(`${name}: must be at most 365d, got "${v}"`);
  return ms;
}

/** Where links to runs point: BROKER_UI_URL, else the dev server's Web UI on this host. */
function webUi(env: NodeJS.ProcessEnv): string {
  const v = env.BROKER_UI_URL;
  if (!v) return `http://127.0.0.1:${env.TEMPORAL_UI_PORT || 8233}`;
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new Error(`BROKER_UI_URL: must be a URL, got "${v}"`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`BROKER_UI_URL: must be an http or https URL, got "${v}"`);
  return v.replace(/\/+$/, '');
}

export function authConfig(env: NodeJS.ProcessEnv, where: { dataDir: string; apiHost: string }): AuthConfig {
  // TLS: both files or neither.
  const certFile = env.BROKER_TLS_CERT_FILE || undefined;
  const keyFile = env.BROKER_TLS_KEY_FILE || undefined;
  if (!!certFile !== !!keyFile) throw new Error('BROKER_TLS_CERT_FILE and BROKER_TLS_KEY_FILE: give both (a certificate and its key) or neither');
  const tls =
    certFile && keyFile
      ? {
          cert: pemFile(certFile, 'BROKER_TLS_CERT_FILE', /-----BEGIN CERTIFICATE-----/),
          key: pemFile(keyFile, 'BROKER_TLS_KEY_FILE', /-----BEGIN [A-Z ]*PRIVATE KEY-----/),
          certFile,
          keyFile,
        }
      : undefined;

  // Beyond loopback only with TLS, or explicitly in plaintext behind a TLS-terminating proxy.
  if (!LOOPBACK_HOSTS.has(where.apiHost) && !tls && !flag(env.BROKER_API_ALLOW_REMOTE, 'BROKER_API_ALLOW_REMOTE')) {
    throw new Error(
      `BROKER_API_HOST=${where.apiHost}: beyond loopback the API needs TLS (BROKER_TLS_CERT_FILE and BROKER_TLS_KEY_FILE), ` +
        'or BROKER_API_ALLOW_REMOTE=1 when a TLS-terminating proxy is in front of it',
    );
  }

  // OIDC.
  const issuer = url(env.BROKER_OIDC_ISSUER, 'BROKER_OIDC_ISSUER');
  let oidc: AuthOptions['oidc'];
  if (issuer) {
    const audience = env.BROKER_OIDC_AUDIENCE;
    if (!audience) throw new Error('BROKER_OIDC_AUDIENCE: required with BROKER_OIDC_ISSUER (the "aud" the tokens must name)');
    const jwks = url(env.BROKER_OIDC_JWKS_URL, 'BROKER_OIDC_JWKS_URL');
    const algorithms = (env.BROKER_OIDC_ALGORITHMS || 'RS256,ES256').split(',').map((a) => a.trim());
    const bad = algorithms.find((a) => !ALGORITHMS.includes(a));
    if (bad !== undefined) throw new Error(`BROKER_OIDC_ALGORITHMS: "${bad}" is not one of ${ALGORITHMS.join(', ')}`);
    oidc = {
      issuer: env.BROKER_OIDC_ISSUER!,
      audience,
      ...(jwks ? { jwksUrl: jwks.toString() } : {}),
      algorithms,
      clockToleranceSeconds: whole(env.BROKER_OIDC_CLOCK_TOLERANCE, 'BROKER_OIDC_CLOCK_TOLERANCE', 30, 0, 300),
    };
  } else {
    for (const v of ['BROKER_OIDC_AUDIENCE', 'BROKER_OIDC_JWKS_URL', 'BROKER_OIDC_ALGORITHMS'] as const) {
      if (env[v]) throw new Error(`${v}: set BROKER_OIDC_ISSUER too (it is ignored without an issuer)`);
    }
  }

  const bootstrap = env.BROKER_BOOTSTRAP_ADMIN ?? 'admin';
  if (bootstrap !== '' && !ENTITY_NAME.test(bootstrap)) throw new Error(`BROKER_BOOTSTRAP_ADMIN: must be 1 to 100 letters, digits, dashes or underscores (or empty: no bootstrap), got "${bootstrap}"`);

  return {
    auth: {
      ...(oidc ? { oidc } : {}),
      failureLimit: { max: whole(env.BROKER_AUTH_FAILURES_PER_MINUTE, 'BROKER_AUTH_FAILURES_PER_MINUTE', 20, 1, 100_000), windowMs: 60_000 },
      codecLoopbackOpen: !flag(env.BROKER_CODEC_REQUIRE_TOKEN, 'BROKER_CODEC_REQUIRE_TOKEN'),
    },
    ...(tls ? { tls } : {}),
    adminTokenFile: path.resolve(env.BROKER_ADMIN_TOKEN_FILE || path.join(where.dataDir, 'admin.token')),
    ...(bootstrap ? { bootstrapAdmin: bootstrap } : {}),
    bootstrapTokenTtlMs: duration(env.BROKER_BOOTSTRAP_TOKEN_TTL, 'BROKER_BOOTSTRAP_TOKEN_TTL', '90d'),
    webUiUrl: webUi(env),
  };
}
