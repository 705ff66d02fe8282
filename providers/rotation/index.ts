/** Every rotation kind the broker knows. Add a kind: implement RotationKindImpl and list it here. */
import { ValidationError } from '../../domain/errors';
import { ROTATION_KINDS, type RotationKind } from '../../domain/rotation';
import { acrTokenRotation } from './acr-token';
import { azureBatchRotation } from './azure-batch';
import { azureStorageRotation } from './azure-storage';
import { awsAccessKeyRotation } from './aws-access-key';
import type { RotationKindImpl } from './types';

export type { RotationKindImpl, RotatorDeps, TwoSlotRotator } from './types';

const IMPLEMENTED: RotationKindImpl[] = [azureBatchRotation, azureStorageRotation, acrTokenRotation, awsAccessKeyRotation];

const byKind = new Map<string, RotationKindImpl>(IMPLEMENTED.map((k) => [k.kind, k]));

export function rotationKind(kind: unknown): RotationKindImpl {
  const impl = typeof kind === 'string' ? byKind.get(kind) : undefined;
  if (!impl) {
    const known = rotationKindNames();
    const planned = ROTATION_KINDS.filter((k) => !byKind.has(k));
    throw new ValidationError('kind', `must be one of ${known.join(', ')}${planned.length && typeof kind === 'string' && planned.includes(kind as RotationKind) ? ` (${kind} is not available in this build)` : ''}`);
  }
  return impl;
}

export function rotationKindNames(): string[] {
  return [...byKind.keys()].sort();
}
