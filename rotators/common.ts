/**
 * Pieces every rotator shares: finding which slot each vault credential of an account uses
 * (compared in constant time, so nothing about a key leaks through timing or messages), the guard
 * that refuses to invalidate a slot in use, and checks of a target's vault references.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { ValidationError, RotationRefusedError } from '../domain/errors';
import type { VaultApi } from '../store/types';
import { ROTATED_CREDENTIAL_KIND, type RotationTarget } from '../domain/rotation';
import { RESOURCE_GROUP_RE, RESOURCE_GROUP_RULE } from '../remote/azure/names';

/** Constant-time equality of two secrets of any length. */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

/** The slot whose value equals `value`, or null. */
export function slotOf(value: string | undefined, slots: Record<string, string>): string | null {
  if (value === undefined) return null;
  for (const [slot, v] of Object.entries(slots)) if (sameSecret(value, v)) return slot;
  return null;
}

export interface SlotUse {
  /** The slot the rotated credential's stored key matches, or null. */
  stored: string | null;
  /** Slots other credentials of the account use. */
  usedElsewhere: string[];
}

/**
 * Which slots vault credentials of one account use. `sameAccount` picks the credentials (by public
 * fields) that belong to the account; `secretField` is the field holding the key.
 */
export async function slotUse(
  vault: VaultApi,
  credentialId: string,
  credentialKind: string,
  sameAccount: (pub: Record<string, unknown>) => boolean,
  secretField: string,
  slots: Record<string, string>,
): Promise<SlotUse> {
  const own = await vault.readCredential(credentialId);
  const stored = slotOf(own.secret[secretField], slots);
  const usedElsewhere = new Set<string>();
  for (const meta of await vault.listCredentialsOfKind(credentialKind)) {
    if (meta.id === credentialId || !sameAccount(meta.public)) continue;
    const other = await vault.readCredential(meta.id);
    const slot = slotOf(other.secret[secretField], slots);
    if (slot) usedElsewhere.add(slot);
  }
  return { stored, usedElsewhere: [...usedElsewhere].sort() };
}

/** Refuses to invalidate a slot that any vault credential of the account uses. */
export function refuseIfInUse(use: SlotUse, slot: string, label: string, action: string): void {
  if (use.stored === slot) {
    throw new RotationRefusedError(`${action} ${slot} of ${label}: the rotated credential uses it; nothing was changed`);
  }
  if (use.usedElsewhere.includes(slot)) {
    throw new RotationRefusedError(`${action} ${slot} of ${label}: another credential in the vault uses it; nothing was changed`);
  }
}

/** The rotated credential: it must exist and be of the kind the rotation rotates. */
export async function rotatedCredential(target: RotationTarget, vault: VaultApi): Promise<{ id: string; public: Record<string, unknown> }> {
  if (typeof target.credentialId !== 'string' || target.credentialId === '') throw new ValidationError('credentialId', 'is required');
  const meta = await vault.getCredential(target.credentialId);
  const want = ROTATED_CREDENTIAL_KIND[target.kind];
  if (meta.kind !== want) throw new ValidationError('credentialId', `must be a ${want} credential for ${target.kind} rotation; "${meta.name}" is ${meta.kind}`);
  return { id: meta.id, public: meta.public };
}

export function requireResourceGroup(target: RotationTarget): string {
  const rg = target.resourceGroup;
  if (typeof rg !== 'string' || rg === '') throw new ValidationError('resourceGroup', 'is required for Azure rotations');
  if (!RESOURCE_GROUP_RE.test(rg)) throw new ValidationError('resourceGroup', `must be ${RESOURCE_GROUP_RULE}`);
  return rg;
}
