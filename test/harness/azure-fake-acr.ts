/**
 * Azure Container Registry routes for the Azure fake (installed with `fake.use`, see azure-fake.ts):
 *
 *   ARM (bearer)  GET  .../providers/Microsoft.ContainerRegistry/registries/{r}               the registry
 *                 GET  .../registries/{r}/tokens/{t}        the token: status, password names and times, never values
 *                 POST .../registries/{r}/generateCredentials  {"tokenId", "name"?, "expiry"?}
 *                      -> {"username", "passwords": [{"name", "value", "creationTime", "expiry"?}]}
 *                      answered at once (200), or (`lro: 'location'`) 202 with a Location the SDK
 *                      poller follows: GET .../registries/{r}/operationResults/{id} -> 200 with the result
 *   Token service GET  /acr/{r}/oauth2/token?service=...&scope=...   HTTP Basic (token name and either
 *                      of its current passwords) -> {"access_token", "token"}: an ES256 JWT
 *
 * The login server: a registry added with a `loginServer` of a real docker-registry started with
 * `tokenAuth(name)` (auth.token: realm = this fake's token service, the JWT signer's certificate in
 * its rootcertbundle) makes `GET /v2/` on it a real registry login, the way ACR does it (Bearer
 * challenge, Basic to the realm, Bearer to /v2/). A token has two passwords valid at once, which an
 * htpasswd file (one line per user) cannot hold; the token service can. A regenerated password is
 * refused from the next request on, as ACR refuses it.
 *
 * Uncertain (not confirmed against the real service): whether generateCredentials with `name` lists
 * only the regenerated password (this fake does) or both (only one carries a value); the exact
 * Location URL and final-state shape ACR uses for that long-running operation (the SDK follows any
 * Location, with resourceLocationConfig "location"); ARM's error code for a tokenId that does not exist.
 */
