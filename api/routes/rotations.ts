/**
 * Credential rotations (two-slot key rotation workflows) and their schedules, one per credential.
 * Without a rotations service in this process every route answers 503.
 */
import type { FastifyInstance } from 'fastify';
import type { z } from 'zod';
import { ROTATION_WORKFLOW_ID_RE } from '../../domain/rotation';
import type { RotationRequest } from '../../services/rotations';
import type { ApiContext, ApiRequest } from '../context';
import { parseDuration } from '../duration';
import { renameFields } from '../errors';
import { addRoute } from '../route';
import { schemas } from '../validation';
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

  addRoute(app, ctx, {
    method: 'POST',
    url: '/v1/workspaces/:workspace/credentials/:name/rotations',
    status: 202,
    body: schemas.rotation,
    handler: async (req, body) => {
      const input = body();
      return renameFields(
        rotationRequest(req, input).then((r) => ctx.rotations().start(r)),
        ROTATION_FIELDS,
      );
    },
  });
  addRoute(app, ctx, {
    method: 'GET',
    url: '/v1/rotations/:workflowId',
    handler: async (req) => {
      const id = workflowIdParam(req, ROTATION_WORKFLOW_ID_RE, 'must be a rotation workflow id (credential-rotation-...)');
      return ctx.rotations().state(id);
    },
  });
  addRoute(app, ctx, {
    method: 'GET',
    url: '/v1/rotation-schedules',
    handler: async () => ({ schedules: await ctx.rotations().listSchedules() }),
  });

  const schedulePath = '/v1/workspaces/:workspace/credentials/:name/rotation-schedule';
  addRoute(app, ctx, {
    method: 'POST',
    url: schedulePath,
    status: 201,
    body: schemas.rotationSchedule,
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
    method: 'GET',
    url: schedulePath,
    handler: async (req) => {
      const ws = await workspaceOf(vault, req);
      return ctx.rotations().describeSchedule(pathParam(req, 'ref', 'name'), ws.id);
    },
  });
  addRoute(app, ctx, {
    method: 'DELETE',
    url: schedulePath,
    status: 204,
    handler: async (req) => {
      const ws = await workspaceOf(vault, req);
      await ctx.rotations().deleteSchedule(pathParam(req, 'ref', 'name'), ws.id);
    },
  });
  addScheduleActionRoutes(app, ctx, schedulePath, async (req) => {
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
