/**
 * The broker's HTTP API: JSON under /v1 for workspaces, users, secrets, credentials, compute
 * environments and pipeline runs. Secret values are write-only: they go in, and no response, log
 * line or error carries one out. Fastify's own logger is off; the API writes one line per request
 * (method, path, status, time) through the logger it is given, never a body.
 *
 * The caller listens (on 127.0.0.1 until authentication lands) and closes the vault and clients.
 */
import { registerCodecEndpoint, type CodecEndpointOptions } from './codec-endpoint';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { VaultApi, Workspace, User, SecretScope } from '../store/types';
import type { PipelineRunsApi } from '../services/types';
import { ValidationError } from '../domain/errors';
import { parseDuration } from './duration';
import { mapError, renameFields, UnavailableError } from './errors';
import { redact, stringLeaves } from '../domain/sanitize';
import type { z } from 'zod';
import type { RotationRequest, RotationsApi } from '../services/rotations';
import { ROTATION_WORKFLOW_ID_RE } from '../domain/rotation';
import { VAULT_KEY_WORKFLOW_ID_RE, type VaultKeyRotationsApi } from '../services/vault-key';
import { verifyCredential, type VerifyDeps } from '../verifiers';
import { BODY_LIMIT_BYTES, checkParam, parse, parseComputeEnvPatch, schemas, vaultKeySchemas } from './validation';

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

