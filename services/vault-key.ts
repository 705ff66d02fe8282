/**
 * Vault master key rotation for operators, the API and the CLI: start one now (the broker's worker
 * re-wraps every data key of its own vault; workflows/vault-key.ts), read its state, and manage its
 * schedule: one Temporal Schedule, id `rotate-vault-master-key`, overlap SKIP, created on demand.
 * Key ids and counts pass through here, never key material.
 */
import { Client, ScheduleAlreadyRunning, ScheduleOverlapPolicy, WorkflowExecutionAlreadyStartedError, type ScheduleDescription } from '@temporalio/client';
import { ConflictError, ValidationError } from '../domain/errors';
import { PhaseKey } from '../workflows/search-attributes';
import { TASK_QUEUE } from '../domain/run';
import {
  rotateVaultMasterKey,
  scheduledVaultKeyRotation,
  vaultKeyRotationStatusQuery
} from '../workflows/vault-key';
import { onSchedule, runState, scheduleFacts, scheduleSpec, type RunState } from './schedules';
import { VAULT_KEY_ROTATION_SCHEDULE_ID, VAULT_KEY_ROTATION_WORKFLOW_ID, type VaultKeyRotationResult, type VaultKeyRotationStatus } from '../domain/vault-key';

/** The workflow ids a vault key rotation runs under: manual and scheduled (the schedule's own runs). */
export const VAULT_KEY_WORKFLOW_ID_RE = /^(vault-master-key-rotation|scheduled-rotate-vault-master-key[A-Za-z0-9:._-]{0,80})$/;

export interface VaultKeyScheduleRequest {
  /** Fire every this many milliseconds (at least an hour) ... */
  everyMs?: number;
  /** ... or on these cron expressions (UTC). Exactly one of the two. */
  cron?: string[];
  /** Create the schedule paused. */
  paused?: boolean;
  note?: string;
}

export interface VaultKeyRotationStarted {
  workflowId: string;
}

/** A vault key rotation's state; the failure message holds key ids and instructions only. */
export type VaultKeyRotationState = RunState<VaultKeyRotationStatus, VaultKeyRotationResult>;

export interface VaultKeyScheduleInfo {
  scheduleId: string;
  paused: boolean;
  note?: string;
  /** The schedule's spec in words: "every 90d", or the cron expressions. */
  spec: string;
  nextRuns: string[];
  recentRuns: { at: string; workflowId: string }[];
}

export class VaultKeyRotations {
  constructor(
    private readonly client: Client,
    private readonly taskQueue: string = TASK_QUEUE,
  ) {}

  /** Starts a rotation now. ConflictError when one is running (manual or scheduled). */
  async start(): Promise<VaultKeyRotationStarted> {
    const workflowId = VAULT_KEY_ROTATION_WORKFLOW_ID;
    try {
      await this.client.workflow.start(rotateVaultMasterKey, {
        workflowId,
        taskQueue: this.taskQueue,
        workflowIdConflictPolicy: 'FAIL',
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
        typedSearchAttributes: [{ key: PhaseKey, value: 'vault-key:rewrap' }],
        memo: { purpose: 're-wrap every data key of the vault under a new master key' },
      });
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) throw new ConflictError(`a vault master key rotation is already running (workflow ${workflowId})`);
      throw err;
    }
    return { workflowId };
  }

  /** The latest rotation's state (running or closed). */
  async state(workflowId: string = VAULT_KEY_ROTATION_WORKFLOW_ID): Promise<VaultKeyRotationState> {
    if (typeof workflowId !== 'string' || !VAULT_KEY_WORKFLOW_ID_RE.test(workflowId)) {
      throw new ValidationError('workflowId', `must be a vault key rotation workflow id (${VAULT_KEY_ROTATION_WORKFLOW_ID})`);
    }
    return runState<VaultKeyRotationStatus, VaultKeyRotationResult>(this.client.workflow.getHandle(workflowId), vaultKeyRotationStatusQuery, 'vault key rotation');
  }

  /** Waits for the rotation to end and returns its result (throws its failure). */
  async wait(workflowId: string = VAULT_KEY_ROTATION_WORKFLOW_ID): Promise<VaultKeyRotationResult> {
    return this.client.workflow.getHandle<typeof rotateVaultMasterKey>(workflowId).result();
  }

  // -- the schedule -----------------------------------------------------------------------------

  async createSchedule(req: VaultKeyScheduleRequest): Promise<VaultKeyScheduleInfo> {
    if (typeof req !== 'object' || req === null) throw new ValidationError('body', 'must be an object');
    const spec = scheduleSpec(req);
    const scheduleId = VAULT_KEY_ROTATION_SCHEDULE_ID;
    try {
      const handle = await this.client.schedule.create({
        scheduleId,
        spec,
        action: { type: 'startWorkflow', workflowType: scheduledVaultKeyRotation, taskQueue: this.taskQueue, workflowId: `scheduled-${scheduleId}` },
        policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 hour' },
        state: { paused: req.paused === true, ...(req.note ? { note: req.note } : {}) },
        memo: { purpose: 're-wrap every data key of the vault under a new master key' },
      });
      return this.info(await handle.describe());
    } catch (err) {
      if (err instanceof ScheduleAlreadyRunning) throw new ConflictError(`the vault master key rotation schedule (${scheduleId}) already exists; delete it first`);
      throw err;
    }
  }

  async describeSchedule(): Promise<VaultKeyScheduleInfo> {
    return this.withSchedule(async (h) => this.info(await h.describe()));
  }

  async pauseSchedule(note?: string): Promise<void> {
    await this.withSchedule((h) => h.pause(note ?? 'paused by an operator'));
  }

  async unpauseSchedule(note?: string): Promise<void> {
    await this.withSchedule((h) => h.unpause(note ?? 'unpaused by an operator'));
  }

  /** Fires the schedule now (a firing while a rotation runs is skipped). */
  async triggerSchedule(): Promise<void> {
    await this.withSchedule((h) => h.trigger(ScheduleOverlapPolicy.SKIP));
  }

  /** Deletes the schedule; a rotation it started runs to its end. */
  async deleteSchedule(): Promise<void> {
    await this.withSchedule((h) => h.delete());
  }

  private withSchedule<T>(fn: (h: ReturnType<Client['schedule']['getHandle']>) => Promise<T>): Promise<T> {
    return onSchedule(this.client, VAULT_KEY_ROTATION_SCHEDULE_ID, 'vault key rotation schedule', fn);
  }

  private info(d: ScheduleDescription): VaultKeyScheduleInfo {
    return { scheduleId: VAULT_KEY_ROTATION_SCHEDULE_ID, ...scheduleFacts(d) };
  }
}

/** What the API needs of VaultKeyRotations (tests may hand in a double). */
export type VaultKeyRotationsApi = Pick<
  VaultKeyRotations,
  'start' | 'state' | 'createSchedule' | 'describeSchedule' | 'pauseSchedule' | 'unpauseSchedule' | 'triggerSchedule' | 'deleteSchedule'
>;
