/**
 * remote/registry/login.ts against a real registry (Distribution 2.8, test/harness/docker-registry.ts):
 * HTTP Basic with an htpasswd file over TLS with a test CA, and the Bearer token flow with a small
 * token service written here (it checks the Basic credentials and signs an ES256 JWT whose
 * certificate the registry trusts), plus a few answers no real registry gives on demand, from a
 * plain node:http server. Every error is checked for the password and every token.
 */
import { execFileSync } from 'node:child_process';
import { createPrivateKey, randomBytes, sign, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseChallenges, verifyRegistryCredential } from '../../remote/registry/login';
import { leaks } from '../harness/credential-vault';
import { DockerRegistry } from '../harness/docker-registry';
import { freePort } from '../harness/process';
import { rejectionCatcher } from '../harness/caught';
import { AuthenticationFailedError, ConnectionError, InvalidInputError, ThrottledError } from '../../domain/errors';

jest.setTimeout(60_000);

const USER = 'seqera-pull-token';
const PASSWORD = randomBytes(39).toString('base64');
const secrets: string[] = [PASSWORD];
const errors: Error[] = [];

const caught = rejectionCatcher(errors);

afterAll(() => {
  for (const e of errors) expect(leaks(e, secrets)).toBe(false);
});

describe('parseChallenges', () => {
  test.each([
    { reason: 'Distribution htpasswd', line: 'Basic realm="secret-broker-test"', want: [{ scheme: 'basic', params: { realm: 'secret-broker-test' } }] },
    {
      reason: 'ACR, with a comma inside the quoted scope',
      line: 'Bearer realm="https://r.azurecr.io/oauth2/token",service="r.azurecr.io",scope="repository:a/b:pull,push"',
      want: [{ scheme: 'bearer', params: { realm: 'https://r.azurecr.io/oauth2/token', service: 'r.azurecr.io', scope: 'repository:a/b:pull,push' } }],
    },
    { reason: 'two challenges on one line', line: 'Basic realm="x", Bearer realm="https://t/token",service=svc', want: [{ scheme: 'basic', params: { realm: 'x' } }, { scheme: 'bearer', params: { realm: 'https://t/token', service: 'svc' } }] },
    { reason: 'an escaped quote', line: 'Basic realm="a \\"b\\""', want: [{ scheme: 'basic', params: { realm: 'a "b"' } }] },
  ])('$reason', ({ line, want }) => {
    expect(parseChallenges([line])).toEqual(want);
  });
});

describe('HTTP Basic against docker-registry (htpasswd, TLS)', () => {
  let reg: DockerRegistry;
  beforeAll(async () => {
    reg = await DockerRegistry.start({ tls: true, users: { [USER]: PASSWORD, other: 'other-password-123' } });
  });
  afterAll(async () => {
    await reg?.close();
  });

  test('the right password is accepted', async () => {
    await expect(verifyRegistryCredential(reg.host, USER, PASSWORD, { ca: reg.ca })).resolves.toEqual({ scheme: 'basic' });
  });

  test.each([
    { reason: 'a wrong password', user: USER, password: `${PASSWORD.slice(0, -4)}AAAA` },
    { reason: 'another user’s password', user: USER, password: 'other-password-123' },
    { reason: 'an unknown user', user: 'nobody-here', password: PASSWORD },
  ])('$reason is refused: AuthenticationFailedError, no password in it', async ({ user, password }) => {
    secrets.push(password);
    const err = await caught(verifyRegistryCredential(reg.host, user, password, { ca: reg.ca }));
    expect(err).toBeInstanceOf(AuthenticationFailedError);
    expect(err.message).toBe(`verify on registry ${reg.host}: the registry refused the user name and password (HTTP 401)`);
  });

  test('a changed password: htpasswd rewritten, the old one refused and the new one accepted on the next request', async () => {
    const next = randomBytes(39).toString('base64');
    secrets.push(next);
    await reg.setPassword('rotating', PASSWORD);
    await verifyRegistryCredential(reg.host, 'rotating', PASSWORD, { ca: reg.ca });
    await reg.setPassword('rotating', next);
    expect(await caught(verifyRegistryCredential(reg.host, 'rotating', PASSWORD, { ca: reg.ca }))).toBeInstanceOf(AuthenticationFailedError);
    await expect(verifyRegistryCredential(reg.host, 'rotating', next, { ca: reg.ca })).resolves.toEqual({ scheme: 'basic' });
  });

  test('a registry whose certificate is not trusted: ConnectionError naming the TLS failure, the password never sent', async () => {
    const err = await caught(verifyRegistryCredential(reg.host, USER, PASSWORD));
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err.message).toMatch(new RegExp(`^verify on registry ${reg.host.replace(/\./g, '\\.')}: GET /v2/: TLS failure \\(`));
  });

  test('plain http to a TLS registry is not a success (Go answers 400 to http on a TLS port)', async () => {
    const err = await caught(verifyRegistryCredential(reg.host, USER, PASSWORD, { insecureHttp: true }));
    expect(err).toBeInstanceOf(InvalidInputError);
    expect(err.message).toBe(`verify on registry ${reg.host}: GET /v2/: unexpected answer (HTTP 400)`);
  });

  test('unreachable (nothing listens, then the registry stopped): ConnectionError', async () => {
    const port = await freePort();
    const err = await caught(verifyRegistryCredential(`127.0.0.1:${port}`, USER, PASSWORD, { ca: reg.ca }));
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err.message).toBe(`verify on registry 127.0.0.1:${port}: GET /v2/: connection failed (ECONNREFUSED)`);
    await reg.stop();
    try {
      expect(await caught(verifyRegistryCredential(reg.host, USER, PASSWORD, { ca: reg.ca }))).toBeInstanceOf(ConnectionError);
    } finally {
      await reg.start();
    }
    await expect(verifyRegistryCredential(reg.host, USER, PASSWORD, { ca: reg.ca })).resolves.toEqual({ scheme: 'basic' });
  });

  test.each([
    { reason: 'a URL instead of a host', server: 'https://127.0.0.1:5000', user: USER, rule: /^registryServer: must not have a scheme/ },
    { reason: 'a path', server: '127.0.0.1:5000/v2/', user: USER, rule: /^registryServer: must not have a path/ },
    { reason: 'a colon in the user name', server: '127.0.0.1:5000', user: 'a:b', rule: /^userName: / },
  ])('$reason: InvalidInputError naming the field, nothing sent', async ({ server, user, rule }) => {
    const err = await caught(verifyRegistryCredential(server, user, PASSWORD));
    expect(err).toBeInstanceOf(InvalidInputError);
    expect(err.message).toMatch(rule);
  });
});

