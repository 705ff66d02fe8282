/**
 * A rotator for accounts with two fixed key slots whose values the management plane can read back
 * (Azure Batch Primary/Secondary, Azure Storage key1/key2). The kind supplies how to read, regenerate
 * and verify; this supplies the contract's state checks: which slot each vault credential holds, the
 * refusal to regenerate a slot in use, and a compare-and-swap store that is a no-op when done.
 */
import type { VaultApi } from '../store/types';
import type { RotationSnapshot } from '../domain/rotation';
import { refuseIfInUse, slotOf, slotUse, type SlotUse } from './common';
import type { TwoSlotRotator } from './types';
import { InvalidInputError } from '../domain/errors';

export type AccountKeys<S extends string> = { allowed: true; keys: Record<S, string> } | { allowed: false; reason: string };

export interface FixedSlotSpec<S extends string> {
  label: string;
  slots: readonly [S, S];
  vault: VaultApi;
  /** The rotated credential, its kind, and the secret field holding the key. */
  credentialId: string;
  credentialKind: string;
  secretField: string;
  /** Picks, by public fields, the vault credentials that belong to the same account. */
  sameAccount(pub: Record<string, unknown>): boolean;
  /** Whether the account allows shared keys (with the reason when not) and both keys. */
  read(): Promise<AccountKeys<S>>;
  regenerate(slot: S): Promise<void>;
  /** A live, signed call with `key`. */
  verify(key: string): Promise<void>;
}

export function fixedSlotRotator<S extends string>(spec: FixedSlotSpec<S>): TwoSlotRotator {
  const { label, slots, vault, credentialId } = spec;
  const use = (keys: Record<S, string>): Promise<SlotUse> => slotUse(vault, credentialId, spec.credentialKind, spec.sameAccount, spec.secretField, keys);
  const keysOf = async (): Promise<Record<S, string>> => {
    const r = await spec.read();
    if (!r.allowed) throw new InvalidInputError(r.reason);
    return r.keys;
  };
  const slotName = (slot: string | null): S => {
    if (!slots.includes(slot as S)) throw new InvalidInputError(`slot: must be ${slots.join(' or ')} for ${label}`);
    return slot as S;
  };
  const guardThenRegenerate = async (slot: string | null, action: string): Promise<S> => {
    const name = slotName(slot);
    refuseIfInUse(await use(await keysOf()), name, label, action);
    await spec.regenerate(name);
    return name;
  };

  return {
    label,

    async inspect(): Promise<RotationSnapshot> {
      const r = await spec.read();
      if (!r.allowed) return { rotatable: false, reason: r.reason, slots: [...slots], stored: null, usedElsewhere: [], fixedSlots: true };
      const u = await use(r.keys);
      return { rotatable: true, slots: [...slots], stored: u.stored, usedElsewhere: u.usedElsewhere, fixedSlots: true };
    },

    regenerate: (slot) => guardThenRegenerate(slot, 'regenerate'),

    async retire(slot) {
      await guardThenRegenerate(slot, 'retire (regenerate)');
    },

    async store(slot) {
      const name = slotName(slot);
      const keys = await keysOf();
      // Compare-and-swap on the value read here: a concurrent change makes the write refuse, and retry.
      const current = (await vault.readCredential(credentialId)).secret[spec.secretField] ?? '';
      if (slotOf(current, keys) === name) return;
      await vault.replaceCredentialSecret(credentialId, { [spec.secretField]: keys[name] }, { [spec.secretField]: current });
    },

    async verifyStored() {
      const c = await vault.readCredential(credentialId);
      await spec.verify(c.secret[spec.secretField] ?? '');
    },

    async close() {},
  };
}
