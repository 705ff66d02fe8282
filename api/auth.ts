/**
 * Authentication, authorization and the audit record of the API, in one module; api/route.ts
 * applies them to every /v1 route and api/server.ts to /codec.
 *
 * Authentication: `Authorization: Bearer <token>` with a broker API token (`sbt_...`, checked against
 * its SHA-256 in the vault) or an OIDC JWT (verified with `jose` against the configured issuer's
 * JWKS: issuer, audience, algorithm, expiry; its `sub` mapped to a user or service). Failed
 * authentications are counted per client address; past the limit the address is answered 429
 * until the window passes, before any token is looked at.
 *
 * Authorization: each route's `access` (api/route.ts) resolved to the records it names, then judged
 * by the pure rules of domain/access.ts. What the caller may not see is answered exactly as if it
 * did not exist (the same 404 body); what it sees but may not do is a 403 naming the role needed.
 *
 * Audit: every state-changing call (whatever its outcome) and every refusal (401, 403, a hidden
 * 404) is appended to the vault's audit trail before the answer leaves: who, what, which workspace,
 * the outcome; names only, never a value, never the presented token.
 */
import type { FastifyRequest } from 'fastify';
import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import {
  decideBroker,
  decideLaunch,
  decideMemberChange,
  decideRun,
  decideUserSecrets,
  decideWorkspace,
  TOKEN_PREFIX,
  type Decision,
  type Membership,
  type Principal,
} from '../domain/access';
import { LaunchError, NotFoundError, ValidationError, notFound } from '../domain/errors';
import type { PipelineRunsApi, RunDirectoryApi } from '../services/types';
import type { AuditEntry, PrincipalRecord, VaultApi, Workspace } from '../store/types';
import { AuthenticationError, ForbiddenError, RateLimitedError, UnavailableError } from './errors';
import type { Access } from './route';

/** Who is calling, once authenticated. */
export interface Caller {
  principal: Principal;
  via: 'token' | 'oidc';
  /** The API token's id (token callers). */
  tokenId?: string;
  tokenExpiresAt?: string;
}

/** What authorization resolved, for the handler: the records the rule looked at. */
export interface Grant {
  workspace?: Workspace;
  membership?: Membership;
  /** A launch: the user whose secrets the run gets. */
  runUser?: { id: string; name: string };
  /** A member or token route: the identity it is about. */
  target?: PrincipalRecord;
}

export interface OidcOptions {
  /** The issuer, exactly as in the tokens' `iss` claim. */
  issuer: string;
  /** The audience the tokens must name (`aud`). */
  audience: string;
  /** The issuer's JWKS; unset: from `<issuer>/.well-known/openid-configuration`. */
  jwksUrl?: string;
  /** Accepted signing algorithms (default RS256, ES256). */
  algorithms?: string[];
  /** Seconds of clock skew tolerated on exp and nbf (default 30). */
  clockToleranceSeconds?: number;
}

export interface AuthOptions {
  oidc?: OidcOptions;
  /** Failed authentications per client address before 429 (default 20 per 60 s). */
  failureLimit?: { max: number; windowMs: number };
  /**
   * /codec from loopback without a token: the embedded default, where the dev server's Web UI (no
   * login of its own) calls it from the same host. Anything else always needs a token. Default true.
   */
  codecLoopbackOpen?: boolean;
}

export interface AccessDeps {
  vault: VaultApi;
  runs: PipelineRunsApi;
  runDirectory?: RunDirectoryApi;
  rotations(): { credentialOf(workflowId: string): Promise<string | undefined> };
  log: { warn(message: string, fields?: Record<string, unknown>): void; error(message: string, fields?: Record<string, unknown>): void };
}

