/**
 * Azure credentials:
 *   azure-shared-key        Storage: SharedKey List Containers; Batch: SharedKey GET /applications
 *                           (the Batch endpoint is read through ARM, so it needs a management credential)
 *   azure-entra             a token for Azure Resource Manager from Entra ID
 *   azure-managed-identity  the identity exists, is attached to the pool and holds its roles; never a key
 */
import { ClientSecretCredential } from '@azure/identity';
import { batchAccountEndpoint, sanitizeAzureError, verifyBatchKey } from '../remote/azure/batch-keys';
import { azureManagementFrom } from '../remote/azure/management';
import { blobEndpointFor, verifyStorageKey } from '../remote/azure/storage-keys';
import { verifyManagedIdentity } from './azure-managed-identity';
import type { CheckContext } from '.';

export async function checkSharedKey({ vault, cred, deps, opts, run, skip }: CheckContext): Promise<void> {
  const { public: pub, secret: sec } = cred;
  const az = deps.azure ?? {};
  const storage = String(pub.storageAccountName);
  await run('storage SharedKey', async () => {
    await verifyStorageKey(blobEndpointFor(storage, az.blobEndpoint), storage, sec.storageKey ?? '', az.ca ? { ca: az.ca } : {});
    return `listed containers of ${storage}`;
  });
  if (typeof pub.batchAccountName !== 'string') return;
  const batch = pub.batchAccountName;
  if (!opts.managementCredentialId || !opts.resourceGroup) {
    skip('batch SharedKey', `give a management credential and the resource group of ${batch}: the Batch endpoint is read through Azure Resource Manager`);
    return;
  }
  await run('batch SharedKey', async () => {
    const mgmt = azureManagementFrom(await vault.readCredential(opts.managementCredentialId!), deps.azure);
    const endpoint = await batchAccountEndpoint(mgmt.credential, { subscriptionId: mgmt.subscriptionId, resourceGroup: opts.resourceGroup!, accountName: batch }, mgmt.opts);
    await verifyBatchKey(endpoint, batch, sec.batchKey ?? '', az.ca ? { ca: az.ca } : {});
    return `signed GET /applications on ${batch}`;
  });
}

export async function checkEntra({ cred, deps, run }: CheckContext): Promise<void> {
  const { public: pub, secret: sec } = cred;
  const az = deps.azure ?? {};
  await run('entra token', async () => {
    const c = new ClientSecretCredential(String(pub.tenantId), String(pub.clientId), sec.clientSecret ?? '', {
      ...(az.authorityHost ? { authorityHost: az.authorityHost, disableInstanceDiscovery: true } : {}),
      ...(az.ca ? { tlsOptions: { ca: az.ca } } : {}),
      retryOptions: { maxRetries: 1 },
    });
    try {
      await c.getToken(`${(az.armEndpoint ?? 'https://management.azure.com').replace(/\/+$/, '')}/.default`);
    } catch (err) {
      throw sanitizeAzureError(err, 'token');
    }
    return `Entra ID issued a management token to client ${String(pub.clientId)} in tenant ${String(pub.tenantId)}`;
  });
}

export async function checkManagedIdentity({ vault, cred, deps, opts, run, skip }: CheckContext): Promise<void> {
  const pub = cred.public;
  if (!opts.managementCredentialId || !opts.resourceGroup) {
    skip('managed identity', 'give a management credential and the resource group of the Batch account: the pool, identity and role assignments are read through Azure Resource Manager');
    return;
  }
  await run('managed identity', async () => {
    const mgmt = azureManagementFrom(await vault.readCredential(opts.managementCredentialId!), deps.azure);
    const facts = await verifyManagedIdentity(
      mgmt.credential,
      {
        subscriptionId: mgmt.subscriptionId,
        resourceGroup: opts.resourceGroup!,
        batchAccountName: String(pub.batchAccountName),
        poolName: String(pub.poolName),
        identityClientId: String(pub.identityClientId),
        ...(typeof pub.identityResourceId === 'string' ? { identityResourceId: pub.identityResourceId } : {}),
        ...(opts.storageAccountName ? { storageAccountName: opts.storageAccountName } : {}),
      },
      { ...(mgmt.opts.armEndpoint ? { armEndpoint: mgmt.opts.armEndpoint } : {}), ...(mgmt.opts.ca ? { ca: mgmt.opts.ca } : {}) },
    );
    return `identity ${facts.identityClientId} (principal ${facts.principalId}) is attached to pool ${facts.poolName} and holds ${facts.roles.length} required role(s)${facts.skipped.length ? `; not checked: ${facts.skipped.join(', ')}` : ''}`;
  });
}
