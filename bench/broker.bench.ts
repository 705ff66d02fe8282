/**
 * `make bench` (BENCH_QUICK=1 for a small version): the broker's launch and delete latency, throughput,
 * history size and worker memory, each beside floors measured in the same run on the same machine.
 *
 *   latency     launch → ready and complete → deleted, p50/p95/p99, for 1, 10 and 50 secrets on
 *               local, hpc (sshd), aws (moto) and gcp (emulator, strict IAM), one run at a time
 *   throughput  runs/s to ready and to deleted at 10, 50 and 100 concurrent launches (local, 1 secret), errors
 *   history     events per run, in total and up to the ready answer (the waitReady update's completion)
 *   memory      the worker process's VmRSS and VmHWM with 1,000 runs ready at once (then all completed)
 *
 * Floors, interleaved with the figures they stand beside (one of each per iteration, so load from
 * elsewhere hits both alike):
 *   provider    the target's push + verify, and its delete, through the real target code (targets/),
 *               on a target built once and kept (warm clients), no Temporal, no vault
 *   vault       resolveSecrets + readSecretValue for the run's secrets, through the real vault
 *   trivial     bench/trivial-workflow.ts: the same shape (Update-with-Start, 3 activities, ready, an
 *               update, 1 delete activity) doing nothing, on its own worker process and task queue,
 *               on the same dev server; and the same with local activities
 *
 * Writes .data/bench/latest.json (rows), latest.txt (the table), latest.meta.json and
 * launch-latency.svg; each run is also kept under .data/bench/runs/. scripts/bench.sh prints the table.
 * BENCH_TARGETS=local,aws and BENCH_PARTS=latency,throughput,memory run a part only.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { WithStartWorkflowOperation, type Client } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
import { pipelineRunWorkflowId, type Platform } from '../domain/run';
import { trivialCompleteUpdate, trivialReadyUpdate, type trivialRun } from './trivial-workflow';
import {
  checkGoals,
  formatGoals,
  formatTable,
  latencyOf,
  renderLaunchChart,
  rowsFor,
  launchSeries,
  medianTimeline,
  percentile,
  timeline,
  formatTimeline,
  toJson,
  type TimedEvent,
  type Timeline,
  type Floor,
  type Latency,
  type Row,
} from './report';
import { sampleCpu } from './machine';
import { MAX_SECRETS, ROOT, TARGETS, memoryOf, secretNames, secretValue, startBenchEnv, type BenchEnv } from './setup';

const QUICK = process.env.BENCH_QUICK === '1';
const OUT = process.env.BENCH_OUT ?? path.join(ROOT, '.data', 'bench');
const ONLY_TARGETS = (process.env.BENCH_TARGETS ?? '').split(',').filter(Boolean) as Platform[];
const PARTS = new Set((process.env.BENCH_PARTS ?? 'latency,throughput,memory').split(',').filter(Boolean));

interface Plan {
  secrets: number[];
  /** Measured iterations per case (after the warm-up). */
  samples: Record<Platform, Record<number, number>>;
  warmup: number;
  concurrency: number[];
  /** Runs launched per concurrency level. */
  wave: Record<number, number>;
  inFlight: number;
  inFlightConcurrency: number;
}

const PLAN: Plan = QUICK
  ? {
      secrets: [1, 10, 50],
      samples: { local: { 1: 15, 10: 10, 50: 6 }, hpc: { 1: 6, 10: 4, 50: 3 }, aws: { 1: 6, 10: 4, 50: 3 }, gcp: { 1: 6, 10: 4, 50: 3 } },
      warmup: 2,
      concurrency: [1, 10, 50, 100],
      wave: { 1: 10, 10: 30, 50: 60, 100: 100 },
      inFlight: 200,
      inFlightConcurrency: 100,
    }
  : {
      secrets: [1, 10, 50],
      samples: { local: { 1: 100, 10: 60, 50: 40 }, hpc: { 1: 40, 10: 30, 50: 20 }, aws: { 1: 40, 10: 30, 50: 15 }, gcp: { 1: 40, 10: 30, 50: 15 } },
      warmup: 3,
      concurrency: [1, 10, 50, 100],
      wave: { 1: 50, 10: 200, 50: 300, 100: 500 },
      inFlight: 1000,
      inFlightConcurrency: 100,
    };