/** A token service like ACR's /oauth2/token or auth.docker.io: Basic in, ES256 JWT out. */
class TokenService {
  readonly requests: Array<{ service: string | null; scope: string | null; account: string | null; auth: 'ok' | 'refused' | 'none' }> = [];
  readonly issued: string[] = [];
  /** When set, hands out this instead of a signed token. */
  forgedToken: string | undefined;
  private constructor(
    private readonly server: http.Server,
    readonly url: string,
    readonly certPem: string,
    private readonly keyPem: string,
    private readonly users: Record<string, string>,
    private readonly issuer: string,
  ) {}

  static async start(users: Record<string, string>, issuer: string): Promise<TokenService> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'token-svc-'));
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', path.join(dir, 'k.pem'), '-out', path.join(dir, 'c.pem'), '-days', '2', '-subj', '/CN=token signer'], { stdio: ['ignore', 'ignore', 'pipe'] });
      const cert = fs.readFileSync(path.join(dir, 'c.pem'), 'utf8');
      const key = fs.readFileSync(path.join(dir, 'k.pem'), 'utf8');
      const ref: { svc?: TokenService } = {};
      const server = http.createServer((req, res) => ref.svc!.handle(req, res));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
      ref.svc = new TokenService(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`, cert, key, users, issuer);
      return ref.svc;
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', this.url);
    const m = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
    const [user, ...rest] = m ? Buffer.from(m[1]!, 'base64').toString('utf8').split(':') : [];
    const ok = user !== undefined && this.users[user] === rest.join(':');
    this.requests.push({ service: url.searchParams.get('service'), scope: url.searchParams.get('scope'), account: url.searchParams.get('account'), auth: !m ? 'none' : ok ? 'ok' : 'refused' });
    if (!ok) {
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Basic realm="token"' });
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
      return;
    }
    const token = this.forgedToken ?? this.sign(user!, url.searchParams.get('service') ?? '');
    this.issued.push(token);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() }));
  }

  private sign(sub: string, aud: string): string {
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const x5c = [new X509Certificate(this.certPem).raw.toString('base64')];
    const now = Math.floor(Date.now() / 1000);
    const input = `${b64({ typ: 'JWT', alg: 'ES256', x5c })}.${b64({ iss: this.issuer, sub, aud, exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access: [] })}`;
    const sig = sign('sha256', Buffer.from(input), { key: createPrivateKey(this.keyPem), dsaEncoding: 'ieee-p1363' });
    return `${input}.${sig.toString('base64url')}`;
  }
}

describe('Bearer token flow against docker-registry (auth.token) and a token service', () => {
  let tokens: TokenService;
  let reg: DockerRegistry;
  const SERVICE = 'secret-broker-test-registry';
  beforeAll(async () => {
    tokens = await TokenService.start({ [USER]: PASSWORD }, 'secret-broker-test-issuer');
    reg = await DockerRegistry.start({ token: { realm: tokens.url, service: SERVICE, issuer: 'secret-broker-test-issuer', rootCertBundle: tokens.certPem } });
  });
  afterAll(async () => {
    for (const t of tokens?.issued ?? []) secrets.push(t);
    await reg?.close();
    await tokens?.stop();
  });

  test('the right password: a token from the realm (service and account sent, Basic), then /v2/ with it', async () => {
    await expect(verifyRegistryCredential(reg.host, USER, PASSWORD, { insecureHttp: true })).resolves.toEqual({ scheme: 'bearer', realmHost: new URL(tokens.url).host });
    expect(tokens.requests.at(-1)).toEqual({ service: SERVICE, scope: null, account: USER, auth: 'ok' });
  });

  test('a wrong password: the token service refuses, AuthenticationFailedError', async () => {
    const wrong = randomBytes(39).toString('base64');
    secrets.push(wrong);
    const err = await caught(verifyRegistryCredential(reg.host, USER, wrong, { insecureHttp: true }));
    expect(err).toBeInstanceOf(AuthenticationFailedError);
    expect(err.message).toBe(`verify on registry ${reg.host}: the token service at ${new URL(tokens.url).host} refused the user name and password (HTTP 401)`);
    expect(tokens.requests.at(-1)?.auth).toBe('refused');
  });

  test('a token the registry does not accept: AuthenticationFailedError, the token not in the message', async () => {
    tokens.forgedToken = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{}').toString('base64url')}.${randomBytes(16).toString('base64url')}`;
    try {
      const err = await caught(verifyRegistryCredential(reg.host, USER, PASSWORD, { insecureHttp: true }));
      expect(err).toBeInstanceOf(AuthenticationFailedError);
      expect(err.message).toMatch(/refused the token its token service .* issued \(HTTP 401\)$/);
    } finally {
      tokens.forgedToken = undefined;
    }
  });

  test('a token realm over plain http is refused unless insecureHttp: the password is not sent', async () => {
    const tlsReg = await DockerRegistry.start({ tls: true, token: { realm: tokens.url, service: SERVICE, issuer: 'secret-broker-test-issuer', rootCertBundle: tokens.certPem } });
    try {
      const before = tokens.requests.length;
      const err = await caught(verifyRegistryCredential(tlsReg.host, USER, PASSWORD, { ca: tlsReg.ca }));
      expect(err).toBeInstanceOf(InvalidInputError);
      expect(err.message).toMatch(/the token realm must be an https URL without credentials; the password is not sent to http:\/\/127\.0\.0\.1:\d+$/);
      expect(tokens.requests.length).toBe(before);
    } finally {
      await tlsReg.close();
    }
  });
});

