/**
 * The contract of a two-slot credential rotator (Azure's documented key rotation procedure), one per rotation kind. The rotation
 * workflow drives it step by step; every method checks the current state before changing anything,
 * so a step retried after a crash (or after an answer that was lost) is safe:
 *
 * - `regenerate` and `retire` refuse (RotationRefusedError) to touch a slot any vault credential of
 *   the account uses: the stored key is never invalidated, whatever order steps are replayed in;
 * - `store` writes the slot's current value into the vault only when it differs.
 *
 * Keys stay inside the rotator and the vault: methods return slot names and nothing else; errors
 * are domain/errors.ts classes with messages built from names, never values.
 */
import type { AzureEndpoints } from '../remote/azure/management';
import type { VaultApi } from '../store/types';
import type { RotationSnapshot } from '../domain/rotation';

export interface TwoSlotRotator {
  /** For messages: "Batch account foo (resource group rg, subscription ...)". */
  readonly label: string;
  /** Reads the account's slots and which of them vault credentials use. Changes nothing. */
  inspect(): Promise<RotationSnapshot>;
  /**
   * Makes `slot` hold a fresh key and returns the slot's name. Where slots are fixed (Azure) the
   * name is the one given; where they are not (AWS access keys) the spare is deleted (if any) and a
   * new key created, whose id is returned, and the key is stored at once (its secret is shown only
   * on creation). Refuses if a vault credential uses `slot`.
   */
  regenerate(slot: string | null): Promise<string>;
  /** Stores the slot's current key in the rotated credential; nothing happens when it already holds it. */
  store(slot: string): Promise<void>;
  /** Proves the stored key works with a live, signed call. AuthenticationFailedError when refused. */
  verifyStored(): Promise<void>;
  /** Invalidates the old slot after the grace period (Azure: regenerate; AWS: delete). Refuses while in use. */
  retire(slot: string): Promise<void>;
  close(): Promise<void>;
}

/** Where the rotators reach Azure and AWS: the real services unless overridden (tests, private clouds). */
export interface RotatorDeps {
  vault: VaultApi;
  azure?: AzureEndpoints;
  /** AWS endpoint override (moto in tests); default the real service. */
  aws?: { endpoint?: string; region?: string };
}