const started = Date.now();
const log = (s: string) => {
  const t = Math.round((Date.now() - started) / 1000);
  process.stderr.write(`[bench ${String(Math.floor(t / 60)).padStart(2, '0')}:${String(t % 60).padStart(2, '0')}] ${s}\n`);
};
const now = () => performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let seq = 0;
const runIdOf = (prefix: string) => `${prefix}${(++seq).toString(36)}${randomBytes(4).toString('hex')}`;
const caseOf = (n: number) => (n === 1 ? '1 secret' : `${n} secrets`);
const fmtCount = (n: number) => n.toLocaleString('en-US');
const errorText = (err: unknown) => (err instanceof Error ? `${err.name}: ${err.message}` : String(err)).slice(0, 300);

let env: BenchEnv | undefined;
const rows: Row[] = [];
const durations: Record<string, number> = {};
const firstErrors: string[] = [];
const loads: number[] = [];
const loadBefore = os.loadavg();
const loadTimer = setInterval(() => loads.push(os.loadavg()[0]!), 5_000);
const cpu = sampleCpu();

// --- one run of each kind ----------------------------------------------------------------------

async function launchPipeline(e: BenchEnv, platform: Platform, secrets: number, runId: string): Promise<void> {
  await e.runs.launch({
    runId,
    workspaceId: e.workspaceId,
    userId: e.userId,
    computeEnvId: e.ces[platform].id,
    secretNames: secretNames(secrets),
    labels: { workspace: e.labels.workspace, computeEnv: e.ces[platform].name, platform, user: e.labels.user },
  });
}

async function finishPipeline(e: BenchEnv, runId: string): Promise<void> {
  await e.runs.complete(runId, 'succeeded');
  const final = await e.runs.waitClosed(runId);
  if (final.phase !== 'deleted' || final.outcome !== 'succeeded') throw new Error(`run ${runId} ended ${final.phase}/${final.outcome}: ${final.lastError ?? ''}`);
}

type TrivialKind = 'activities' | 'local activities';
const TRIVIAL_TYPE: Record<TrivialKind, string> = { activities: 'trivialRun', 'local activities': 'trivialRunLocal' };
const trivialId = (runId: string) => `trivial-${runId}`;

async function launchTrivial(e: BenchEnv, kind: TrivialKind, secrets: number, runId: string): Promise<void> {
  const startWorkflowOperation = new WithStartWorkflowOperation<typeof trivialRun>(TRIVIAL_TYPE[kind], {
    workflowId: trivialId(runId),
    taskQueue: e.trivialTaskQueue,
    args: [{ runId, secretNames: secretNames(secrets) }],
    workflowIdConflictPolicy: 'USE_EXISTING',
  });
  await e.trivialClient.workflow.executeUpdateWithStart(trivialReadyUpdate, { startWorkflowOperation });
}

async function finishTrivial(e: BenchEnv, runId: string): Promise<void> {
  const h = e.trivialClient.workflow.getHandle(trivialId(runId));
  await h.executeUpdate(trivialCompleteUpdate, { args: ['succeeded'] });
  await h.result();
}

/** Launch then finish: the two latencies. */
async function timed(launch: () => Promise<void>, finish: () => Promise<void>): Promise<[number, number]> {
  const t0 = now();
  await launch();
  const t1 = now();
  await finish();
  return [t1 - t0, now() - t1];
}

async function providerOnce(e: BenchEnv, platform: Platform, secrets: number): Promise<[number, number]> {
  const target = await e.providerTarget(platform);
  const ctx = { runId: runIdOf('f'), workspaceId: e.workspaceId, computeEnv: e.ces[platform] };
  const plain = secretNames(secrets).map((name, i) => ({ name, value: secretValue(i) }));
  const t0 = now();
  const pushed = await target.push(ctx, plain);
  const verified = await target.verify(ctx, pushed.refs);
  const t1 = now();
  if (!verified.ok) throw new Error(`provider floor on ${platform}: verify found ${JSON.stringify(verified.missing)}`);
  const outcomes = await target.delete(ctx, pushed.refs);
  const t2 = now();
  if (outcomes.some((o) => o !== 'deleted')) throw new Error(`provider floor on ${platform}: delete answered ${outcomes.join(', ')}`);
  return [t1 - t0, t2 - t1];
}

