/**
 * The Azure rotators' management sign-in: the target's `azure-entra` credential, checked against the
 * vault (rotators/kinds.ts) and read from it.
 */
import type { RotationTarget } from '../domain/rotation';
import { azureManagementFrom, type AzureManagement } from '../remote/azure/management';
import { managementSubscription } from './kinds';
import type { RotatorDeps } from './types';

export async function azureManagement(target: RotationTarget, deps: RotatorDeps): Promise<AzureManagement> {
  await managementSubscription(target, deps.vault);
  return azureManagementFrom(await deps.vault.readCredential(target.managementCredentialId!), deps.azure);
}
