/**
 * The vault master key rotation's activity: re-wrap every data key of the broker's own (open) vault
 * under a new master key (VaultApi.rotateMasterKey). It heartbeats {newKeyId, done, total}; a retried
 * attempt reads the key id back and finishes that rotation, or reports it finished, instead of
 * starting another. Key ids and counts only leave this activity; never key material.
 */
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { ErrorType, VaultKeyError } from '../domain/errors';
import type { VaultApi } from '../store/types';
import type { VaultKeyRotationResult, VaultRewrapProgress } from '../domain/vault-key';
import { toFailure } from './errors';
import { heartbeating } from './heartbeat';
import { noopMetrics, type ActivityMetrics } from '../telemetry/metrics';

export interface VaultKeyDeps {
  vault: VaultApi;
  metrics?: ActivityMetrics;
}

/** The rotation kind vault key rotations are counted under. */
const VAULT_KEY_KIND = 'vault-master-key';

export function createVaultKeyActivities(deps: VaultKeyDeps) {
  const metrics = deps.metrics ?? noopMetrics;
  const step = (outcome: string) => metrics.rotationStep(VAULT_KEY_KIND, 'rewrap', outcome);
  return {
    vaultRewrap: (): Promise<VaultKeyRotationResult> =>
      heartbeating(async ({ progress, signal }) => {
        const ctx = Context.current();
        const previous = ctx.info.heartbeatDetails as VaultRewrapProgress | undefined;
        const resumeKeyId = typeof previous?.newKeyId === 'string' ? previous.newKeyId : undefined;
        let newKeyId = resumeKeyId;
        if (resumeKeyId) ctx.log.info('resuming the vault master key rotation', { newKeyId: resumeKeyId, attempt: ctx.info.attempt });
        try {
          const r = await deps.vault.rotateMasterKey({
            ...(resumeKeyId ? { resumeKeyId } : {}),
            onStart: (s) => {
              newKeyId = s.newKeyId;
              progress({ newKeyId, done: 0, total: s.total } satisfies VaultRewrapProgress);
            },
            onProgress: (p) => {
              // Stopping between rows is safe: the next attempt (or rotation) resumes from here.
              if (signal.aborted) throw new CancelledFailure('the vault master key rotation was cancelled; it resumes when started again');
              progress({ newKeyId, done: p.done, total: p.total } satisfies VaultRewrapProgress);
            },
          });
          step('ok');
          return { newKeyId: r.newKeyId, oldKeyIds: r.oldKeyIds, rewrapped: r.rewrapped, skipped: r.skipped, nextSteps: r.nextSteps };
        } catch (err) {
          if (err instanceof CancelledFailure) {
            step('cancelled');
            throw err;
          }
          // A refusal (env mode without a next key, a key this vault does not hold) needs an operator, not a retry.
          if (err instanceof VaultKeyError) {
            step(ErrorType.VaultKey);
            throw ApplicationFailure.create({ type: ErrorType.VaultKey, message: err.message, nonRetryable: true });
          }
          const failure = toFailure(err, [], 'vault master key rotation');
          step(failure.type ?? 'ProviderError');
          throw failure;
        }
      }),
  };
}
