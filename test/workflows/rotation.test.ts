/**
 * rotateCredential and scheduledRotation with stub rotation activities on the time-skipping test
 * server: the grace timer (the old key is retired only after it), switch-back, every refusal, a
 * failed verify, and a scheduled firing beside a manual rotation. Seconds, not the minutes a real
 * grace period takes; the integration suites prove the same steps against the Azure fake and moto.
 */
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { randomBytes } from 'node:crypto';
import { ErrorType } from '../../domain/errors';
import { DEFAULT_GRACE_MS, rotationWorkflowId, type RotationInput, type RotationSnapshot } from '../../domain/rotation';
import { rotateCredential, rotationStatusQuery, scheduledRotation, type RotationActivities } from '../../workflows/rotation';
import type { AuditActivities } from '../../activities/audit';
import { eventually } from '../harness/broker';
import { mocked, startTimeSkipping, withStubWorker } from '../harness/time-skipping';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTimeSkipping();
});
afterAll(async () => {
  await env?.teardown();
});

const FIXED: RotationSnapshot = { rotatable: true, slots: ['Primary', 'Secondary'], stored: 'Primary', usedElsewhere: [], fixedSlots: true };

function stubs(snapshot: RotationSnapshot = FIXED, overrides: Partial<RotationActivities & AuditActivities> = {}): jest.Mocked<RotationActivities & AuditActivities> {
  return mocked<RotationActivities & AuditActivities>({
    rotationInspect: async () => snapshot,
    rotationRegenerate: async (_t, slot) => slot ?? 'AKIANEWKEYID',
    rotationStore: async () => undefined,
    rotationVerify: async () => undefined,
    rotationRetire: async () => undefined,
    auditSystemEvent: async () => undefined,
    ...overrides,
  });
}

function input(extra: Partial<RotationInput> = {}): RotationInput {
  const account = `azure-batch-key:sub:rg:acct${randomBytes(3).toString('hex')}`;
  return { target: { kind: 'azure-batch-key', credentialId: 'cred-1', managementCredentialId: 'mgmt-1', resourceGroup: 'rg' }, account, ...extra };
}

const start = (tq: string, i: RotationInput) => env.client.workflow.start(rotateCredential, { taskQueue: tq, workflowId: rotationWorkflowId(i.account), args: [i] });

/** The activity names in the order the workflow called them, with the slot each was given. */
function calls(a: jest.Mocked<RotationActivities>): string[] {
  const all: [number, string][] = [];
  const add = (name: string, fn: unknown, slotArg?: number) => {
    const m = fn as jest.Mock;
    m.mock.calls.forEach((args: unknown[], i: number) => all.push([m.mock.invocationCallOrder[i], slotArg === undefined ? name : `${name}(${String(args[slotArg])})`]));
  };
  add('inspect', a.rotationInspect);
  add('regenerate', a.rotationRegenerate, 1);
  add('store', a.rotationStore, 1);
  add('verify', a.rotationVerify);
  add('retire', a.rotationRetire, 1);
  return all.sort((x, y) => x[0] - y[0]).map(([, s]) => s);
}

test('the default grace is 10 minutes: the old key is retired only after it, and the status shows the wait', async () => {
  const acts = stubs();
  await withStubWorker(env, acts, async (tq) => {
    const handle = await start(tq, input());
    await eventually(async () => (await handle.query(rotationStatusQuery)).step === 'grace', 'the rotation is in its grace period');
    const during = await handle.query(rotationStatusQuery);
    expect(during).toMatchObject({ from: 'Primary', to: 'Secondary' });
    expect(during.graceEndsAt! - during.steps.at(-1)!.at).toBe(DEFAULT_GRACE_MS);
    await env.sleep('9m');
    expect((await handle.query(rotationStatusQuery)).step).toBe('grace');
    expect(acts.rotationRetire).not.toHaveBeenCalled();
    await env.sleep('2m');
    const result = await handle.result();
    expect(result).toMatchObject({ outcome: 'rotated', from: 'Primary', to: 'Secondary', final: 'Secondary' });
    expect(result.steps.map((s) => s.step)).toEqual(['inspect', 'regenerate-spare', 'switch', 'verify', 'grace', 'retire-old']);
    expect(calls(acts)).toEqual(['inspect', 'regenerate(Secondary)', 'store(Secondary)', 'verify', 'retire(Primary)']);
  });
});

test('switch-back ends on the first slot again and verifies it', async () => {
  const acts = stubs();
  await withStubWorker(env, acts, async (tq) => {
    const result = await (await start(tq, input({ switchBack: true, graceMs: 1_000 }))).result();
    expect(result).toMatchObject({ outcome: 'rotated', from: 'Primary', to: 'Secondary', final: 'Primary' });
    expect(calls(acts)).toEqual(['inspect', 'regenerate(Secondary)', 'store(Secondary)', 'verify', 'retire(Primary)', 'store(Primary)', 'verify']);
  });
});

test('switch-back is ignored where slots are not fixed (a retired AWS key or ACR password cannot come back)', async () => {
  const acts = stubs({ rotatable: true, slots: ['AKIAOLD'], stored: 'AKIAOLD', usedElsewhere: [], fixedSlots: false });
  await withStubWorker(env, acts, async (tq) => {
    const result = await (await start(tq, input({ switchBack: true, graceMs: 0 }))).result();
    expect(result).toMatchObject({ outcome: 'rotated', from: 'AKIAOLD', to: 'AKIANEWKEYID', final: 'AKIANEWKEYID' });
    expect(calls(acts)).toEqual(['inspect', 'regenerate(null)', 'store(AKIANEWKEYID)', 'verify', 'retire(AKIAOLD)']);
  });
});

