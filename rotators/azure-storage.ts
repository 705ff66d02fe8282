/**
 * Azure Storage account keys (Azure's documented key rotation procedure): slots key1 and key2, read and regenerated through the real
 * StorageManagementClient (remote/azure/storage-keys.ts), verified with a SharedKey-signed Blob
 * call. The rotated credential is an `azure-shared-key` (its storageAccountName and storageKey; a
 * Batch pair in the same credential is left alone).
 */
import type { RotationTarget } from '../domain/rotation';
import {
  blobEndpointFor,
  describeStorageKeys,
  getStorageAccount,
  regenerateStorageKey,
  verifyStorageKey,
  type StorageKeyName,
} from '../remote/azure/storage-keys';
import { azureManagement } from './azure';
import { storageAccountOf } from './kinds';
import { fixedSlotRotator } from './fixed-slots';
import type { RotatorDeps, TwoSlotRotator } from './types';
import { storageAccountLabel } from '../remote/azure/names';

const SLOTS = ['key1', 'key2'] as const;

export async function create(target: RotationTarget, deps: RotatorDeps): Promise<TwoSlotRotator> {
  const account = await storageAccountOf(target, deps);
  const mgmt = await azureManagement(target, deps);
  const label = storageAccountLabel(account);
  return fixedSlotRotator<StorageKeyName>({
    label,
    slots: SLOTS,
    vault: deps.vault,
    credentialId: target.credentialId,
    credentialKind: 'azure-shared-key',
    secretField: 'storageKey',
    // Storage account names are globally unique, so the name alone picks the account's credentials.
    sameAccount: (pub) => pub.storageAccountName === account.accountName,
    async read() {
      const d = await describeStorageKeys(mgmt.credential, account, mgmt.opts);
      if (!d.sharedKeyAllowed) return { allowed: false, reason: `${label} does not allow shared-key authentication (allowSharedKeyAccess is false): there is nothing to rotate` };
      return { allowed: true, keys: { key1: d.key1!, key2: d.key2! } };
    },
    regenerate: async (slot) => void (await regenerateStorageKey(mgmt.credential, account, slot, mgmt.opts)),
    async verify(key) {
      const template = deps.azure?.blobEndpoint;
      const fromArm = template ? undefined : (await getStorageAccount(mgmt.credential, account, mgmt.opts)).blobEndpoint;
      await verifyStorageKey(blobEndpointFor(account.accountName, template, fromArm), account.accountName, key, deps.azure?.ca ? { ca: deps.azure.ca } : {});
    },
  });
}
