/**
 * Vault master key rotation (workflows/vault-key.ts, services/vault-key.ts): the broker's worker
 * re-wraps every data key of its own vault under a new master key. Answers carry key ids and counts
 * only. One schedule, `rotate-vault-master-key`, created on demand. Without a vault key service in
 * this process every route answers 503.
 */
import type { FastifyInstance } from 'fastify';
import { VAULT_KEY_WORKFLOW_ID_RE } from '../../services/vault-key';
import type { ApiContext } from '../context';
import { renameFields } from '../errors';
import { addRoute } from '../route';
import { schemas, vaultKeySchemas } from '../validation';
import { workflowIdParam } from './params';
import { addScheduleActionRoutes, scheduleTiming } from './schedules';

export function registerVaultKeyRoutes(app: FastifyInstance, ctx: ApiContext): void {
  addRoute(app, ctx, {
    method: 'POST',
    url: '/v1/vault/master-key/rotations',
    status: 202,
    body: schemas.empty,
    handler: async (_req, body) => {
      body();
      return ctx.vaultKeyRotations().start();
    },
  });
  addRoute(app, ctx, {
    method: 'GET',
    url: '/v1/vault/master-key/rotations/:workflowId',
    handler: async (req) => {
      const id = workflowIdParam(req, VAULT_KEY_WORKFLOW_ID_RE, 'must be a vault key rotation workflow id (vault-master-key-rotation)');
      return ctx.vaultKeyRotations().state(id);
    },
  });

  const schedulePath = '/v1/vault/master-key/rotation-schedule';
  addRoute(app, ctx, {
    method: 'POST',
    url: schedulePath,
    status: 201,
    body: vaultKeySchemas.schedule,
    handler: async (_req, body) => {
      const timing = scheduleTiming(body());
      return renameFields(ctx.vaultKeyRotations().createSchedule(timing), { everyMs: 'every' });
    },
  });
  addRoute(app, ctx, {
    method: 'GET',
    url: schedulePath,
    handler: async () => ctx.vaultKeyRotations().describeSchedule(),
  });
  addRoute(app, ctx, {
    method: 'DELETE',
    url: schedulePath,
    status: 204,
    handler: async () => {
      await ctx.vaultKeyRotations().deleteSchedule();
    },
  });
  addScheduleActionRoutes(app, ctx, schedulePath, async () => {
    const vaultKey = ctx.vaultKeyRotations();
    return {
      pause: (note) => vaultKey.pauseSchedule(note),
      unpause: (note) => vaultKey.unpauseSchedule(note),
      trigger: () => vaultKey.triggerSchedule(),
      answer: { schedule: 'rotate-vault-master-key' },
    };
  });
}