async function vaultOnce(e: BenchEnv, secrets: number): Promise<number> {
  const t0 = now();
  const { found, missing } = await e.vault.resolveSecrets({ workspaceId: e.workspaceId, userId: e.userId, names: secretNames(secrets) });
  for (const ref of found) await e.vault.readSecretValue(ref);
  const t = now() - t0;
  if (missing.length) throw new Error(`vault floor: missing ${missing.join(', ')}`);
  return t;
}

// --- history -------------------------------------------------------------------------------------

const EventType = proto.api.enums.v1.EventType;

interface HistoryCount {
  total: number;
  beforeReady: number;
  /** Event types up to the ready answer, by count. */
  typesBeforeReady: Record<string, number>;
  /** Where the time went up to the ready answer, and from the completion request to the close. */
  launch: Timeline;
  finish: Timeline;
}

const msOf = (ts: { seconds?: unknown; nanos?: number | null } | null | undefined): number =>
  ts ? Number(String(ts.seconds ?? 0)) * 1000 + (ts.nanos ?? 0) / 1e6 : NaN;
const idOf = (x: unknown): number | undefined => (x === null || x === undefined ? undefined : Number(String(x)));

async function historyOf(client: Client, workflowId: string): Promise<HistoryCount> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const events = history.events ?? [];
  const timed: TimedEvent[] = events.map((ev) => ({
    id: Number(String(ev.eventId)),
    type: (EventType[ev.eventType ?? 0] ?? String(ev.eventType)).replace(/^EVENT_TYPE_/, '').toLowerCase(),
    ms: msOf(ev.eventTime),
    scheduledId: idOf(ev.workflowTaskStartedEventAttributes?.scheduledEventId ?? ev.activityTaskStartedEventAttributes?.scheduledEventId),
    startedId: idOf(ev.workflowTaskCompletedEventAttributes?.startedEventId ?? ev.activityTaskCompletedEventAttributes?.startedEventId),
  }));
  const ready = timed.findIndex((ev) => ev.type === 'workflow_execution_update_completed');
  const before = ready < 0 ? timed : timed.slice(0, ready + 1);
  const finishFrom = timed.findIndex((ev, i) => i > ready && ev.type === 'workflow_task_scheduled');
  const typesBeforeReady: Record<string, number> = {};
  for (const ev of before) typesBeforeReady[ev.type] = (typesBeforeReady[ev.type] ?? 0) + 1;
  return { total: events.length, beforeReady: before.length, typesBeforeReady, launch: timeline(before), finish: timeline(finishFrom < 0 ? [] : timed.slice(finishFrom)) };
}

/** "Where the time goes" lines: per case and kind of run, medians over its last runs' histories. */
const whereLines: string[] = [];

interface Kept {
  workflowId: string;
  ready: number;
  deleted: number;
}

interface Histories extends HistoryCount {
  runs: number;
  /** Median measured latencies of the same runs. */
  ready: number;
  deleted: number;
}

/** The histories of up to 20 of the runs (the last ones): event counts of the last, timelines' medians. */
async function histories(client: Client, runs: Kept[]): Promise<Histories> {
  const some = runs.slice(-20);
  const hs: HistoryCount[] = [];
  for (let i = 0; i < some.length; i += 5) hs.push(...(await Promise.all(some.slice(i, i + 5).map((r) => historyOf(client, r.workflowId)))));
  const last = hs[hs.length - 1]!;
  return {
    ...last,
    launch: medianTimeline(hs.map((h) => h.launch)),
    finish: medianTimeline(hs.map((h) => h.finish)),
    runs: some.length,
    ready: percentile(some.map((r) => r.ready), 50),
    deleted: percentile(some.map((r) => r.deleted), 50),
  };
}

function whereLine(who: string, h: Histories): string {
  const w = who.padEnd(26);
  return [
    `  ${w} launch→ready ${h.ready.toFixed(0)} ms = client and RPCs ${(h.ready - h.launch.span).toFixed(0)} + ${formatTimeline(h.launch)}`,
    `  ${' '.repeat(w.length)} complete→deleted ${h.deleted.toFixed(0)} ms = client and RPCs ${(h.deleted - h.finish.span).toFixed(0)} + ${formatTimeline(h.finish)}`,
  ].join('\n');
}

