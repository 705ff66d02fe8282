/**
 * Workspace and user secrets: the same three routes under each owner. Values are write-only: they
 * go in with PUT and no answer carries one out.
 */
import type { FastifyInstance } from 'fastify';
import type { SecretScope } from '../../store/types';
import type { ApiContext, ApiRequest } from '../context';
import { addRoute } from '../route';
import { schemas } from '../validation';
import { pathParam, userOf, workspaceOf } from './params';

export function registerSecretRoutes(app: FastifyInstance, ctx: ApiContext): void {
  registerScope(app, ctx, 'workspace', '/v1/workspaces/:workspace', (req) => workspaceOf(ctx.vault, req));
  registerScope(app, ctx, 'user', '/v1/users/:user', (req) => userOf(ctx.vault, req));
}

function registerScope(app: FastifyInstance, ctx: ApiContext, scope: SecretScope, prefix: string, ownerOf: (req: ApiRequest) => Promise<{ id: string }>): void {
  const { vault } = ctx;
  addRoute(app, ctx, {
    method: 'PUT',
    url: `${prefix}/secrets/:name`,
    status: 200,
    body: schemas.setSecret,
    sensitive: (raw) => {
      const value = raw && typeof raw === 'object' ? (raw as { value?: unknown }).value : undefined;
      return typeof value === 'string' ? [value] : [];
    },
    handler: async (req, body) => {
      const name = pathParam(req, 'secretName', 'name');
      const { value } = body();
      const owner = await ownerOf(req);
      return vault.setSecret({ scope, ownerId: owner.id, name, value });
    },
  });
  addRoute(app, ctx, {
    method: 'GET',
    url: `${prefix}/secrets`,
    handler: async (req) => {
      const owner = await ownerOf(req);
      return { secrets: await vault.listSecrets({ scope, ownerId: owner.id }) };
    },
  });
  addRoute(app, ctx, {
    method: 'DELETE',
    url: `${prefix}/secrets/:name`,
    status: 204,
    handler: async (req) => {
      const name = pathParam(req, 'secretName', 'name');
      const owner = await ownerOf(req);
      await vault.deleteSecret({ scope, ownerId: owner.id, name });
    },
  });
}
