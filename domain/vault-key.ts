/**
 * Vault master key rotation as the workflow, its activity, the services and the API see it: ids,
 * key ids and counts, never key material.
 */

export const VAULT_KEY_ROTATION_SCHEDULE_ID = 'rotate-vault-master-key';
export const VAULT_KEY_ROTATION_WORKFLOW_ID = 'vault-master-key-rotation';

/** What a master key rotation did: key ids and counts, never a key. */
export interface VaultKeyRotationResult {
  /** The key every data key is now wrapped under. */
  newKeyId: string;
  /** The keys data keys were wrapped under before. */
  oldKeyIds: string[];
  /** Data keys this rotation re-wrapped. */
  rewrapped: number;
  /** Data keys already under the new key (written during the rotation, or re-wrapped by an earlier attempt). */
  skipped: number;
  /** What the operator still has to do (env mode: switch BROKER_MASTER_KEY; key file mode: remove the retired file). */
  nextSteps: string[];
}

/** What `vaultRewrap` heartbeats (and reads back on a retry). */
export interface VaultRewrapProgress {
  newKeyId?: string;
  done: number;
  total: number;
}

export interface VaultKeyRotationStatus {
  phase: 'rewrap' | 'done';
}

export interface ScheduledVaultKeyRotationResult {
  outcome: 'rotated' | 'skipped-already-running';
  workflowId: string;
  result?: VaultKeyRotationResult;
}
