/**
 * Compute environments of a workspace: listed and shown to every member; created, updated (settings
 * and credential; the platform never changes) and deleted by workspace admins and owners. The vault
 * checks each platform's settings and resolves the credential by name within the workspace; its
 * field is credentialId, the API's is credential.
 */
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context';
import { renameFields } from '../errors';
import { addRoute } from '../route';
import { computeEnv, page } from '../schemas';
import { paginate, parseComputeEnvPatch, querySchemas, schemas } from '../validation';
import { pathParam, workspaceOf } from './params';

const read = { kind: 'workspace', action: 'read' } as const;
const manage = { kind: 'workspace', action: 'manage' } as const;

export function registerComputeEnvRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { vault } = ctx;
  addRoute(app, ctx, {
    operationId: 'createComputeEnv',
    summary: 'Create a compute environment',
    tag: 'compute-envs',
    method: 'POST',
    url: '/v1/workspaces/:workspace/compute-envs',
    params: { workspace: 'ref' },
    status: 201,
    body: schemas.createComputeEnv,
    response: computeEnv,
    access: manage,
    auditDetail: (b) => ({ name: b.name, platform: b.platform, ...(b.credential ? { credential: b.credential } : {}) }),
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
    operationId: 'listComputeEnvs',
    summary: "The workspace's compute environments",
    tag: 'compute-envs',
    method: 'GET',
    url: '/v1/workspaces/:workspace/compute-envs',
    params: { workspace: 'ref' },
    query: querySchemas.page,
    response: page('computeEnvs', computeEnv),
    access: read,
    handler: async (req, _b, query) => {
      const ws = await workspaceOf(vault, req);
      const { items, nextCursor } = paginate(await vault.listComputeEnvs(ws.id), (c) => c.name, query());
      return { computeEnvs: items, ...(nextCursor ? { nextCursor } : {}) };
    },
  });
  addRoute(app, ctx, {
    operationId: 'getComputeEnv',
    summary: 'One compute environment, with its settings',
    tag: 'compute-envs',
    method: 'GET',
    url: '/v1/workspaces/:workspace/compute-envs/:name',
    params: { workspace: 'ref', name: 'ref' },
    response: computeEnv,
    access: read,
    handler: async (req) => {
      const name = pathParam(req, 'ref', 'name');
      const ws = await workspaceOf(vault, req);
      return vault.getComputeEnv(name, ws.id);
    },
  });
  addRoute(app, ctx, {
    operationId: 'updateComputeEnv',
    summary: 'Change the settings, the credential, or both (the platform never changes)',
    tag: 'compute-envs',
    method: 'PATCH',
    url: '/v1/workspaces/:workspace/compute-envs/:name',
    params: { workspace: 'ref', name: 'ref' },
    body: schemas.updateComputeEnv,
    parseBody: parseComputeEnvPatch,
    response: computeEnv,
    access: manage,
    auditDetail: (b) => ({ config: b.config !== undefined, ...(b.credential !== undefined ? { credential: b.credential ?? '(none)' } : {}) }),
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
    operationId: 'deleteComputeEnv',
    summary: 'Delete a compute environment',
    tag: 'compute-envs',
    method: 'DELETE',
    url: '/v1/workspaces/:workspace/compute-envs/:name',
    params: { workspace: 'ref', name: 'ref' },
    status: 204,
    access: manage,
    handler: async (req) => {
      const name = pathParam(req, 'ref', 'name');
      const ws = await workspaceOf(vault, req);
      const ce = await vault.getComputeEnv(name, ws.id);
      await vault.deleteComputeEnv(ce.id);
    },
  });
}
