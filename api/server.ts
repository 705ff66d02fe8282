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
import { mapError } from './errors';
import { registerComputeEnvRoutes } from './routes/compute-envs';
import { registerCredentialRoutes } from './routes/credentials';
import { registerRotationRoutes } from './routes/rotations';
import { registerRunRoutes } from './routes/runs';
import { registerSecretRoutes } from './routes/secrets';
import { registerVaultKeyRoutes } from './routes/vault-key';
import { registerWorkspaceRoutes } from './routes/workspaces';
import { BODY_LIMIT_BYTES } from './validation';

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
    if (mapped.headers) reply.headers(mapped.headers);
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
  registerRotationRoutes(app, ctx);
  registerVaultKeyRoutes(app, ctx);
  registerComputeEnvRoutes(app, ctx);
  registerRunRoutes(app, ctx);

  return app;
}

