/**
 * Two-slot credential rotation without downtime, step by step as Azure's documented key rotation procedure describes it for Azure
 * Batch shared keys (and the same for Storage keys, registry token passwords and AWS access keys):
 *
 *   inspect           which slot the stored credential uses; refuse if the account's credentials use both
 *   regenerate-spare  a fresh key in the other slot (nobody uses it)
 *   switch            store the fresh key in the vault credential
 *   verify            a live, signed call with the stored key
 *   grace             wait: launches that read the old key keep working
 *   retire-old        regenerate (or delete) the old slot
 *   switch-back       optionally go back to the first slot (fixed slots only), and verify again
 *
 * One rotation per account at a time: the workflow id is derived from the account. Every activity
 * checks state before changing anything and refuses to invalidate a slot a stored credential uses,
 * so a crash at any point resumes safely and the stored key is valid at every moment. Each step is
 * visible in the Web UI (BrokerPhase, the `rotationStatus` query, and the activity list). The
 * workflow sees slot names and references only, never a key.
 */
import {
  ApplicationFailure,
  defineQuery,
  executeChild,
  log,
  ParentClosePolicy,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  WorkflowIdReusePolicy,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { createRotationActivities } from '../activities/rotation';
import { cloudWrite, iamVerify, vaultRead } from './activity-options';
import {
  DEFAULT_GRACE_MS,
  rotationWorkflowId,
  type RotationInput,
  type RotationResult,
  type RotationSnapshot,
  type RotationStatus,
  type RotationStep,
  type RotationTarget,
  type ScheduledRotationResult,
} from '../domain/rotation';
import { PhaseKey } from './search-attributes';
import { ErrorType } from '../domain/errors';
import { auditSystem } from './audit';
import { errorMessage } from './failures';
import { rotationCurrentDetails, rotationDetails, rotationLabels, rotationSummary } from '../domain/operator-view';

/** The activities this workflow calls, and nothing else (a test stubs exactly these). */
export type RotationActivities = ReturnType<typeof createRotationActivities>;

const { rotationInspect } = proxyActivities<RotationActivities>(vaultRead);
const { rotationRegenerate, rotationStore, rotationRetire } = proxyActivities<RotationActivities>(cloudWrite);
/**
 * A new key can take a while to be accepted everywhere (Azure and IAM propagate keys in seconds to
 * minutes), so a refused verify retries for about ten minutes before the rotation stops. Stopping
 * there is safe: the stored key is the fresh one the cloud just issued, and the old one still works.
 */
const { rotationVerify } = proxyActivities<RotationActivities>({
  ...iamVerify,
  retry: {
    initialInterval: '2s',
    backoffCoefficient: 2,
    maximumInterval: '2m',
    maximumAttempts: 10,
    nonRetryableErrorTypes: [ErrorType.InvalidInput, ErrorType.PermissionDenied, ErrorType.RotationRefused],
  },
});

export const rotationStatusQuery = defineQuery<RotationStatus>('rotationStatus');

function refuse(message: string): never {
  throw ApplicationFailure.create({ type: ErrorType.RotationRefused, message, nonRetryable: true });
}

/** What a rotation shows while it runs: the rotationStatus query, BrokerPhase, the Web UI's current details. */
class Progress {
  readonly status: RotationStatus;
  private lastError: string | undefined;

  constructor(private readonly input: RotationInput) {
    this.status = { account: input.account, kind: input.target.kind, step: 'inspect', steps: [] };
    setHandler(rotationStatusQuery, () => this.status);
  }

  /** The Web UI's current details (not a command: no history, no replay change). */
  show(): void {
    setCurrentDetails(rotationCurrentDetails(this.status, this.lastError));
  }

  begin(step: RotationStep): void {
    this.status.step = step;
    upsertSearchAttributes([{ key: PhaseKey, value: `rotation:${step}` }]);
    this.show();
  }

  done(step: RotationStep, detail?: string): void {
    this.status.steps.push({ step, at: Date.now(), ...(detail ? { detail } : {}) });
    log.info('rotation step done', { account: this.input.account, step, ...(detail ? { detail } : {}) });
    this.show();
  }

  failed(message: string): void {
    this.lastError = message;
    this.show();
  }
}

export async function rotateCredential(input: RotationInput): Promise<RotationResult> {
  const { target } = input;
  const progress = new Progress(input);
  const { status } = progress;

  progress.begin('inspect');
  const snap = await rotationInspect(target);
  if (!snap.rotatable) {
    progress.done('inspect', snap.reason);
    progress.begin('done');
    return { outcome: 'nothing-to-rotate', account: input.account, reason: snap.reason, steps: status.steps };
  }
  const from = slotToRotate(input.account, snap);
  const spare = snap.slots.find((s) => s !== from) ?? null;
  status.from = from;
  progress.done('inspect', `stored credential uses ${from}`);

  progress.begin('regenerate-spare');
  const to = await rotationRegenerate(target, spare);
  status.to = to;
  progress.done('regenerate-spare', to);

  progress.begin('switch');
  await rotationStore(target, to);
  progress.done('switch', `stored credential now uses ${to}`);

  await verifyOrSwitchBack(progress, target, snap, from);
  await grace(progress, input.graceMs ?? DEFAULT_GRACE_MS);

  progress.begin('retire-old');
  await rotationRetire(target, from);
  progress.done('retire-old', from);

  const final = input.switchBack && snap.fixedSlots ? await switchBack(progress, target, from) : to;
  progress.begin('done');
  return { outcome: 'rotated', account: input.account, from, to, final, steps: status.steps };
}

/**
 * The slot the stored credential uses, the one the rotation retires. Refused, with nothing changed,
 * when the stored key matches no slot or when other credentials of the account hold either key.
 */
function slotToRotate(account: string, snap: RotationSnapshot): string {
  if (snap.stored === null) {
    refuse(`${account}: the stored credential matches none of the account's current keys (${snap.slots.join(', ')}); update it with a working key before rotating. Nothing was changed`);
  }
  const other = snap.usedElsewhere.filter((s) => s !== snap.stored);
  if (other.length) {
    refuse(
      `${account}: both keys are in use (the rotated credential uses ${snap.stored}, other credentials in the vault use ${other.join(', ')}); normalize every credential of the account on one key first (Azure's documented key rotation procedure, step 1). Nothing was changed`,
    );
  }
  if (snap.usedElsewhere.includes(snap.stored)) {
    // Retiring the old key would break the other credentials that hold it: one credential per account.
    refuse(
      `${account}: other credentials in the vault hold the same key (${snap.stored}) as the rotated one; the old key could not be retired without breaking them. Keep one credential per account (point compute environments at it) and rotate that one. Nothing was changed`,
    );
  }
  return snap.stored;
}

/** A live, signed call with the stored (fresh) key; when it fails, the proven key goes back where it can. */
async function verifyOrSwitchBack(progress: Progress, target: RotationTarget, snap: RotationSnapshot, from: string): Promise<void> {
  progress.begin('verify');
  try {
    await rotationVerify(target);
  } catch (err) {
    progress.failed(`verify failed: ${errorMessage(err)}`);
    // The fresh key was never proven. Where the old slot can be read back, the credential goes back
    // to it (still valid: nothing retired it), so a failed rotation leaves the proven key stored and
    // a later rotation starts from there with its full grace period.
    if (snap.fixedSlots) {
      progress.begin('switch-back');
      await rotationStore(target, from);
      progress.done('switch-back', `verify failed; stored credential uses ${from} again`);
    }
    throw err;
  }
  progress.done('verify');
}

/** Wait before retiring the old key: launches that read it keep working. */
async function grace(progress: Progress, graceMs: number): Promise<void> {
  progress.begin('grace');
  progress.status.graceEndsAt = Date.now() + graceMs;
  progress.show();
  await sleep(graceMs);
  progress.status.graceEndsAt = undefined;
  progress.done('grace', `${graceMs} ms`);
}

/** Back to the first slot (fixed slots only, when asked for), verified again; the slot now stored. */
async function switchBack(progress: Progress, target: RotationTarget, from: string): Promise<string> {
  progress.begin('switch-back');
  await rotationStore(target, from);
  progress.done('switch-back', `stored credential uses ${from} again`);
  progress.begin('verify-back');
  await rotationVerify(target);
  progress.done('verify-back');
  return from;
}

function childMetadata(input: RotationInput): { staticSummary: string; staticDetails: string } {
  const labels = rotationLabels(input, workflowInfo().workflowId);
  return { staticSummary: rotationSummary(labels), staticDetails: rotationDetails(labels) };
}

/**
 * A schedule's firing on the audit trail: no API call started it (patched: firings that ended before
 * replay without the record).
 */
async function auditFiring(input: RotationInput, outcome: 'ok' | 'failed', detail: Record<string, string>): Promise<void> {
  if (!patched('audit-scheduled-rotation')) return;
  await auditSystem({ action: 'scheduledRotation', target: { credential: input.target.credentialId, account: input.account }, outcome, detail });
}

/**
 * What a rotation schedule starts: the account's rotation as a child with the account's workflow id,
 * so a schedule never runs beside a manual rotation of the same account (it reports the skip). The
 * child is abandoned if this workflow is closed: a rotation, once begun, finishes.
 */
export async function scheduledRotation(input: RotationInput): Promise<ScheduledRotationResult> {
  const workflowId = rotationWorkflowId(input.account);
  try {
    const result = await executeChild(rotateCredential, {
      workflowId,
      args: [input],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
      // The child's summary and details for the Web UI (user metadata on the start command: patched,
      // so a scheduled rotation that started its child before replays as it ran).
      ...(patched('rotation-child-summary') ? childMetadata(input) : {}),
    });
    await auditFiring(input, 'ok', { result: result.outcome });
    return { outcome: result.outcome, workflowId, result };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      log.info('a rotation of this account is already running; this firing skips', { workflowId });
      await auditFiring(input, 'ok', { result: 'skipped-already-running' });
      return { outcome: 'skipped-already-running', workflowId };
    }
    await auditFiring(input, 'failed', { error: errorMessage(err).slice(0, 500) });
    throw err;
  }
}
