/**
 * What the credential rotation schedules and the vault master key schedule share: the timing of a
 * new schedule, and the pause, unpause and trigger routes.
 */
import type { FastifyInstance } from 'fastify';
import type { z } from 'zod';
import type { ApiContext, ApiRequest } from '../context';
import { parseDuration } from '../duration';
import { addRoute, type Access, type ParamRule } from '../route';
import { scheduleAction } from '../schemas';
import { schemas, vaultKeySchemas } from '../validation';

/**
 * The timing a create-schedule body asks for, as the services take it: every (as everyMs) or cron,
 * paused, note. The credential rotation schedule's body has the same fields and more.
 */
export function scheduleTiming(body: z.output<typeof vaultKeySchemas.schedule>) {
  const everyMs = body.every === undefined ? undefined : parseDuration(body.every, 'every');
  return {
    ...(everyMs === undefined ? {} : { everyMs }),
    ...(body.cron ? { cron: body.cron } : {}),
    ...(body.paused === undefined ? {} : { paused: body.paused }),
    ...(body.note ? { note: body.note } : {}),
  };
}

/** One schedule, as a request names it. */
export interface ScheduleActions {
  pause(note: string | undefined): Promise<void>;
  unpause(note: string | undefined): Promise<void>;
  trigger(): Promise<void>;
  /** What the 202 answer names besides the action accepted. */
  answer: Record<string, string>;
}

/**
 * POST `<schedulePath>/pause` and `/unpause` (an optional note) and `/trigger` (no body): 202
 * `{accepted, ...answer}`. `scheduleOf` finds the request's schedule after its body is checked.
 */
export function addScheduleActionRoutes(
  app: FastifyInstance,
  ctx: ApiContext,
  route: { path: string; params?: Record<string, ParamRule>; access: Access; prefix: string },
  scheduleOf: (req: ApiRequest) => Promise<ScheduleActions>,
): void {
  const schedulePath = route.path;
  for (const action of ['pause', 'unpause'] as const) {
    addRoute(app, ctx, {
      operationId: `${action}${route.prefix}`,
      summary: `${action === 'pause' ? 'Pause' : 'Unpause'} the schedule`,
      tag: 'schedules',
      method: 'POST',
      url: `${schedulePath}/${action}`,
      ...(route.params ? { params: route.params } : {}),
      status: 202,
      body: schemas.note,
      bodyOptional: true,
      response: scheduleAction,
      access: route.access,
      handler: async (req, body) => {
        const { note } = body();
        const schedule = await scheduleOf(req);
        await schedule[action](note);
        return { accepted: action, ...schedule.answer };
      },
    });
  }
  addRoute(app, ctx, {
    operationId: `trigger${route.prefix}`,
    summary: 'Run the scheduled action now',
    tag: 'schedules',
    method: 'POST',
    url: `${schedulePath}/trigger`,
    ...(route.params ? { params: route.params } : {}),
    status: 202,
    body: schemas.empty,
    response: scheduleAction,
    access: route.access,
    handler: async (req, body) => {
      body();
      const schedule = await scheduleOf(req);
      await schedule.trigger();
      return { accepted: 'trigger', ...schedule.answer };
    },
  });
}
