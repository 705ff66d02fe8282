/**
 * The activities that can outlive a few seconds, in MockActivityEnvironment over fakes: what they
 * heartbeat (so a lost worker is noticed at the heartbeat timeout, not the start-to-close one), what a
 * retry reads back from the last heartbeat, how a cancellation stops them, and which failures they
 * leave to the workflow's retry policy.
 */
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createPipelineRunActivities } from '../../activities/pipeline-run';
import { HEARTBEAT_EVERY_MS, heartbeating } from '../../activities/heartbeat';
import { createRotationActivities } from '../../activities/rotation';
import { createSweepActivities } from '../../activities/sweep';
import { createVaultKeyActivities } from '../../activities/vault-key';
import { AuthenticationFailedError, ErrorType, VaultKeyError, notFound } from '../../domain/errors';
import type { RotationSnapshot, RotationTarget } from '../../domain/rotation';
import type { ComputeEnvRecord, PipelineRunInput, SecretRef } from '../../domain/run';
import type { TwoSlotRotator } from '../../rotators';
import type { VaultApi } from '../../store/types';
import type { SecretTarget } from '../../targets/types';

const CE: ComputeEnvRecord = { id: 'ce-1', workspaceId: 'ws-1', name: 'laptop', platform: 'local', config: {}, credentialId: null };
const RUN: PipelineRunInput = { runId: 'run1', workspaceId: 'ws-1', userId: 'u-1', computeEnvId: 'ce-1', secretNames: ['A', 'B', 'C'] };
const VALUES: Record<string, string> = { s1: 'value-one-0001', s2: 'value-two-0002', s3: 'value-three-0003' };

/** A vault that answers only what each test needs; anything else is a test bug. */
function fakeVault(parts: Partial<VaultApi>): VaultApi {
  return new Proxy(parts as VaultApi, {
    get: (t, k) => (k in t ? t[k as keyof VaultApi] : () => Promise.reject(new Error(`the fake vault has no ${String(k)}`))),
  });
}

function recordHeartbeats(env: MockActivityEnvironment): unknown[] {
  const beats: unknown[] = [];
  env.on('heartbeat', (d: unknown) => beats.push(d));
  return beats;
}

describe('pushSecrets', () => {
  const secrets: SecretRef[] = ['A', 'B', 'C'].map((name, i) => ({ name, scope: 'workspace', secretId: `s${i + 1}`, version: 1 }));
  const vault = fakeVault({
    getComputeEnv: async () => ({ ...CE, createdAt: '', updatedAt: '' }),
    readSecretValue: async (ref) => VALUES[ref.secretId],
    readSecretValues: async (refs) => refs.map((ref) => VALUES[ref.secretId]),
  });

  test('heartbeats the count placed as the target reports progress', async () => {
    const target: SecretTarget = {
      platform: 'local',
      plan: () => [],
      async push(_run, plain, progress) {
        for (let i = 1; i <= plain.length; i++) progress?.(i);
        return { refs: [], headJobEnv: {} };
      },
      verify: async () => ({ ok: true }),
      delete: async () => [],
      listOwned: async () => [],
      close: async () => undefined,
    };
    const env = new MockActivityEnvironment();
    const beats = recordHeartbeats(env);
    const acts = createPipelineRunActivities({ vault, target: async () => target });
    await env.run(acts.pushSecrets, { run: RUN, secrets });
    expect(beats).toEqual([1, 2, 3]);
  });

  test('a failure carries no value, however the target words it', async () => {
    const target = {
      platform: 'local',
      push: async () => {
        throw new Error(`could not write value-two-0002 and "value-three-0003" to disk`);
      },
      close: async () => undefined,
    } as unknown as SecretTarget;
    const env = new MockActivityEnvironment();
    const acts = createPipelineRunActivities({ vault, target: async () => target });
    const err = (await env.run(acts.pushSecrets, { run: RUN, secrets }).catch((e: unknown) => e)) as ApplicationFailure;
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err.message).toBe('could not write [REDACTED] and "[REDACTED]" to disk');
  });
});

