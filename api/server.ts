/**
 * The broker's HTTP API: JSON under /v1 for workspaces, users, secrets, credentials, compute
 * environments and pipeline runs. Secret values are write-only: they go in, and no response, log
 * line or error carries one out. Fastify's own logger is off; the API writes one line per request
 * (method, path, status, time) through the logger it is given, never a body.
 *
 * This file builds the server: the request log line, the error and not-found handlers, health, the
 * codec endpoint; the /v1 routes are declared one module per resource group under api/routes/.
 *
 * The caller listens (on 127.0.0.1 until authentication lands) and closes the vault and clients.
 */
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { redact } from '../domain/sanitize';
import type { RotationsApi } from '../services/rotations';
import type { PipelineRunsApi } from '../services/types';
import type { VaultKeyRotationsApi } from '../services/vault-key';
import type { VaultApi } from '../store/types';
import type { VerifyDeps } from '../verifiers';
import { registerCodecEndpoint, type CodecEndpointOptions } from './codec-endpoint';
import { availableOr503, type ApiContext } from './context';
import { mapError, renameFields, UnavailableError } from './errors';
import { registerComputeEnvRoutes } from './routes/compute-envs';
import { registerCredentialRoutes } from './routes/credentials';
import { registerRunRoutes } from './routes/runs';
import { registerSecretRoutes } from './routes/secrets';
import { registerWorkspaceRoutes } from './routes/workspaces';
import { BODY_LIMIT_BYTES, checkParam, parse, schemas, vaultKeySchemas } from './validation';
import type { ApiRequest } from './context';
import { credentialOf as credentialOfPath, workspaceOf as workspaceOfPath } from './routes/params';
import { ValidationError } from '../domain/errors';
import { parseDuration } from './duration';
import type { z } from 'zod';
import type { RotationRequest } from '../services/rotations';
import { ROTATION_WORKFLOW_ID_RE } from '../domain/rotation';
import { VAULT_KEY_WORKFLOW_ID_RE } from '../services/vault-key';

export interface ApiLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export interface BuildApiServerOptions {
  vault: VaultApi;
  runs: PipelineRunsApi;
  /** Where request lines and unexpected errors go; defaults to one JSON line per event on stderr. */
  logger?: ApiLogger;
  /** Request body limit in bytes (default 128 KiB). */
  bodyLimit?: number;
  /** Serve /codec/{encode,decode} for the Temporal Web UI with this codec, to these origins. */
  codec?: CodecEndpointOptions;
  /** Credential rotations and their schedules; without it those routes answer 503. */
  rotations?: RotationsApi;
  /** Vault master key rotations and their schedule; without it those routes answer 503. */
  vaultKeyRotations?: VaultKeyRotationsApi;
  /** Where live credential checks reach the clouds (unset: the public ones). */
  verifyDeps?: VerifyDeps;
}

/** One JSON line per event on stderr. */
export const stderrLogger: ApiLogger = {
  info: (message, fields) => writeLine('info', message, fields),
  warn: (message, fields) => writeLine('warn', message, fields),
  error: (message, fields) => writeLine('error', message, fields),
};

