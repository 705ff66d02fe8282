/**
 * The broker's one logger: pino, one JSON object per line on stderr, with `time` (ISO), `level` (a
 * word), `component` and `msg`. The broker's own lines, the HTTP API's (Fastify included) and
 * Temporal's (the Rust core, the SDK, workflow and activity loggers, through Runtime.install: see
 * runtime.ts) all go through it, so one stream holds everything in one format.
 *
 * Nothing here knows a secret value: callers log references and names, never values. As a last net,
 * request bodies and authorization headers are redacted, and errors are logged as type, message and
 * stack only (no enumerable extras such as a parser's raw packet).
 */
import pino, { type DestinationStream, type Logger as PinoLogger } from 'pino';
import type { LogLevel as TemporalLogLevel, LogMetadata, Logger as TemporalLogger } from '@temporalio/common';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** What the broker's modules log through: a message and flat fields. */
export interface BrokerLogger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  /** The same logger with these fields on every line (`{ component: 'api' }` ...). */
  child(bindings: Record<string, unknown>): BrokerLogger;
  /** The pino logger underneath (for Fastify's loggerInstance). */
  readonly pino: PinoLogger;
}

/** An error as type, message and stack: never its other own properties (bodies, raw packets, config). */
function errorFields(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { message: String(err) };
  const code = (err as { code?: unknown }).code;
  return { type: err.name, message: err.message, ...(typeof code === 'string' ? { code } : {}), stack: err.stack };
}

export interface CreateLoggerOptions {
  level?: LogLevel;
  /** Where lines go; stderr by default (tests pass a stream to read them back). */
  destination?: DestinationStream;
  /** Fields on every line. */
  base?: Record<string, unknown>;
}

function createPinoLogger(opts: CreateLoggerOptions = {}): PinoLogger {
  return pino(
    {
      level: opts.level ?? 'info',
      base: { ...(opts.base ?? {}) },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: errorFields, error: (e: unknown) => (e instanceof Error ? errorFields(e) : e) },
      redact: {
        paths: ['body', 'req.body', 'request.body', 'headers.authorization', 'req.headers.authorization', 'req.headers.cookie', 'headers.cookie'],
        censor: '[redacted]',
      },
    },
    opts.destination ?? pino.destination({ fd: 2, sync: true }),
  );
}

/** The message-first adapter the broker's code uses, over a pino logger. */
function brokerLogger(p: PinoLogger): BrokerLogger {
  const at = (level: 'debug' | 'info' | 'warn' | 'error') => (message: string, fields?: Record<string, unknown>) => {
    if (fields && Object.keys(fields).length) p[level](fields, message);
    else p[level](message);
  };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (bindings) => brokerLogger(p.child(bindings)),
    pino: p,
  };
}

export function createLogger(opts: CreateLoggerOptions = {}): BrokerLogger {
  return brokerLogger(createPinoLogger(opts));
}

const TEMPORAL_LEVELS: Record<TemporalLogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/**
 * A Temporal SDK Logger over pino, for Runtime.install: core's forwarded logs, the worker's, and the
 * workflow and activity context loggers arrive here with their metadata (sdkComponent, taskQueue,
 * workflowId, activityType ...), and leave as pino lines with `component: "temporal"`.
 */
export function temporalLogger(p: PinoLogger): TemporalLogger {
  const log = (level: TemporalLogLevel, message: string, meta?: LogMetadata) => {
    const method = TEMPORAL_LEVELS[level] ?? 'info';
    // String keys only: the SDK puts its timestamp under a symbol, and pino stamps its own.
    const fields: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(meta ?? {})) fields[k] = typeof v === 'bigint' ? v.toString() : v;
    p[method](fields, message);
  };
  return {
    log,
    trace: (m, meta) => log('TRACE', m, meta),
    debug: (m, meta) => log('DEBUG', m, meta),
    info: (m, meta) => log('INFO', m, meta),
    warn: (m, meta) => log('WARN', m, meta),
    error: (m, meta) => log('ERROR', m, meta),
  };
}