type Req = FastifyRequest<{ Params: Record<string, string>; Body: unknown }>;

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

  /** Remember which strings of this request are secret, for log redaction. */
  const markSensitive = (req: FastifyRequest, strings: string[]) => sensitive.set(req, strings);

  const workspaceOf = (req: Req): Promise<Workspace> => vault.getWorkspace(checkParam('ref', 'workspace', req.params.workspace ?? ''));
  const userOf = (req: Req): Promise<User> => vault.getUser(checkParam('ref', 'user', req.params.user ?? ''));

  // ---- health ----
  app.get('/healthz', async () => ({ status: 'ok' }));
  if (options.codec) registerCodecEndpoint(app, options.codec);

  // ---- workspaces and users ----
  app.post('/v1/workspaces', async (req: Req, reply) => {
    const { name } = parse(schemas.createNamed, req.body);
    return reply.code(201).send(await vault.createWorkspace(name));
  });
  app.get('/v1/workspaces', async () => ({ workspaces: await vault.listWorkspaces() }));

  app.post('/v1/users', async (req: Req, reply) => {
    const { name } = parse(schemas.createNamed, req.body);
    return reply.code(201).send(await vault.createUser(name));
  });
  app.get('/v1/users', async () => ({ users: await vault.listUsers() }));

  // ---- secrets (workspace and user scope) ----
  const secretRoutes = (scope: SecretScope, prefix: string, ownerOf: (req: Req) => Promise<{ id: string }>) => {
    app.put(`${prefix}/secrets/:name`, async (req: Req, reply: FastifyReply) => {
      const body = req.body as { value?: unknown } | undefined;
      if (body && typeof body === 'object' && typeof body.value === 'string') markSensitive(req, [body.value]);
      const name = checkParam('secretName', 'name', req.params.name ?? '');
      const { value } = parse(schemas.setSecret, req.body);
      const owner = await ownerOf(req);
      return reply.code(200).send(await vault.setSecret({ scope, ownerId: owner.id, name, value }));
    });
    app.get(`${prefix}/secrets`, async (req: Req) => {
      const owner = await ownerOf(req);
      return { secrets: await vault.listSecrets({ scope, ownerId: owner.id }) };
    });
    app.delete(`${prefix}/secrets/:name`, async (req: Req, reply: FastifyReply) => {
      const name = checkParam('secretName', 'name', req.params.name ?? '');
      const owner = await ownerOf(req);
      await vault.deleteSecret({ scope, ownerId: owner.id, name });
      return reply.code(204).send();
    });
  };
  secretRoutes('workspace', '/v1/workspaces/:workspace', workspaceOf);
  secretRoutes('user', '/v1/users/:user', userOf);

  // ---- credentials ----
  app.post('/v1/workspaces/:workspace/credentials', async (req: Req, reply) => {
    const raw = req.body as { fields?: unknown } | undefined;
    if (raw && typeof raw === 'object') markSensitive(req, stringLeaves(raw.fields));
    const input = parse(schemas.createCredential, req.body);
    const ws = await workspaceOf(req);
    // The vault checks the kind and parses the fields (ValidationError names fields.<x>).
    return reply.code(201).send(await vault.createCredential({ workspaceId: ws.id, ...input }));
  });
  app.get('/v1/workspaces/:workspace/credentials', async (req: Req) => {
    const ws = await workspaceOf(req);
    return { credentials: await vault.listCredentials(ws.id) };
  });
  app.delete('/v1/workspaces/:workspace/credentials/:name', async (req: Req, reply) => {
    const name = checkParam('ref', 'name', req.params.name ?? '');
    const ws = await workspaceOf(req);
    const cred = await vault.getCredential(name, ws.id);
    await vault.deleteCredential(cred.id);
    return reply.code(204).send();
  });

  const credentialOf = async (req: Req) => {
    const name = checkParam('ref', 'name', req.params.name ?? '');
    const ws = await workspaceOf(req);
    return vault.getCredential(name, ws.id);
  };
  app.post('/v1/workspaces/:workspace/credentials/:name/verify', async (req: Req) => {
    const body = parse(schemas.verifyCredential, req.body ?? {});
    const cred = await credentialOf(req);
    const mgmt = body.managementCredential ? (await vault.getCredential(body.managementCredential, cred.workspaceId)).id : undefined;
    const ce = body.computeEnv ? (await vault.getComputeEnv(body.computeEnv, cred.workspaceId)).id : undefined;
    return renameFields(
      verifyCredential(vault, cred.id, options.verifyDeps ?? {}, {
        ...(mgmt ? { managementCredentialId: mgmt } : {}),
        ...(body.resourceGroup ? { resourceGroup: body.resourceGroup } : {}),
        ...(body.storageAccount ? { storageAccountName: body.storageAccount } : {}),
        ...(ce ? { computeEnvId: ce } : {}),
      }),
      { managementCredentialId: 'managementCredential', computeEnvId: 'computeEnv' },
    );
  });

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

  // ---- compute environments ----
  app.post('/v1/workspaces/:workspace/compute-envs', async (req: Req, reply) => {
    const input = parse(schemas.createComputeEnv, req.body);
    const ws = await workspaceOf(req);
    // The vault checks the platform's settings and resolves the credential by name within the
    // workspace (and its kind); its field is credentialId, the API's is credential.
    const ce = await renameFields(
      vault.createComputeEnv({
        workspaceId: ws.id,
        name: input.name,
        platform: input.platform,
        config: input.config,
        credentialId: input.credential ?? null,
      }),
      { credentialId: 'credential' },
    );
    return reply.code(201).send(ce);
  });
  app.get('/v1/workspaces/:workspace/compute-envs', async (req: Req) => {
    const ws = await workspaceOf(req);
    return { computeEnvs: await vault.listComputeEnvs(ws.id) };
  });
  app.get('/v1/workspaces/:workspace/compute-envs/:name', async (req: Req) => {
    const name = checkParam('ref', 'name', req.params.name ?? '');
    const ws = await workspaceOf(req);
    return vault.getComputeEnv(name, ws.id);
  });
  app.patch('/v1/workspaces/:workspace/compute-envs/:name', async (req: Req) => {
    const name = checkParam('ref', 'name', req.params.name ?? '');
    const input = parseComputeEnvPatch(req.body);
    const ws = await workspaceOf(req);
    // The vault checks the settings with the platform's parser and the credential like on create,
    // in one transaction: a refused update changes nothing.
    return renameFields(
      vault.updateComputeEnv(name, ws.id, {
        ...(input.config === undefined ? {} : { config: input.config }),
        ...(input.credential === undefined ? {} : { credentialId: input.credential }),
      }),
      { credentialId: 'credential' },
    );
  });
  app.delete('/v1/workspaces/:workspace/compute-envs/:name', async (req: Req, reply) => {
    const name = checkParam('ref', 'name', req.params.name ?? '');
    const ws = await workspaceOf(req);
    const ce = await vault.getComputeEnv(name, ws.id);
    await vault.deleteComputeEnv(ce.id);
    return reply.code(204).send();
  });

  // ---- pipeline runs ----
  app.post('/v1/runs', async (req: Req) => {
    const input = parse(schemas.launch, req.body);
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
  });
  app.get('/v1/runs/:runId', async (req: Req) => {
    return runs.state(checkParam('runId', 'runId', req.params.runId ?? ''));
  });
  app.post('/v1/runs/:runId/complete', async (req: Req, reply) => {
    const runId = checkParam('runId', 'runId', req.params.runId ?? '');
    const { status } = parse(schemas.complete, req.body);
    await runs.complete(runId, status);
    return reply.code(202).send({ runId, accepted: 'complete', status });
  });
  app.post('/v1/runs/:runId/cancel', async (req: Req, reply) => {
    const runId = checkParam('runId', 'runId', req.params.runId ?? '');
    parse(schemas.empty, req.body);
    await runs.cancel(runId);
    return reply.code(202).send({ runId, accepted: 'cancel' });
  });
  app.post('/v1/runs/:runId/renew', async (req: Req, reply) => {
    const runId = checkParam('runId', 'runId', req.params.runId ?? '');
    const { extendBy } = parse(schemas.renew, req.body);
    const extendByMs = parseDuration(extendBy, 'extendBy');
    await runs.renew(runId, extendByMs);
    return reply.code(202).send({ runId, accepted: 'renew', extendBy, extendByMs });
  });

  return app;
}

