/**
 * Azure Batch shared keys (seed 003): slots Primary and Secondary, read and regenerated through the
 * real BatchManagementClient (providers/azure/batch-keys.ts), verified with a SharedKey-signed call
 * to the account's data plane. The rotated credential is an `azure-shared-key` with a Batch pair.
 */
import { ValidationError } from '../../store/errors';
import type { RotationSnapshot, RotationTarget } from '../../workflows/rotation-types';
import { describeBatchKeys, regenerateBatchKey, verifyBatchKey, type BatchAccountRef, type BatchKeysDescription } from '../azure/batch-keys';
import { InvalidInputError } from '../errors';
import { azureManagement, managementSubscription } from './azure';
import { refuseIfInUse, requireResourceGroup, rotatedCredential, slotUse, type SlotUse } from './common';
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

  async describe(target, vault) {
    const a = await batchAccountOf(target, { vault });
    return { account: `azure-batch-key:${a.subscriptionId}:${a.resourceGroup.toLowerCase()}:${a.accountName}`, label: label(a) };
  },

  async create(target, deps): Promise<TwoSlotRotator> {
    const account = await batchAccountOf(target, deps);
    const mgmt = await azureManagement(target, deps);
    const credentialId = target.credentialId;
    const describe = () => describeBatchKeys(mgmt.credential, account, mgmt.opts);
    const use = (d: BatchKeysDescription): Promise<SlotUse> =>
      slotUse(deps.vault, credentialId, 'azure-shared-key', (pub) => pub.batchAccountName === account.accountName, 'batchKey', { Primary: d.primary!, Secondary: d.secondary! });
    const keysOf = async (): Promise<BatchKeysDescription> => {
      const d = await describe();
      if (!d.sharedKeyAllowed) throw new InvalidInputError(`${label(account)} does not allow shared-key authentication; there is nothing to rotate`);
      return d;
    };
    const slotName = (slot: string | null): 'Primary' | 'Secondary' => {
      if (slot !== 'Primary' && slot !== 'Secondary') throw new InvalidInputError(`slot: must be Primary or Secondary for ${label(account)}`);
      return slot;
    };
    const guardThenRegenerate = async (slot: string | null, action: string) => {
      const name = slotName(slot);
      refuseIfInUse(await use(await keysOf()), name, label(account), action);
      await regenerateBatchKey(mgmt.credential, account, name, mgmt.opts);
      return name;
    };

    return {
      label: label(account),

      async inspect(): Promise<RotationSnapshot> {
        const d = await describe();
        if (!d.sharedKeyAllowed) {
          return {
            rotatable: false,
            reason: `${label(account)} does not allow shared-key authentication (allowedAuthenticationModes lacks SharedKey): there is nothing to rotate`,
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
        const value = name === 'Primary' ? d.primary! : d.secondary!;
        await deps.vault.replaceCredentialSecret(credentialId, { batchKey: value }, { batchKey: current.secret.batchKey ?? '' });
      },

      async verifyStored() {
        const d = await describe();
        if (!d.accountEndpoint) throw new InvalidInputError(`${label(account)}: Azure did not give the account's endpoint`);
        const c = await deps.vault.readCredential(credentialId);
        await verifyBatchKey(d.accountEndpoint, account.accountName, c.secret.batchKey ?? '', deps.azure?.ca ? { ca: deps.azure.ca } : {});
      },

      async close() {},
    };
  },
};
