/**
 * Credential rotations for operators, the API and the CLI: start one now, read its progress, and
 * manage rotation schedules (Temporal Schedules, one per credential, id `rotate-<credentialId>`,
 * overlap SKIP). Everything here deals in references and slot names; no key passes through.
 */
import {
  Client,
  ScheduleAlreadyRunning,
  ScheduleOverlapPolicy,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  type ScheduleDescription,
  type ScheduleSummary,
} from '@temporalio/client';
import { rotationKind } from '../rotators/kinds';
import { ConflictError, NotFoundError, ValidationError } from '../domain/errors';
import { rotationDetails, rotationLabels, rotationSummary } from '../domain/operator-view';
import type { VaultApi } from '../store/types';
import { rotateCredential, rotationStatusQuery, scheduledRotation } from '../workflows/rotation';
import {
  DEFAULT_GRACE_MS,
  ROTATION_SCHEDULE_PREFIX,
  ROTATION_WORKFLOW_ID_RE,
  rotationScheduleId,
  rotationWorkflowId,
  type RotationInput,
  type RotationKind,
  type RotationResult,
  type RotationStatus,
  type RotationTarget,
} from '../domain/rotation';
import { PhaseKey } from '../workflows/search-attributes';
import { TASK_QUEUE } from '../domain/run';
import { onSchedule, runState, scheduleFacts, scheduleSpec, type RunState } from './schedules';
import { VAULT_KEY_ROTATION_SCHEDULE_ID } from '../domain/vault-key';

/** At most 7 days of grace: launches read credentials when they start, not days later. */
const MAX_GRACE_MS = 7 * 24 * 60 * 60_000;

export interface RotationRequest {
  kind: RotationKind;
  /** The rotated credential, by id (or by name with workspaceId). */
  credentialId: string;
  workspaceId?: string;
  /** Azure kinds: the azure-entra credential (id or name) for management calls. */
  managementCredentialId?: string;
  resourceGroup?: string;
  registryName?: string;
  tokenName?: string;
  graceMs?: number;
  switchBack?: boolean;
}

export interface RotationScheduleRequest extends RotationRequest {
  /** Fire every this many milliseconds (at least an hour) ... */
  everyMs?: number;
  /** ... or on these cron expressions (UTC). Exactly one of the two. */
  cron?: string[];
  /** Create the schedule paused. */
  paused?: boolean;
  note?: string;
}

export interface RotationStarted {
  workflowId: string;
  account: string;
  label: string;
}

/** A rotation's state; the failure message names accounts and slots only. */
export type RotationState = RunState<RotationStatus, RotationResult>;

export interface RotationScheduleInfo {
  scheduleId: string;
  credentialId: string;
  kind?: string;
  account?: string;
  label?: string;
  paused: boolean;
  note?: string;
  /** The schedule's spec in words: "every 30d", or the cron expressions. */
  spec: string;
  nextRuns: string[];
  recentRuns: { at: string; workflowId: string }[];
}

function checkGrace(graceMs: unknown): number | undefined {
  if (graceMs === undefined) return undefined;
  if (typeof graceMs !== 'number' || !Number.isInteger(graceMs) || graceMs < 0 || graceMs > MAX_GRACE_MS) {
    throw new ValidationError('graceMs', `must be a whole number of milliseconds from 0 to ${MAX_GRACE_MS} (7 days)`);
  }
  return graceMs;
}

export class CredentialRotations {
  constructor(
    private readonly client: Client,
    private readonly vault: VaultApi,
    private readonly taskQueue: string = TASK_QUEUE,
  ) {}

