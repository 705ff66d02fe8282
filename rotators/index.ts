/**
 * Build the rotator for a target: the kind's module is loaded here (with its SDK), so only the
 * worker, which runs rotations, pays for the Azure and AWS SDKs (rotators/kinds.ts describes kinds
 * without them).
 */
import type { RotationTarget } from '../domain/rotation';
import { rotationKind } from './kinds';
import type { RotatorDeps, TwoSlotRotator } from './types';

export type { RotatorDeps, TwoSlotRotator } from './types';
export { rotationKind, type RotationKindInfo } from './kinds';

export async function createRotator(target: RotationTarget, deps: RotatorDeps): Promise<TwoSlotRotator> {
  const { create } = await rotationKind(target?.kind).load();
  return create(target, deps);
}
