/**
 * Live verification of a `container-registry` credential against any registry that speaks the
 * Registry HTTP API v2 (Distribution, Azure Container Registry, Docker Hub, GHCR ...), the way
 * `docker login` does it:
 *
 *   1. GET /v2/ without credentials. A registry that answers 200 asks for none: the password cannot
 *      be verified there, which is refused (InvalidInputError) rather than reported as a success.
 *   2. 401 with `WWW-Authenticate: Basic realm=...`: GET /v2/ again with HTTP Basic authentication.
 *   3. 401 with `WWW-Authenticate: Bearer realm=...,service=...[,scope=...]` (ACR, Docker Hub): GET
 *      the realm with `service`, `scope` and `account` and HTTP Basic authentication; the answer's
 *      `token` (or `access_token`) then goes to GET /v2/ as `Authorization: Bearer`.
 *
 * Resolves on 200 from the authenticated /v2/. AuthenticationFailedError when the registry or its
 * token service refuses the user name and password; ConnectionError when either cannot be reached,
 * fails TLS, times out or answers 5xx; ThrottledError on 429; InvalidInputError for everything the
 * caller must fix (bad server name, a registry that asks for no credentials or for an unknown
 * scheme, a token realm that is not https). Messages carry the host, the step and the HTTP status:
 * never the password, the token, or anything the server wrote.
 *
 * TLS: https with the public CAs; `ca` adds a PEM bundle (tests and private registries).
 * `insecureHttp` uses plain http for the registry and the token realm: tests only, since it sends the
 * password in the clear.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { parseRegistryServer } from '../../credentials/registry';
import { AuthenticationFailedError, ConnectionError, InvalidInputError, ThrottledError } from '../../domain/errors';

export interface VerifyRegistryOptions {
  /** Extra CA (PEM, may hold several certificates) to trust for the registry and its token realm. */
  ca?: string;
  /** Plain http instead of https, for the registry and its realm. Tests only. */
  insecureHttp?: boolean;
  /** Per request; default 30 s. */
  timeoutMs?: number;
}

/** What the verify learned, for logs and tests: never a secret. */
export interface RegistryVerifyResult {
  /** How the registry asked for the credentials. */
  scheme: 'basic' | 'bearer';
  /** The token realm's host, for the bearer flow. */
  realmHost?: string;
}

interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

interface Answer {
  status: number;
  challenges: Challenge[];
  body: string;
}

const MAX_BODY = 256 * 1024;
const TLS_CODES = /^(?:CERT_|UNABLE_TO_|SELF_SIGNED_|DEPTH_ZERO_|ERR_TLS_|ERR_SSL_|HOSTNAME_MISMATCH|ERR_CERT)/;

/** Parses every challenge of the WWW-Authenticate header lines (RFC 7235; quoted values may hold commas). */
export function parseChallenges(lines: string[]): Challenge[] {
  const out: Challenge[] = [];
  for (const line of lines) {
    let i = 0;
    let current: Challenge | undefined;
    const token = (): string => {
      const m = /^[\w!#$%&'*+.^`|~-]+/.exec(line.slice(i));
      i += m ? m[0].length : 0;
      return m ? m[0] : '';
    };
    while (i < line.length) {
      while (i < line.length && /[\s,]/.test(line[i]!)) i++;
      const name = token();
      if (!name) {
        i++;
        continue;
      }
      let j = i;
      while (j < line.length && line[j] === ' ') j++;
      if (line[j] === '=' && line[j + 1] !== '=' && current) {
        i = j + 1;
        while (line[i] === ' ') i++;
        let value = '';
        if (line[i] === '"') {
          i++;
          while (i < line.length && line[i] !== '"') {
            if (line[i] === '\\') i++;
            value += line[i] ?? '';
            i++;
          }
          i++;
        } else {
          const m = /^[^\s,]*/.exec(line.slice(i))!;
          value = m[0];
          i += m[0].length;
        }
        current.params[name.toLowerCase()] = value;
      } else {
        current = { scheme: name.toLowerCase(), params: {} };
        out.push(current);
      }
    }
  }
  return out;
}

function basic(userName: string, password: string): string {
  return `Basic ${Buffer.from(`${userName}:${password}`, 'utf8').toString('base64')}`;
}

function networkCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^[A-Z][A-Z0-9_]{1,60}$/.test(code) ? code : undefined;
}

