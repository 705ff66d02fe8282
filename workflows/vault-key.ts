/**
 * Vault master key rotation as a workflow: one activity (`vaultRewrap`) re-wraps every data key of
 * the broker's own vault under a new master key, heartbeating {done, total, newKeyId} so the Web UI
 * shows progress on the pending activity. The rewrap is resumable (store/rewrap.ts): a retried or
 * restarted attempt finishes the rotation in flight instead of starting another. Refusals (env mode
 * without BROKER_MASTER_KEY_NEXT, a key the vault does not hold) fail at once, not retried.
 *
 * One rotation at a time: manual starts and the schedule (`rotate-vault-master-key`, overlap SKIP)
 * both run `rotateVaultMasterKey` under the fixed workflow id `vault-master-key-rotation`. History
 * carries key ids and counts only, never key material.
 */
import {
  defineQuery,
  executeChild,
  log,
  ParentClosePolicy,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  WorkflowIdReusePolicy,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { createVaultKeyActivities } from '../activities/vault-key';
import { HEARTBEAT_TIMEOUT } from './activity-options';
import { PhaseKey } from './search-attributes';
import { ErrorType, NON_RETRYABLE_ERROR_TYPES } from '../domain/errors';
import {
  VAULT_KEY_ROTATION_WORKFLOW_ID,
  type ScheduledVaultKeyRotationResult,
  type VaultKeyRotationResult,
  type VaultKeyRotationStatus,
} from '../domain/vault-key';

/** The activities this workflow calls, and nothing else (a test stubs exactly these). */
export type VaultKeyActivities = ReturnType<typeof createVaultKeyActivities>;

export const vaultKeyRotationStatusQuery = defineQuery<VaultKeyRotationStatus>('vaultKeyRotationStatus');

/** A big vault takes a while; progress heartbeats keep a live attempt apart from a dead one. */
const { vaultRewrap } = proxyActivities<VaultKeyActivities>({
  startToCloseTimeout: '6h',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: {
    initialInterval: '5s',
    backoffCoefficient: 2,
    maximumInterval: '5m',
    maximumAttempts: 10,
    nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES, ErrorType.VaultKey],
  },
});

export async function rotateVaultMasterKey(): Promise<VaultKeyRotationResult> {
  const status: VaultKeyRotationStatus = { phase: 'rewrap' };
  setHandler(vaultKeyRotationStatusQuery, () => status);
  upsertSearchAttributes([{ key: PhaseKey, value: 'vault-key:rewrap' }]);
  const result = await vaultRewrap();
  status.phase = 'done';
  upsertSearchAttributes([{ key: PhaseKey, value: 'vault-key:done' }]);
  log.info('vault master key rotated', { newKeyId: result.newKeyId, oldKeyIds: result.oldKeyIds, rewrapped: result.rewrapped, skipped: result.skipped });
  return result;
}

/**
 * What the schedule starts: the rotation as a child under the fixed workflow id, so a firing never
 * runs beside a manual rotation (it reports the skip). Abandoned if this workflow closes: a rotation,
 * once begun, finishes.
 */
export async function scheduledVaultKeyRotation(): Promise<ScheduledVaultKeyRotationResult> {
  const workflowId = VAULT_KEY_ROTATION_WORKFLOW_ID;
  try {
    const result = await executeChild(rotateVaultMasterKey, {
      workflowId,
      parentClosePolicy: ParentClosePolicy.ABANDON,
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
    });
    return { outcome: 'rotated', workflowId, result };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      log.info('a vault master key rotation is already running; this firing skips', { workflowId });
      return { outcome: 'skipped-already-running', workflowId };
    }
    throw err;
  }
}