describe('resolveRun', () => {
  test.each([
    { missing: 'user', type: 'UserNotFoundError', vault: { resolveSecrets: async () => Promise.reject(notFound('user', 'u-9')) } },
    { missing: 'workspace', type: 'WorkspaceNotFoundError', vault: { resolveSecrets: async () => Promise.reject(notFound('workspace', 'ws-9')) } },
  ])('a missing $missing fails the launch as $type, not as a missing compute environment', async ({ missing, type, vault }) => {
    const acts = createPipelineRunActivities({ vault: fakeVault(vault as Partial<VaultApi>), target: async () => Promise.reject(new Error('not reached')) });
    const err = (await new MockActivityEnvironment().run(acts.resolveRun, RUN).catch((e: unknown) => e)) as ApplicationFailure;
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err.type).toBe(type);
    expect(err.message).toMatch(new RegExp(`^${missing} "[a-z0-9-]+" not found$`));
  });
});

describe('heartbeating', () => {
  afterEach(() => jest.useRealTimers());

  test('nothing at start; every 2 s it repeats the last progress; a retried attempt repeats the previous one until it reports its own', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] });
    let release!: () => void;
    const env = new MockActivityEnvironment({ attempt: 2, heartbeatDetails: { done: 7 } });
    const beats = recordHeartbeats(env);
    const running = env.run(() =>
      heartbeating(async ({ progress }) => {
        await new Promise<void>((r) => setTimeout(r, HEARTBEAT_EVERY_MS * 2 + 10));
        progress({ done: 8 });
        await new Promise<void>((r) => (release = r));
        return 'ok';
      }),
    );
    await jest.advanceTimersByTimeAsync(HEARTBEAT_EVERY_MS * 2 + 10);
    await jest.advanceTimersByTimeAsync(HEARTBEAT_EVERY_MS);
    release();
    await expect(running).resolves.toBe('ok');
    expect(beats).toEqual([{ done: 7 }, { done: 7 }, { done: 8 }, { done: 8 }]);
  });

  test('a cancellation aborts the signal, and what the aborted call threw is reported as a cancellation', async () => {
    const env = new MockActivityEnvironment();
    let sawAbort = false;
    const running = env.run(() =>
      heartbeating(async ({ signal }) => {
        await new Promise<void>((_, reject) =>
          signal.addEventListener('abort', () => {
            sawAbort = true;
            reject(new Error('socket hang up')); // what a destroyed connection throws
          }),
        );
      }),
    );
    env.cancel();
    const err = await running.catch((e: unknown) => e);
    expect(sawAbort).toBe(true);
    expect(err).toBeInstanceOf(CancelledFailure);
  });

  test('pushSecrets closes its target at once when cancelled, so the provider call stops', async () => {
    const env = new MockActivityEnvironment();
    let closed = 0;
    let pushStarted!: () => void;
    const started = new Promise<void>((r) => (pushStarted = r));
    const target = {
      platform: 'local',
      push: (run: { signal?: AbortSignal }) =>
        new Promise((_, reject) => {
          pushStarted();
          run.signal?.addEventListener('abort', () => reject(new Error('aborted by the broker')));
        }),
      close: async () => void closed++,
    } as unknown as SecretTarget;
    const vault = fakeVault({ getComputeEnv: async () => ({ ...CE, createdAt: '', updatedAt: '' }), readSecretValues: async (refs) => refs.map((ref) => VALUES[ref.secretId]) });
    const acts = createPipelineRunActivities({ vault, target: async () => target });
    const running = env.run(acts.pushSecrets, { run: RUN, secrets: [{ name: 'A', scope: 'workspace' as const, secretId: 's1', version: 1 }] });
    await started;
    env.cancel();
    await expect(running).rejects.toBeInstanceOf(CancelledFailure);
    expect(closed).toBeGreaterThanOrEqual(1);
  });

  test('a run with no secrets places nothing and checks nothing', async () => {
    const target = { platform: 'local', push: jest.fn(), verify: jest.fn(), close: async () => undefined } as unknown as SecretTarget;
    const acts = createPipelineRunActivities({ vault: fakeVault({ getComputeEnv: async () => ({ ...CE, createdAt: '', updatedAt: '' }) }), target: async () => target });
    await expect(new MockActivityEnvironment().run(acts.pushSecrets, { run: { ...RUN, secretNames: [] }, secrets: [] })).resolves.toEqual({ refs: [], headJobEnv: {} });
    await expect(new MockActivityEnvironment().run(acts.verifyAccess, { run: { ...RUN, secretNames: [] }, refs: [] })).resolves.toBeUndefined();
    expect(target.push).not.toHaveBeenCalled();
    expect(target.verify).not.toHaveBeenCalled();
  });
});

