/**
 * Every rotation kind the broker knows, without its SDKs: what a kind is called, whether its slots
 * are fixed, and how a request names the rotated account (checked against the vault, no cloud call).
 * The API and the services load only this module; the rotators themselves (and the Azure and AWS
 * SDKs they need) are loaded by the worker when a rotation runs (rotators/index.ts).
 *
 * Add a kind: describe it here, implement `create` in its own module, and list its loader.
 */
import { ValidationError } from '../domain/errors';
import { ROTATION_KINDS, type RotationKind, type RotationTarget } from '../domain/rotation';
import { batchAccountLabel, storageAccountLabel, type AzureAccountRef } from '../remote/azure/names';
import type { VaultApi } from '../store/types';
import { requireResourceGroup, rotatedCredential } from './common';
import type { RotatorDeps, TwoSlotRotator } from './types';

export interface RotationKindInfo {
  readonly kind: RotationKind;
  /** One line for help text. */
  readonly description: string;
  /** False where a slot's old value can never be read again (ACR passwords, AWS keys): no switching back. */
  readonly fixedSlots: boolean;
  /**
   * Checks a target against the vault before anything starts (credential kinds, required fields,
   * names) and returns the rotated account's identity: the rotation's workflow id is made from it.
   * Errors are ValidationError naming the field.
   */
  describe(target: RotationTarget, vault: VaultApi): Promise<{ account: string; label: string }>;
  /** The rotator's module, loaded on first use (it brings the cloud's SDK). */
  load(): Promise<{ create(target: RotationTarget, deps: RotatorDeps): Promise<TwoSlotRotator> }>;
}

// ---- Azure management ----------------------------------------------------------------------------

/** Checks the target's management credential reference; returns its subscription id. */
export async function managementSubscription(target: RotationTarget, vault: VaultApi): Promise<string> {
  if (typeof target.managementCredentialId !== 'string' || target.managementCredentialId === '') {
    throw new ValidationError('managementCredentialId', 'is required for Azure rotations: an azure-entra credential allowed to list and regenerate the keys');
  }
  const meta = await vault.getCredential(target.managementCredentialId);
  if (meta.kind !== 'azure-entra') throw new ValidationError('managementCredentialId', `must be an azure-entra credential; "${meta.name}" is ${meta.kind}`);
  return String(meta.public.subscriptionId);
}

// ---- Azure Batch and Storage accounts --------------------------------------------------------

export async function batchAccountOf(target: RotationTarget, deps: Pick<RotatorDeps, 'vault'>): Promise<AzureAccountRef> {
  const cred = await rotatedCredential(target, deps.vault);
  const accountName = cred.public.batchAccountName;
  if (typeof accountName !== 'string') {
    throw new ValidationError('credentialId', 'must be an azure-shared-key credential with a Batch account (batchAccountName and batchKey); this one is storage-only');
  }
  return { subscriptionId: await managementSubscription(target, deps.vault), resourceGroup: requireResourceGroup(target), accountName };
}

export async function storageAccountOf(target: RotationTarget, deps: Pick<RotatorDeps, 'vault'>): Promise<AzureAccountRef> {
  const cred = await rotatedCredential(target, deps.vault);
  const accountName = cred.public.storageAccountName;
  if (typeof accountName !== 'string' || accountName === '') {
    throw new ValidationError('credentialId', 'must be an azure-shared-key credential with a Storage account (storageAccountName and storageKey); this one has none');
  }
  return { subscriptionId: await managementSubscription(target, deps.vault), resourceGroup: requireResourceGroup(target), accountName };
}

// ---- ACR tokens ------------------------------------------------------------------------------

/** ACR's rules (REST API spec): registry names 5-50 letters and digits; token names 5-50 letters, digits and hyphens. */
const ACR_REGISTRY_NAME_RE = /^[a-zA-Z0-9]{5,50}$/;
const ACR_TOKEN_NAME_RE = /^[a-zA-Z0-9-]{5,50}$/;

export interface AcrTokenRef {
  subscriptionId: string;
  resourceGroup: string;
  registryName: string;
  tokenName: string;
  credentialId: string;
  /** The credential's registryServer (lower-case host[:port]). */
  registryServer: string;
}

export function acrTokenLabel(a: Pick<AcrTokenRef, 'subscriptionId' | 'resourceGroup' | 'registryName' | 'tokenName'>): string {
  return `token ${a.tokenName} of container registry ${a.registryName} (resource group ${a.resourceGroup}, subscription ${a.subscriptionId})`;
}