  /** Checks a request against the vault and builds the workflow input (no cloud call). */
  async plan(req: RotationRequest): Promise<{ input: RotationInput; label: string }> {
    if (typeof req !== 'object' || req === null) throw new ValidationError('body', 'must be an object');
    const impl = rotationKind(req.kind);
    if (typeof req.credentialId !== 'string' || req.credentialId === '') throw new ValidationError('credentialId', 'is required');
    const cred = await this.vault.getCredential(req.credentialId, req.workspaceId);
    let managementCredentialId: string | undefined;
    if (req.managementCredentialId !== undefined) {
      if (typeof req.managementCredentialId !== 'string' || req.managementCredentialId === '') throw new ValidationError('managementCredentialId', 'must be a non-empty string');
      managementCredentialId = (await this.vault.getCredential(req.managementCredentialId, cred.workspaceId)).id;
    }
    for (const f of ['resourceGroup', 'registryName', 'tokenName'] as const) {
      if (req[f] !== undefined && (typeof req[f] !== 'string' || req[f] === '')) throw new ValidationError(f, 'must be a non-empty string');
    }
    if (req.switchBack !== undefined && typeof req.switchBack !== 'boolean') throw new ValidationError('switchBack', 'must be true or false');
    if (req.switchBack && !impl.fixedSlots) {
      throw new ValidationError('switchBack', `is not available for ${impl.kind}: the old slot's value is shown only when it is made, so the broker cannot go back to it`);
    }
    const target: RotationTarget = {
      kind: impl.kind,
      credentialId: cred.id,
      ...(managementCredentialId ? { managementCredentialId } : {}),
      ...(req.resourceGroup ? { resourceGroup: req.resourceGroup } : {}),
      ...(req.registryName ? { registryName: req.registryName } : {}),
      ...(req.tokenName ? { tokenName: req.tokenName } : {}),
    };
    const { account, label } = await impl.describe(target, this.vault);
    const graceMs = checkGrace(req.graceMs);
    return {
      input: { target, account, graceMs: graceMs ?? DEFAULT_GRACE_MS, ...(req.switchBack ? { switchBack: true } : {}), label },
      label,
    };
  }

