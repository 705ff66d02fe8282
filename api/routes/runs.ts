/**
 * Pipeline runs: launch (answers once the run's secrets are in place), status, and the launch
 * service's signals: complete, cancel, renew the lease.
 */
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context';
import { parseDuration } from '../duration';
import { addRoute } from '../route';
import { schemas } from '../validation';
import { pathParam } from './params';

export function registerRunRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { vault, runs } = ctx;
  addRoute(app, ctx, {
    method: 'POST',
    url: '/v1/runs',
    body: schemas.launch,
    handler: async (_req, body) => {
      const input = body();
      const leaseMs = input.lease === undefined ? undefined : parseDuration(input.lease, 'lease');
      const ws = await vault.getWorkspace(input.workspace);
      const user = await vault.getUser(input.user);
      const ce = await vault.getComputeEnv(input.computeEnv, ws.id);
      return runs.launch({
        runId: input.runId,
        workspaceId: ws.id,
        userId: user.id,
        computeEnvId: ce.id,
        secretNames: input.secrets,
        ...(leaseMs === undefined ? {} : { leaseMs }),
        labels: { workspace: ws.name, computeEnv: ce.name, platform: ce.platform, user: user.name },
      });
    },
  });
  addRoute(app, ctx, {
    method: 'GET',
    url: '/v1/runs/:runId',
    handler: async (req) => runs.state(pathParam(req, 'runId', 'runId')),
  });
  addRoute(app, ctx, {
    method: 'POST',
    url: '/v1/runs/:runId/complete',
    status: 202,
    body: schemas.complete,
    handler: async (req, body) => {
      const runId = pathParam(req, 'runId', 'runId');
      const { status } = body();
      const answer = await runs.complete(runId, status);
      // accepted: this call ended the run; already-ended: it had ended (retries land here), with how.
      return { runId, accepted: 'complete', status, result: answer.result, ...(answer.outcome ? { outcome: answer.outcome } : {}) };
    },
  });
  addRoute(app, ctx, {
    method: 'POST',
    url: '/v1/runs/:runId/cancel',
    status: 202,
    body: schemas.empty,
    handler: async (req, body) => {
      const runId = pathParam(req, 'runId', 'runId');
      body();
      const answer = await runs.cancel(runId);
      return { runId, accepted: 'cancel', result: answer.result, ...(answer.outcome ? { outcome: answer.outcome } : {}) };
    },
  });
  addRoute(app, ctx, {
    method: 'POST',
    url: '/v1/runs/:runId/renew',
    status: 202,
    body: schemas.renew,
    handler: async (req, body) => {
      const runId = pathParam(req, 'runId', 'runId');
      const { extendBy } = body();
      const extendByMs = parseDuration(extendBy, 'extendBy');
      await runs.renew(runId, extendByMs);
      return { runId, accepted: 'renew', extendBy, extendByMs };
    },
  });
}
