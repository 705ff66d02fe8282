/**
 * The broker's metrics as the activities record them, on a meter that keeps every call (the same
 * MetricMeter interface the Temporal runtime's meter implements; test/integration/observability.test.ts
 * scrapes the real one): which series move for pushes, deletes, failed verifications, retried delete
 * rounds, sweep findings and rotation steps, and that no label ever holds a secret name or value.
 */
import type { MetricCounter, MetricGauge, MetricHistogram, MetricMeter, MetricTags } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createPipelineRunActivities } from '../../activities/pipeline-run';
import { createRotationActivities } from '../../activities/rotation';
import { createSweepActivities } from '../../activities/sweep';
import { AuthenticationFailedError, ConnectionError } from '../../domain/errors';
import type { ComputeEnvRecord, PipelineRunInput, RemoteRef, SecretRef } from '../../domain/run';
import type { VaultApi } from '../../store/types';
import type { SecretTarget } from '../../targets/types';
import { boundedWord, createBrokerMetrics, METRIC } from '../../telemetry/metrics';

interface Call {
  name: string;
  value: number;
  tags: MetricTags;
}

/** A MetricMeter that records: counters add up, gauges keep the last value per label set. */
function recordingMeter(): { meter: MetricMeter; calls: Call[]; total(name: string, tags?: MetricTags): number; gauge(name: string, tags: MetricTags): number | undefined } {
  const calls: Call[] = [];
  const metric = (name: string, kind: 'counter' | 'histogram' | 'gauge') => {
    const record = (value: number, tags: MetricTags = {}) => void calls.push({ name, value, tags });
    return { name, kind, valueType: 'int', add: record, record, set: record, withTags: () => metric(name, kind) } as unknown;
  };
  const meter: MetricMeter = {
    createCounter: (name) => metric(name, 'counter') as MetricCounter,
    createHistogram: (name) => metric(name, 'histogram') as MetricHistogram,
    createGauge: (name) => metric(name, 'gauge') as MetricGauge,
    withTags: () => meter,
  };
  const matches = (c: Call, name: string, tags: MetricTags) => c.name === name && Object.entries(tags).every(([k, v]) => c.tags[k] === v);
  return {
    meter,
    calls,
    total: (name, tags = {}) => calls.filter((c) => matches(c, name, tags)).reduce((n, c) => n + c.value, 0),
    gauge: (name, tags) => calls.filter((c) => matches(c, name, tags)).at(-1)?.value,
  };
}

const CE: ComputeEnvRecord = { id: 'ce-metrics', workspaceId: 'ws-1', name: 'cluster', platform: 'hpc', config: {}, credentialId: 'cred-1' };
const RUN: PipelineRunInput = { runId: 'runmetrics1', workspaceId: 'ws-1', userId: 'u-1', computeEnvId: CE.id, secretNames: ['DB_PASSWORD', 'API_TOKEN'] };
const VALUES: Record<string, string> = { s1: 'metric-value-one', s2: 'metric-value-two' };
const SECRETS: SecretRef[] = [
  { name: 'DB_PASSWORD', scope: 'workspace', secretId: 's1', version: 1 },
  { name: 'API_TOKEN', scope: 'user', secretId: 's2', version: 1 },
];
const REFS: RemoteRef[] = SECRETS.map((s) => ({ platform: 'hpc', computeEnvId: CE.id, secretName: s.name, remoteId: `/work/tower-${RUN.runId}/store.json#${s.name}` }));
const where = { compute_env: CE.id, platform: 'hpc' };

function fakeVault(parts: Partial<VaultApi>): VaultApi {
  return new Proxy(parts as VaultApi, {
    get: (t, k) => (k in t ? t[k as keyof VaultApi] : () => Promise.reject(new Error(`the fake vault has no ${String(k)}`))),
  });
}

const vault = fakeVault({
  getComputeEnv: async () => ({ ...CE, createdAt: '', updatedAt: '' }),
  readSecretValues: async (refs) => refs.map((ref) => VALUES[ref.secretId]),
  listWorkspaces: async () => [],
});

function target(parts: Partial<SecretTarget>): SecretTarget {
  return {
    platform: 'hpc',
    plan: () => REFS,
    push: async () => ({ refs: REFS, headJobEnv: {} }),
    verify: async () => ({ ok: true }),
    delete: async (_run, refs) => refs.map(() => 'deleted' as const),
    listOwned: async () => [],
    close: async () => undefined,
    ...parts,
  };
}