function historyRows(target: string, kase: string, broker: HistoryCount, trivial: HistoryCount, trivialLocal: HistoryCount): Row[] {
  return [
    ...rowsFor({ target, case: kase, metric: 'history events before ready', value: broker.beforeReady, unit: 'events', detail: { typesBeforeReady: broker.typesBeforeReady, launch: broker.launch, finish: broker.finish } }, [
      { name: 'trivial workflow', value: trivial.beforeReady },
      { name: 'trivial, local activities', value: trivialLocal.beforeReady },
    ]),
    ...rowsFor({ target, case: kase, metric: 'history events (total)', value: broker.total, unit: 'events' }, [
      { name: 'trivial workflow', value: trivial.total },
      { name: 'trivial, local activities', value: trivialLocal.total },
    ]),
  ];
}

// --- the parts -----------------------------------------------------------------------------------

async function latencyCase(e: BenchEnv, platform: Platform, secrets: number, warmup: number): Promise<void> {
  const count = PLAN.samples[platform][secrets]!;
  const s = {
    ready: [] as number[],
    deleted: [] as number[],
    trivial: { ready: [] as number[], deleted: [] as number[] },
    trivialLocal: { ready: [] as number[], deleted: [] as number[] },
    provider: { ready: [] as number[], deleted: [] as number[] },
    vault: [] as number[],
  };
  const errors = { launch: 0, finish: 0 };
  // The kept runs of each kind, with their measured latencies, for their histories.
  const kept = { broker: [] as Kept[], trivial: [] as Kept[], trivialLocal: [] as Kept[] };
  const t0 = Date.now();
  for (let i = 0; i < warmup + count; i++) {
    const keep = i >= warmup;
    const ids = { broker: runIdOf('b'), trivial: runIdOf('t'), trivialLocal: runIdOf('l') };
    let stage: 'launch' | 'finish' = 'launch';
    try {
      const [r, d] = await timed(
        () => launchPipeline(e, platform, secrets, ids.broker),
        () => {
          stage = 'finish';
          return finishPipeline(e, ids.broker);
        },
      );
      if (keep) {
        s.ready.push(r);
        s.deleted.push(d);
        kept.broker.push({ workflowId: pipelineRunWorkflowId(ids.broker), ready: r, deleted: d });
      }
    } catch (err) {
      if (keep) errors[stage]++;
      if (firstErrors.length < 10) firstErrors.push(`${platform} ${caseOf(secrets)} ${stage}: ${errorText(err)}`);
    }
    const [tr, td] = await timed(
      () => launchTrivial(e, 'activities', secrets, ids.trivial),
      () => finishTrivial(e, ids.trivial),
    );
    const [lr, ld] = await timed(
      () => launchTrivial(e, 'local activities', secrets, ids.trivialLocal),
      () => finishTrivial(e, ids.trivialLocal),
    );
    const [pr, pd] = await providerOnce(e, platform, secrets);
    const v = await vaultOnce(e, secrets);
    if (keep) {
      s.trivial.ready.push(tr);
      s.trivial.deleted.push(td);
      s.trivialLocal.ready.push(lr);
      s.trivialLocal.deleted.push(ld);
      s.provider.ready.push(pr);
      s.provider.deleted.push(pd);
      s.vault.push(v);
      kept.trivial.push({ workflowId: trivialId(ids.trivial), ready: tr, deleted: td });
      kept.trivialLocal.push({ workflowId: trivialId(ids.trivialLocal), ready: lr, deleted: ld });
    }
  }
  const kase = caseOf(secrets);
  const L = latencyOf;
  rows.push(
    ...rowsFor({ target: platform, case: kase, metric: 'launch→ready', latency: L(s.ready), errors: errors.launch }, [
      { name: 'provider push+verify', latency: L(s.provider.ready) },
      { name: 'vault reads', latency: L(s.vault) },
      { name: 'trivial workflow', latency: L(s.trivial.ready) },
      { name: 'trivial, local activities', latency: L(s.trivialLocal.ready) },
    ]),
    ...rowsFor({ target: platform, case: kase, metric: 'complete→deleted', latency: L(s.deleted), errors: errors.finish }, [
      { name: 'provider delete', latency: L(s.provider.deleted) },
      { name: 'trivial workflow', latency: L(s.trivial.deleted) },
      { name: 'trivial, local activities', latency: L(s.trivialLocal.deleted) },
    ]),
  );
  if (kept.broker.length) {
    const [b, t, l] = await Promise.all([histories(e.client, kept.broker), histories(e.trivialClient, kept.trivial), histories(e.trivialClient, kept.trivialLocal)]);
    rows.push(...historyRows(platform, kase, b, t, l));
    whereLines.push(`${platform}, ${kase} (median of the last ${b.runs} runs of each kind):`, whereLine('broker', b), whereLine('trivial workflow', t), whereLine('trivial, local activities', l));
  }
  const p50 = (xs: number[]) => L(xs).p50.toFixed(1);
  log(
    `${platform} ${kase}: ${count} runs in ${Math.round((Date.now() - t0) / 1000)} s; launch→ready p50 ${p50(s.ready)} ms ` +
      `(provider ${p50(s.provider.ready)}, vault ${p50(s.vault)}, trivial ${p50(s.trivial.ready)}, local ${p50(s.trivialLocal.ready)}); ` +
      `complete→deleted p50 ${p50(s.deleted)} ms (provider ${p50(s.provider.deleted)}, trivial ${p50(s.trivial.deleted)})${errors.launch + errors.finish ? `; errors: ${errors.launch} launches, ${errors.finish} completions` : ''}`,
  );
}

