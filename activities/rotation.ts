/**
 * The rotation workflow's activities: one per step, each building the kind's rotator, doing one
 * thing and closing it. Rotators check state before they change anything (rotators), so a
 * step retried after a crash or a lost answer is safe. Inputs and results are references and slot
 * names; keys never leave the rotator and the vault.
 */
import { heartbeating } from './heartbeat';
import { createRotator, type RotatorDeps, type TwoSlotRotator } from '../rotators';
import type { VaultApi } from '../store/types';
import type { RotationSnapshot, RotationTarget } from '../domain/rotation';
import { toFailure } from './errors';

export interface RotationDeps {
  vault: VaultApi;
  /** Endpoint and CA overrides for the rotators (unset: the real clouds). */
  rotators?: Omit<RotatorDeps, 'vault'>;
  /** Builds a target's rotator; rotators/index.ts's createRotator unless a test gives another. */
  createRotator?: typeof createRotator;
}



export function createRotationActivities(deps: RotationDeps) {
  /**
   * One step: build the target's rotator, do one thing, close it. The step heartbeats its name while
   * it runs (a long-running ARM operation is not a dead worker); a cancellation closes the rotator.
   */
  function withRotator<T>(target: RotationTarget, step: string, fn: (r: TwoSlotRotator) => Promise<T>): Promise<T> {
    return heartbeating(async ({ progress, signal }) => {
      progress(step);
      let rotator: TwoSlotRotator | undefined;
      const cut = () => void rotator?.close().catch(() => undefined);
      signal.addEventListener('abort', cut, { once: true });
      try {
        rotator = await (deps.createRotator ?? createRotator)(target, { ...deps.rotators, vault: deps.vault });
        signal.throwIfAborted();
        return await fn(rotator);
      } catch (err) {
        throw toFailure(err, [], rotator ? `${step} of ${rotator.label}` : step);
      } finally {
        signal.removeEventListener('abort', cut);
        await rotator?.close().catch(() => undefined);
      }
    });
  }

  return {
    /** Slots, which one the stored credential uses, who else uses which. Changes nothing. */
    rotationInspect(target: RotationTarget): Promise<RotationSnapshot> {
      return withRotator(target, 'inspect', (r) => r.inspect());
    },
    /** A fresh key in the spare slot (refused if anyone uses it); returns the slot's name. */
    rotationRegenerate(target: RotationTarget, slot: string | null): Promise<string> {
      return withRotator(target, 'regenerate', (r) => r.regenerate(slot));
    },
    /** Stores the slot's key in the rotated credential (no-op if it already holds it). */
    rotationStore(target: RotationTarget, slot: string): Promise<void> {
      return withRotator(target, 'switch', (r) => r.store(slot));
    },
    /** A live, signed call with the stored key. */
    rotationVerify(target: RotationTarget): Promise<void> {
      return withRotator(target, 'verify', (r) => r.verifyStored());
    },
    /** Invalidates the old slot (refused while anyone uses it). */
    rotationRetire(target: RotationTarget, slot: string): Promise<void> {
      return withRotator(target, 'retire', (r) => r.retire(slot));
    },
  };
}