test('a run: pushes, the live gauge, a failed verification, deletes; a failed delete attempt counts as retried', async () => {
  const rec = recordingMeter();
  const metrics = createBrokerMetrics(rec.meter);
  const env = new MockActivityEnvironment();
  let deleteFails = true;
  const t = target({
    verify: async () => ({ ok: false as const, missing: [{ principal: 'sbhpc', permission: 'read', resource: REFS[0].remoteId, grant: 'chmod' }] }),
    delete: async (_run, refs) => {
      if (deleteFails) {
        deleteFails = false;
        throw new ConnectionError('login node unreachable');
      }
      return refs.map((_, i) => (i === 0 ? 'deleted' : 'not-found'));
    },
  });
  const acts = createPipelineRunActivities({ vault, target: async () => t, metrics });

  await env.run(acts.pushSecrets, { run: RUN, secrets: SECRETS });
  expect(rec.total(`${METRIC.pushes}`, { ...where, outcome: 'pushed' })).toBe(2);
  expect(rec.gauge(METRIC.secretsPushed, where)).toBe(2);

  await expect(env.run(acts.verifyAccess, { run: RUN, refs: REFS })).rejects.toThrow(/access check failed/);
  expect(rec.total(METRIC.verificationFailures, { ...where, reason: 'AccessVerificationError' })).toBe(1);

  await expect(env.run(acts.deleteSecrets, { run: RUN, refs: REFS })).rejects.toThrow(/login node unreachable/);
  expect(rec.total(METRIC.deleteRetries, where)).toBe(1);
  expect(rec.total(METRIC.deletes, { ...where, outcome: 'failed' })).toBe(2);
  expect(rec.gauge(METRIC.secretsPushed, where)).toBe(2);

  await env.run(acts.deleteSecrets, { run: RUN, refs: REFS });
  expect(rec.total(METRIC.deletes, { ...where, outcome: 'deleted' })).toBe(1);
  expect(rec.total(METRIC.deletes, { ...where, outcome: 'not-found' })).toBe(1);
  expect(rec.gauge(METRIC.secretsPushed, where)).toBe(0);

  // A verification that could not run is counted under its failure type.
  const down = createPipelineRunActivities({ vault, target: async () => target({ verify: () => Promise.reject(new AuthenticationFailedError('host key refused')) }), metrics });
  await expect(env.run(down.verifyAccess, { run: RUN, refs: REFS })).rejects.toThrow(/host key refused/);
  expect(rec.total(METRIC.verificationFailures, { ...where, reason: 'AuthenticationFailedError' })).toBe(1);

  // A failed push counts the secrets it was carrying; the gauge does not move.
  const refused = createPipelineRunActivities({ vault, target: async () => target({ push: () => Promise.reject(new ConnectionError('no route')) }), metrics });
  await expect(env.run(refused.pushSecrets, { run: RUN, secrets: SECRETS })).rejects.toThrow(/no route/);
  expect(rec.total(METRIC.pushes, { ...where, outcome: 'failed' })).toBe(2);
  expect(rec.gauge(METRIC.secretsPushed, where)).toBe(0);

  // Never a name, a value or a run id in a label.
  const labels = rec.calls.flatMap((c) => Object.values(c.tags).map(String));
  for (const secret of [...SECRETS.map((s) => s.name), ...Object.values(VALUES), RUN.runId, CE.name]) expect(labels.join(' ')).not.toContain(secret);
});

test('sweep findings by what the sweep did', async () => {
  const rec = recordingMeter();
  const owned = ['a', 'b', 'c', 'd'].map((r) => ({ runId: `run${r}`, workspaceId: 'ws-1', remoteId: `/work/tower-run${r}` }));
  const t = target({ listOwned: async () => owned, delete: async (run) => [run.runId === 'runc' ? 'not-owned' : 'deleted'] });
  const acts = createSweepActivities({ vault, target: async () => t, runLiveness: async (id) => (id === 'runa' ? 'running' : 'closed'), metrics: createBrokerMetrics(rec.meter) });
  await new MockActivityEnvironment().run(acts.sweepComputeEnv, CE.id);
  expect(rec.total(METRIC.sweepFindings, { ...where, finding: 'kept' })).toBe(1);
  expect(rec.total(METRIC.sweepFindings, { ...where, finding: 'deleted' })).toBe(2);
  expect(rec.total(METRIC.sweepFindings, { ...where, finding: 'not-owned' })).toBe(1);
});

test('rotation steps by kind, step and outcome', async () => {
  const rec = recordingMeter();
  let verifyFails = true;
  const r = {
    label: 'Batch account acct',
    inspect: async () => ({ rotatable: true, slots: ['Primary', 'Secondary'], stored: 'Primary', usedElsewhere: [], fixedSlots: true }),
    regenerate: async (s: string | null) => s ?? 'Secondary',
    store: async () => undefined,
    verifyStored: async () => {
      if (verifyFails) {
        verifyFails = false;
        throw new AuthenticationFailedError('the key is still propagating');
      }
    },
    retire: async () => undefined,
    close: async () => undefined,
  };
  const acts = createRotationActivities({ vault, createRotator: async () => r, metrics: createBrokerMetrics(rec.meter) });
  const env = new MockActivityEnvironment();
  const rotation = { kind: 'azure-batch-key' as const, credentialId: 'cred-1' };
  await env.run(acts.rotationRegenerate, rotation, 'Secondary');
  await expect(env.run(acts.rotationVerify, rotation)).rejects.toThrow(/propagating/);
  await env.run(acts.rotationVerify, rotation);
  expect(rec.total(METRIC.rotations, { kind: 'azure-batch-key', step: 'regenerate', outcome: 'ok' })).toBe(1);
  expect(rec.total(METRIC.rotations, { kind: 'azure-batch-key', step: 'verify', outcome: 'AuthenticationFailedError' })).toBe(1);
  expect(rec.total(METRIC.rotations, { kind: 'azure-batch-key', step: 'verify', outcome: 'ok' })).toBe(1);
});

test('launches: outcome, latency, and a label can never carry free text', () => {
  const rec = recordingMeter();
  const m = createBrokerMetrics(rec.meter);
  m.launched({ outcome: 'ready', seconds: 0.4, computeEnvId: 'ce-1', platform: 'aws' });
  m.launched({ outcome: 'failed', seconds: 1.2, computeEnvId: 'ce-1' });
  expect(rec.total(METRIC.launches, { outcome: 'ready', platform: 'aws' })).toBe(1);
  expect(rec.total(METRIC.launches, { outcome: 'failed', platform: 'unknown' })).toBe(1);
  expect(rec.total(METRIC.launchLatency, { outcome: 'ready' })).toBeCloseTo(0.4);
  expect(boundedWord('AccessVerificationError')).toBe('AccessVerificationError');
  expect(boundedWord('0.1.0-5a6a0789f26d')).toBe('0.1.0-5a6a0789f26d');
  expect(boundedWord('secret "DB_PASSWORD" = hunter2')).toBe('unknown');
});