interface Wave {
  ready: Latency;
  readyRate: number;
  readyErrors: number;
  deleted: Latency;
  deletedRate: number;
  deletedErrors: number;
}

/** `count` runs launched by `concurrency` loops; then all of them finished the same way. */
async function wave(concurrency: number, count: number, launch: (runId: string) => Promise<void>, finish: (runId: string) => Promise<void>, what: string): Promise<Wave> {
  const launched: string[] = [];
  const readyMs: number[] = [];
  const deletedMs: number[] = [];
  let readyErrors = 0;
  let deletedErrors = 0;
  let next = 0;
  const t0 = now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next++;
        const runId = runIdOf('w');
        const s = now();
        try {
          await launch(runId);
          readyMs.push(now() - s);
          launched.push(runId);
        } catch (err) {
          readyErrors++;
          if (firstErrors.length < 10) firstErrors.push(`${what} launch at concurrency ${concurrency}: ${errorText(err)}`);
        }
      }
    }),
  );
  const readyElapsed = (now() - t0) / 1000;
  let i = 0;
  const t1 = now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (i < launched.length) {
        const runId = launched[i++]!;
        const s = now();
        try {
          await finish(runId);
          deletedMs.push(now() - s);
        } catch (err) {
          deletedErrors++;
          if (firstErrors.length < 10) firstErrors.push(`${what} complete at concurrency ${concurrency}: ${errorText(err)}`);
        }
      }
    }),
  );
  const deletedElapsed = (now() - t1) / 1000;
  return {
    ready: latencyOf(readyMs),
    readyRate: readyMs.length / readyElapsed,
    readyErrors,
    deleted: latencyOf(deletedMs),
    deletedRate: deletedMs.length / deletedElapsed,
    deletedErrors,
  };
}

