/**
 * Who can call: users (persons), services (the launch service, CI), their broker administration and
 * OIDC subjects (broker administrators manage these), API tokens (anyone for themselves, broker
 * administrators for anyone), and `GET /v1/me`.
 */
import type { FastifyInstance } from 'fastify';
import type { PrincipalKind } from '../../domain/access';
import { DEFAULT_TOKEN_TTL } from '../../domain/access';
import { ValidationError } from '../../domain/errors';
import type { ApiContext, ApiRequest } from '../context';
import { parseDuration } from '../duration';
import { addRoute } from '../route';
import { createdToken, me, page, principal, tokenMeta } from '../schemas';
import { paginate, querySchemas, schemas } from '../validation';

export function registerIdentityRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { vault } = ctx;
  /** An OIDC subject of the configured issuer: a ValidationError when the broker has none. */
  const oidcLink = (subject: string | null | undefined) => {
    if (subject === undefined || subject === null) return subject;
    if (!ctx.access.oidcIssuer) throw new ValidationError('oidcSubject', 'this broker has no OIDC issuer configured (BROKER_OIDC_ISSUER)');
    return { issuer: ctx.access.oidcIssuer, subject };
  };

  for (const kind of ['user', 'service'] as const) {
    const plural = kind === 'user' ? 'users' : 'services';
    const Kind = kind === 'user' ? 'User' : 'Service';
    addRoute(app, ctx, {
      operationId: `create${Kind}`,
      summary: kind === 'user' ? 'Create a user (a person)' : 'Create a service identity (the launch service, CI ...)',
      tag: 'identities',
      method: 'POST',
      url: `/v1/${plural}`,
      status: 201,
      body: kind === 'user' ? schemas.createUser : schemas.createService,
      response: principal,
      access: { kind: 'broker' },
      auditDetail: (b) => ({ name: b.name, ...(b.brokerAdmin !== undefined ? { brokerAdmin: b.brokerAdmin } : {}), ...(b.oidcSubject !== undefined ? { oidcSubject: true } : {}) }),
      handler: async (_req, body) => {
        const b = body();
        const oidc = oidcLink(b.oidcSubject);
        return vault.access.createPrincipal(kind, b.name, { ...(b.brokerAdmin !== undefined ? { brokerAdmin: b.brokerAdmin } : {}), ...(oidc ? { oidc } : {}) });
      },
    });
    addRoute(app, ctx, {
      operationId: `list${Kind}s`,
      summary: kind === 'user' ? 'Users (a broker administrator sees all; anyone else, themselves)' : 'Service identities (broker administrators)',
      tag: 'identities',
      method: 'GET',
      url: `/v1/${plural}`,
      query: querySchemas.page,
      response: page(plural, principal),
      access: kind === 'user' ? { kind: 'authenticated' } : { kind: 'broker' },
      handler: async (req, _b, query) => {
        const { principal: p } = ctx.access.caller(req);
        let all = await vault.access.listPrincipals(kind);
        if (!p.brokerAdmin) all = all.filter((x) => x.id === p.id);
        const { items, nextCursor } = paginate(all, (x) => x.name, query());
        return { [plural]: items, ...(nextCursor ? { nextCursor } : {}) };
      },
    });
    addRoute(app, ctx, {
      operationId: `update${Kind}`,
      summary: `Grant or withdraw broker administration; map or unmap the ${kind}'s OIDC subject`,
      tag: 'identities',
      method: 'PATCH',
      url: `/v1/${plural}/:${kind}`,
      params: { [kind]: 'ref' },
      body: schemas.updatePrincipal,
      response: principal,
      access: { kind: 'broker' },
      auditDetail: (b) => ({ ...(b.brokerAdmin !== undefined ? { brokerAdmin: b.brokerAdmin } : {}), ...(b.oidcSubject !== undefined ? { oidcSubject: b.oidcSubject !== null } : {}) }),
      handler: async (req, body) => {
        const b = body();
        const oidc = oidcLink(b.oidcSubject);
        return vault.access.updatePrincipal(req.params[kind]!, kind, {
          ...(b.brokerAdmin !== undefined ? { brokerAdmin: b.brokerAdmin } : {}),
          ...(oidc !== undefined ? { oidc } : {}),
        });
      },
    });
  }

  /** The identity a token route is about: the one the body or query names, else the caller. */
  const subjectOf = (req: ApiRequest): { id: string; kind: PrincipalKind } => ctx.access.grant(req).target ?? ctx.access.caller(req).principal;

  addRoute(app, ctx, {
    operationId: 'createToken',
    summary: 'Make an API token (for the caller; a broker administrator for anyone). The token is in this answer only',
    tag: 'tokens',
    method: 'POST',
    url: '/v1/tokens',
    status: 201,
    body: schemas.createToken,
    bodyOptional: true,
    response: createdToken,
    access: { kind: 'principalChoice' },
    auditDetail: (b) => ({ name: b.name ?? 'token', expiresIn: b.expiresIn ?? DEFAULT_TOKEN_TTL }),
    handler: async (req, body) => {
      const b = body();
      const ttlMs = parseDuration(b.expiresIn ?? DEFAULT_TOKEN_TTL, 'expiresIn');
      const made = await vault.access.createToken({ principalId: subjectOf(req).id, name: b.name ?? 'token', ttlMs, createdBy: ctx.access.caller(req).principal.id });
      return made;
    },
  });
  addRoute(app, ctx, {
    operationId: 'listTokens',
    summary: "The caller's tokens (a broker administrator: anyone's, or all with ?all=true); never their text",
    tag: 'tokens',
    method: 'GET',
    url: '/v1/tokens',
    query: querySchemas.tokens,
    response: page('tokens', tokenMeta),
    access: { kind: 'principalChoice' },
    handler: async (req, _b, query) => {
      const q = query();
      const list = await vault.access.listTokens(q.all === 'true' ? undefined : subjectOf(req).id);
      const { items, nextCursor } = paginate(list, (t) => `${t.createdAt}|${t.id}`, q);
      return { tokens: items, ...(nextCursor ? { nextCursor } : {}) };
    },
  });
  addRoute(app, ctx, {
    operationId: 'revokeToken',
    summary: 'Revoke a token (the caller\u2019s own; a broker administrator any)',
    tag: 'tokens',
    method: 'DELETE',
    url: '/v1/tokens/:id',
    params: { id: 'tokenId' },
    response: tokenMeta,
    access: { kind: 'token' },
    handler: async (req) => vault.access.revokeToken(req.params.id!, ctx.access.caller(req).principal.id),
  });

  addRoute(app, ctx, {
    operationId: 'getMe',
    summary: 'Who the caller is, how it authenticated, and its roles',
    tag: 'identities',
    method: 'GET',
    url: '/v1/me',
    response: me,
    access: { kind: 'authenticated' },
    handler: async (req) => {
      const c = ctx.access.caller(req);
      const memberships = [];
      for (const m of await vault.access.membershipsOf(c.principal.id)) {
        const ws = await vault.getWorkspace(m.workspaceId);
        memberships.push({ workspace: { id: ws.id, name: ws.name }, role: m.role, onBehalf: m.onBehalf });
      }
      memberships.sort((a, b) => (a.workspace.name < b.workspace.name ? -1 : 1));
      const { id, kind, name, brokerAdmin } = c.principal;
      return {
        identity: { id, kind, name, brokerAdmin },
        via: c.via,
        ...(c.tokenId ? { token: { id: c.tokenId, expiresAt: c.tokenExpiresAt! } } : {}),
        memberships,
      };
    },
  });
}
