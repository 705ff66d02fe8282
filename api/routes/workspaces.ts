/** Workspaces and users: create by name, list. */
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context';
import { addRoute } from '../route';
import { schemas } from '../validation';

export function registerWorkspaceRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { vault } = ctx;
  addRoute(app, ctx, {
    method: 'POST',
    url: '/v1/workspaces',
    status: 201,
    body: schemas.createNamed,
    handler: async (_req, body) => vault.createWorkspace(body().name),
  });
  addRoute(app, ctx, {
    method: 'GET',
    url: '/v1/workspaces',
    handler: async () => ({ workspaces: await vault.listWorkspaces() }),
  });
  addRoute(app, ctx, {
    method: 'POST',
    url: '/v1/users',
    status: 201,
    body: schemas.createNamed,
    handler: async (_req, body) => vault.createUser(body().name),
  });
  addRoute(app, ctx, {
    method: 'GET',
    url: '/v1/users',
    handler: async () => ({ users: await vault.listUsers() }),
  });
}