describe('rotation steps', () => {
  const target: RotationTarget = { kind: 'azure-batch-key', credentialId: 'cred-1' };
  const SNAP: RotationSnapshot = { rotatable: true, slots: ['Primary', 'Secondary'], stored: 'Primary', usedElsewhere: [], fixedSlots: true };

  function rotator(parts: Partial<TwoSlotRotator>): TwoSlotRotator & { closed: number } {
    const r: TwoSlotRotator & { closed: number } = {
      label: 'Batch account acct',
      closed: 0,
      inspect: async () => SNAP,
      regenerate: async (s: string | null) => s ?? 'x',
      store: async () => undefined,
      verifyStored: async () => undefined,
      retire: async () => undefined,
      close: async () => void r.closed++,
      ...parts,
    };
    return r;
  }

  afterEach(() => jest.useRealTimers());

  test('a step heartbeats its name at once and every 2 s while it runs, and closes its rotator', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] });
    let finish!: () => void;
    const r = rotator({ regenerate: () => new Promise<string>((resolve) => (finish = () => resolve('Secondary'))) });
    const acts = createRotationActivities({ vault: fakeVault({}), createRotator: async () => r });
    const env = new MockActivityEnvironment();
    const beats = recordHeartbeats(env);
    const running = env.run(acts.rotationRegenerate, target, 'Secondary');
    await jest.advanceTimersByTimeAsync(0);
    expect(beats).toEqual(['regenerate']);
    await jest.advanceTimersByTimeAsync(HEARTBEAT_EVERY_MS * 3);
    expect(beats).toEqual(['regenerate', 'regenerate', 'regenerate', 'regenerate']);
    finish();
    await expect(running).resolves.toBe('Secondary');
    await jest.advanceTimersByTimeAsync(HEARTBEAT_EVERY_MS * 3);
    expect(beats).toHaveLength(4); // no heartbeat after the step ended
    expect(r.closed).toBe(1);
  });

  test("a refused key at verify is left to the workflow's policy (it retries while the key propagates)", async () => {
    const r = rotator({
      verifyStored: async () => {
        throw new AuthenticationFailedError('the Batch data plane refused the stored key (HTTP 403)');
      },
    });
    const acts = createRotationActivities({ vault: fakeVault({}), createRotator: async () => r });
    const err = (await new MockActivityEnvironment().run(acts.rotationVerify, target).catch((e: unknown) => e)) as ApplicationFailure;
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err.type).toBe(ErrorType.AuthenticationFailed);
    expect(err.message).toBe('verify of Batch account acct: the Batch data plane refused the stored key (HTTP 403)');
    expect(err.nonRetryable).toBeFalsy();
    expect(r.closed).toBe(1);
  });
});

