/**
 * The members of a workspace and their roles: admins and owners list them and add, change and
 * remove members (an admin never touches an owner nor makes one); broker administrators manage the
 * members of every workspace. The on-behalf right goes to service identities only.
 */
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context';
import { addRoute } from '../route';
import { member, page } from '../schemas';
import { paginate, querySchemas, schemas } from '../validation';

export function registerMemberRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { vault } = ctx;
  addRoute(app, ctx, {
    operationId: 'listMembers',
    summary: "The workspace's members and their roles",
    tag: 'members',
    method: 'GET',
    url: '/v1/workspaces/:workspace/members',
    params: { workspace: 'ref' },
    query: querySchemas.page,
    response: page('members', member),
    access: { kind: 'workspace', action: 'members' },
    handler: async (req, _b, query) => {
      const ws = ctx.access.grant(req).workspace!;
      const { items, nextCursor } = paginate(await vault.access.listMembers(ws.id), (m) => m.principal.name, query());
      return { members: items, ...(nextCursor ? { nextCursor } : {}) };
    },
  });
  addRoute(app, ctx, {
    operationId: 'setMember',
    summary: 'Add a member, or change its role (and a service\u2019s on-behalf right)',
    tag: 'members',
    method: 'PUT',
    url: '/v1/workspaces/:workspace/members/:member',
    params: { workspace: 'ref', member: 'ref' },
    body: schemas.setMember,
    response: member,
    access: { kind: 'member' },
    auditDetail: (b) => ({ role: b.role, ...(b.onBehalf !== undefined ? { onBehalf: b.onBehalf } : {}) }),
    handler: async (req, body) => {
      const b = body();
      const { workspace, target } = ctx.access.grant(req);
      return vault.access.setMember(workspace!.id, target!.id, b.role, b.onBehalf === undefined ? {} : { onBehalf: b.onBehalf });
    },
  });
  addRoute(app, ctx, {
    operationId: 'removeMember',
    summary: 'Remove a member (a workspace keeps at least one owner)',
    tag: 'members',
    method: 'DELETE',
    url: '/v1/workspaces/:workspace/members/:member',
    params: { workspace: 'ref', member: 'ref' },
    status: 204,
    access: { kind: 'member' },
    handler: async (req) => {
      const { workspace, target } = ctx.access.grant(req);
      await vault.access.removeMember(workspace!.id, target!.id);
    },
  });
}