/** What addRoute and the server use. */
export interface AccessControl {
  /** Remember which route (operation and path parameters) a request is for: the audit record names it. */
  noteRoute(req: FastifyRequest, route: { operationId: string; params?: Record<string, unknown> }): void;
  /** Names from the checked body for the audit record. */
  noteBody(req: FastifyRequest, detail: AuditEntry['detail']): void;
  /** The error code the request was answered with (set by the error handler). */
  noteError(req: FastifyRequest, code: string): void;
  /** The workspace a request created: its audit record is filed under it, like every later one. */
  noteWorkspace(req: FastifyRequest, workspace: Workspace): void;
  authenticate(req: FastifyRequest): Promise<Caller>;
  authorize(req: FastifyRequest, access: Access, body: unknown, query: unknown): Promise<Grant>;
  caller(req: FastifyRequest): Caller;
  grant(req: FastifyRequest): Grant;
  /** Append the request's audit record when it is due (state-changing, or a refusal). */
  audit(req: FastifyRequest, status: number): Promise<void>;
  /** The /codec rule: loopback without a token in the embedded default; otherwise a token and a role somewhere. */
  guardCodec(req: FastifyRequest): Promise<void>;
  /** The OIDC issuer tokens are mapped from (to link subjects), if configured. */
  readonly oidcIssuer?: string;
}

// ---- failed-authentication limit ----------------------------------------------------------------

/** Failed authentications per key in a sliding window; the oldest keys go first past `maxKeys`. */
class FailureLimiter {
  private readonly failures = new Map<string, number[]>();
  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly maxKeys = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  private recent(key: string): number[] {
    const t = this.now();
    const list = (this.failures.get(key) ?? []).filter((x) => t - x < this.windowMs);
    if (list.length) this.failures.set(key, list);
    else this.failures.delete(key);
    return list;
  }

  /** Throws RateLimitedError while `key` is over the limit. */
  check(key: string): void {
    const list = this.recent(key);
    if (list.length >= this.max) throw new RateLimitedError(Math.max(1, Math.ceil((list[0]! + this.windowMs - this.now()) / 1000)));
  }

  fail(key: string): void {
    const list = this.recent(key);
    list.push(this.now());
    this.failures.delete(key);
    this.failures.set(key, list);
    if (this.failures.size > this.maxKeys) this.failures.delete(this.failures.keys().next().value!);
  }
}

// ---- OIDC -----------------------------------------------------------------------------------------

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** Fixed messages for jose's error codes: never the token, never the issuer's text. */
function oidcProblem(err: unknown): string | undefined {
  const e = err as { code?: unknown; claim?: unknown };
  switch (e?.code) {
    case 'ERR_JWT_EXPIRED':
      return 'the OIDC token has expired';
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return `the OIDC token's "${typeof e.claim === 'string' && /^[a-z]{2,5}$/.test(e.claim) ? e.claim : 'claim'}" claim is not accepted`;
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return "the OIDC token's signing algorithm is not accepted";
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return "the OIDC token's signature does not verify";
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return "no key of the issuer matches the OIDC token's key id";
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
    case 'ERR_JWE_INVALID':
      return 'the OIDC token is not a valid signed JWT';
    default:
      return undefined;
  }
}

class OidcVerifier {
  private keys: Promise<JWTVerifyGetKey> | undefined;
  constructor(readonly opts: OidcOptions) {}