import { execFileSync } from 'node:child_process';
import { createPrivateKey, randomBytes, sign, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { armError, json, type AzureFake, type FakeRouteContext } from './azure-fake';
import type { TokenAuthConfig } from './docker-registry';

export type FakeAcrSlot = 'password1' | 'password2';

export interface FakeAcrPassword {
  value: string;
  creationTime: string;
  expiry?: string;
}

export interface FakeAcrToken {
  name: string;
  status: 'enabled' | 'disabled';
  passwords: Partial<Record<FakeAcrSlot, FakeAcrPassword>>;
}

export interface FakeAcrRegistryInit {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  /** Default `<name>.azurecr.io`; a docker-registry's `host` to back it with a real one. */
  loginServer?: string;
  location?: string;
  adminUserEnabled?: boolean;
}

export interface FakeAcrRegistry extends Required<FakeAcrRegistryInit> {
  tokens: Map<string, FakeAcrToken>;
}

export interface AcrFakeOptions {
  /** How generateCredentials answers: at once (200, default) or as a long-running operation (202 + Location). */
  lro?: 'sync' | 'location';
}

const ISSUER = 'Azure Container Registry';
const SLOTS: readonly FakeAcrSlot[] = ['password1', 'password2'];

export class AcrFake {
  private readonly registries = new Map<string, FakeAcrRegistry>();
  private readonly passwords: string[] = [];
  private readonly jwts: string[] = [];
  private readonly operations = new Map<string, unknown>();
  lro: 'sync' | 'location';

  private constructor(
    private readonly fake: AzureFake,
    private readonly signerCert: string,
    private readonly signerKey: string,
    opts: AcrFakeOptions,
  ) {
    this.lro = opts.lro ?? 'sync';
  }

  /** Adds the ACR routes to `fake`. */
  static install(fake: AzureFake, opts: AcrFakeOptions = {}): AcrFake {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'acr-fake-'));
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', path.join(dir, 'k.pem'), '-out', path.join(dir, 'c.pem'), '-days', '2', '-subj', '/CN=acr-fake token signer'], { stdio: ['ignore', 'ignore', 'pipe'] });
      const acr = new AcrFake(fake, fs.readFileSync(path.join(dir, 'c.pem'), 'utf8'), fs.readFileSync(path.join(dir, 'k.pem'), 'utf8'), opts);
      fake.use((ctx) => acr.route(ctx));
      return acr;
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  /** The `auth.token` settings for a docker-registry that stands in for registry `name`'s login server. */
  tokenAuth(name: string, loginServer: string): TokenAuthConfig {
    return { realm: `${this.fake.url}/acr/${name.toLowerCase()}/oauth2/token`, service: loginServer, issuer: ISSUER, rootCertBundle: this.signerCert };
  }

  addRegistry(init: FakeAcrRegistryInit): FakeAcrRegistry {
    const reg: FakeAcrRegistry = { loginServer: `${init.name.toLowerCase()}.azurecr.io`, location: 'westeurope', adminUserEnabled: false, ...init, tokens: new Map() };
    this.registries.set(this.key(reg.subscriptionId, reg.resourceGroup, reg.name), reg);
    return reg;
  }

  /** A token with the given passwords generated (default both). */
  addToken(reg: FakeAcrRegistry, name: string, opts: { status?: 'enabled' | 'disabled'; passwords?: FakeAcrSlot[] } = {}): FakeAcrToken {
    const token: FakeAcrToken = { name, status: opts.status ?? 'enabled', passwords: {} };
    for (const slot of opts.passwords ?? SLOTS) token.passwords[slot] = this.newPassword();
    reg.tokens.set(name.toLowerCase(), token);
    return token;
  }

  /** Every password value the fake ever generated. */
  issuedPasswords(): string[] {
    return [...this.passwords];
  }

  /** Every registry JWT the token service handed out. */
  issuedJwts(): string[] {
    return [...this.jwts];
  }

  private newPassword(): FakeAcrPassword {
    // ACR's are 52 characters of base64-like text (uncertain: the alphabet).
    const value = randomBytes(39).toString('base64');
    this.passwords.push(value);
    return { value, creationTime: new Date().toISOString() };
  }

  private key(sub: string, rg: string, name: string): string {
    return `${sub.toLowerCase()}/${rg.toLowerCase()}/${name.toLowerCase()}`;
  }

  private registryId(r: FakeAcrRegistry): string {
    return `/subscriptions/${r.subscriptionId}/resourceGroups/${r.resourceGroup}/providers/Microsoft.ContainerRegistry/registries/${r.name}`;
  }

  private tokenBody(r: FakeAcrRegistry, t: FakeAcrToken): unknown {
    return {
      id: `${this.registryId(r)}/tokens/${t.name}`,
      name: t.name,
      type: 'Microsoft.ContainerRegistry/registries/tokens',
      properties: {
        creationDate: '2025-01-01T00:00:00.0000000Z',
        provisioningState: 'Succeeded',
        scopeMapId: `${this.registryId(r)}/scopeMaps/_repositories_pull`,
        status: t.status,
        credentials: {
          certificates: [],
          passwords: SLOTS.filter((s) => t.passwords[s]).map((s) => ({ name: s, creationTime: t.passwords[s]!.creationTime, ...(t.passwords[s]!.expiry ? { expiry: t.passwords[s]!.expiry } : {}) })),
        },
      },
    };
  }

  private async route(ctx: FakeRouteContext): Promise<boolean> {
    const { seg, method, res, call } = ctx;
    // ---- the login server's token service -------------------------------------------------
    if (seg.length === 4 && seg[0] === 'acr' && seg[2] === 'oauth2' && seg[3] === 'token') {
      call.kind = 'acrToken';
      call.account = seg[1];
      this.tokenService(ctx, seg[1]!);
      return true;
    }
    // ---- ARM ------------------------------------------------------------------------------
    const m = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.ContainerRegistry\/registries\/([^/]+)(?:\/(tokens|generateCredentials|operationResults)(?:\/([^/]+))?)?$/i.exec(ctx.url.pathname);
    if (!m) return false;
    const [sub, rg, name, sub2, leaf] = m.slice(1).map((s) => (s === undefined ? undefined : decodeURIComponent(s)));
    call.account = name;
    call.kind = sub2 === undefined ? 'registry' : sub2 === 'tokens' ? 'acrTokenGet' : sub2 === 'generateCredentials' ? 'generateCredentials' : 'operationResult';
    if (!ctx.requireBearer()) return true;
    const reg = this.registries.get(this.key(sub!, rg!, name!));
    if (!reg) {
      armError(res, 404, 'ResourceNotFound', `The Resource 'Microsoft.ContainerRegistry/registries/${name}' under resource group '${rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`);
      return true;
    }
    if (sub2 === undefined && method === 'GET' && leaf === undefined) {
      ctx.finish(() =>
        json(res, 200, {
          id: this.registryId(reg),
          name: reg.name,
          type: 'Microsoft.ContainerRegistry/registries',
          location: reg.location,
          tags: {},
          sku: { name: 'Premium', tier: 'Premium' },
          properties: {
            loginServer: reg.loginServer,
            creationDate: '2025-01-01T00:00:00.0000000Z',
            provisioningState: 'Succeeded',
            adminUserEnabled: reg.adminUserEnabled,
            publicNetworkAccess: 'Enabled',
            anonymousPullEnabled: false,
            policies: {},
            encryption: { status: 'disabled' },
            dataEndpointEnabled: false,
            zoneRedundancy: 'Disabled',
          },
        }),
      );
      return true;
    }
    if (sub2 === 'tokens' && method === 'GET' && leaf !== undefined) {
      const t = reg.tokens.get(leaf.toLowerCase());
      if (!t) armError(res, 404, 'ResourceNotFound', `The Resource 'Microsoft.ContainerRegistry/registries/${reg.name}/tokens/${leaf}' under resource group '${rg}' was not found.`);
      else ctx.finish(() => json(res, 200, this.tokenBody(reg, t)));
      return true;
    }
    if (sub2 === 'operationResults' && method === 'GET' && leaf !== undefined) {
      const result = this.operations.get(leaf);
      if (result === undefined) armError(res, 404, 'OperationNotFound', 'The operation was not found.');
      else ctx.finish(() => json(res, 200, result));
      return true;
    }
    if (sub2 === 'generateCredentials' && method === 'POST' && leaf === undefined) {
      this.generate(ctx, reg);
      return true;
    }
    armError(res, 405, 'MethodNotAllowed', `${method} is not supported here`);
    return true;
  }

  private generate(ctx: FakeRouteContext, reg: FakeAcrRegistry): void {
    const { res, call } = ctx;
    let body: { tokenId?: unknown; name?: unknown; expiry?: unknown };
    try {
      body = JSON.parse(ctx.body || '{}') as typeof body;
    } catch {
      return armError(res, 400, 'InvalidRequestContent', 'The request content was invalid and could not be deserialized.');
    }
    const prefix = `${this.registryId(reg)}/tokens/`.toLowerCase();
    const tokenId = typeof body.tokenId === 'string' ? body.tokenId : '';
    const token = tokenId.toLowerCase().startsWith(prefix) ? reg.tokens.get(tokenId.slice(prefix.length).toLowerCase()) : undefined;
    if (!token) return armError(res, 400, 'TokenNotFound', `The token '${tokenId}' was not found in registry '${reg.name}'.`);
    if (body.name !== undefined && !SLOTS.includes(body.name as FakeAcrSlot)) {
      return armError(res, 400, 'InvalidParameter', "The value of parameter name is invalid. Allowed values: 'password1', 'password2'.");
    }
    const which = body.name === undefined ? [...SLOTS] : [body.name as FakeAcrSlot];
    call.detail = which.join(',');
    const out = which.map((slot) => {
      const p = this.newPassword();
      if (typeof body.expiry === 'string') p.expiry = body.expiry;
      token.passwords[slot] = p;
      return { name: slot, value: p.value, creationTime: p.creationTime, ...(p.expiry ? { expiry: p.expiry } : {}) };
    });
    const result = { username: token.name, passwords: out };
    if (this.lro === 'sync') return ctx.finish(() => json(res, 200, result));
    const id = randomBytes(8).toString('hex');
    this.operations.set(id, result);
    const location = `${this.fake.url}${this.registryId(reg)}/operationResults/${id}?api-version=${ctx.url.searchParams.get('api-version') ?? ''}`;
    ctx.finish(() => json(res, 202, null, { location, 'retry-after': '0' }));
  }

  private tokenService(ctx: FakeRouteContext, registryName: string): void {
    const { req, res, url } = ctx;
    const reg = [...this.registries.values()].find((r) => r.name.toLowerCase() === registryName.toLowerCase());
    const unauthorized = () => {
      const call = ctx.call;
      call.status = 401;
      const text = JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required, visit https://aka.ms/acr/authorization for more information.' }] });
      res.writeHead(401, { 'content-type': 'application/json; charset=utf-8', 'www-authenticate': `Basic realm="${this.fake.url}/acr/${registryName}/oauth2/token"`, 'content-length': String(Buffer.byteLength(text)) });
      res.end(text);
    };
    if (!reg || req.method !== 'GET') return unauthorized();
    const m = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
    if (!m) return unauthorized();
    const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const user = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    const token = colon > 0 ? reg.tokens.get(user.toLowerCase()) : undefined;
    const now = Date.now();
    const matched = token && token.status === 'enabled' ? SLOTS.find((s) => {
      const p = token.passwords[s];
      return p !== undefined && p.value === password && (!p.expiry || Date.parse(p.expiry) > now);
    }) : undefined;
    if (!matched) return unauthorized();
    ctx.call.detail = matched;
    const jwt = this.signJwt(user, url.searchParams.get('service') ?? reg.loginServer);
    this.jwts.push(jwt);
    json(res, 200, { access_token: jwt, token: jwt });
  }

  private signJwt(sub: string, aud: string): string {
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg: 'ES256', x5c: [new X509Certificate(this.signerCert).raw.toString('base64')] };
    const claims = { iss: ISSUER, sub, aud, exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access: [] };
    const input = `${b64(header)}.${b64(claims)}`;
    return `${input}.${sign('sha256', Buffer.from(input), { key: createPrivateKey(this.signerKey), dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
  }
}