test('an account with nothing to rotate ends at once, saying why, and changes nothing', async () => {
  const acts = stubs({ rotatable: false, reason: 'shared keys are disabled', slots: [], stored: null, usedElsewhere: [], fixedSlots: true });
  await withStubWorker(env, acts, async (tq) => {
    const result = await (await start(tq, input())).result();
    expect(result).toMatchObject({ outcome: 'nothing-to-rotate', reason: 'shared keys are disabled' });
    expect(calls(acts)).toEqual(['inspect']);
  });
});

test.each([
  { reason: 'the stored key matches none of the account keys', snapshot: { ...FIXED, stored: null }, message: /matches none of the account's current keys \(Primary, Secondary\)/ },
  { reason: 'other credentials use the other key (both keys in use)', snapshot: { ...FIXED, usedElsewhere: ['Secondary'] }, message: /both keys are in use .* normalize every credential/ },
  { reason: 'other credentials hold the same key', snapshot: { ...FIXED, usedElsewhere: ['Primary'] }, message: /other credentials in the vault hold the same key \(Primary\)/ },
])('refused, changing nothing: $reason', async ({ snapshot, message }) => {
  const acts = stubs(snapshot);
  await withStubWorker(env, acts, async (tq) => {
    const err = await (await start(tq, input())).result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect(cause.type).toBe(ErrorType.RotationRefused);
    expect(cause.message).toMatch(message);
    expect(cause.message).toMatch(/Nothing was changed/);
    expect(calls(acts)).toEqual(['inspect']);
  });
});

test('a verify that fails for good puts the proven key back (fixed slots) and never retires anything', async () => {
  const acts = stubs(FIXED, {
    rotationVerify: async () => {
      throw ApplicationFailure.create({ type: ErrorType.InvalidInput, message: 'the Batch endpoint refused the request', nonRetryable: true });
    },
  });
  await withStubWorker(env, acts, async (tq) => {
    const handle = await start(tq, input());
    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(calls(acts)).toEqual(['inspect', 'regenerate(Secondary)', 'store(Secondary)', 'verify', 'store(Primary)']);
    const status = await handle.query(rotationStatusQuery);
    expect(status.steps.at(-1)).toMatchObject({ step: 'switch-back', detail: 'verify failed; stored credential uses Primary again' });
  });
});

test('a refused verify is retried while a new key propagates, then the rotation goes on', async () => {
  let refusals = 2;
  const acts = stubs(FIXED, {
    rotationVerify: async () => {
      if (refusals-- > 0) throw ApplicationFailure.create({ type: ErrorType.AuthenticationFailed, message: 'the new key is not accepted yet' });
    },
  });
  await withStubWorker(env, acts, async (tq) => {
    const result = await (await start(tq, input({ graceMs: 0 }))).result();
    expect(result.outcome).toBe('rotated');
    expect(acts.rotationVerify).toHaveBeenCalledTimes(3);
    expect(acts.rotationRetire).toHaveBeenCalledTimes(1);
  });
});

test('a scheduled firing runs the rotation as a child under the account workflow id, and skips while one runs', async () => {
  const acts = stubs();
  await withStubWorker(env, acts, async (tq) => {
    const i = input({ graceMs: 60 * 60_000 });
    const manual = await start(tq, i);
    await eventually(async () => (await manual.query(rotationStatusQuery)).step === 'grace', 'the manual rotation is in its grace period');
    const skipped = await env.client.workflow.execute(scheduledRotation, { taskQueue: tq, workflowId: `scheduled-${randomBytes(3).toString('hex')}`, args: [i] });
    expect(skipped).toEqual({ outcome: 'skipped-already-running', workflowId: rotationWorkflowId(i.account) });
    await manual.result();

    const fired = await env.client.workflow.execute(scheduledRotation, { taskQueue: tq, workflowId: `scheduled-${randomBytes(3).toString('hex')}`, args: [{ ...i, graceMs: 0 }] });
    expect(fired).toMatchObject({ outcome: 'rotated', workflowId: rotationWorkflowId(i.account), result: { outcome: 'rotated' } });
    expect(acts.rotationRetire).toHaveBeenCalledTimes(2);
    // Both firings are on the audit trail (no API call started them); the manual rotation is not.
    expect(acts.auditSystemEvent.mock.calls.map(([e]) => [e.action, e.outcome, e.target, e.detail])).toEqual([
      ['scheduledRotation', 'ok', { credential: 'cred-1', account: i.account }, { result: 'skipped-already-running' }],
      ['scheduledRotation', 'ok', { credential: 'cred-1', account: i.account }, { result: 'rotated' }],
    ]);
  });
});

test("a scheduled firing whose rotation fails is on the audit trail with the activity's own error, not its wrappers'", async () => {
  const refused = 'the broker lacks Microsoft.Batch/batchAccounts/regenerateKeys/action on acct';
  const acts = stubs(FIXED, {
    rotationInspect: async () => {
      throw ApplicationFailure.nonRetryable(refused, ErrorType.PermissionDenied);
    },
  });
  await withStubWorker(env, acts, async (tq) => {
    const i = input();
    const err = await env.client.workflow.execute(scheduledRotation, { taskQueue: tq, workflowId: `scheduled-${randomBytes(3).toString('hex')}`, args: [i] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    // Child workflow failure → activity failure → the activity's ApplicationFailure.
    expect(acts.auditSystemEvent.mock.calls.map(([e]) => [e.action, e.outcome, e.detail])).toEqual([['scheduledRotation', 'failed', { error: refused }]]);
  });
});
