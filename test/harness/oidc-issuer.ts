/**
 * A local OIDC issuer for tests: a throwaway key pair (RS256, and an ES256 one), its discovery
 * document and JWKS served over HTTP on 127.0.0.1, and a signer for access tokens with any claims,
 * algorithm or key, so suites can present good tokens and every kind of bad one.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

export interface SignOptions {
  sub?: string;
  iss?: string;
  aud?: string | string[];
  /** Seconds from now (negative: already expired). Undefined: 5 minutes. Null: no exp claim. */
  expiresIn?: number | null;
  alg?: 'RS256' | 'ES256';
  /** Sign with a key the issuer does not publish (same kid). */
  foreignKey?: boolean;
  kid?: string;
  claims?: Record<string, unknown>;
}

export interface OidcIssuer {
  issuer: string;
  audience: string;
  jwksUrl: string;
  /** How many times the JWKS was fetched. */
  jwksFetches(): number;
  sign(opts?: SignOptions): Promise<string>;
  /** An HS256 token whose secret is the RSA public key's JWK (the algorithm-confusion attack). */
  signHs256(opts?: SignOptions): Promise<string>;
  /** An unsigned token (alg "none"). */
  unsigned(opts?: SignOptions): string;
  close(): Promise<void>;
}

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

export async function startOidcIssuer(audience = 'secret-broker'): Promise<OidcIssuer> {
  const rsa = await generateKeyPair('RS256', { extractable: true });
  const ec = await generateKeyPair('ES256', { extractable: true });
  const foreign = await generateKeyPair('RS256', { extractable: true });
  const pub = async (k: CryptoKey, kid: string, alg: string): Promise<JWK> => ({ ...(await exportJWK(k)), kid, alg, use: 'sig' });
  const keys = [await pub(rsa.publicKey, 'rsa-1', 'RS256'), await pub(ec.publicKey, 'ec-1', 'ES256')];
  let fetches = 0;
  let base = '';
  const server = http.createServer((req, res) => {
    if (req.url === '/.well-known/openid-configuration') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ issuer: base, jwks_uri: `${base}/jwks`, id_token_signing_alg_values_supported: ['RS256', 'ES256'] }));
    } else if (req.url === '/jwks') {
      fetches++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys }));
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const claimsOf = (o: SignOptions) => ({
    ...(o.claims ?? {}),
    ...(o.sub === undefined ? { sub: 'subject-1' } : o.sub === '' ? {} : { sub: o.sub }),
  });
  const build = (o: SignOptions) => {
    const now = Math.floor(Date.now() / 1000);
    let jwt = new SignJWT(claimsOf(o)).setIssuer(o.iss ?? base).setAudience(o.aud ?? audience).setIssuedAt(now - 5).setJti(randomBytes(8).toString('hex'));
    if (o.expiresIn !== null) jwt = jwt.setExpirationTime(now + (o.expiresIn ?? 300));
    return jwt;
  };
  return {
    issuer: base,
    audience,
    jwksUrl: `${base}/jwks`,
    jwksFetches: () => fetches,
    async sign(o = {}) {
      const alg = o.alg ?? 'RS256';
      const key = o.foreignKey ? foreign.privateKey : alg === 'RS256' ? rsa.privateKey : ec.privateKey;
      return build(o)
        .setProtectedHeader({ alg, kid: o.kid ?? (alg === 'RS256' ? 'rsa-1' : 'ec-1'), typ: 'JWT' })
        .sign(key);
    },
    async signHs256(o = {}) {
      const secret = new Uint8Array(createHash('sha256').update(JSON.stringify(keys[0])).digest());
      return build(o).setProtectedHeader({ alg: 'HS256', kid: 'rsa-1' }).sign(secret);
    },
    unsigned(o = {}) {
      const now = Math.floor(Date.now() / 1000);
      return `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ ...claimsOf(o), iss: o.iss ?? base, aud: o.aud ?? audience, exp: now + 300 })}.`;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
