/**
 * The broker's sign-in for Azure management calls: an `azure-entra` credential from the vault,
 * turned into an @azure/identity ClientSecretCredential (against a local authority and CA in tests).
 */
import { ClientSecretCredential, type TokenCredential } from '@azure/identity';
import { ValidationError } from '../../domain/errors';
import type { VaultApi } from '../../store/types';
import type { RotationTarget } from '../../domain/rotation';
import type { RotatorDeps } from './types';

export interface AzureManagement {
  credential: TokenCredential;
  subscriptionId: string;
  /** Options for the arm-* and data-plane helpers (endpoint and CA overrides). */
  opts: { armEndpoint?: string; ca?: string; maxRetries?: number };
}

/** Checks the target's management credential reference; returns its subscription id. */
export async function managementSubscription(target: RotationTarget, vault: VaultApi): Promise<string> {
  if (typeof target.managementCredentialId !== 'string' || target.managementCredentialId === '') {
    throw new ValidationError('managementCredentialId', 'is required for Azure rotations: an azure-entra credential allowed to list and regenerate the keys');
  }
  const meta = await vault.getCredential(target.managementCredentialId);
  if (meta.kind !== 'azure-entra') throw new ValidationError('managementCredentialId', `must be an azure-entra credential; "${meta.name}" is ${meta.kind}`);
  return String(meta.public.subscriptionId);
}

export async function azureManagement(target: RotationTarget, deps: RotatorDeps): Promise<AzureManagement> {
  await managementSubscription(target, deps.vault);
  return azureManagementFor(target.managementCredentialId!, deps);
}

/** The same, from an azure-entra credential id (checked for kind by the caller or here). */
export async function azureManagementFor(managementCredentialId: string, deps: RotatorDeps): Promise<AzureManagement> {
  const c = await deps.vault.readCredential(managementCredentialId);
  if (c.kind !== 'azure-entra') throw new ValidationError('managementCredentialId', `must be an azure-entra credential; this one is ${c.kind}`);
  const subscriptionId = String(c.public.subscriptionId);
  const az = deps.azure ?? {};
  const credential = new ClientSecretCredential(String(c.public.tenantId), String(c.public.clientId), c.secret.clientSecret ?? '', {
    ...(az.authorityHost ? { authorityHost: az.authorityHost, disableInstanceDiscovery: true } : {}),
    ...(az.ca ? { tlsOptions: { ca: az.ca } } : {}),
  });
  // maxRetries 0: a regenerate whose answer is lost must not be sent again by the SDK (it would
  // regenerate twice); the workflow retries the whole step, which checks state first.
  return { credential, subscriptionId, opts: { ...(az.armEndpoint ? { armEndpoint: az.armEndpoint } : {}), ...(az.ca ? { ca: az.ca } : {}), maxRetries: 0 } };
}