async function throughput(e: BenchEnv): Promise<void> {
  for (const c of PLAN.concurrency) {
    const count = PLAN.wave[c]!;
    const b = await wave(c, count, (id) => launchPipeline(e, 'local', 1, id), (id) => finishPipeline(e, id), 'broker');
    const t = await wave(c, count, (id) => launchTrivial(e, 'activities', 1, id), (id) => finishTrivial(e, id), 'trivial');
    const l = await wave(c, count, (id) => launchTrivial(e, 'local activities', 1, id), (id) => finishTrivial(e, id), 'trivial local');
    const kase = `concurrency ${c}`;
    const floorsOf = (pick: (w: Wave) => Latency | number): Floor[] =>
      (
        [
          ['trivial workflow', t],
          ['trivial, local activities', l],
        ] as const
      ).map(([name, w]) => {
        const x = pick(w);
        return typeof x === 'number' ? { name, value: x } : { name, latency: x };
      });
    rows.push(
      ...rowsFor({ target: 'local', case: kase, metric: 'launch→ready', latency: b.ready, errors: b.readyErrors }, floorsOf((w) => w.ready)),
      ...rowsFor({ target: 'local', case: kase, metric: 'throughput to ready', value: b.readyRate, unit: 'runs/s', higherIsBetter: true, errors: b.readyErrors, detail: { runs: count } }, floorsOf((w) => w.readyRate)),
      ...rowsFor({ target: 'local', case: kase, metric: 'complete→deleted', latency: b.deleted, errors: b.deletedErrors }, floorsOf((w) => w.deleted)),
      ...rowsFor({ target: 'local', case: kase, metric: 'throughput to deleted', value: b.deletedRate, unit: 'runs/s', higherIsBetter: true, errors: b.deletedErrors, detail: { runs: count } }, floorsOf((w) => w.deletedRate)),
    );
    log(
      `concurrency ${c} (${count} runs): ${b.readyRate.toFixed(1)} runs/s to ready (trivial ${t.readyRate.toFixed(1)}, local ${l.readyRate.toFixed(1)}), ` +
        `${b.deletedRate.toFixed(1)} runs/s to deleted; launch p50 ${b.ready.p50.toFixed(0)} ms p95 ${b.ready.p95.toFixed(0)} ms; errors ${b.readyErrors}+${b.deletedErrors}`,
    );
  }
}

/** Launch `count` runs and keep them ready; returns their ids and how many failed. */
async function launchMany(concurrency: number, count: number, launch: (runId: string) => Promise<void>, what: string): Promise<{ ids: string[]; errors: number }> {
  const ids: string[] = [];
  let errors = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next++;
        const runId = runIdOf('m');
        try {
          await launch(runId);
          ids.push(runId);
        } catch (err) {
          errors++;
          if (firstErrors.length < 10) firstErrors.push(`${what}: ${errorText(err)}`);
        }
      }
    }),
  );
  return { ids, errors };
}

async function finishMany(concurrency: number, ids: string[], finish: (runId: string) => Promise<void>, what: string): Promise<number> {
  let errors = 0;
  let i = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (i < ids.length) {
        const runId = ids[i++]!;
        await finish(runId).catch((err: unknown) => {
          errors++;
          if (firstErrors.length < 10) firstErrors.push(`${what}: ${errorText(err)}`);
        });
      }
    }),
  );
  return errors;
}

async function memory(e: BenchEnv, idle: { broker: { rssMb: number; hwmMb: number }; trivial: { rssMb: number; hwmMb: number } }): Promise<void> {
  const brokerPid = e.brokerWorker.child.pid!;
  const trivialPid = e.trivialWorker.child.pid!;
  const n = PLAN.inFlight;
  const c = PLAN.inFlightConcurrency;
  const t0 = now();
  const b = await launchMany(c, n, (id) => launchPipeline(e, 'local', 1, id), `broker run in flight`);
  const launchSeconds = (now() - t0) / 1000;
  await sleep(2_000);
  const brokerBusy = memoryOf(brokerPid);
  log(`${b.ids.length} broker runs ready in ${launchSeconds.toFixed(1)} s (${b.errors} errors): worker VmRSS ${brokerBusy.rssMb.toFixed(0)} MB, VmHWM ${brokerBusy.hwmMb.toFixed(0)} MB`);
  const t = await launchMany(c, n, (id) => launchTrivial(e, 'activities', 1, id), 'trivial run in flight');
  await sleep(2_000);
  const trivialBusy = memoryOf(trivialPid);
  log(`${t.ids.length} trivial runs ready: trivial worker VmRSS ${trivialBusy.rssMb.toFixed(0)} MB`);
  const t1 = now();
  const finishErrors = await finishMany(c, b.ids, (id) => finishPipeline(e, id), 'broker run in flight, completed');
  const finishSeconds = (now() - t1) / 1000;
  await finishMany(c, t.ids, (id) => finishTrivial(e, id), 'trivial run in flight, completed');
  await sleep(2_000);
  const brokerAfter = memoryOf(brokerPid);
  log(`all completed in ${finishSeconds.toFixed(1)} s (${finishErrors} errors): worker VmRSS ${brokerAfter.rssMb.toFixed(0)} MB`);
  const kase = `${fmtCount(n)} runs in flight`;
  const detail = { runsReady: b.ids.length, launchSeconds: Math.round(launchSeconds * 10) / 10, completeSeconds: Math.round(finishSeconds * 10) / 10, rssAfterAllCompletedMb: Math.round(brokerAfter.rssMb) };
  rows.push(
    ...rowsFor({ target: 'local', case: kase, metric: 'worker RSS (VmRSS)', value: brokerBusy.rssMb, unit: 'MB', errors: b.errors + finishErrors, detail }, [
      { name: 'trivial worker', value: trivialBusy.rssMb },
      { name: 'broker worker idle', value: idle.broker.rssMb },
    ]),
    ...rowsFor({ target: 'local', case: kase, metric: 'worker peak RSS (VmHWM)', value: brokerBusy.hwmMb, unit: 'MB' }, [{ name: 'trivial worker', value: trivialBusy.hwmMb }]),
  );
}

