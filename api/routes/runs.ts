/**
 * Pipeline runs: launch (answers once the run's secrets are in place), status, the launch service's
 * signals (complete, cancel, renew the lease), and the runs of a workspace.
 *
 * Whose user secrets a run gets is decided by who launches (api/auth.ts): a person's own; for the
 * launch service with the on-behalf right, the named user's.
 */
import type { FastifyInstance } from 'fastify';
import { pipelineRunWorkflowId } from '../../domain/run';
import type { ApiContext } from '../context';
import { parseDuration } from '../duration';
import { addRoute } from '../route';
import { accepted, page, readyResult, runStatus, runSummary } from '../schemas';
import { querySchemas, schemas } from '../validation';
import { pathParam } from './params';

const control = { kind: 'run', action: 'control' } as const;

export function registerRunRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { vault, runs } = ctx;
  const links = (runId: string) => {
    const webUi = ctx.webUiLink(pipelineRunWorkflowId(runId));
    return webUi ? { links: { webUi } } : {};
  };
  addRoute(app, ctx, {
    operationId: 'launchRun',
    summary: "Launch a run: push its secrets and answer once they are in place",
    tag: 'runs',
    method: 'POST',
    url: '/v1/runs',
    body: schemas.launch,
    response: readyResult,
    access: { kind: 'launch' },
    auditDetail: (b) => ({ runId: b.runId, computeEnv: b.computeEnv, secrets: b.secrets }),
    handler: async (req, body) => {
      const input = body();
      const leaseMs = input.lease === undefined ? undefined : parseDuration(input.lease, 'lease');
      const { workspace: ws, runUser } = ctx.access.grant(req);
      const ce = await vault.getComputeEnv(input.computeEnv, ws!.id);
      const ready = await runs.launch({
        runId: input.runId,
        workspaceId: ws!.id,
        userId: runUser!.id,
        computeEnvId: ce.id,
        secretNames: input.secrets,
        ...(leaseMs === undefined ? {} : { leaseMs }),
        labels: { workspace: ws!.name, computeEnv: ce.name, platform: ce.platform, user: runUser!.name },
      });
      return { ...ready, ...links(ready.runId) };
    },
  });
  addRoute(app, ctx, {
    operationId: 'listRuns',
    summary: "The workspace's runs, newest first, from Temporal's visibility",
    tag: 'runs',
    method: 'GET',
    url: '/v1/workspaces/:workspace/runs',
    params: { workspace: 'ref' },
    query: querySchemas.runs,
    response: page('runs', runSummary),
    access: { kind: 'workspace', action: 'read' },
    handler: async (req, _b, query) => {
      const q = query();
      const ws = ctx.access.grant(req).workspace!;
      const computeEnv = q.computeEnv === undefined ? undefined : (await vault.getComputeEnv(q.computeEnv, ws.id).catch(() => ({ name: q.computeEnv! }))).name;
      const res = await ctx.runDirectory().list({
        workspace: ws.name,
        pageSize: q.limit ?? 100,
        ...(q.cursor ? { pageToken: q.cursor } : {}),
        ...(q.phase ? { phase: q.phase } : {}),
        ...(computeEnv ? { computeEnv } : {}),
        ...(q.status ? { execution: q.status } : {}),
      });
      return { runs: res.runs, ...(res.nextPageToken ? { nextCursor: res.nextPageToken } : {}) };
    },
  });
  addRoute(app, ctx, {
    operationId: 'getRun',
    summary: "A run's phase, secret names, remote references and lease (never values)",
    tag: 'runs',
    method: 'GET',
    url: '/v1/runs/:runId',
    params: { runId: 'runId' },
    response: runStatus,
    access: { kind: 'run', action: 'read' },
    handler: async (req) => {
      const st = await runs.state(pathParam(req, 'runId', 'runId'));
      const [workspace, user, computeEnv] = await Promise.all([
        vault.getWorkspace(st.workspaceId).then((w) => w.name, () => undefined),
        vault.getUser(st.userId).then((u) => u.name, () => undefined),
        vault.getComputeEnv(st.computeEnvId).then((c) => c.name, () => undefined),
      ]);
      const names = { ...(workspace ? { workspace } : {}), ...(user ? { user } : {}), ...(computeEnv ? { computeEnv } : {}) };
      return { ...st, names, ...links(st.runId) };
    },
  });
  addRoute(app, ctx, {
    operationId: 'completeRun',
    summary: 'The run ended: delete its secrets',
    tag: 'runs',
    method: 'POST',
    url: '/v1/runs/:runId/complete',
    params: { runId: 'runId' },
    status: 202,
    body: schemas.complete,
    response: accepted,
    access: control,
    auditDetail: (b) => ({ status: b.status }),
    handler: async (req, body) => {
      const runId = pathParam(req, 'runId', 'runId');
      const { status } = body();
      const answer = await runs.complete(runId, status);
      // accepted: this call ended the run; already-ended: it had ended (retries land here), with how.
      return { runId, accepted: 'complete', status, result: answer.result, ...(answer.outcome ? { outcome: answer.outcome } : {}) };
    },
  });
  addRoute(app, ctx, {
    operationId: 'cancelRun',
    summary: "Cancel the run's workflow: its secrets are deleted",
    tag: 'runs',
    method: 'POST',
    url: '/v1/runs/:runId/cancel',
    params: { runId: 'runId' },
    status: 202,
    body: schemas.empty,
    response: accepted,
    access: control,
    handler: async (req, body) => {
      const runId = pathParam(req, 'runId', 'runId');
      body();
      const answer = await runs.cancel(runId);
      return { runId, accepted: 'cancel', result: answer.result, ...(answer.outcome ? { outcome: answer.outcome } : {}) };
    },
  });
  addRoute(app, ctx, {
    operationId: 'renewRun',
    summary: "Extend the run's lease to now + extendBy",
    tag: 'runs',
    method: 'POST',
    url: '/v1/runs/:runId/renew',
    params: { runId: 'runId' },
    status: 202,
    body: schemas.renew,
    response: accepted,
    access: control,
    auditDetail: (b) => ({ extendBy: b.extendBy }),
    handler: async (req, body) => {
      const runId = pathParam(req, 'runId', 'runId');
      const { extendBy } = body();
      const extendByMs = parseDuration(extendBy, 'extendBy');
      const answer = await runs.renew(runId, extendByMs);
      return { runId, accepted: 'renew', extendBy, extendByMs, ...(answer.leaseExpiresAt ? { leaseExpiresAt: answer.leaseExpiresAt } : {}) };
    },
  });
}
