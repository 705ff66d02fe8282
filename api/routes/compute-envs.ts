/**
 * Compute environments of a workspace: create, list, show, update (settings and credential; the
 * platform never changes) and delete. The vault checks each platform's settings and resolves the
 * credential by name within the workspace; its field is credentialId, the API's is credential.
 */
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context';
import { renameFields } from '../errors';
import { addRoute } from '../route';
import { parseComputeEnvPatch, schemas } from '../validation';
import { pathParam, workspaceOf } from './params';

export function registerComputeEnvRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { vault } = ctx;
  addRoute(app, ctx, {
    method: 'POST',
    url: '/v1/workspaces/:workspace/compute-envs',
    status: 201,
    body: schemas.createComputeEnv,
    handler: async (req, body) => {
      const input = body();
      const ws = await workspaceOf(vault, req);
      return renameFields(
        vault.createComputeEnv({
          workspaceId: ws.id,
          name: input.name,
          platform: input.platform,
          config: input.config,
          credentialId: input.credential ?? null,
        }),
        { credentialId: 'credential' },
      );
    },
  });
  addRoute(app, ctx, {
    method: 'GET',
    url: '/v1/workspaces/:workspace/compute-envs',
    handler: async (req) => {
      const ws = await workspaceOf(vault, req);
      return { computeEnvs: await vault.listComputeEnvs(ws.id) };
    },
  });
  addRoute(app, ctx, {
    method: 'GET',
    url: '/v1/workspaces/:workspace/compute-envs/:name',
    handler: async (req) => {
      const name = pathParam(req, 'ref', 'name');
      const ws = await workspaceOf(vault, req);
      return vault.getComputeEnv(name, ws.id);
    },
  });
  addRoute(app, ctx, {
    method: 'PATCH',
    url: '/v1/workspaces/:workspace/compute-envs/:name',
    body: schemas.updateComputeEnv,
    parseBody: parseComputeEnvPatch,
    handler: async (req, body) => {
      const name = pathParam(req, 'ref', 'name');
      const input = body();
      const ws = await workspaceOf(vault, req);
      // Settings and credential are checked like on create, in one transaction: a refused update
      // changes nothing.
      return renameFields(
        vault.updateComputeEnv(name, ws.id, {
          ...(input.config === undefined ? {} : { config: input.config }),
          ...(input.credential === undefined ? {} : { credentialId: input.credential }),
        }),
        { credentialId: 'credential' },
      );
    },
  });
  addRoute(app, ctx, {
    method: 'DELETE',
    url: '/v1/workspaces/:workspace/compute-envs/:name',
    status: 204,
    handler: async (req) => {
      const name = pathParam(req, 'ref', 'name');
      const ws = await workspaceOf(vault, req);
      const ce = await vault.getComputeEnv(name, ws.id);
      await vault.deleteComputeEnv(ce.id);
    },
  });
}
