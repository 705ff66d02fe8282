/**
 * Path parameters: each checked for its form (400 naming it), and the ones that name a record
 * resolved through the vault (404 when there is none).
 */
import { ValidationError } from '../../domain/errors';
import type { CredentialMeta, User, VaultApi, Workspace } from '../../store/types';
import type { ApiRequest } from '../context';
import { checkParam } from '../validation';

/** The path parameter `field`, checked as a record reference, a secret name or a run id. */
export function pathParam(req: ApiRequest, kind: 'ref' | 'secretName' | 'runId' | 'tokenId', field: string): string {
  return checkParam(kind, field, req.params[field] ?? '');
}

/** The :workflowId parameter, which must match the workflow family `pattern`. */
export function workflowIdParam(req: ApiRequest, pattern: RegExp, rule: string): string {
  const id = req.params.workflowId ?? '';
  if (!pattern.test(id)) throw new ValidationError('workflowId', rule);
  return id;
}

/** The :workspace of the path. */
export const workspaceOf = (vault: VaultApi, req: ApiRequest): Promise<Workspace> => vault.getWorkspace(pathParam(req, 'ref', 'workspace'));

/** The :user of the path. */
export const userOf = (vault: VaultApi, req: ApiRequest): Promise<User> => vault.getUser(pathParam(req, 'ref', 'user'));

/** The credential :name in the path's :workspace. */
export async function credentialOf(vault: VaultApi, req: ApiRequest): Promise<CredentialMeta> {
  const name = pathParam(req, 'ref', 'name');
  const ws = await workspaceOf(vault, req);
  return vault.getCredential(name, ws.id);
}
