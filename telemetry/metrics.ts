/**
 * The broker's own metrics, created on the Temporal runtime's metric meter so they are served by the
 * same Prometheus endpoint as the SDK's (Runtime.install's exporter: runtime.ts): one scrape target
 * per process, `/metrics` on BROKER_METRICS_PORT.
 *
 * Labels are bounded and never secret: `compute_env` (the compute environment's id), `platform`,
 * and words from fixed sets (`outcome`, `reason`, `finding`, `kind`, `step`). No secret name, value,
 * run id or user ever becomes a label: README.md (Observability) lists every series.
 *
 * Code that records (activities, the launch service) depends on the small interfaces below, injected
 * (createActivities(deps), new PipelineRuns(..., metrics)); workflows record nothing (they must stay
 * deterministic).
 */
import type { MetricMeter, MetricTags } from '@temporalio/common';

/** Where a metric happened: a compute environment and its platform. */
export interface MetricTarget {
  computeEnvId: string;
  platform: string;
}

export type PushOutcome = 'pushed' | 'failed';
export type DeleteOutcome = 'deleted' | 'not-found' | 'not-owned' | 'failed';
export type SweepFinding = 'deleted' | 'kept' | 'not-owned';
export type LaunchOutcome = 'ready' | 'failed' | 'duplicate' | 'error';

/** What the launch service records (services/pipeline-runs.ts). */
export interface LaunchMetrics {
  launched(o: { outcome: LaunchOutcome; seconds: number; computeEnvId: string; platform?: string }): void;
}

/** What the activities record (activities/). */
export interface ActivityMetrics {
  /** Secrets written (`pushed`) or in a push attempt that failed (`failed`). */
  pushed(t: MetricTarget, outcome: PushOutcome, count: number): void;
  /** Refs by their delete outcome; `failed` counts the refs of a delete attempt that failed. */
  deleted(t: MetricTarget, outcome: DeleteOutcome, count: number): void;
  /** A delete attempt failed and will be tried again (the activity's retry or the workflow's next round). */
  deleteRetried(t: MetricTarget): void;
  /** A launch's access check failed; `reason` is the failure type (AccessVerificationError, ConnectionError ...). */
  verificationFailed(t: MetricTarget, reason: string): void;
  /** One step of a credential or vault key rotation. */
  rotationStep(kind: string, step: string, outcome: string): void;
  /** What the orphan sweep found in a compute environment and did with it. */
  swept(t: MetricTarget, finding: SweepFinding, count: number): void;
}

export interface BrokerMetrics extends LaunchMetrics, ActivityMetrics {
  /** A gauge of 1 labelled with the build this process runs. */
  buildInfo(labels: { buildId: string; deployment: string; versioning: string; role: string }): void;
}

/** Metric names, as Prometheus shows them (counters get `_total` from the exporter). */
export const METRIC = {
  launches: 'secret_broker_launches',
  launchLatency: 'secret_broker_launch_latency_seconds',
  pushes: 'secret_broker_pushes',
  deletes: 'secret_broker_deletes',
  secretsPushed: 'secret_broker_secrets_pushed',
  verificationFailures: 'secret_broker_verification_failures',
  deleteRetries: 'secret_broker_delete_retries',
  rotations: 'secret_broker_rotation_steps',
  sweepFindings: 'secret_broker_sweep_findings',
  buildInfo: 'secret_broker_build_info',
} as const;

/** Launch latency buckets in seconds: a local push takes a fraction of a second, a cloud IAM check tens. */
export const LAUNCH_LATENCY_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** Failure types are code identifiers; anything else is folded, so a label can never carry free text. */
export function boundedWord(value: string | undefined, fallback = 'unknown'): string {
  if (!value) return fallback;
  return /^[A-Za-z0-9][A-Za-z0-9_:.+-]{0,99}$/.test(value) ? value : fallback;
}

const target = (t: MetricTarget): MetricTags => ({ compute_env: t.computeEnvId, platform: t.platform });

export function createBrokerMetrics(meter: MetricMeter): BrokerMetrics {
  const launches = meter.createCounter(METRIC.launches, '', 'Launches (Update-with-Start until ready or failed), by outcome, compute environment and platform');
  const latency = meter.createHistogram(METRIC.launchLatency, 'float', 's', 'Seconds from the launch call to ready (or failure), by outcome and platform');
  const pushes = meter.createCounter(METRIC.pushes, '', 'Secrets pushed to a compute environment (outcome pushed), or in a push attempt that failed (outcome failed)');
  const deletes = meter.createCounter(METRIC.deletes, '', 'Remote refs by delete outcome: deleted, not-found (counts as deleted), not-owned (left alone), failed (in a failed attempt)');
  const current = meter.createGauge(METRIC.secretsPushed, 'int', '', 'Secrets this worker process pushed and has not deleted yet, per compute environment');
  const verification = meter.createCounter(METRIC.verificationFailures, '', 'Access checks after a push that failed, by reason (the failure type)');
  const retries = meter.createCounter(METRIC.deleteRetries, '', 'Delete attempts that failed and are tried again (activity retry or next cleanup round)');
  const rotations = meter.createCounter(METRIC.rotations, '', 'Credential and vault key rotation steps, by kind, step and outcome');
  const sweep = meter.createCounter(METRIC.sweepFindings, '', 'Objects the orphan sweep found, by what it did: deleted, kept (run still live), not-owned');
  const build = meter.createGauge(METRIC.buildInfo, 'int', '', 'Always 1: the build id, worker deployment and versioning mode this process runs');

  // The gauge is this process's count (pushed minus deleted), kept per compute environment.
  const live = new Map<string, { tags: MetricTags; n: number }>();
  const move = (t: MetricTarget, by: number) => {
    const tags = target(t);
    const key = `${t.computeEnvId}|${t.platform}`;
    const entry = live.get(key) ?? { tags, n: 0 };
    entry.n = Math.max(0, entry.n + by);
    live.set(key, entry);
    current.set(entry.n, tags);
  };

  return {
    launched({ outcome, seconds, computeEnvId, platform }) {
      const p = boundedWord(platform);
      launches.add(1, { outcome, compute_env: computeEnvId, platform: p });
      latency.record(seconds, { outcome, platform: p });
    },
    pushed(t, outcome, count) {
      if (count <= 0) return;
      pushes.add(count, { ...target(t), outcome });
      if (outcome === 'pushed') move(t, count);
    },
    deleted(t, outcome, count) {
      if (count <= 0) return;
      deletes.add(count, { ...target(t), outcome });
      if (outcome === 'deleted' || outcome === 'not-found') move(t, -count);
    },
    deleteRetried(t) {
      retries.add(1, target(t));
    },
    verificationFailed(t, reason) {
      verification.add(1, { ...target(t), reason: boundedWord(reason) });
    },
    rotationStep(kind, step, outcome) {
      rotations.add(1, { kind: boundedWord(kind), step: boundedWord(step), outcome: boundedWord(outcome) });
    },
    swept(t, finding, count) {
      if (count <= 0) return;
      sweep.add(count, { ...target(t), finding });
      if (finding === 'deleted') move(t, -count);
    },
    buildInfo({ buildId, deployment, versioning, role }) {
      build.set(1, { build_id: boundedWord(buildId), deployment: boundedWord(deployment), versioning, role });
    },
  };
}

/** Records nothing: the default where no meter is given (tests, tools). */
export const noopMetrics: BrokerMetrics = {
  launched() {},
  pushed() {},
  deleted() {},
  deleteRetried() {},
  verificationFailed() {},
  rotationStep() {},
  swept() {},
  buildInfo() {},
};
