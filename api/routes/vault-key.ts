/**
 * Vault master key rotation (workflows/vault-key.ts, services/vault-key.ts): the broker's worker
 * re-wraps every data key of its own vault under a new master key. Answers carry key ids and counts
 * only. One schedule, `rotate-vault-master-key`, created on demand. Without a vault key service in
 * this process every route answers 503.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { VAULT_KEY_WORKFLOW_ID_RE } from '../../services/vault-key';
import type { ApiContext } from '../context';
import { renameFields } from '../errors';
import { addRoute } from '../route';
import { vaultKeySchedule, workflowState } from '../schemas';
import { schemas, vaultKeySchemas } from '../validation';
import { workflowIdParam } from './params';
import { addScheduleActionRoutes, scheduleTiming } from './schedules';

export function registerVaultKeyRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const broker = { kind: 'broker' } as const;
  addRoute(app, ctx, {
    operationId: 'startVaultKeyRotation',
    summary: "Re-wrap every data key of the vault under a new master key",
    tag: 'vault',
    method: 'POST',
    url: '/v1/vault/master-key/rotations',
    status: 202,
    body: schemas.empty,
    response: z.strictObject({ workflowId: z.string() }),
    access: broker,
    handler: async (_req, body) => {
      body();
      return ctx.vaultKeyRotations().start();
    },
  });
  addRoute(app, ctx, {
    operationId: 'getVaultKeyRotation',
    summary: "A vault key rotation's progress or result (key ids and counts only)",
    tag: 'vault',
    method: 'GET',
    url: '/v1/vault/master-key/rotations/:workflowId',
    params: { workflowId: { pattern: VAULT_KEY_WORKFLOW_ID_RE, rule: 'must be a vault key rotation workflow id (vault-master-key-rotation)' } },
    response: workflowState,
    access: broker,
    handler: async (req) => {
      const id = workflowIdParam(req, VAULT_KEY_WORKFLOW_ID_RE, 'must be a vault key rotation workflow id (vault-master-key-rotation)');
      return ctx.vaultKeyRotations().state(id);
    },
  });

  const schedulePath = '/v1/vault/master-key/rotation-schedule';
  addRoute(app, ctx, {
    operationId: 'createVaultKeySchedule',
    summary: 'Create the vault master key rotation schedule',
    tag: 'vault',
    method: 'POST',
    url: schedulePath,
    status: 201,
    body: vaultKeySchemas.schedule,
    response: vaultKeySchedule,
    access: broker,
    handler: async (_req, body) => {
      const timing = scheduleTiming(body());
      return renameFields(ctx.vaultKeyRotations().createSchedule(timing), { everyMs: 'every' });
    },
  });
  addRoute(app, ctx, {
    operationId: 'getVaultKeySchedule',
    summary: 'The vault master key rotation schedule',
    tag: 'vault',
    method: 'GET',
    url: schedulePath,
    response: vaultKeySchedule,
    access: broker,
    handler: async () => ctx.vaultKeyRotations().describeSchedule(),
  });
  addRoute(app, ctx, {
    operationId: 'deleteVaultKeySchedule',
    summary: 'Delete the vault master key rotation schedule',
    tag: 'vault',
    method: 'DELETE',
    url: schedulePath,
    status: 204,
    access: broker,
    handler: async () => {
      await ctx.vaultKeyRotations().deleteSchedule();
    },
  });
  addScheduleActionRoutes(app, ctx, { path: schedulePath, access: broker, prefix: 'VaultKeySchedule' }, async () => {
    const vaultKey = ctx.vaultKeyRotations();
    return {
      pause: (note) => vaultKey.pauseSchedule(note),
      unpause: (note) => vaultKey.unpauseSchedule(note),
      trigger: () => vaultKey.triggerSchedule(),
      answer: { schedule: 'rotate-vault-master-key' },
    };
  });
}