  private jwks(): Promise<JWTVerifyGetKey> {
    this.keys ??= (async () => {
      let url = this.opts.jwksUrl;
      if (!url) {
        const res = await fetch(`${this.opts.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(5000) });
        if (!res.ok) throw new Error(`discovery answered ${res.status}`);
        const doc = (await res.json()) as { issuer?: unknown; jwks_uri?: unknown };
        if (doc.issuer !== this.opts.issuer || typeof doc.jwks_uri !== 'string') throw new Error('the discovery document does not match the issuer');
        url = doc.jwks_uri;
      }
      return createRemoteJWKSet(new URL(url), { timeoutDuration: 5000, cooldownDuration: 30_000 });
    })();
    this.keys.catch(() => {
      this.keys = undefined;
    });
    return this.keys;
  }

  /** The token's subject, or AuthenticationError (the token's fault) or UnavailableError (the issuer's). */
  async subject(token: string): Promise<string> {
    let keys: JWTVerifyGetKey;
    try {
      keys = await this.jwks();
    } catch {
      throw new UnavailableError('the OIDC issuer cannot be reached for its keys; try again');
    }
    try {
      const { payload } = await jwtVerify(token, keys, {
        issuer: this.opts.issuer,
        audience: this.opts.audience,
        algorithms: this.opts.algorithms ?? ['RS256', 'ES256'],
        clockTolerance: this.opts.clockToleranceSeconds ?? 30,
        requiredClaims: ['sub', 'exp'],
      });
      if (typeof payload.sub !== 'string' || payload.sub === '') throw new AuthenticationError('the OIDC token has no subject', 'invalid_token');
      return payload.sub;
    } catch (err) {
      if (err instanceof AuthenticationError) throw err;
      const problem = oidcProblem(err);
      if (problem) throw new AuthenticationError(problem, 'invalid_token');
      const code = (err as { code?: unknown }).code;
      if (code === 'ERR_JWKS_TIMEOUT' || code === 'ERR_JWKS_INVALID' || err instanceof TypeError) {
        throw new UnavailableError('the OIDC issuer cannot be reached for its keys; try again');
      }
      throw new AuthenticationError('the OIDC token is not valid', 'invalid_token');
    }
  }
}

// ---- the access control ---------------------------------------------------------------------------

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);
const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function isSelf(p: Principal, ref: string | undefined, kind: 'user' | 'service'): boolean {
  return ref !== undefined && p.kind === kind && (ref === p.id || ref === p.name);
}

export function createAccessControl(deps: AccessDeps, opts: AuthOptions = {}): AccessControl {
  const { vault } = deps;
  const oidc = opts.oidc ? new OidcVerifier(opts.oidc) : undefined;
  const limit = opts.failureLimit ?? { max: 20, windowMs: 60_000 };
  const limiter = new FailureLimiter(limit.max, limit.windowMs);
  const codecLoopbackOpen = opts.codecLoopbackOpen ?? true;

  const routes = new WeakMap<FastifyRequest, { operationId: string; params?: Record<string, unknown> }>();
  const callers = new WeakMap<FastifyRequest, Caller>();
  const grants = new WeakMap<FastifyRequest, Grant>();
  const details = new WeakMap<FastifyRequest, AuditEntry['detail']>();
  const codes = new WeakMap<FastifyRequest, string>();
  /** Requests refused as "not found" for what the caller may not see: recorded as refusals. */
  const hidden = new WeakSet<FastifyRequest>();
  let limitedWarned = 0;

  async function identify(req: FastifyRequest): Promise<Caller> {
    const header = req.headers.authorization;
    if (header === undefined || header === '') {
      throw new AuthenticationError('authentication required: send "Authorization: Bearer <token>" with a broker API token or an OIDC access token');
    }
    const m = /^Bearer +(\S+) *$/i.exec(header);
    if (!m) throw new AuthenticationError('authorization: must be "Bearer <token>"', 'invalid_request');
    const token = m[1]!;
    if (token.startsWith(TOKEN_PREFIX)) {
      const check = await vault.access.checkToken(token);
      if (check.ok) return { principal: check.principal, via: 'token', tokenId: check.token.id, tokenExpiresAt: check.token.expiresAt };
      switch (check.reason) {
        case 'malformed':
          throw new AuthenticationError('the token is not a broker API token (sbt_ and 43 more characters)', 'invalid_token');
        case 'expired':
          throw new AuthenticationError('the token has expired: make a new one (secret-broker tokens create)', 'invalid_token');
        default:
          throw new AuthenticationError('the token is not valid: unknown or revoked', 'invalid_token');
      }
    }
    if (token.length <= 16_384 && JWT_SHAPE.test(token)) {
      if (!oidc) throw new AuthenticationError('OIDC tokens are not accepted: this broker has no OIDC issuer configured', 'invalid_token');
      const subject = await oidc.subject(token);
      const principal = await vault.access.principalByOidc(oidc.opts.issuer, subject);
      if (!principal) throw new AuthenticationError('no broker identity is mapped to this OIDC subject: ask a broker administrator to map it', 'invalid_token');
      return { principal, via: 'oidc' };
    }
    throw new AuthenticationError('the token is neither a broker API token (sbt_...) nor an OIDC JWT', 'invalid_token');
  }

  async function authenticate(req: FastifyRequest): Promise<Caller> {
    const key = req.ip;
    try {
      limiter.check(key);
    } catch (err) {
      if (Date.now() - limitedWarned > 60_000) {
        limitedWarned = Date.now();
        deps.log.warn('failed authentications over the limit', { ip: key });
      }
      throw err;
    }
    try {
      const caller = await identify(req);
      callers.set(req, caller);
      return caller;
    } catch (err) {
      if (err instanceof AuthenticationError) limiter.fail(key);
      throw err;
    }
  }

  const callerOf = (req: FastifyRequest): Caller => {
    const c = callers.get(req);
    if (!c) throw new Error('internal: a route ran without an authenticated caller');
    return c;
  };

  /** Throw for a refusal: the caller-invisible "not found", or a 403 naming the role needed. */
  function apply(req: FastifyRequest, d: Decision, notFoundError: () => Error): void {
    if (d.allow) return;
    if (d.answer === 'hidden') {
      hidden.add(req);
      throw notFoundError();
    }
    throw new ForbiddenError(`forbidden: this needs ${d.needs ?? 'another role'}`);
  }

  async function workspaceAndRole(p: Principal, ref: string): Promise<{ ws: Workspace; m: Membership | undefined }> {
    const ws = await vault.getWorkspace(ref);
    return { ws, m: await vault.access.membership(ws.id, p.id) };
  }

  async function authorize(req: FastifyRequest, access: Access, body: unknown, query: unknown): Promise<Grant> {
    const p = callerOf(req).principal;
    const params = (req.params ?? {}) as Record<string, string>;
    const b = (body ?? {}) as Record<string, unknown>;
    const q = (query ?? {}) as Record<string, unknown>;
    const grant: Grant = {};
    grants.set(req, grant);
    switch (access.kind) {
      case 'authenticated':
        break;
      case 'broker':
        apply(req, decideBroker(p), () => new Error('unreachable'));
        break;
      case 'workspace': {
        const ref = params.workspace!;
        const { ws, m } = await workspaceAndRole(p, ref);
        Object.assign(grant, { workspace: ws, membership: m });
        apply(req, decideWorkspace(p, m, access.action), () => notFound('workspace', ref));
        break;
      }
      case 'ownUser': {
        const ref = params.user!;
        if (isSelf(p, ref, 'user')) break;
        // Others' users are not looked up: "not found" for a caller who cannot see users.
        if (!p.brokerAdmin) apply(req, decideUserSecrets(p, '\0'), () => notFound('user', ref));
        const user = await vault.getUser(ref);
        apply(req, decideUserSecrets(p, user.id), () => notFound('user', ref));
        break;
      }
      case 'run': {
        const runId = params.runId!;
        const missing = () => new LaunchError(`run ${runId} not found`, 'not-found');
        let loc: { workspace: string; user?: string };
        if (deps.runDirectory) loc = await deps.runDirectory.locate(runId);
        else {
          const st = await deps.runs.state(runId);
          loc = { workspace: st.workspaceId, user: st.userId };
        }
        const ws = await vault.getWorkspace(loc.workspace).catch((err: unknown) => {
          if (err instanceof NotFoundError) {
            hidden.add(req);
            throw missing();
          }
          throw err;
        });
        const m = await vault.access.membership(ws.id, p.id);
        const userId = loc.user ? await vault.getUser(loc.user).then((u) => u.id, () => undefined) : undefined;
        Object.assign(grant, { workspace: ws, membership: m });
        apply(req, decideRun(p, m, userId, access.action), missing);
        break;
      }
      case 'launch': {
        const wsRef = b.workspace as string;
        const userRef = b.user as string | undefined;
        const { ws, m } = await workspaceAndRole(p, wsRef);
        Object.assign(grant, { workspace: ws, membership: m });
        apply(req, decideWorkspace(p, m, 'launch'), () => notFound('workspace', wsRef));
        if (p.kind === 'user') {
          apply(req, decideLaunch(p, m, userRef === undefined || isSelf(p, userRef, 'user') ? undefined : { id: '\0another', membership: undefined }), () => notFound('workspace', wsRef));
          grant.runUser = { id: p.id, name: p.name };
          break;
        }
        if (!m?.onBehalf) apply(req, decideLaunch(p, m, undefined), () => notFound('workspace', wsRef));
        if (userRef === undefined) throw new ValidationError('user', 'is required when a service launches: the user whose secrets the run gets');
        const user = await vault.getUser(userRef);
        const um = await vault.access.membership(ws.id, user.id);
        apply(req, decideLaunch(p, m, { id: user.id, membership: um }), () => notFound('workspace', wsRef));
        grant.runUser = { id: user.id, name: user.name };
        break;
      }
      case 'rotation': {
        const id = params.workflowId!;
        const missing = () => new NotFoundError('rotation', id);
        const credentialId = await deps.rotations().credentialOf(id);
        const cred = credentialId ? await vault.getCredential(credentialId).catch(() => undefined) : undefined;
        if (!cred) {
          hidden.add(req);
          throw missing();
        }
        const ws = await vault.getWorkspace(cred.workspaceId);
        const m = await vault.access.membership(ws.id, p.id);
        Object.assign(grant, { workspace: ws, membership: m });
        apply(req, decideWorkspace(p, m, 'manage'), missing);
        break;
      }
      case 'member': {
        const ref = params.workspace!;
        const { ws, m } = await workspaceAndRole(p, ref);
        Object.assign(grant, { workspace: ws, membership: m });
        apply(req, decideWorkspace(p, m, 'members'), () => notFound('workspace', ref));
        const target = await vault.access.principal(params.member!);
        const current = await vault.access.membership(ws.id, target.id);
        grant.target = target;
        apply(req, decideMemberChange(p, m, current?.role, typeof b.role === 'string' ? (b.role as Membership['role']) : undefined), () => notFound('workspace', ref));
        break;
      }
      case 'token': {
        const id = params.id!;
        const meta = await vault.access.getToken(id);
        if (meta.principal.id !== p.id && !p.brokerAdmin) {
          hidden.add(req);
          throw notFound('token', id);
        }
        break;
      }
      case 'principalChoice': {
        const user = (b.user ?? q.user) as string | undefined;
        const service = (b.service ?? q.service) as string | undefined;
        const all = q.all === 'true';
        const self = (user === undefined && service === undefined && !all) || isSelf(p, user, 'user') || isSelf(p, service, 'service');
        if (!self) apply(req, decideBroker(p), () => new Error('unreachable'));
        if (user !== undefined) grant.target = await vault.access.principal(user, 'user');
        else if (service !== undefined) grant.target = await vault.access.principal(service, 'service');
        break;
      }
    }
    return grant;
  }

  async function audit(req: FastifyRequest, status: number): Promise<void> {
    const route = routes.get(req);
    if (!route || status === 429) return;
    const refused = status === 401 || status === 403 || hidden.has(req);
    if (!STATE_CHANGING.has(req.method) && !refused) return;
    const caller = callers.get(req);
    const params = (req.params ?? {}) as Record<string, unknown>;
    const target: Record<string, string> = {};
    for (const k of Object.keys(route.params ?? {})) if (typeof params[k] === 'string') target[k] = (params[k] as string).slice(0, 200);
    const grant = grants.get(req);
    const entry: AuditEntry = {
      ...(caller ? { actor: { id: caller.principal.id, kind: caller.principal.kind, name: caller.principal.name } } : {}),
      via: caller ? caller.via : 'none',
      action: route.operationId,
      ...(grant?.workspace ? { workspaceId: grant.workspace.id } : {}),
      target,
      outcome: status < 400 ? 'ok' : status === 422 || status >= 500 ? 'failed' : 'refused',
      status,
      ...(hidden.has(req) ? { code: 'hidden' } : codes.has(req) ? { code: codes.get(req)! } : {}),
      ip: req.ip,
      detail: { ...(details.get(req) ?? {}), ...(grant?.runUser ? { runUser: grant.runUser.name } : {}), ...(grant?.target ? { identity: grant.target.name } : {}) },
    };
    try {
      await vault.audit.append(entry);
    } catch (err) {
      deps.log.error('audit append failed', { action: entry.action, error: err instanceof Error ? err.message : String(err) });
    }
  }

  async function guardCodec(req: FastifyRequest): Promise<void> {
    if (codecLoopbackOpen && !req.headers.authorization && LOOPBACK.has(req.socket.remoteAddress ?? '')) return;
    const { principal: p } = await authenticate(req);
    if (p.brokerAdmin) return;
    if ((await vault.access.membershipsOf(p.id)).length) return;
    throw new ForbiddenError('forbidden: the codec endpoint needs a role in a workspace, or broker administration');
  }

  return {
    noteRoute: (req, route) => void routes.set(req, route),
    noteBody: (req, detail) => void details.set(req, detail),
    noteError: (req, code) => void codes.set(req, code),
    noteWorkspace: (req, workspace) => void grants.set(req, { ...grants.get(req), workspace }),
    authenticate,
    authorize,
    caller: callerOf,
    grant: (req) => grants.get(req) ?? {},
    audit,
    guardCodec,
    ...(oidc ? { oidcIssuer: oidc.opts.issuer } : {}),
  };
}
