/**
 * The process's Temporal runtime, installed once at startup (Runtime.install may run once per
 * process): its logger is the broker's pino logger, so the Rust core's logs (forwarded), the SDK's,
 * and the workflow and activity context loggers come out as the same JSON lines as the broker's own;
 * its Prometheus exporter serves the SDK's metrics and the broker's (created on its meter:
 * metrics.ts) at http://BROKER_METRICS_HOST:BROKER_METRICS_PORT/metrics.
 */
// The runtime modules only, not the package index: an API-only process loads the core bridge (for
// logs and metrics) but never the worker, its webpack bundler, or a cloud SDK.
import { Runtime } from '@temporalio/worker/lib/runtime';
import { makeTelemetryFilterString } from '@temporalio/worker/lib/runtime-options';
import type { MetricMeter } from '@temporalio/common';
import type { Logger as PinoLogger } from 'pino';
import { temporalLogger } from './logger';
import { LAUNCH_LATENCY_BUCKETS, METRIC } from './metrics';

export interface TelemetryOptions {
  logger: PinoLogger;
  /** Core's own log level (the Rust side: connections, polling, task failures). */
  coreLogLevel: 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /** Serve /metrics here; unset: no metrics endpoint. */
  metrics?: { host: string; port: number };
}

class MetricsEndpointError extends Error {
  override name = 'MetricsEndpointError';
}

/** Install the runtime; returns its metric meter. Throws MetricsEndpointError when the port cannot be bound. */
export function installTelemetry(opts: TelemetryOptions): { meter: MetricMeter; metricsUrl?: string } {
  const hostPort = opts.metrics ? `${opts.metrics.host.includes(':') ? `[${opts.metrics.host}]` : opts.metrics.host}:${opts.metrics.port}` : undefined;
  let runtime: Runtime;
  try {
    runtime = Runtime.install({
      logger: temporalLogger(opts.logger.child({ component: 'temporal' })),
      // Ctrl-C and SIGTERM are the broker's to handle (it stops the API, then the worker).
      shutdownSignals: [],
      telemetryOptions: {
        logging: { forward: {}, filter: makeTelemetryFilterString({ core: opts.coreLogLevel }) },
        ...(hostPort
          ? {
              metrics: {
                prometheus: {
                  bindAddress: hostPort,
                  countersTotalSuffix: true,
                  useSecondsForDurations: true,
                  histogramBucketOverrides: { [METRIC.launchLatency]: LAUNCH_LATENCY_BUCKETS },
                },
              },
            }
          : {}),
      },
    });
  } catch (err) {
    const message = (err as Error).message;
    if (hostPort && /prometheus|address|bind/i.test(message)) {
      throw new MetricsEndpointError(`BROKER_METRICS_PORT: cannot serve metrics on ${hostPort}: ${message} (set BROKER_METRICS_PORT to a free port, or 0 to turn metrics off)`);
    }
    throw err;
  }
  return { meter: runtime.metricMeter, ...(hostPort ? { metricsUrl: `http://${hostPort}/metrics` } : {}) };
}