// --- the run -------------------------------------------------------------------------------------

function git(args: string[]): string {
  return (spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' }).stdout ?? '').trim();
}

function header(e: BenchEnv): string[] {
  const cpus = os.cpus();
  const commit = git(['rev-parse', '--short', 'HEAD']);
  const dirty = git(['status', '--porcelain', '--untracked-files=no']) ? ' + uncommitted changes' : '';
  return [
    `secret-broker bench, ${new Date(started).toISOString()} (${QUICK ? 'BENCH_QUICK=1' : 'full'}${ONLY_TARGETS.length ? `, BENCH_TARGETS=${ONLY_TARGETS.join(',')}` : ''}${process.env.BENCH_PARTS ? `, BENCH_PARTS=${process.env.BENCH_PARTS}` : ''})`,
    `machine: ${os.hostname()}, ${cpus.length} × ${cpus[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, Linux ${os.release()}; node ${process.version}`,
    `commit: ${git(['rev-parse', '--abbrev-ref', 'HEAD'])} ${commit}${dirty}`,
    `temporal: ${e.versions.temporal}; server: temporal ${e.temporal.args.join(' ')}`,
    `peers: ${e.versions.postgres}; ${e.versions.openssh}; moto ${e.versions.moto}; Google Secret Manager emulator (strict IAM)`,
    `broker worker: node lib/broker/main.js --role worker (pid ${e.brokerWorker.child.pid}), vault on PostgreSQL; trivial worker: node lib/bench/trivial-worker.js (pid ${e.trivialWorker.child.pid})`,
  ];
}

function writeOutputs(head: string[]): void {
  const goals = checkGoals(rows);
  clearInterval(loadTimer);
  const loadAfter = os.loadavg();
  const during = loads.length ? loads : [loadAfter[0]!];
  const load = {
    before: loadBefore.map((x) => Math.round(x * 100) / 100),
    during: { min: Math.min(...during), mean: during.reduce((a, b) => a + b, 0) / during.length, max: Math.max(...during) },
    after: loadAfter.map((x) => Math.round(x * 100) / 100),
  };
  durations.total = Math.round((Date.now() - started) / 1000);
  const cpuUse = cpu.stop();
  const text = [
    ...head,
    `load average (1/5/15 min) before: ${load.before.join(' ')}; during (1 min, every 5 s): min ${load.during.min.toFixed(2)} mean ${load.during.mean.toFixed(2)} max ${load.during.max.toFixed(2)}; after: ${load.after.join(' ')}`,
    `CPU (${cpuUse.cores} cores) used meanwhile by other processes: mean ${cpuUse.others.mean.toFixed(2)}, max ${cpuUse.others.max.toFixed(2)} cores; by the bench, its peers and workers: mean ${cpuUse.bench.mean.toFixed(2)} cores`,
    `durations (s): ${Object.entries(durations)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
    '',
    formatTable(rows),
    '',
    'ratio: times the floor (above 1 is worse): p50 / floor p50, events / floor events, MB / floor MB, floor runs/s / runs/s. diff: figure - floor.',
    '',
    ...(whereLines.length
      ? ['where the time goes (medians over runs; history times are the server\'s event times, "client and RPCs" the measured latency minus the history span):', ...whereLines, '']
      : []),
    'goals (issue 13, p50 in make bench on this machine):',
    formatGoals(goals),
    ...(firstErrors.length ? ['', 'first errors:', ...firstErrors.map((e) => `  ${e}`)] : []),
    '',
  ].join('\n');
  fs.mkdirSync(OUT, { recursive: true });
  const series = launchSeries(rows);
  const svg = series.length ? renderLaunchChart(series, `Launch → ready against concurrency (${QUICK ? 'quick' : 'full'} bench, ${new Date(started).toISOString().slice(0, 10)})`) : undefined;
  const meta = { started: new Date(started).toISOString(), quick: QUICK, header: head, load, cpu: cpuUse, durations, plan: PLAN, goals: goals.map((g) => ({ goal: g.goal.label, actual: g.actual ?? null, met: g.met ?? null })), firstErrors };
  const stamp = new Date(started).toISOString().replace(/[:.]/g, '-');
  const archive = path.join(OUT, 'runs', `${stamp}-${QUICK ? 'quick' : 'full'}`);
  fs.mkdirSync(archive, { recursive: true });
  for (const dir of [OUT, archive]) {
    fs.writeFileSync(path.join(dir, 'latest.json'), toJson(rows));
    fs.writeFileSync(path.join(dir, 'latest.txt'), text);
    fs.writeFileSync(path.join(dir, 'latest.meta.json'), JSON.stringify(meta, null, 2) + '\n');
    if (svg) fs.writeFileSync(path.join(dir, 'launch-latency.svg'), svg);
  }
  log(`wrote ${path.relative(ROOT, OUT)}/latest.{json,txt,meta.json}${svg ? ', launch-latency.svg' : ''} (kept in ${path.relative(ROOT, archive)})`);
}

afterAll(async () => {
  clearInterval(loadTimer);
  await env?.stop();
});

test(
  'make bench',
  async () => {
    const t0 = Date.now();
    env = await startBenchEnv(log);
    const e = env;
    durations.setup = Math.round((Date.now() - t0) / 1000);
    const head = header(e);
    for (const line of head) log(line);
    const targets = ONLY_TARGETS.length ? TARGETS.filter((t) => ONLY_TARGETS.includes(t)) : TARGETS;
    if (Math.max(...PLAN.secrets) > MAX_SECRETS) throw new Error('more secrets than seeded');

    // Warm-up: every kind of run once per platform (JIT, connections, emulators' first calls); not counted.
    for (const platform of targets) {
      for (let i = 0; i < PLAN.warmup; i++) {
        const id = runIdOf('warm');
        await timed(() => launchPipeline(e, platform, 1, id), () => finishPipeline(e, id));
        await providerOnce(e, platform, 1);
      }
    }
    for (const kind of ['activities', 'local activities'] as const) {
      for (let i = 0; i < PLAN.warmup; i++) {
        const id = runIdOf('warm');
        await timed(() => launchTrivial(e, kind, 1, id), () => finishTrivial(e, id));
      }
    }
    const idle = { broker: memoryOf(e.brokerWorker.child.pid!), trivial: memoryOf(e.trivialWorker.child.pid!) };
    log(`warm; broker worker VmRSS ${idle.broker.rssMb.toFixed(0)} MB, trivial worker ${idle.trivial.rssMb.toFixed(0)} MB`);

    try {
      if (PARTS.has('latency')) {
        const t = Date.now();
        for (const platform of targets) {
          for (const secrets of PLAN.secrets) await latencyCase(e, platform, secrets, 1);
        }
        durations.latency = Math.round((Date.now() - t) / 1000);
      }
      if (PARTS.has('throughput')) {
        const t = Date.now();
        await throughput(e);
        durations.throughput = Math.round((Date.now() - t) / 1000);
      }
      if (PARTS.has('memory')) {
        const t = Date.now();
        await memory(e, idle);
        durations.memory = Math.round((Date.now() - t) / 1000);
      }
    } finally {
      writeOutputs(head);
    }
    expect(rows.length).toBeGreaterThan(0);
  },
  60 * 60_000,
);