describe('vaultRewrap', () => {
  test('heartbeats {newKeyId, done, total}; a retry passes the key id it read back, and resumes that rotation', async () => {
    const seen: unknown[] = [];
    const vault = fakeVault({
      async rotateMasterKey(opts) {
        seen.push(opts?.resumeKeyId);
        await opts?.onStart?.({ newKeyId: opts.resumeKeyId ?? 'kek-new', total: 3, skipped: 0 });
        for (let done = 1; done <= 3; done++) await opts?.onProgress?.({ done, total: 3 });
        return { newKeyId: opts?.resumeKeyId ?? 'kek-new', oldKeyIds: ['kek-old'], rewrapped: 3, skipped: 0, total: 3, secrets: 2, credentials: 1, nextSteps: [] };
      },
    });
    const acts = createVaultKeyActivities({ vault });
    const first = new MockActivityEnvironment();
    const beats = recordHeartbeats(first);
    await expect(first.run(acts.vaultRewrap)).resolves.toMatchObject({ newKeyId: 'kek-new', rewrapped: 3 });
    expect(beats).toEqual([
      { newKeyId: 'kek-new', done: 0, total: 3 },
      { newKeyId: 'kek-new', done: 1, total: 3 },
      { newKeyId: 'kek-new', done: 2, total: 3 },
      { newKeyId: 'kek-new', done: 3, total: 3 },
    ]);
    const retry = new MockActivityEnvironment({ attempt: 2, heartbeatDetails: { newKeyId: 'kek-inflight', done: 1, total: 3 } });
    await expect(retry.run(acts.vaultRewrap)).resolves.toMatchObject({ newKeyId: 'kek-inflight' });
    expect(seen).toEqual([undefined, 'kek-inflight']);
  });

  test('a cancellation stops it between rows, to resume later', async () => {
    const env = new MockActivityEnvironment();
    const vault = fakeVault({
      async rotateMasterKey(opts) {
        await opts?.onStart?.({ newKeyId: 'kek-new', total: 2, skipped: 0 });
        env.cancel();
        await opts?.onProgress?.({ done: 1, total: 2 });
        throw new Error('not reached: onProgress throws when cancelled');
      },
    });
    const err = await env.run(createVaultKeyActivities({ vault }).vaultRewrap).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CancelledFailure);
    expect((err as Error).message).toMatch(/cancelled; it resumes when started again/);
  });

  test('a refusal by the vault is non-retryable VaultKeyError', async () => {
    const vault = fakeVault({
      rotateMasterKey: async () => {
        throw new VaultKeyError('the master key comes from BROKER_MASTER_KEY: set BROKER_MASTER_KEY_NEXT');
      },
    });
    const err = (await new MockActivityEnvironment().run(createVaultKeyActivities({ vault }).vaultRewrap).catch((e: unknown) => e)) as ApplicationFailure;
    expect(err).toMatchObject({ type: ErrorType.VaultKey, nonRetryable: true });
  });
});

describe('sweepComputeEnv', () => {
  test('heartbeats its progress per object, keeps what a running run owns, deletes the rest', async () => {
    const deleted: string[] = [];
    const target = {
      platform: 'local',
      listOwned: async () => [
        { remoteId: '/w/tower-live', runId: 'live', workspaceId: 'ws-1' },
        { remoteId: '/w/tower-gone', runId: 'gone', workspaceId: 'ws-1' },
        { remoteId: '/w/tower-old', runId: 'old', workspaceId: 'ws-1' },
      ],
      delete: async (_run: unknown, refs: { remoteId: string }[]) => {
        deleted.push(...refs.map((r) => r.remoteId));
        return refs.map(() => 'deleted');
      },
      close: async () => undefined,
    } as unknown as SecretTarget;
    const acts = createSweepActivities({
      vault: fakeVault({ getComputeEnv: async () => ({ ...CE, createdAt: '', updatedAt: '' }) }),
      target: async () => target,
      runLiveness: async (runId) => (runId === 'live' ? 'running' : runId === 'gone' ? 'not-found' : 'closed'),
    });
    const env = new MockActivityEnvironment();
    const beats = recordHeartbeats(env);
    const result = await env.run(acts.sweepComputeEnv, 'ce-1');
    expect(result).toEqual({ computeEnvId: 'ce-1', owned: 3, deleted: 2, kept: 1, notOwned: 0 });
    expect(deleted).toEqual(['/w/tower-gone', '/w/tower-old']);
    expect(beats.map((b) => (b as { deleted?: number } | undefined)?.deleted)).toEqual([0, 0, 1]);
  });
});
