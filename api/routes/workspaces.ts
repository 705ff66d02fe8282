/** Workspaces: create (broker administrators; the creator becomes the owner), list the visible ones. */
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context';
import { addRoute } from '../route';
import { page, workspace } from '../schemas';
import { paginate, querySchemas, schemas } from '../validation';

export function registerWorkspaceRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { vault } = ctx;
  addRoute(app, ctx, {
    operationId: 'createWorkspace',
    summary: 'Create a workspace; the caller becomes its owner',
    tag: 'workspaces',
    method: 'POST',
    url: '/v1/workspaces',
    status: 201,
    body: schemas.createNamed,
    response: workspace,
    access: { kind: 'broker' },
    auditDetail: (b) => ({ name: b.name }),
    handler: async (req, body) => {
      const { principal: p } = ctx.access.caller(req);
      const created = await vault.createWorkspace(body().name, { id: p.id, kind: p.kind, name: p.name });
      ctx.access.noteWorkspace(req, created);
      return created;
    },
  });
  addRoute(app, ctx, {
    operationId: 'listWorkspaces',
    summary: 'The workspaces the caller has a role in (every workspace, for a broker administrator)',
    tag: 'workspaces',
    method: 'GET',
    url: '/v1/workspaces',
    query: querySchemas.page,
    response: page('workspaces', workspace),
    access: { kind: 'authenticated' },
    handler: async (req, _b, query) => {
      const { principal: p } = ctx.access.caller(req);
      let all = await vault.listWorkspaces();
      if (!p.brokerAdmin) {
        const mine = new Set((await vault.access.membershipsOf(p.id)).map((m) => m.workspaceId));
        all = all.filter((w) => mine.has(w.id));
      }
      const { items, nextCursor } = paginate(all, (w) => w.name, query());
      return { workspaces: items, ...(nextCursor ? { nextCursor } : {}) };
    },
  });
}
