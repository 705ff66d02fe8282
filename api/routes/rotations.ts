/**
 * Credential rotations (two-slot key rotation workflows) and their schedules, one per credential.
 * Without a rotations service in this process every route answers 503.
 */
import type { FastifyInstance } from 'fastify';
import type { z } from 'zod';
import { ROTATION_WORKFLOW_ID_RE } from '../../domain/rotation';
import { decideWorkspace } from '../../domain/access';
import type { RotationRequest, RotationScheduleInfo } from '../../services/rotations';
import type { ApiContext, ApiRequest } from '../context';
import { parseDuration } from '../duration';
import { renameFields } from '../errors';
import { addRoute } from '../route';
import { page, rotationSchedule, rotationStarted, workflowState } from '../schemas';
import { paginate, querySchemas, schemas } from '../validation';
import { credentialOf, pathParam, workflowIdParam, workspaceOf } from './params';
import { addScheduleActionRoutes, scheduleTiming } from './schedules';

/** The services' field names, as the API's caller gives them. */
const ROTATION_FIELDS = { managementCredentialId: 'managementCredential', graceMs: 'grace', everyMs: 'every', credentialId: 'name' };

export function registerRotationRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { vault } = ctx;
  const rotationRequest = async (req: ApiRequest, body: z.output<typeof schemas.rotation>): Promise<RotationRequest> => {
    const cred = await credentialOf(vault, req);
    const graceMs = body.grace === undefined ? undefined : parseDuration(body.grace, 'grace');
    return {
      kind: body.kind,
      credentialId: cred.id,
      workspaceId: cred.workspaceId,
      ...(body.managementCredential ? { managementCredentialId: body.managementCredential } : {}),
      ...(body.resourceGroup ? { resourceGroup: body.resourceGroup } : {}),
      ...(body.registryName ? { registryName: body.registryName } : {}),
      ...(body.tokenName ? { tokenName: body.tokenName } : {}),
      ...(graceMs === undefined ? {} : { graceMs }),
      ...(body.switchBack === undefined ? {} : { switchBack: body.switchBack }),
    };
  };

  const manage = { kind: 'workspace', action: 'manage' } as const;
  const credParams = { workspace: 'ref', name: 'ref' } as const;
  addRoute(app, ctx, {
    operationId: 'startRotation',
    summary: "Rotate a credential's keys now (two-slot, without downtime)",
    tag: 'rotations',
    method: 'POST',
    url: '/v1/workspaces/:workspace/credentials/:name/rotations',
    params: credParams,
    status: 202,
    body: schemas.rotation,
    response: rotationStarted,
    access: manage,
    auditDetail: (b) => ({ kind: b.kind }),
    handler: async (req, body) => {
      const input = body();
      return renameFields(
        rotationRequest(req, input).then((r) => ctx.rotations().start(r)),
        ROTATION_FIELDS,
      );
    },
  });
  addRoute(app, ctx, {
    operationId: 'getRotation',
    summary: "A rotation's progress, result or failure",
    tag: 'rotations',
    method: 'GET',
    url: '/v1/rotations/:workflowId',
    params: { workflowId: { pattern: ROTATION_WORKFLOW_ID_RE, rule: 'must be a rotation workflow id (credential-rotation-...)' } },
    response: workflowState,
    access: { kind: 'rotation' },
    handler: async (req) => {
      const id = workflowIdParam(req, ROTATION_WORKFLOW_ID_RE, 'must be a rotation workflow id (credential-rotation-...)');
      return ctx.rotations().state(id);
    },
  });
  addRoute(app, ctx, {
    operationId: 'listRotationSchedules',
    summary: 'The rotation schedules of the workspaces where the caller is admin or owner',
    tag: 'rotations',
    method: 'GET',
    url: '/v1/rotation-schedules',
    query: querySchemas.page,
    response: page('schedules', rotationSchedule),
    access: { kind: 'authenticated' },
    handler: async (req, _b, query) => {
      const { principal: p } = ctx.access.caller(req);
      const mine = new Set((await vault.access.membershipsOf(p.id)).filter((m) => decideWorkspace(p, m, 'manage').allow).map((m) => m.workspaceId));
      const visible: RotationScheduleInfo[] = [];
      for (const s of await ctx.rotations().listSchedules()) {
        const cred = await vault.getCredential(s.credentialId).catch(() => undefined);
        if (cred && mine.has(cred.workspaceId)) visible.push(s);
      }
      const { items, nextCursor } = paginate(visible, (s) => s.scheduleId, query());
      return { schedules: items, ...(nextCursor ? { nextCursor } : {}) };
    },
  });

  const schedulePath = '/v1/workspaces/:workspace/credentials/:name/rotation-schedule';
  addRoute(app, ctx, {
    operationId: 'createRotationSchedule',
    summary: "Create the credential's rotation schedule",
    tag: 'rotations',
    method: 'POST',
    url: schedulePath,
    params: credParams,
    status: 201,
    body: schemas.rotationSchedule,
    response: rotationSchedule,
    access: manage,
    auditDetail: (b) => ({ kind: b.kind, ...(b.every ? { every: b.every } : {}), ...(b.cron ? { cron: b.cron } : {}) }),
    handler: async (req, body) => {
      const input = body();
      const timing = scheduleTiming(input);
      return renameFields(
        rotationRequest(req, input).then((r) => ctx.rotations().createSchedule({ ...r, ...timing })),
        ROTATION_FIELDS,
      );
    },
  });
  addRoute(app, ctx, {
    operationId: 'getRotationSchedule',
    summary: "The credential's rotation schedule",
    tag: 'rotations',
    method: 'GET',
    url: schedulePath,
    params: credParams,
    response: rotationSchedule,
    access: manage,
    handler: async (req) => {
      const ws = await workspaceOf(vault, req);
      return ctx.rotations().describeSchedule(pathParam(req, 'ref', 'name'), ws.id);
    },
  });
  addRoute(app, ctx, {
    operationId: 'deleteRotationSchedule',
    summary: "Delete the credential's rotation schedule",
    tag: 'rotations',
    method: 'DELETE',
    url: schedulePath,
    params: credParams,
    status: 204,
    access: manage,
    handler: async (req) => {
      const ws = await workspaceOf(vault, req);
      await ctx.rotations().deleteSchedule(pathParam(req, 'ref', 'name'), ws.id);
    },
  });
  addScheduleActionRoutes(app, ctx, { path: schedulePath, params: credParams, access: manage, prefix: 'RotationSchedule' }, async (req) => {
    const ws = await workspaceOf(vault, req);
    const name = pathParam(req, 'ref', 'name');
    const rotations = ctx.rotations();
    return {
      pause: (note) => rotations.pauseSchedule(name, note, ws.id),
      unpause: (note) => rotations.unpauseSchedule(name, note, ws.id),
      trigger: () => rotations.triggerSchedule(name, ws.id),
      answer: { credential: name },
    };
  });
}