function writeLine(level: string, message: string, fields?: Record<string, unknown>): void {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, component: 'api', message, ...fields })}\n`);
}

export function buildApiServer(options: BuildApiServerOptions): FastifyInstance {
  const { vault, runs } = options;
  const log = options.logger ?? stderrLogger;
  const bodyLimit = options.bodyLimit ?? BODY_LIMIT_BYTES;

  const app = Fastify({
    // Never let Fastify log: its request/error serializers can include bodies and parser messages.
    logger: false,
    bodyLimit,
    // Names and ids are at most 100 characters; longer path segments do not match a route.
    routerOptions: { maxParamLength: 400 },
    return503OnClosing: true,
  });

  /** Strings from secret-bearing bodies, redacted from any server-side log line of that request. */
  const sensitive = new WeakMap<FastifyRequest, string[]>();
  const started = new WeakMap<FastifyRequest, bigint>();

  app.addHook('onRequest', async (req) => {
    started.set(req, process.hrtime.bigint());
  });

  app.addHook('onResponse', async (req, reply) => {
    const t0 = started.get(req);
    const ms = t0 === undefined ? undefined : Number((process.hrtime.bigint() - t0) / 1000n) / 1000;
    log.info('request', {
      method: req.method,
      // The path only: no query string, no body.
      path: req.url.split('?')[0],
      route: req.routeOptions.url,
      status: reply.statusCode,
      ms,
    });
  });

  app.setErrorHandler((err, req, reply) => {
    const mapped = mapError(err, bodyLimit);
    if (mapped.unexpected) {
      const secrets = sensitive.get(req) ?? [];
      const e = err instanceof Error ? err : new Error(String(err));
      log.error('request failed', {
        method: req.method,
        path: req.url.split('?')[0],
        error: redact(`${e.name}: ${e.message}`, secrets),
        stack: redact(e.stack ?? '', secrets),
      });
    }
    return reply.code(mapped.status).send(mapped.body);
  });

  app.setNotFoundHandler((req, reply) => {
    return reply.code(404).send({ error: `no route ${req.method} ${req.url.split('?')[0]}`, code: 'no-route' });
  });

  // What every route group gets; each group (api/routes/) declares its routes through api/route.ts.
  const ctx: ApiContext = {
    vault,
    runs,
    log,
    markSensitive: (req, strings) => {
      sensitive.set(req, strings);
    },
    rotations: availableOr503(options.rotations, 'credential rotations'),
    vaultKeyRotations: availableOr503(options.vaultKeyRotations, 'vault master key rotations'),
    verifyDeps: options.verifyDeps ?? {},
  };

  app.get('/healthz', async () => ({ status: 'ok' }));
  if (options.codec) registerCodecEndpoint(app, options.codec);
  registerWorkspaceRoutes(app, ctx);
  registerSecretRoutes(app, ctx);
  registerCredentialRoutes(app, ctx);
  registerRotationAndVaultKeyRoutes(app, options);
  registerComputeEnvRoutes(app, ctx);
  registerRunRoutes(app, ctx);

  return app;
}

// Credential rotations and vault master key rotation: still registered here, moved next.
function registerRotationAndVaultKeyRoutes(app: FastifyInstance, options: BuildApiServerOptions): void {
  const { vault } = options;
  type Req = ApiRequest;
  const workspaceOf = (req: Req) => workspaceOfPath(vault, req);
  const credentialOf = (req: Req) => credentialOfPath(vault, req);

  // ---- credential rotations ----
  const rotationsOf = (): RotationsApi => {
    if (!options.rotations) throw new UnavailableError('credential rotations are not available from this API process');
    return options.rotations;
  };
  const rotationRequest = async (req: Req, body: z.output<typeof schemas.rotation>): Promise<RotationRequest> => {
    const cred = await credentialOf(req);
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
  const rotationField = { managementCredentialId: 'managementCredential', graceMs: 'grace', everyMs: 'every', credentialId: 'name' };
  app.post('/v1/workspaces/:workspace/credentials/:name/rotations', async (req: Req, reply) => {
    const body = parse(schemas.rotation, req.body);
    const started = await renameFields(rotationRequest(req, body).then((r) => rotationsOf().start(r)), rotationField);
    return reply.code(202).send(started);
  });
  app.get('/v1/rotations/:workflowId', async (req: Req) => {
    const id = req.params.workflowId ?? '';
    if (!ROTATION_WORKFLOW_ID_RE.test(id)) throw new ValidationError('workflowId', 'must be a rotation workflow id (credential-rotation-...)');
    return rotationsOf().state(id);
  });
  app.get('/v1/rotation-schedules', async () => ({ schedules: await rotationsOf().listSchedules() }));
  const schedulePath = '/v1/workspaces/:workspace/credentials/:name/rotation-schedule';
  app.post(schedulePath, async (req: Req, reply) => {
    const body = parse(schemas.rotationSchedule, req.body);
    const everyMs = body.every === undefined ? undefined : parseDuration(body.every, 'every');
    const info = await renameFields(
      rotationRequest(req, body).then((r) =>
        rotationsOf().createSchedule({
          ...r,
          ...(everyMs === undefined ? {} : { everyMs }),
          ...(body.cron ? { cron: body.cron } : {}),
          ...(body.paused === undefined ? {} : { paused: body.paused }),
          ...(body.note ? { note: body.note } : {}),
        }),
      ),
      rotationField,
    );
    return reply.code(201).send(info);
  });
  app.get(schedulePath, async (req: Req) => {
    const ws = await workspaceOf(req);
    return rotationsOf().describeSchedule(checkParam('ref', 'name', req.params.name ?? ''), ws.id);
  });
  app.delete(schedulePath, async (req: Req, reply) => {
    const ws = await workspaceOf(req);
    await rotationsOf().deleteSchedule(checkParam('ref', 'name', req.params.name ?? ''), ws.id);
    return reply.code(204).send();
  });
  for (const action of ['pause', 'unpause', 'trigger'] as const) {
    app.post(`${schedulePath}/${action}`, async (req: Req, reply) => {
      const { note } = action === 'trigger' ? { note: undefined } : parse(schemas.note, req.body ?? {});
      if (action === 'trigger') parse(schemas.empty, req.body);
      const ws = await workspaceOf(req);
      const name = checkParam('ref', 'name', req.params.name ?? '');
      const r = rotationsOf();
      if (action === 'pause') await r.pauseSchedule(name, note, ws.id);
      else if (action === 'unpause') await r.unpauseSchedule(name, note, ws.id);
      else await r.triggerSchedule(name, ws.id);
      return reply.code(202).send({ accepted: action, credential: name });
    });
  }

  // ---- vault master key rotation (workflows/vault-key.ts, client/vault-key.ts) ----
  // The broker's worker re-wraps every data key of its own vault under a new master key. Answers
  // carry key ids and counts only. One schedule, `rotate-vault-master-key`, created on demand.
  const vaultKeyOf = (): VaultKeyRotationsApi => {
    if (!options.vaultKeyRotations) throw new UnavailableError('vault master key rotations are not available from this API process');
    return options.vaultKeyRotations;
  };
  app.post('/v1/vault/master-key/rotations', async (req: Req, reply) => {
    parse(schemas.empty, req.body);
    return reply.code(202).send(await vaultKeyOf().start());
  });
  app.get('/v1/vault/master-key/rotations/:workflowId', async (req: Req) => {
    const id = req.params.workflowId ?? '';
    if (!VAULT_KEY_WORKFLOW_ID_RE.test(id)) throw new ValidationError('workflowId', 'must be a vault key rotation workflow id (vault-master-key-rotation)');
    return vaultKeyOf().state(id);
  });
  const vaultKeySchedulePath = '/v1/vault/master-key/rotation-schedule';
  app.post(vaultKeySchedulePath, async (req: Req, reply) => {
    const body = parse(vaultKeySchemas.schedule, req.body);
    const everyMs = body.every === undefined ? undefined : parseDuration(body.every, 'every');
    const info = await renameFields(
      vaultKeyOf().createSchedule({
        ...(everyMs === undefined ? {} : { everyMs }),
        ...(body.cron ? { cron: body.cron } : {}),
        ...(body.paused === undefined ? {} : { paused: body.paused }),
        ...(body.note ? { note: body.note } : {}),
      }),
      { everyMs: 'every' },
    );
    return reply.code(201).send(info);
  });
  app.get(vaultKeySchedulePath, async () => vaultKeyOf().describeSchedule());
  app.delete(vaultKeySchedulePath, async (_req: Req, reply) => {
    await vaultKeyOf().deleteSchedule();
    return reply.code(204).send();
  });
  for (const action of ['pause', 'unpause', 'trigger'] as const) {
    app.post(`${vaultKeySchedulePath}/${action}`, async (req: Req, reply) => {
      const { note } = action === 'trigger' ? { note: undefined } : parse(schemas.note, req.body ?? {});
      if (action === 'trigger') parse(schemas.empty, req.body);
      const v = vaultKeyOf();
      if (action === 'pause') await v.pauseSchedule(note);
      else if (action === 'unpause') await v.unpauseSchedule(note);
      else await v.triggerSchedule();
      return reply.code(202).send({ accepted: action, schedule: 'rotate-vault-master-key' });
    });
  }
  // ---- end of vault master key rotation ----
}
