/**
 * Azure Batch shared keys (seed 003): slots Primary and Secondary, read and regenerated through the
 * real BatchManagementClient (providers/azure/batch-keys.ts), verified with a SharedKey-signed call
 * to the account's data plane. The rotated credential is an `azure-shared-key` with a Batch pair.
 */
import { ValidationError } from '../../domain/errors';
import type { RotationTarget } from '../../domain/rotation';
import { batchAccountEndpoint, describeBatchKeys, regenerateBatchKey, verifyBatchKey, type BatchAccountRef, type BatchKeyName } from '../azure/batch-keys';
import { azureManagement, managementSubscription } from './azure';
import { requireResourceGroup, rotatedCredential } from './common';
import { fixedSlotRotator } from './fixed-slots';
import type { RotationKindImpl, RotatorDeps, TwoSlotRotator } from './types';

const SLOTS = ['Primary', 'Secondary'] as const;

async function batchAccountOf(target: RotationTarget, deps: Pick<RotatorDeps, 'vault'>): Promise<BatchAccountRef> {
  const cred = await rotatedCredential(target, deps.vault);
  const accountName = cred.public.batchAccountName;
  if (typeof accountName !== 'string') {
    throw new ValidationError('credentialId', 'must be an azure-shared-key credential with a Batch account (batchAccountName and batchKey); this one is storage-only');
  }
  return { subscriptionId: await managementSubscription(target, deps.vault), resourceGroup: requireResourceGroup(target), accountName };
}

function label(a: BatchAccountRef): string {
  return `Batch account ${a.accountName} (resource group ${a.resourceGroup}, subscription ${a.subscriptionId})`;
}

export const azureBatchRotation: RotationKindImpl = {
  kind: 'azure-batch-key',
  description: 'Azure Batch account shared keys (Primary/Secondary), regenerated through Azure Resource Manager',
  fixedSlots: true,

  async describe(target, vault) {
    const a = await batchAccountOf(target, { vault });
    return { account: `azure-batch-key:${a.subscriptionId}:${a.resourceGroup.toLowerCase()}:${a.accountName}`, label: label(a) };
  },

  async create(target, deps): Promise<TwoSlotRotator> {
    const account = await batchAccountOf(target, deps);
    const mgmt = await azureManagement(target, deps);
    return fixedSlotRotator<BatchKeyName>({
      label: label(account),
      slots: SLOTS,
      vault: deps.vault,
      credentialId: target.credentialId,
      credentialKind: 'azure-shared-key',
      secretField: 'batchKey',
      sameAccount: (pub) => pub.batchAccountName === account.accountName,
      async read() {
        const d = await describeBatchKeys(mgmt.credential, account, mgmt.opts);
        if (!d.sharedKeyAllowed) {
          return { allowed: false, reason: `${label(account)} does not allow shared-key authentication (allowedAuthenticationModes lacks SharedKey): there is nothing to rotate` };
        }
        return { allowed: true, keys: { Primary: d.primary!, Secondary: d.secondary! } };
      },
      regenerate: async (slot) => void (await regenerateBatchKey(mgmt.credential, account, slot, mgmt.opts)),
      async verify(key) {
        const endpoint = await batchAccountEndpoint(mgmt.credential, account, mgmt.opts);
        await verifyBatchKey(endpoint, account.accountName, key, deps.azure?.ca ? { ca: deps.azure.ca } : {});
      },
    });
  },
};
