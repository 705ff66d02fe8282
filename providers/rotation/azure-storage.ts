/**
 * Azure Storage account keys (seed 003): slots key1 and key2, read and regenerated through the real
 * StorageManagementClient (providers/azure/storage-keys.ts), verified with a SharedKey-signed Blob
 * call. The rotated credential is an `azure-shared-key` (its storageAccountName and storageKey; a
 * Batch pair in the same credential is left alone).
 */
import { ValidationError } from '../../store/errors';
import type { RotationSnapshot, RotationTarget } from '../../workflows/rotation-types';
import {
  blobEndpointFor,
  describeStorageKeys,
  getStorageAccount,
  regenerateStorageKey,
  storageAccountLabel,
  storageSharedKeyDisabledError,
  verifyStorageKey,
  type StorageAccountRef,
  type StorageKeyName,
  type StorageKeysDescription,
} from '../azure/storage-keys';
import { InvalidInputError } from '../errors';
import { azureManagement, managementSubscription } from './azure';
import { refuseIfInUse, requireResourceGroup, rotatedCredential, slotUse, type SlotUse } from './common';
import type { RotationKindImpl, RotatorDeps, TwoSlotRotator } from './types';

const SLOTS = ['key1', 'key2'] as const;

async function storageAccountOf(target: RotationTarget, deps: Pick<RotatorDeps, 'vault'>): Promise<StorageAccountRef> {
  const cred = await rotatedCredential(target, deps.vault);
  const accountName = cred.public.storageAccountName;
  if (typeof accountName !== 'string' || accountName === '') {
    throw new ValidationError('credentialId', 'must be an azure-shared-key credential with a Storage account (storageAccountName and storageKey); this one has none');
  }
  return { subscriptionId: await managementSubscription(target, deps.vault), resourceGroup: requireResourceGroup(target), accountName };
}

export const azureStorageRotation: RotationKindImpl = {
  kind: 'azure-storage-key',
  description: 'Azure Storage account access keys (key1/key2), regenerated through Azure Resource Manager',

  async describe(target, vault) {
    const a = await storageAccountOf(target, { vault });
    return { account: `azure-storage-key:${a.subscriptionId}:${a.resourceGroup.toLowerCase()}:${a.accountName}`, label: storageAccountLabel(a) };
  },

  async create(target, deps): Promise<TwoSlotRotator> {
    const account = await storageAccountOf(target, deps);
    const mgmt = await azureManagement(target, deps);
    const credentialId = target.credentialId;
    const label = storageAccountLabel(account);
    const describe = () => describeStorageKeys(mgmt.credential, account, mgmt.opts);
    // Storage account names are globally unique, so the name alone picks the account's credentials.
    const use = (d: StorageKeysDescription): Promise<SlotUse> =>
      slotUse(deps.vault, credentialId, 'azure-shared-key', (pub) => pub.storageAccountName === account.accountName, 'storageKey', { key1: d.key1!, key2: d.key2! });
    const keysOf = async (): Promise<StorageKeysDescription> => {
      const d = await describe();
      if (!d.sharedKeyAllowed) throw storageSharedKeyDisabledError(account);
      return d;
    };
    const slotName = (slot: string | null): StorageKeyName => {
      if (slot !== 'key1' && slot !== 'key2') throw new InvalidInputError(`slot: must be key1 or key2 for ${label}`);
      return slot;
    };
    const guardThenRegenerate = async (slot: string | null, action: string): Promise<StorageKeyName> => {
      const name = slotName(slot);
      refuseIfInUse(await use(await keysOf()), name, label, action);
      await regenerateStorageKey(mgmt.credential, account, name, mgmt.opts);
      return name;
    };

    return {
      label,

      async inspect(): Promise<RotationSnapshot> {
        const d = await describe();
        if (!d.sharedKeyAllowed) {
          return {
            rotatable: false,
            reason: `${label} does not allow shared-key authentication (allowSharedKeyAccess is false): there is nothing to rotate`,
            slots: [...SLOTS],
            stored: null,
            usedElsewhere: [],
            fixedSlots: true,
          };
        }
        const u = await use(d);
        return { rotatable: true, slots: [...SLOTS], stored: u.stored, usedElsewhere: u.usedElsewhere, fixedSlots: true };
      },

      regenerate: (slot) => guardThenRegenerate(slot, 'regenerate'),

      async retire(slot) {
        await guardThenRegenerate(slot, 'retire (regenerate)');
      },

      async store(slot) {
        const name = slotName(slot);
        const d = await keysOf();
        const u = await use(d);
        if (u.stored === name) return;
        const current = await deps.vault.readCredential(credentialId);
        const value = name === 'key1' ? d.key1! : d.key2!;
        await deps.vault.replaceCredentialSecret(credentialId, { storageKey: value }, { storageKey: current.secret.storageKey ?? '' });
      },

      async verifyStored() {
        const template = deps.azure?.blobEndpoint;
        const fromArm = template ? undefined : (await getStorageAccount(mgmt.credential, account, mgmt.opts)).blobEndpoint;
        const c = await deps.vault.readCredential(credentialId);
        await verifyStorageKey(blobEndpointFor(account.accountName, template, fromArm), account.accountName, c.secret.storageKey ?? '', deps.azure?.ca ? { ca: deps.azure.ca } : {});
      },

      async close() {},
    };
  },
};
