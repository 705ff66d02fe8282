/**
 * sweepOrphans and the vault master key rotation workflows with stub activities on the time-skipping
 * test server: one unreachable compute environment does not stop the sweep and its reason is kept;
 * the vault key rotation reports its result, refuses without retrying, and a scheduled firing skips
 * while a manual one runs.
 */
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { randomBytes } from 'node:crypto';
import { ErrorType } from '../../domain/errors';
import { VAULT_KEY_ROTATION_WORKFLOW_ID } from '../../domain/vault-key';
import { sweepOrphans, type SweepActivities } from '../../workflows/sweep';
import { rotateVaultMasterKey, scheduledVaultKeyRotation, type VaultKeyActivities } from '../../workflows/vault-key';
import { eventually } from '../harness/broker';
import { mocked, startTimeSkipping, withStubWorker } from '../harness/time-skipping';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTimeSkipping();
});
afterAll(async () => {
  await env?.teardown();
});

const id = (prefix: string) => `${prefix}-${randomBytes(3).toString('hex')}`;

test('the sweep goes on past an unreachable compute environment and keeps the reason it failed', async () => {
  const acts = mocked<SweepActivities>({
    listComputeEnvIds: async () => ['ce-a', 'ce-hpc', 'ce-c'],
    sweepComputeEnv: async (ceId) => {
      if (ceId === 'ce-hpc') throw ApplicationFailure.create({ type: ErrorType.HostKeyMismatch, message: 'login.cluster:22 offered another host key', nonRetryable: true });
      return { computeEnvId: ceId, owned: 2, deleted: 1, kept: 1, notOwned: 0 };
    },
  });
  await withStubWorker(env, acts, async (tq) => {
    const summary = await env.client.workflow.execute(sweepOrphans, { taskQueue: tq, workflowId: id('sweep') });
    expect(summary).toEqual({
      computeEnvs: 3,
      deleted: 2,
      kept: 2,
      failed: [{ computeEnvId: 'ce-hpc', error: 'login.cluster:22 offered another host key' }],
    });
  });
});

describe('vault master key rotation', () => {
  const result = { newKeyId: 'kek-new', oldKeyIds: ['kek-old'], rewrapped: 4, skipped: 0, nextSteps: [] };

  test('one rewrap activity; its result is the workflow result', async () => {
    const acts = mocked<VaultKeyActivities>({ vaultRewrap: async () => result });
    await withStubWorker(env, acts, async (tq) => {
      await expect(env.client.workflow.execute(rotateVaultMasterKey, { taskQueue: tq, workflowId: id('vk') })).resolves.toEqual(result);
      expect(acts.vaultRewrap).toHaveBeenCalledTimes(1);
    });
  });

  test('a refusal by the vault is not retried', async () => {
    const acts = mocked<VaultKeyActivities>({
      vaultRewrap: async () => {
        throw ApplicationFailure.create({ type: ErrorType.VaultKey, message: 'env mode needs BROKER_MASTER_KEY_NEXT' });
      },
    });
    await withStubWorker(env, acts, async (tq) => {
      const err = await env.client.workflow.execute(rotateVaultMasterKey, { taskQueue: tq, workflowId: id('vk') }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowFailedError);
      expect(acts.vaultRewrap).toHaveBeenCalledTimes(1);
    });
  });

  test('a scheduled firing skips while a rotation runs under the fixed id, and runs one otherwise', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const acts = mocked<VaultKeyActivities>({
      vaultRewrap: async () => {
        await gate;
        return result;
      },
    });
    await withStubWorker(env, acts, async (tq) => {
      const manual = await env.client.workflow.start(rotateVaultMasterKey, { taskQueue: tq, workflowId: VAULT_KEY_ROTATION_WORKFLOW_ID });
      await eventually(() => acts.vaultRewrap.mock.calls.length === 1, 'the manual rotation is re-wrapping');
      const skipped = await env.client.workflow.execute(scheduledVaultKeyRotation, { taskQueue: tq, workflowId: id('scheduled-vk') });
      expect(skipped).toEqual({ outcome: 'skipped-already-running', workflowId: VAULT_KEY_ROTATION_WORKFLOW_ID });
      release();
      await manual.result();
      const fired = await env.client.workflow.execute(scheduledVaultKeyRotation, { taskQueue: tq, workflowId: id('scheduled-vk') });
      expect(fired).toEqual({ outcome: 'rotated', workflowId: VAULT_KEY_ROTATION_WORKFLOW_ID, result });
    });
  });
});