  /** Starts a rotation now. ConflictError when one of the same account is running. */
  async start(req: RotationRequest): Promise<RotationStarted> {
    const { input, label } = await this.plan(req);
    const workflowId = rotationWorkflowId(input.account);
    try {
      await this.client.workflow.start(rotateCredential, {
        workflowId,
        taskQueue: this.taskQueue,
        args: [input],
        workflowIdConflictPolicy: 'FAIL',
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
        typedSearchAttributes: [{ key: PhaseKey, value: 'rotation:inspect' }],
        memo: { kind: input.target.kind, credentialId: input.target.credentialId, label },
        staticSummary: rotationSummary(rotationLabels(input)),
        staticDetails: rotationDetails(rotationLabels(input)),
      });
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) throw new ConflictError(`a rotation of ${label} is already running (workflow ${workflowId})`);
      throw err;
    }
    return { workflowId, account: input.account, label };
  }

  /** Progress of a rotation (running or closed), by workflow id. */
  async state(workflowId: string): Promise<RotationState> {
    if (typeof workflowId !== 'string' || !ROTATION_WORKFLOW_ID_RE.test(workflowId)) {
      throw new ValidationError('workflowId', 'must be a rotation workflow id (credential-rotation-...)');
    }
    return runState<RotationStatus, RotationResult>(this.client.workflow.getHandle(workflowId), rotationStatusQuery, 'rotation');
  }

  /**
   * The credential a rotation workflow rotates, from its memo (no worker needed): the API checks the
   * caller's role in that credential's workspace before showing a rotation. NotFoundError when there
   * is no such rotation.
   */
  async credentialOf(workflowId: string): Promise<string | undefined> {
    if (typeof workflowId !== 'string' || !ROTATION_WORKFLOW_ID_RE.test(workflowId)) {
      throw new ValidationError('workflowId', 'must be a rotation workflow id (credential-rotation-...)');
    }
    try {
      const memo = (await this.client.workflow.getHandle(workflowId).describe()).memo ?? {};
      return typeof memo.credentialId === 'string' ? memo.credentialId : undefined;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new NotFoundError('rotation', workflowId);
      throw err;
    }
  }

  /** Waits for a rotation to end and returns its result (throws its failure). */
  async wait(workflowId: string): Promise<RotationResult> {
    return this.client.workflow.getHandle<typeof rotateCredential>(workflowId).result();
  }

  // -- schedules --------------------------------------------------------------------------------

  async createSchedule(req: RotationScheduleRequest): Promise<RotationScheduleInfo> {
    const spec = scheduleSpec(req);
    const { input, label } = await this.plan(req);
    const scheduleId = rotationScheduleId(input.target.credentialId);
    try {
      const handle = await this.client.schedule.create({
        scheduleId,
        spec,
        action: {
          type: 'startWorkflow',
          workflowType: scheduledRotation,
          args: [input],
          taskQueue: this.taskQueue,
          workflowId: `scheduled-${scheduleId}`,
          staticSummary: `rotation schedule ${scheduleId}: starts the rotation of ${label} (${input.target.kind})`,
        },
        policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 hour' },
        state: { paused: req.paused === true, ...(req.note ? { note: req.note } : {}) },
        memo: { kind: input.target.kind, credentialId: input.target.credentialId, account: input.account, label },
      });
      return this.info(await handle.describe(), scheduleId);
    } catch (err) {
      if (err instanceof ScheduleAlreadyRunning) throw new ConflictError(`credential ${input.target.credentialId} already has a rotation schedule (${scheduleId}); delete it first`);
      throw err;
    }
  }

  async listSchedules(): Promise<RotationScheduleInfo[]> {
    const out: RotationScheduleInfo[] = [];
    for await (const s of this.client.schedule.list()) {
      // The vault's master key schedule (services/vault-key.ts) shares the prefix but rotates no credential.
      if (!s.scheduleId.startsWith(ROTATION_SCHEDULE_PREFIX) || s.scheduleId === VAULT_KEY_ROTATION_SCHEDULE_ID) continue;
      out.push(this.info(s, s.scheduleId));
    }
    return out.sort((a, b) => a.scheduleId.localeCompare(b.scheduleId));
  }

  async describeSchedule(credential: string, workspaceId?: string): Promise<RotationScheduleInfo> {
    const scheduleId = await this.scheduleIdOf(credential, workspaceId);
    return this.withSchedule(scheduleId, async (h) => this.info(await h.describe(), scheduleId));
  }

  async pauseSchedule(credential: string, note?: string, workspaceId?: string): Promise<void> {
    const scheduleId = await this.scheduleIdOf(credential, workspaceId);
    await this.withSchedule(scheduleId, (h) => h.pause(note ?? 'paused by an operator'));
  }

  async unpauseSchedule(credential: string, note?: string, workspaceId?: string): Promise<void> {
    const scheduleId = await this.scheduleIdOf(credential, workspaceId);
    await this.withSchedule(scheduleId, (h) => h.unpause(note ?? 'unpaused by an operator'));
  }

  /** Fires the schedule now (its overlap policy still applies). */
  async triggerSchedule(credential: string, workspaceId?: string): Promise<void> {
    const scheduleId = await this.scheduleIdOf(credential, workspaceId);
    await this.withSchedule(scheduleId, (h) => h.trigger(ScheduleOverlapPolicy.SKIP));
  }

  /** Deletes the schedule; a rotation it started keeps running to its end. */
  async deleteSchedule(credential: string, workspaceId?: string): Promise<void> {
    const scheduleId = await this.scheduleIdOf(credential, workspaceId);
    await this.withSchedule(scheduleId, (h) => h.delete());
  }

  private async scheduleIdOf(credential: string, workspaceId?: string): Promise<string> {
    if (typeof credential !== 'string' || credential === '') throw new ValidationError('credentialId', 'is required');
    // A credential deleted after its schedule was made still has a schedule to delete: accept its id.
    try {
      return rotationScheduleId((await this.vault.getCredential(credential, workspaceId)).id);
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
      // ... but only for an id no credential has in any workspace (a name from another workspace
      // must not reach that workspace's schedule), and never the vault's master key schedule.
      const elsewhere = await this.vault.getCredential(credential).then(
        () => true,
        (e: unknown) => (e instanceof NotFoundError ? false : Promise.reject(e)),
      );
      if (elsewhere || rotationScheduleId(credential) === VAULT_KEY_ROTATION_SCHEDULE_ID) throw err;
      return rotationScheduleId(credential);
    }
  }

  private withSchedule<T>(scheduleId: string, fn: (h: ReturnType<Client['schedule']['getHandle']>) => Promise<T>): Promise<T> {
    return onSchedule(this.client, scheduleId, 'rotation schedule', fn);
  }

  private info(d: ScheduleDescription | ScheduleSummary, scheduleId: string): RotationScheduleInfo {
    const memo = (d.memo ?? {}) as Record<string, unknown>;
    return {
      scheduleId,
      credentialId: scheduleId.slice(ROTATION_SCHEDULE_PREFIX.length),
      ...(typeof memo.kind === 'string' ? { kind: memo.kind } : {}),
      ...(typeof memo.account === 'string' ? { account: memo.account } : {}),
      ...(typeof memo.label === 'string' ? { label: memo.label } : {}),
      ...scheduleFacts(d),
    };
  }
}

/** What the API needs of CredentialRotations (tests may hand in a double). */
export type RotationsApi = Pick<
  CredentialRotations,
  'start' | 'state' | 'credentialOf' | 'createSchedule' | 'listSchedules' | 'describeSchedule' | 'pauseSchedule' | 'unpauseSchedule' | 'triggerSchedule' | 'deleteSchedule'
>;
