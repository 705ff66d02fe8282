/**
 * Credentials of a workspace (workspace admins and owners): create (the vault checks the kind and
 * its fields), list, delete, and verify (live checks that the credential works; the report never
 * carries a secret).
 */
import type { FastifyInstance } from 'fastify';
import { stringLeaves } from '../../domain/sanitize';
import { verifyCredential } from '../../verifiers';
import type { ApiContext } from '../context';
import { renameFields } from '../errors';
import { addRoute } from '../route';
import { credentialMeta, page, verifyReport } from '../schemas';
import { paginate, querySchemas, schemas } from '../validation';
import { credentialOf, workspaceOf } from './params';

const manage = { kind: 'workspace', action: 'manage' } as const;

export function registerCredentialRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { vault } = ctx;
  addRoute(app, ctx, {
    operationId: 'createCredential',
    summary: 'Create a credential (its secret fields are sealed and never shown again)',
    tag: 'credentials',
    method: 'POST',
    url: '/v1/workspaces/:workspace/credentials',
    params: { workspace: 'ref' },
    status: 201,
    body: schemas.createCredential,
    response: credentialMeta,
    access: manage,
    auditDetail: (b) => ({ name: b.name, kind: b.kind }),
    sensitive: (raw) => (raw && typeof raw === 'object' ? stringLeaves((raw as { fields?: unknown }).fields) : []),
    handler: async (req, body) => {
      const input = body();
      const ws = await workspaceOf(vault, req);
      // The vault checks the kind and parses the fields (ValidationError names fields.<x>).
      return vault.createCredential({ workspaceId: ws.id, ...input });
    },
  });
  addRoute(app, ctx, {
    operationId: 'listCredentials',
    summary: "The workspace's credentials: kind and public fields only",
    tag: 'credentials',
    method: 'GET',
    url: '/v1/workspaces/:workspace/credentials',
    params: { workspace: 'ref' },
    query: querySchemas.page,
    response: page('credentials', credentialMeta),
    access: manage,
    handler: async (req, _b, query) => {
      const ws = await workspaceOf(vault, req);
      const { items, nextCursor } = paginate(await vault.listCredentials(ws.id), (c) => c.name, query());
      return { credentials: items, ...(nextCursor ? { nextCursor } : {}) };
    },
  });
  addRoute(app, ctx, {
    operationId: 'deleteCredential',
    summary: 'Delete a credential (refused while a compute environment uses it)',
    tag: 'credentials',
    method: 'DELETE',
    url: '/v1/workspaces/:workspace/credentials/:name',
    params: { workspace: 'ref', name: 'ref' },
    status: 204,
    access: manage,
    handler: async (req) => {
      const cred = await credentialOf(vault, req);
      await vault.deleteCredential(cred.id);
    },
  });
  addRoute(app, ctx, {
    operationId: 'verifyCredential',
    summary: 'Live checks that a stored credential works (never printing a secret)',
    tag: 'credentials',
    method: 'POST',
    url: '/v1/workspaces/:workspace/credentials/:name/verify',
    params: { workspace: 'ref', name: 'ref' },
    body: schemas.verifyCredential,
    bodyOptional: true,
    response: verifyReport,
    access: manage,
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
