/**
 * Workspace and user secrets: the same three routes under each owner. Values are write-only: they
 * go in with PUT and no answer carries one out. Workspace secrets: listed by any member, written by
 * maintainers and up. User secrets: their user's alone.
 */
import type { FastifyInstance } from 'fastify';
import type { SecretScope } from '../../store/types';
import type { ApiContext, ApiRequest } from '../context';
import { addRoute, type Access, type ParamRule } from '../route';
import { page, secretMeta } from '../schemas';
import { paginate, querySchemas, schemas } from '../validation';
import { pathParam, userOf, workspaceOf } from './params';

export function registerSecretRoutes(app: FastifyInstance, ctx: ApiContext): void {
  registerScope(app, ctx, 'workspace', '/v1/workspaces/:workspace', (req) => workspaceOf(ctx.vault, req), {
    read: { kind: 'workspace', action: 'read' },
    write: { kind: 'workspace', action: 'writeSecrets' },
  });
  registerScope(app, ctx, 'user', '/v1/users/:user', (req) => userOf(ctx.vault, req), { read: { kind: 'ownUser' }, write: { kind: 'ownUser' } });
}

function registerScope(
  app: FastifyInstance,
  ctx: ApiContext,
  scope: SecretScope,
  prefix: string,
  ownerOf: (req: ApiRequest) => Promise<{ id: string }>,
  access: { read: Access; write: Access },
): void {
  const { vault } = ctx;
  const Scope = scope === 'workspace' ? 'Workspace' : 'User';
  const owner: Record<string, ParamRule> = { [scope]: 'ref' };
  addRoute(app, ctx, {
    operationId: `set${Scope}Secret`,
    summary: `Create or replace a ${scope} secret (the value is write-only)`,
    tag: 'secrets',
    method: 'PUT',
    url: `${prefix}/secrets/:name`,
    params: { ...owner, name: 'secretName' },
    status: 200,
    body: schemas.setSecret,
    response: secretMeta,
    access: access.write,
    sensitive: (raw) => {
      const value = raw && typeof raw === 'object' ? (raw as { value?: unknown }).value : undefined;
      return typeof value === 'string' ? [value] : [];
    },
    handler: async (req, body) => {
      const name = pathParam(req, 'secretName', 'name');
      const { value } = body();
      const o = await ownerOf(req);
      return vault.setSecret({ scope, ownerId: o.id, name, value });
    },
  });
  addRoute(app, ctx, {
    operationId: `list${Scope}Secrets`,
    summary: `Names and versions of the ${scope}'s secrets (never values)`,
    tag: 'secrets',
    method: 'GET',
    url: `${prefix}/secrets`,
    params: owner,
    query: querySchemas.page,
    response: page('secrets', secretMeta),
    access: access.read,
    handler: async (req, _b, query) => {
      const o = await ownerOf(req);
      const { items, nextCursor } = paginate(await vault.listSecrets({ scope, ownerId: o.id }), (s) => s.name, query());
      return { secrets: items, ...(nextCursor ? { nextCursor } : {}) };
    },
  });
  addRoute(app, ctx, {
    operationId: `delete${Scope}Secret`,
    summary: `Delete a ${scope} secret`,
    tag: 'secrets',
    method: 'DELETE',
    url: `${prefix}/secrets/:name`,
    params: { ...owner, name: 'secretName' },
    status: 204,
    access: access.write,
    handler: async (req) => {
      const name = pathParam(req, 'secretName', 'name');
      const o = await ownerOf(req);
      await vault.deleteSecret({ scope, ownerId: o.id, name });
    },
  });
}