describe('answers a real registry does not give on demand (node:http)', () => {
  let server: http.Server;
  let host: string;
  let answer: (req: http.IncomingMessage, res: http.ServerResponse) => void = (_req, res) => res.end();
  beforeAll(async () => {
    server = http.createServer((req, res) => answer(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  test.each([
    { reason: 'no authentication asked (anonymous 200)', status: 200, headers: {}, type: InvalidInputError, rule: /without asking for credentials, so the password cannot be verified/ },
    { reason: 'an unknown scheme', status: 401, headers: { 'www-authenticate': 'Negotiate' }, type: InvalidInputError, rule: /a scheme the broker does not speak \(negotiate\)|authentication scheme the broker does not speak \(negotiate\)/ },
    { reason: 'a 401 without a challenge', status: 401, headers: {}, type: InvalidInputError, rule: /without saying how/ },
    { reason: 'a busy registry', status: 503, headers: {}, type: ConnectionError, rule: /GET \/v2\/: HTTP 503$/ },
    { reason: 'throttled', status: 429, headers: {}, type: ThrottledError, rule: /throttled \(HTTP 429\)$/ },
    { reason: 'not a registry', status: 404, headers: {}, type: InvalidInputError, rule: /not found \(HTTP 404\); is this a registry API v2 server\?$/ },
  ])('$reason', async ({ status, headers, type, rule }) => {
    answer = (_req, res) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(`{"errors":[{"message":"${PASSWORD}"}]}`);
    };
    const err = await caught(verifyRegistryCredential(host, USER, PASSWORD, { insecureHttp: true }));
    expect(err).toBeInstanceOf(type);
    expect(err.message).toMatch(rule);
  });

  test('a token answer without a token: ConnectionError', async () => {
    answer = (req, res) => {
      if (req.url?.startsWith('/token')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end('{"note":"nothing here"}');
      }
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${host}/token",service="svc"` });
      res.end();
    };
    const err = await caught(verifyRegistryCredential(host, USER, PASSWORD, { insecureHttp: true }));
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err.message).toMatch(/the answer carried no token$/);
  });
});
