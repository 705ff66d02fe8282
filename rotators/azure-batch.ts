/**
 * Azure Batch shared keys (Azure's documented key rotation procedure): slots Primary and Secondary, read and regenerated through the
 * real BatchManagementClient (remote/azure/batch-keys.ts), verified with a SharedKey-signed call
 * to the account's data plane. The rotated credential is an `azure-shared-key` with a Batch pair.
 */
import type { RotationTarget } from '../domain/rotation';
import { batchAccountEndpoint, describeBatchKeys, regenerateBatchKey, verifyBatchKey, type BatchKeyName } from '../remote/azure/batch-keys';
import { azureManagement } from './azure';
import { batchAccountOf } from './kinds';
import { batchAccountLabel } from '../remote/azure/names';
import { fixedSlotRotator } from './fixed-slots';
import type { RotatorDeps, TwoSlotRotator } from './types';

const SLOTS = ['Primary', 'Secondary'] as const;

export async function create(target: RotationTarget, deps: RotatorDeps): Promise<TwoSlotRotator> {
  const account = await batchAccountOf(target, deps);
  const mgmt = await azureManagement(target, deps);
  return fixedSlotRotator<BatchKeyName>({
    label: batchAccountLabel(account),
    slots: SLOTS,
    vault: deps.vault,
    credentialId: target.credentialId,
    credentialKind: 'azure-shared-key',
    secretField: 'batchKey',
    sameAccount: (pub) => pub.batchAccountName === account.accountName,
    async read() {
      const d = await describeBatchKeys(mgmt.credential, account, mgmt.opts);
      if (!d.sharedKeyAllowed) {
        return { allowed: false, reason: `${batchAccountLabel(account)} does not allow shared-key authentication (allowedAuthenticationModes lacks SharedKey): there is nothing to rotate` };
      }
      return { allowed: true, keys: { Primary: d.primary!, Secondary: d.secondary! } };
    },
    regenerate: async (slot) => void (await regenerateBatchKey(mgmt.credential, account, slot, mgmt.opts)),
    async verify(key) {
      const endpoint = await batchAccountEndpoint(mgmt.credential, account, mgmt.opts);
      await verifyBatchKey(endpoint, account.accountName, key, deps.azure?.ca ? { ca: deps.azure.ca } : {});
    },
  });
}
