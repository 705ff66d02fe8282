/**
 * Pure data for credential rotation, shared by the rotation workflows, their activities, the worker,
 * the API and the client. Safe inside the workflow sandbox. Nothing here carries a key: the workflow
 * sees slot names ("Primary", "key1", an access key id) and references to vault records, never values.
 */

/** What is rotated, and how. Each kind is a two-slot credential (Azure's documented key rotation procedure). */
export type RotationKind = 'azure-batch-key' | 'azure-storage-key' | 'acr-token-password' | 'aws-access-key';

export const ROTATION_KINDS: readonly RotationKind[] = ['azure-batch-key', 'azure-storage-key', 'acr-token-password', 'aws-access-key'];

/** The vault credential kind each rotation kind rotates. */
export const ROTATED_CREDENTIAL_KIND: Record<RotationKind, string> = {
  'azure-batch-key': 'azure-shared-key',
  'azure-storage-key': 'azure-shared-key',
  'acr-token-password': 'container-registry',
  'aws-access-key': 'aws',
};

export interface RotationTarget {
  kind: RotationKind;
  /** The vault credential (id) whose stored key is rotated. */
  credentialId: string;
  /** Azure kinds: the `azure-entra` credential (id) the broker signs in with for management calls. */
  managementCredentialId?: string;
  /** Azure kinds: the resource group of the account or registry. */
  resourceGroup?: string;
  /** acr-token-password: the registry (resource name) and the token whose passwords rotate. */
  registryName?: string;
  tokenName?: string;
}

export interface RotationInput {
  target: RotationTarget;
  /**
   * The rotated account's identity (e.g. `azure-batch-key:<subscription>:<group>:<account>`), from
   * describeRotationTarget: the workflow id is derived from it, so one rotation runs per account.
   */
  account: string;
  /** How long the old key keeps working after the switch, for launches that read it. Default 10 min. */
  graceMs?: number;
  /**
   * Go back to the first slot at the end (where the kind has fixed slots), as Azure's documented key
   * rotation procedure ends on the primary key: apps configured with "key1" keep working unchanged.
   */
  switchBack?: boolean;
  /** The credential's name as operators know it (the Web UI's summary); the account when absent. */
  label?: string;
}

/** What the inspect step finds, before anything changes. */
export interface RotationSnapshot {
  /** False when the account has nothing to rotate (shared keys disabled); `reason` says why. */
  rotatable: boolean;
  reason?: string;
  /** The account's slots, in order: ['Primary', 'Secondary'], ['key1', 'key2'], access key ids ... */
  slots: string[];
  /** The slot the rotated credential's stored key matches; null when it matches none. */
  stored: string | null;
  /** Slots that other vault credentials of the same account use. */
  usedElsewhere: string[];
  /** True when the slots are fixed (Azure), so switching back is possible. */
  fixedSlots: boolean;
}

export type RotationStep = 'inspect' | 'regenerate-spare' | 'switch' | 'verify' | 'grace' | 'retire-old' | 'switch-back' | 'verify-back' | 'done';

export interface RotationStepRecord {
  step: RotationStep;
  /** Workflow time (ms since epoch) the step finished. */
  at: number;
  detail?: string;
}

export interface RotationStatus {
  account: string;
  kind: RotationKind;
  step: RotationStep;
  from?: string;
  to?: string;
  /** When the grace period ends (ms since epoch), while in it. */
  graceEndsAt?: number;
  steps: RotationStepRecord[];
}

export interface RotationResult {
  outcome: 'rotated' | 'nothing-to-rotate';
  account: string;
  reason?: string;
  /** The slot the credential used before, the one it moved to, and the one it uses at the end. */
  from?: string;
  to?: string;
  final?: string;
  steps: RotationStepRecord[];
}

/** What a scheduled firing did. */
export interface ScheduledRotationResult {
  outcome: 'rotated' | 'nothing-to-rotate' | 'skipped-already-running';
  workflowId: string;
  result?: RotationResult;
}

export const DEFAULT_GRACE_MS = 10 * 60_000;

/** Workflow ids travel in URL paths (API, Web UI): an account's slashes become colons. */
export function rotationWorkflowId(account: string): string {
  return `credential-rotation-${account.replace(/\//g, ':')}`;
}

export const ROTATION_WORKFLOW_ID_RE = /^credential-rotation-[A-Za-z0-9:._()-]{1,300}$/;

export function rotationScheduleId(credentialId: string): string {
  return `rotate-${credentialId}`;
}

export const ROTATION_SCHEDULE_PREFIX = 'rotate-';
