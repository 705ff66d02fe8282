/**
 * Credentials of a workspace: create (the vault checks the kind and its fields), list, delete, and
 * verify (live checks that the credential works; the report never carries a secret).
 */
import type { FastifyInstance } from 'fastify';
import { stringLeaves } from '../../domain/sanitize';
import { verifyCredential } from '../../verifiers';
import type { ApiContext } from '../context';
import { renameFields } from '../errors';
import { addRoute } from '../route';
import { schemas } from '../validation';
import { credentialOf, workspaceOf } from './params';

export function registerCredentialRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { vault } = ctx;
  addRoute(app, ctx, {
    method: 'POST',
    url: '/v1/workspaces/:workspace/credentials',
    status: 201,
    body: schemas.createCredential,
    sensitive: (raw) => (raw && typeof raw === 'object' ? stringLeaves((raw as { fields?: unknown }).fields) : []),
    handler: async (req, body) => {
      const input = body();
      const ws = await workspaceOf(vault, req);
      // The vault checks the kind and parses the fields (ValidationError names fields.<x>).
      return vault.createCredential({ workspaceId: ws.id, ...input });
    },
  });
  addRoute(app, ctx, {
    method: 'GET',
    url: '/v1/workspaces/:workspace/credentials',
    handler: async (req) => {
      const ws = await workspaceOf(vault, req);
      return { credentials: await vault.listCredentials(ws.id) };
    },
  });
  addRoute(app, ctx, {
    method: 'DELETE',
    url: '/v1/workspaces/:workspace/credentials/:name',
    status: 204,
    handler: async (req) => {
      const cred = await credentialOf(vault, req);
      await vault.deleteCredential(cred.id);
    },
  });
  addRoute(app, ctx, {
    method: 'POST',
    url: '/v1/workspaces/:workspace/credentials/:name/verify',
    body: schemas.verifyCredential,
    bodyOptional: true,
    handler: async (req, body) => {
      const input = body();
      const cred = await credentialOf(vault, req);
      const mgmt = input.managementCredential ? (await vault.getCredential(input.managementCredential, cred.workspaceId)).id : undefined;
      const ce = input.computeEnv ? (await vault.getComputeEnv(input.computeEnv, cred.workspaceId)).id : undefined;
      return renameFields(
        verifyCredential(vault, cred.id, ctx.verifyDeps, {
          ...(mgmt ? { managementCredentialId: mgmt } : {}),
          ...(input.resourceGroup ? { resourceGroup: input.resourceGroup } : {}),
          ...(input.storageAccount ? { storageAccountName: input.storageAccount } : {}),
          ...(ce ? { computeEnvId: ce } : {}),
        }),
        { managementCredentialId: 'managementCredential', computeEnvId: 'computeEnv' },
      );
    },
  });
}
