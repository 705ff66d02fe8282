/**
 * The broker's HTTP API: JSON under /v1 for workspaces, users, secrets, credentials, compute
 * environments and pipeline runs. Secret values are write-only: they go in, and no response, log
 * line or error carries one out. The API writes one line per request (method, path, status, time)
 * through the logger it is given, never a body; Fastify's own messages (startup, stream and
 * serializer errors) go to the broker's pino logger when one is given (`fastifyLogger`), with its
 * per-request lines off (ours replace them) and bodies redacted.
 *
 * This file builds the server: TLS when given a certificate, the request log line, the error and
 * not-found handlers, the audit hook, health, the OpenAPI document, the codec endpoint; the /v1
 * routes are declared one module per resource group under api/routes/, each through api/route.ts,
 * which authenticates and authorizes every one of them (api/auth.ts).
 *
 * The caller listens and closes the vault and clients.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import { redact } from '../domain/sanitize';
import type { RotationsApi } from '../services/rotations';
import type { PipelineRunsApi, RunDirectoryApi } from '../services/types';
import type { VaultKeyRotationsApi } from '../services/vault-key';
import type { VaultApi } from '../store/types';
import type { VerifyDeps } from '../verifiers';
import { registerCodecEndpoint, type CodecEndpointOptions } from './codec-endpoint';
import { createAccessControl, type AuthOptions } from './auth';
import { availableOr503, type ApiContext } from './context';
import { AuthenticationError, mapError } from './errors';
import { buildOpenApiDocument } from './openapi';
import type { RouteSpec } from './route';
import { registerAuditRoutes } from './routes/audit';
import { registerIdentityRoutes } from './routes/identities';
import { registerMemberRoutes } from './routes/members';
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
  /** Fastify's own logger (the broker's pino logger); without it Fastify logs nothing. */
  fastifyLogger?: FastifyBaseLogger;
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
  /** OIDC, the failed-authentication limit, the codec's loopback rule (api/auth.ts). */
  auth?: AuthOptions;
  /** Runs from Temporal's visibility: `GET .../runs`, and who a run belongs to without asking its worker. */
  runDirectory?: RunDirectoryApi;
  /** The Temporal Web UI, for links to a run's workflow. */
  webUi?: { url: string; namespace: string };
  /** Serve HTTPS with this certificate and key (PEM). */
  tls?: { cert: string | Buffer; key: string | Buffer };
}

/** One JSON line per event on stderr. */
const stderrLogger: ApiLogger = {
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
    // Fastify's per-request lines stay off (they would log the query string; ours log the path only),
    // and route errors never reach its logger (setErrorHandler below handles them): what is left is
    // startup and transport errors, through the broker's pino logger (bodies redacted there).
    ...(options.fastifyLogger ? { loggerInstance: options.fastifyLogger, logController: new LogController({ disableRequestLogging: true }) } : { logger: false }),
    bodyLimit,
    // Names and ids are at most 100 characters; longer path segments do not match a route.
    routerOptions: { maxParamLength: 400 },
    return503OnClosing: true,
    ...(options.tls ? { https: { cert: options.tls.cert, key: options.tls.key, minVersion: 'TLSv1.2' as const } } : {}),
  }) as unknown as FastifyInstance;

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

  // Every state-changing call and every refusal goes to the audit trail before its answer leaves.
  app.addHook('onSend', async (req, reply, payload) => {
    await access.audit(req, reply.statusCode);
    return payload;
  });

  app.setErrorHandler((err, req, reply) => {
    const mapped = mapError(err, bodyLimit);
    access.noteError(req, mapped.body.code);
    if (err instanceof AuthenticationError) {
      reply.header('WWW-Authenticate', `Bearer realm="secret-broker"${err.bearerError ? `, error="${err.bearerError}"` : ''}`);
    }
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

  // Under /v1, even a path that is no route needs a token: without one the answer is 401.
  app.setNotFoundHandler(async (req, reply) => {
    if (req.url.startsWith('/v1/') || req.url === '/v1') await access.authenticate(req);
    return reply.code(404).send({ error: `no route ${req.method} ${req.url.split('?')[0]}`, code: 'no-route' });
  });

  const rotations = availableOr503(options.rotations, 'credential rotations');
  const access = createAccessControl(
    { vault, runs, ...(options.runDirectory ? { runDirectory: options.runDirectory } : {}), rotations, log },
    options.auth ?? {},
  );
  const routes: RouteSpec[] = [];
  const webUi = options.webUi;

  // What every route group gets; each group (api/routes/) declares its routes through api/route.ts.
  const ctx: ApiContext = {
    vault,
    runs,
    log,
    markSensitive: (req, strings) => {
      sensitive.set(req, strings);
    },
    rotations,
    vaultKeyRotations: availableOr503(options.vaultKeyRotations, 'vault master key rotations'),
    verifyDeps: options.verifyDeps ?? {},
    access,
    routes,
    runDirectory: availableOr503(options.runDirectory, 'run listings'),
    webUiLink: (workflowId) =>
      webUi ? `${webUi.url.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(webUi.namespace)}/workflows/${encodeURIComponent(workflowId)}` : undefined,
  };

  app.get('/healthz', async () => ({ status: 'ok' }));
  if (options.codec) {
    registerCodecEndpoint(app, {
      ...options.codec,
      guard: async (req, op) => {
        access.noteRoute(req, { operationId: op === 'encode' ? 'codecEncode' : 'codecDecode' });
        await access.guardCodec(req);
      },
    });
  }
  registerIdentityRoutes(app, ctx);
  registerMemberRoutes(app, ctx);
  registerAuditRoutes(app, ctx);
  registerWorkspaceRoutes(app, ctx);
  registerSecretRoutes(app, ctx);
  registerCredentialRoutes(app, ctx);
  registerRotationRoutes(app, ctx);
  registerVaultKeyRoutes(app, ctx);
  registerComputeEnvRoutes(app, ctx);
  registerRunRoutes(app, ctx);

  let document: unknown;
  app.get('/openapi.json', async () => (document ??= buildOpenApiDocument(routes)));

  return app;
}