export async function verifyRegistryCredential(server: string, userName: string, password: string, opts: VerifyRegistryOptions = {}): Promise<RegistryVerifyResult> {
  let host: string;
  try {
    host = parseRegistryServer(server);
  } catch (err) {
    throw new InvalidInputError(`registryServer: ${(err as Error).message.replace(/^registryServer:?\s*/, '')}`);
  }
  if (typeof userName !== 'string' || userName === '' || userName.includes(':') || /[\s\x00-\x1f\x7f]/.test(userName)) {
    throw new InvalidInputError('userName: must be a non-empty name without ":", spaces or control characters');
  }
  if (typeof password !== 'string' || password === '' || /[\x00-\x1f\x7f]/.test(password)) {
    throw new InvalidInputError('password: must be a non-empty line without control characters');
  }
  const scheme = opts.insecureHttp ? 'http' : 'https';
  const base = `${scheme}://${host}`;
  const where = `registry ${host}`;

  const get = (url: URL, headers: Record<string, string>, step: string, keepBody = false): Promise<Answer> =>
    new Promise<Answer>((resolve, reject) => {
      const lib = url.protocol === 'http:' ? http : https;
      const req = lib.request(
        url,
        {
          method: 'GET',
          headers: { accept: 'application/json', 'user-agent': 'secret-broker registry-verify', ...headers },
          ...(url.protocol === 'https:' && opts.ca ? { ca: opts.ca } : {}),
          timeout: opts.timeoutMs ?? 30_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (keepBody && size <= MAX_BODY) chunks.push(c);
          });
          res.on('end', () => {
            const lines: string[] = [];
            for (let i = 0; i < res.rawHeaders.length; i += 2) if (res.rawHeaders[i]!.toLowerCase() === 'www-authenticate') lines.push(res.rawHeaders[i + 1]!);
            resolve({ status: res.statusCode ?? 0, challenges: parseChallenges(lines), body: size <= MAX_BODY ? Buffer.concat(chunks).toString('utf8') : '' });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
      req.on('error', reject);
      req.end();
    }).catch((err: unknown) => {
      const code = networkCode(err);
      const what = code && TLS_CODES.test(code) ? `TLS failure (${code})` : code ? `connection failed (${code})` : 'connection failed';
      throw new ConnectionError(`verify on ${where}: ${step}: ${what}`);
    });

  /** Maps a non-200 answer to an error; 401/403 are the credential's refusal. */
  const fail = (status: number, step: string, refusal: string): Error => {
    if (status === 401 || status === 403) return new AuthenticationFailedError(`verify on ${where}: ${refusal} (HTTP ${status})`);
    if (status === 429) return new ThrottledError(`verify on ${where}: ${step}: throttled (HTTP 429)`);
    if (status >= 500 || status === 408) return new ConnectionError(`verify on ${where}: ${step}: HTTP ${status}`);
    if (status === 404) return new InvalidInputError(`verify on ${where}: ${step}: not found (HTTP 404); is this a registry API v2 server?`);
    return new InvalidInputError(`verify on ${where}: ${step}: unexpected answer (HTTP ${status})`);
  };

  const v2 = new URL(`${base}/v2/`);
  const ping = await get(v2, {}, 'GET /v2/');
  if (ping.status === 200) {
    throw new InvalidInputError(`verify on ${where}: the registry answers GET /v2/ without asking for credentials, so the password cannot be verified`);
  }
  if (ping.status !== 401) throw fail(ping.status, 'GET /v2/', 'the registry refused an anonymous request');

  const bearer = ping.challenges.find((c) => c.scheme === 'bearer');
  const basicChallenge = ping.challenges.find((c) => c.scheme === 'basic');
  if (!bearer && basicChallenge) {
    const r = await get(v2, { authorization: basic(userName, password) }, 'GET /v2/ (basic)');
    if (r.status === 200) return { scheme: 'basic' };
    throw fail(r.status, 'GET /v2/ (basic)', 'the registry refused the user name and password');
  }
  if (!bearer) {
    const schemes = ping.challenges.map((c) => c.scheme).filter((s) => /^[a-z][\w-]{0,30}$/.test(s));
    throw new InvalidInputError(`verify on ${where}: the registry asks for ${schemes.length ? `an authentication scheme the broker does not speak (${schemes.join(', ')})` : 'authentication without saying how (no Basic or Bearer challenge)'}`);
  }

  let realm: URL;
  try {
    realm = new URL(bearer.params.realm ?? '');
  } catch {
    throw new InvalidInputError(`verify on ${where}: the registry's Bearer challenge has no usable realm URL`);
  }
  if (realm.username || realm.password || (realm.protocol !== 'https:' && !(opts.insecureHttp && realm.protocol === 'http:'))) {
    throw new InvalidInputError(`verify on ${where}: the token realm must be an https URL without credentials; the password is not sent to ${realm.protocol}//${realm.host}`);
  }
  if (bearer.params.service) realm.searchParams.set('service', bearer.params.service);
  if (bearer.params.scope) realm.searchParams.set('scope', bearer.params.scope);
  realm.searchParams.set('account', userName);
  const realmHost = realm.host;
  const tokenStep = `token request to ${realmHost}`;
  const t = await get(realm, { authorization: basic(userName, password) }, tokenStep, true);
  if (t.status !== 200) throw fail(t.status, tokenStep, `the token service at ${realmHost} refused the user name and password`);
  let token: unknown;
  try {
    const parsed = JSON.parse(t.body) as { token?: unknown; access_token?: unknown };
    token = parsed.token ?? parsed.access_token;
  } catch {
    token = undefined;
  }
  if (typeof token !== 'string' || token === '' || /[\s\x00-\x1f\x7f]/.test(token)) {
    throw new ConnectionError(`verify on ${where}: ${tokenStep}: the answer carried no token`);
  }
  const r = await get(v2, { authorization: `Bearer ${token}` }, 'GET /v2/ (bearer)');
  if (r.status === 200) return { scheme: 'bearer', realmHost };
  throw fail(r.status, 'GET /v2/ (bearer)', `the registry refused the token its token service at ${realmHost} issued`);
}