export async function tokenOf(target: RotationTarget, vault: VaultApi): Promise<AcrTokenRef> {
  const cred = await rotatedCredential(target, vault);
  const subscriptionId = await managementSubscription(target, vault);
  const resourceGroup = requireResourceGroup(target);
  const { registryName, tokenName } = target;
  if (typeof registryName !== 'string' || registryName === '') throw new ValidationError('registryName', 'is required for acr-token-password rotation: the registry resource name');
  if (!ACR_REGISTRY_NAME_RE.test(registryName)) throw new ValidationError('registryName', 'must be 5 to 50 letters and digits (the registry resource name, not its login server)');
  if (typeof tokenName !== 'string' || tokenName === '') throw new ValidationError('tokenName', 'is required for acr-token-password rotation: the token whose passwords rotate');
  if (!ACR_TOKEN_NAME_RE.test(tokenName)) throw new ValidationError('tokenName', 'must be 5 to 50 letters, digits and hyphens');
  const userName = cred.public.userName;
  if (typeof userName !== 'string' || userName.toLowerCase() !== tokenName.toLowerCase()) {
    throw new ValidationError('tokenName', `must be the credential's userName: a container-registry credential for an ACR token logs in with the token's name (the credential's is ${typeof userName === 'string' ? `"${userName}"` : 'missing'})`);
  }
  return { subscriptionId, resourceGroup, registryName, tokenName, credentialId: cred.id, registryServer: String(cred.public.registryServer) };
}


// ---- AWS access keys ----------------------------------------------------------------------------

/**
 * Refuses (ValidationError naming the field) a credential without a long-term key to rotate. Works on
 * public fields alone (describe) or with the secret ones (create): an ASIA key id always comes with
 * a session token (credentials/aws.ts), so the public part is enough to tell.
 */
export function checkRotatable(pub: Record<string, unknown>, secret?: Record<string, string>): void {
  if (typeof pub.roleArn === 'string' && pub.roleArn !== '') {
    throw new ValidationError(
      'roleArn',
      'is set: with it the broker acts as the assumed role, whose credentials are temporary and have no access key to rotate ' +
        '(the IAM user key that assumes the role is not rotated through a role credential)',
    );
  }
  const accessKeyId = pub.accessKeyId;
  if (secret?.sessionToken || (typeof accessKeyId === 'string' && accessKeyId.startsWith('ASIA'))) {
    throw new ValidationError('sessionToken', 'is set: the credential holds temporary (ASIA...) STS credentials, which expire on their own and have no IAM access key to rotate');
  }
  if (typeof accessKeyId !== 'string' || accessKeyId === '') throw new ValidationError('accessKeyId', 'is required for aws-access-key rotation');
}

export async function labelOf(target: RotationTarget, vault: VaultApi): Promise<{ id: string; label: string; of: string }> {
  const cred = await rotatedCredential(target, vault);
  checkRotatable(cred.public);
  const of = `aws credential "${(await vault.getCredential(cred.id)).name}" (${cred.id})`;
  return { id: cred.id, label: `IAM user of ${of}`, of };
}

// ---- the registry ------------------------------------------------------------------------------

const KINDS: RotationKindInfo[] = [
  {
    kind: 'azure-batch-key',
    description: 'Azure Batch account shared keys (Primary/Secondary), regenerated through Azure Resource Manager',
    fixedSlots: true,
    async describe(target, vault) {
      const a = await batchAccountOf(target, { vault });
      return { account: `azure-batch-key:${a.subscriptionId}:${a.resourceGroup.toLowerCase()}:${a.accountName}`, label: batchAccountLabel(a) };
    },
    load: () => import('./azure-batch'),
  },
  {
    kind: 'azure-storage-key',
    description: 'Azure Storage account access keys (key1/key2), regenerated through Azure Resource Manager',
    fixedSlots: true,
    async describe(target, vault) {
      const a = await storageAccountOf(target, { vault });
      return { account: `azure-storage-key:${a.subscriptionId}:${a.resourceGroup.toLowerCase()}:${a.accountName}`, label: storageAccountLabel(a) };
    },
    load: () => import('./azure-storage'),
  },
  {
    kind: 'acr-token-password',
    description: 'Azure Container Registry token passwords (password1/password2), generated through Azure Resource Manager and stored at once',
    fixedSlots: false,
    async describe(target, vault) {
      const a = await tokenOf(target, vault);
      return {
        account: `acr-token-password:${a.subscriptionId}:${a.resourceGroup.toLowerCase()}:${a.registryName.toLowerCase()}:${a.tokenName.toLowerCase()}`,
        label: acrTokenLabel(a),
      };
    },
    load: () => import('./acr-token'),
  },
  {
    kind: 'aws-access-key',
    description: "AWS IAM user access keys (at most two per user), created and deleted with the user's own key",
    fixedSlots: false,
    async describe(target, vault) {
      const { id, label } = await labelOf(target, vault);
      return { account: `aws-access-key:${id}`, label };
    },
    load: () => import('./aws-access-key'),
  },
];

const byKind = new Map<string, RotationKindInfo>(KINDS.map((k) => [k.kind, k]));

export function rotationKind(kind: unknown): RotationKindInfo {
  const info = typeof kind === 'string' ? byKind.get(kind) : undefined;
  if (!info) {
    const known = rotationKindNames();
    const planned = ROTATION_KINDS.filter((k) => !byKind.has(k));
    throw new ValidationError('kind', `must be one of ${known.join(', ')}${planned.length && typeof kind === 'string' && planned.includes(kind as RotationKind) ? ` (${kind} is not available in this build)` : ''}`);
  }
  return info;
}

function rotationKindNames(): string[] {
  return [...byKind.keys()].sort();
}
