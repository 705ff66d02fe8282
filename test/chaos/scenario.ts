/**
 * A chaos run: start the real servers (world.ts), launch the planned runs as the launch service
 * does, and while they run kill the broker worker, restart the dev server, break the network to
 * the clouds and the cluster, and terminate a few runs; end every run as planned; wait for
 * quiescence; then check what is left, what leaked and how long deleting took (report.ts).
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ScheduleNotFoundError, ServiceError, WorkflowNotFoundError, WorkflowUpdateRPCTimeoutOrCancelledError, type WorkflowExecutionDescription } from '@temporalio/client';
import { LaunchError, TemporalUnavailableError } from '../../domain/errors';
import { pipelineRunWorkflowId, type ReadyResult, type RunStatus } from '../../domain/run';
import { isTemporalUnavailable } from '../../services/temporal';
import { cleanupWorkflowId } from '../../workflows/cleanup';
import { SWEEP_SCHEDULE_ID, sweepOrphans, type SweepSummary } from '../../workflows/sweep';
import { historyText } from '../harness/history';
import type { ChaosConfig } from './config';
import { between, expectedOutcome, planRuns, rng, storeSecrets, type Rand, type RunPlan, type SecretBook } from './plan';
import { ValueScanner, treeContains } from './scan';
import { AWS_REGION, GCP_PARENT, TASK_QUEUE, sleep, startWorld, type World } from './world';

const now = () => Date.now();

/** What the driver saw of one run. */
export interface RunRecord {
  plan: RunPlan;
  launchStartAt?: number;
  readyAt?: number;
  ready?: ReadyResult;
  /** launch-failed: the error type (or what else the launch threw). */
  launchFailure?: string;
  /**
   * The launch was answered "already ended" with this outcome: a call that did not answer (the dev
   * server restarted, the worker was killed) was retried after the run had become ready and ended
   * (a short lease ran out meanwhile). The run id is spent; the run must have ended so.
   */
  launchAnsweredEnded?: string;
  /** Launch calls made (retries included) and when the last one answered. */
  launchAttempts: number;
  launchAnsweredAt?: number;
  /** When the driver asked for the end (complete, cancel), or the lease's end. */
  endAt?: number;
  endAnswer?: string;
  terminatedAt?: number;
  /** Values checked in the target right after ready, and those that were not what the run must get. */
  checked: number;
  wrong: string[];
  driverErrors: string[];
  final?: RunStatus;
  closedAs?: string;
  cleanupClosedAs?: string;
}

export interface ChaosEvent {
  at: number;
  kind: 'worker-kill' | 'worker-back' | 'temporal-down' | 'temporal-up' | 'sshd-down' | 'sshd-up' | 'gcp-cut' | 'faults-on' | 'faults-off' | 'terminate';
  detail?: string;
}

export interface ChaosResult {
  cfg: ChaosConfig;
  seed: number;
  startedAt: number;
  chaosStartAt: number;
  chaosEndAt: number;
  endedAt: number;
  records: RunRecord[];
  events: ChaosEvent[];
  workerEvents: World['workers']['events'];
  book: SecretBook;
  credentialSecretCount: number;
  leftBehind: { local: string[]; hpc: string[]; aws: string[]; gcp: string[]; other: string[] };
  stuck: { runId: string; why: string }[];
  scanner: ValueScanner;
  /** Each hit's value: a stored secret, or a credential's secret (index past the secrets). */
  controls: Record<string, boolean>;
  histories: number;
  finalSweep?: SweepSummary | { error: string };
  quiescentAfterMs?: number;
  faultStats: { aws: ReturnType<World['awsProxy']['stats']>; gcp: ReturnType<World['gcpProxy']['stats']> };
  driverRetries: number;
  timings: Record<string, number>;
}

/** Temporal did not answer (down, restarting, no worker to answer an update in time): try again. */
function transient(err: unknown): boolean {
  if (err instanceof TemporalUnavailableError || err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) return true;
  if (err instanceof LaunchError && err.code === 'duplicate-run' && /launched again while it closed/.test(err.message)) return true;
  if (isTemporalUnavailable(err)) return true;
  return err instanceof ServiceError && /UNAVAILABLE|DEADLINE_EXCEEDED|connect|ECONNREFUSED/i.test(err.message);
}

class Slots {
  private free: number;
  private readonly waiting: (() => void)[] = [];
  constructor(n: number) {
    this.free = n;
  }
  async take(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((r) => this.waiting.push(r));
  }
  give(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}

export async function runChaos(cfg: ChaosConfig, seed: number, log: (line: string) => void): Promise<ChaosResult> {
  const startedAt = now();
  const hardStop = startedAt + cfg.deadlineMs;
  const r: Rand = rng(seed);
  const timings: Record<string, number> = {};
  const events: ChaosEvent[] = [];
  const event = (kind: ChaosEvent['kind'], detail?: string) => {
    events.push({ at: now(), kind, ...(detail ? { detail } : {}) });
    log(`${kind}${detail ? ` ${detail}` : ''}`);
  };
  let driverRetries = 0;
  // Aborted when the run is over, whatever happened: every wait of the driver and the chaos ends.
  const stop = new AbortController();
  const pause = (ms: number) => sleep(ms, stop.signal);

  const world = await startWorld({ seed, reapEvery: cfg.reapEvery, workspaces: ['chaos-lab', 'chaos-core'] });
  const keep = process.env.CHAOS_KEEP === '1';
  try {
    timings.setupMs = now() - startedAt;
    log(`servers up in ${Math.round(timings.setupMs / 1000)} s; data in ${world.dir}`);
    // The sweep runs once, at the end: what it then finds is what the runs and the reaper left.
    // The worker creates it just after it starts polling: wait for it.
    for (let tries = 0; ; tries++) {
      try {
        await world.client.schedule.getHandle(SWEEP_SCHEDULE_ID).pause('chaos: run once at the end');
        break;
      } catch (err) {
        if (!(err instanceof ScheduleNotFoundError) || tries >= 120) throw err;
        await pause(500);
      }
    }

    const userIds: string[] = [];
    for (const name of ['ada', 'grace', 'linus']) userIds.push((await world.vault.createUser(`chaos-${name}`)).id);
    const book = await storeSecrets(world.vault, r, Object.values(world.workspaceIds), userIds);
    const tag = randomBytes(2).toString('hex');
    const plans = planRuns(cfg, r, book, world.envs, userIds, tag);
    const records: RunRecord[] = plans.map((plan) => ({ plan, checked: 0, wrong: [], driverErrors: [], launchAttempts: 0 }));

    /** Retry a Temporal call while Temporal is unavailable, until `untilMs`. */
    async function retrying<T>(fn: () => Promise<T>, untilMs = hardStop): Promise<T> {
      for (let attempt = 1; ; attempt++) {
        try {
          return await fn();
        } catch (err) {
          if (!transient(err) || now() > untilMs) throw err;
          driverRetries++;
          await pause(Math.min(500 * attempt, 5_000));
        }
      }
    }

    const describe = (runId: string, workflowId = pipelineRunWorkflowId(runId)): Promise<WorkflowExecutionDescription | undefined> =>
      retrying(() => world.client.workflow.getHandle(workflowId).describe()).catch((err: unknown) => {
        if (err instanceof WorkflowNotFoundError) return undefined;
        throw err;
      });

    async function terminate(rec: RunRecord): Promise<void> {
      const handle = world.client.workflow.getHandle(pipelineRunWorkflowId(rec.plan.runId));
      for (let i = 0; ; i++) {
        try {
          await retrying(() => handle.terminate('chaos: terminated by the driver, skipping its cleanup'));
          rec.terminatedAt = now();
          event('terminate', rec.plan.runId);
          return;
        } catch (err) {
          // Not started yet (the launch is on its way), or already closed (launch failed first).
          if (err instanceof WorkflowNotFoundError && i < 20) {
            const d = await describe(rec.plan.runId);
            if (d && d.status.name !== 'RUNNING') return;
            await pause(250);
            continue;
          }
          rec.driverErrors.push(`terminate: ${(err as Error).message}`);
          return;
        }
      }
    }

    const gcpChecker = world.gcp.client();
    /** The values in the target are exactly what the run must get (user over workspace). */
    async function checkValues(rec: RunRecord): Promise<void> {
      const ready = rec.ready!;
      const exp = rec.plan.expected;
      const got = new Map<string, string | undefined>();
      try {
        if (ready.platform === 'local' || ready.platform === 'hpc') {
          for (const dir of new Set(ready.refs.map((x) => x.remoteId))) {
            const entries = JSON.parse(fs.readFileSync(path.join(dir, 'store.json'), 'utf8')) as { name: string; value: string }[];
            for (const e of entries) got.set(e.name, e.value);
          }
        } else if (ready.platform === 'aws') {
          for (const ref of ready.refs) got.set(ref.secretName, (await world.sm.getSecretValue({ SecretId: ref.remoteId })).SecretString);
        } else {
          for (const ref of ready.refs) {
            const [res] = await gcpChecker.accessSecretVersion({ name: `${ref.remoteId}/versions/latest` });
            got.set(ref.secretName, Buffer.from(res.payload!.data as Uint8Array).toString('utf8'));
          }
        }
      } catch (err) {
        rec.driverErrors.push(`reading the target: ${(err as Error).message}`);
        return;
      }
      for (const name of rec.plan.secretNames) {
        rec.checked++;
        if (got.get(name) !== exp[name]) rec.wrong.push(name);
      }
      if (got.size !== rec.plan.secretNames.length) rec.wrong.push(`(${got.size} entries for ${rec.plan.secretNames.length} names)`);
    }

    async function drive(rec: RunRecord, t0: number, slots: Slots): Promise<void> {
      const p = rec.plan;
      await pause(Math.max(0, t0 + p.at - now()));
      await slots.take();
      rec.launchStartAt = now();
      const killer = p.end === 'terminate-launch' ? pause(p.terminateAfterMs!).then(() => terminate(rec)) : undefined;
      try {
        rec.ready = await retrying(() => {
          rec.launchAttempts++;
          return world.runs.launch({
            runId: p.runId,
            workspaceId: p.workspaceId,
            userId: p.userId,
            computeEnvId: p.computeEnvId,
            secretNames: p.secretNames,
            ...(p.leaseMs ? { leaseMs: p.leaseMs } : {}),
            labels: { workspace: p.workspaceId, computeEnv: p.computeEnvName, platform: p.platform, user: p.userId },
          });
        });
        rec.readyAt = now();
      } catch (err) {
        if (err instanceof LaunchError && err.code === 'already-ended') rec.launchAnsweredEnded = err.outcome ?? '?';
        else if (err instanceof LaunchError) rec.launchFailure = err.code === 'launch-failed' ? (err.type ?? 'launch-failed') : `${err.code}${err.outcome ? ` (${err.outcome})` : ''}`;
        else rec.launchFailure = `${(err as Error).name}: ${(err as Error).message.slice(0, 200)}`;
      } finally {
        rec.launchAnsweredAt = now();
        slots.give();
      }
      await killer;
      if (!rec.ready || p.end === 'terminate-launch') return;
      if (p.end !== 'lease') await checkValues(rec);
      try {
        if (p.end === 'lease') {
          rec.endAt = Date.parse(rec.ready.leaseExpiresAt);
          return;
        }
        if (p.renew) {
          await pause(p.holdMs / 2);
          await retrying(() => world.runs.renew(p.runId, 60 * 60_000));
          await pause(p.holdMs / 2);
        } else await pause(p.holdMs);
        if (p.end === 'terminate-ready') return await terminate(rec);
        rec.endAt = now();
        if (p.end === 'cancel') rec.endAnswer = (await retrying(() => world.runs.cancel(p.runId))).result;
        else {
          const a = await retrying(() => world.runs.complete(p.runId, p.end as 'succeeded' | 'failed'));
          rec.endAnswer = `${a.result}${a.outcome ? ` (${a.outcome})` : ''}`;
        }
      } catch (err) {
        rec.driverErrors.push(`ending: ${(err as Error).name}: ${(err as Error).message}`);
      }
    }

    // ---- chaos ---------------------------------------------------------------------------------
    const chaosWindowMs = cfg.launchWindowMs + cfg.holdMs[1] / 2;
    let chaosOver = false;
    async function processChaos(t0: number): Promise<void> {
      type Action = { at: number; kind: 'kill' | 'temporal' };
      const actions: Action[] = [];
      for (let i = 0; i < cfg.workerKills; i++) actions.push({ at: 5_000 + r() * (chaosWindowMs - 5_000), kind: 'kill' });
      for (let i = 0; i < cfg.temporalRestarts; i++) actions.push({ at: chaosWindowMs * (0.35 + r() * 0.3), kind: 'temporal' });
      actions.sort((a, b) => a.at - b.at);
      for (const a of actions) {
        await pause(Math.max(0, t0 + a.at - now()));
        if (a.kind === 'kill') {
          // A worker that is still starting is waited for: each kill hits a worker that polls.
          await world.workers.start();
          const at = await world.workers.kill();
          event('worker-kill', `at +${Math.round((at - t0) / 1000)} s`);
          await pause(between(r, cfg.workerDownMs));
          await world.workers.start();
          event('worker-back');
        } else {
          event('temporal-down');
          const { downAt, upAt } = await world.restartTemporal(cfg.temporalDownMs);
          event('temporal-up', `down ${Math.round((upAt - downAt) / 100) / 10} s`);
        }
      }
    }
    async function networkChaos(t0: number): Promise<void> {
      type Action = { at: number; kind: 'sshd' | 'cut' };
      const actions: Action[] = [];
      for (let i = 0; i < cfg.sshdStops; i++) actions.push({ at: ((i + 0.2 + r() * 0.5) / cfg.sshdStops) * (chaosWindowMs - cfg.sshdDownMs), kind: 'sshd' });
      for (let i = 0; i < cfg.gcpCuts; i++) actions.push({ at: r() * chaosWindowMs, kind: 'cut' });
      actions.sort((a, b) => a.at - b.at);
      for (const a of actions) {
        await pause(Math.max(0, t0 + a.at - now()));
        if (a.kind === 'sshd') {
          await world.sshd.stop();
          event('sshd-down');
          await pause(cfg.sshdDownMs);
          await world.sshd.start();
          event('sshd-up');
        } else event('gcp-cut', `${world.gcpProxy.cutAll()} connections`);
      }
    }

    const t0 = now();
    world.awsProxy.setShare(cfg.aws.throttle);
    world.awsProxy.setFaults(cfg.aws);
    world.gcpProxy.setFaults(cfg.gcp);
    event('faults-on');
    const slots = new Slots(cfg.maxConcurrentLaunches);
    const driving = Promise.all(records.map((rec) => drive(rec, t0, slots).catch((err: Error) => void rec.driverErrors.push(`driver: ${err.message}`))));
    const chaos = Promise.all([processChaos(t0), networkChaos(t0)]).finally(() => {
      chaosOver = true;
    });
    await chaos;
    world.awsProxy.setShare(0);
    world.awsProxy.setFaults({});
    world.gcpProxy.setFaults({});
    const chaosEndAt = now();
    event('faults-off', `chaos over after ${Math.round((chaosEndAt - t0) / 1000)} s`);
    if (!world.workers.running) await world.workers.start();
    if (!world.sshd.running()) await world.sshd.start();
    // Every run gets its end from the driver (or its lease) within the hold time after the window.
    const driverBound = new AbortController();
    await Promise.race([driving, sleep(Math.max(0, hardStop - now() - 4 * 60_000), driverBound.signal)]);
    driverBound.abort();
    log(`driver done ${chaosOver ? 'after' : 'before'} the chaos; waiting for quiescence`);

    // ---- quiescence ----------------------------------------------------------------------------
    const terminated = () => records.filter((x) => x.terminatedAt !== undefined);
    const quiesceStart = now();
    const quiesceUntil = Math.min(now() + cfg.quiesceMs, hardStop - 3 * 60_000);
    let quiescentAfterMs: number | undefined;
    for (;;) {
      const open = await retrying(async () => (await world.client.workflow.count(`WorkflowType IN ('pipelineRun', 'cleanUpTerminatedRun') AND ExecutionStatus = 'Running'`)).count).catch(() => -1);
      let cleanupsMissing = 0;
      if (open === 0) {
        for (const rec of terminated()) {
          const d = await describe(rec.plan.runId, cleanupWorkflowId(rec.plan.runId));
          if (!d || d.status.name === 'RUNNING') cleanupsMissing++;
        }
        if (cleanupsMissing === 0) {
          quiescentAfterMs = now() - quiesceStart;
          break;
        }
      }
      if (now() > quiesceUntil) {
        log(`not quiescent: ${open} workflows open, ${cleanupsMissing} terminated runs without a finished cleanup`);
        break;
      }
      await pause(2_000);
    }
    log(quiescentAfterMs !== undefined ? `quiescent ${Math.round(quiescentAfterMs / 1000)} s after the driver was done` : 'gave up waiting for quiescence');

    // ---- what became of every run --------------------------------------------------------------
    const stuck: { runId: string; why: string }[] = [];
    const collectStart = now();
    for (const rec of records) {
      const id = rec.plan.runId;
      if (rec.launchStartAt === undefined) {
        stuck.push({ runId: id, why: 'never launched (the driver ran out of time)' });
        continue;
      }
      const d = await describe(id).catch(() => undefined);
      if (!d) {
        if (rec.ready || rec.terminatedAt) stuck.push({ runId: id, why: 'lost: no workflow' });
        else rec.closedAs = 'not started';
        continue;
      }
      rec.closedAs = d.status.name;
      if (d.status.name === 'RUNNING') {
        const st = await retrying(() => world.runs.state(id)).catch(() => undefined);
        const driver = `the driver: plan ${rec.plan.end}, launch ${rec.ready ? 'ready' : (rec.launchFailure ?? 'no answer')} after ${rec.launchAttempts} calls${rec.endAnswer ? `, end answered ${rec.endAnswer}` : ''}${rec.driverErrors.length ? `, ${rec.driverErrors.join('; ')}` : ''}`;
        stuck.push({ runId: id, why: `stuck open in phase ${st?.phase ?? '?'}${st?.lastError ? `: ${st.lastError.slice(0, 200)}` : ''} (${driver})` });
        continue;
      }
      try {
        rec.final = d.status.name === 'COMPLETED' ? await retrying(() => world.client.workflow.getHandle(pipelineRunWorkflowId(id)).result()) : await retrying(() => world.runs.state(id));
      } catch (err) {
        stuck.push({ runId: id, why: `final state unreadable: ${(err as Error).message}` });
        continue;
      }
      const f = rec.final!;
      const pending = f.refs.filter((x) => x.state === 'planned' || x.state === 'pushed');
      if (f.phase !== 'deleted' || pending.length) stuck.push({ runId: id, why: `${f.phase} with ${pending.length} refs not deleted${f.cleanup ? ` (cleanup ${f.cleanup.phase})` : ''}` });
      if (rec.terminatedAt !== undefined) {
        const c = await describe(id, cleanupWorkflowId(id));
        rec.cleanupClosedAs = c?.status.name;
        if (c?.status.name !== 'COMPLETED') stuck.push({ runId: id, why: `terminated, cleanup ${c?.status.name ?? 'never started'}` });
      } else if (rec.ready) {
        const want = expectedOutcome(rec.plan.end);
        if (f.outcome !== want) stuck.push({ runId: id, why: `ended ${f.outcome ?? 'without an outcome'}, the driver asked for ${want} (${rec.endAnswer ?? rec.driverErrors.join('; ') ?? 'no answer'})` });
      } else if (rec.launchAnsweredEnded !== undefined) {
        if (f.outcome !== rec.launchAnsweredEnded) stuck.push({ runId: id, why: `launch answered "already ended (${rec.launchAnsweredEnded})", yet the run ended ${f.outcome}` });
      } else if (f.outcome !== 'launch-failed' && !(d.status.name === 'TERMINATED')) {
        const took = rec.launchAnsweredAt !== undefined ? `, ${Math.round((rec.launchAnsweredAt - rec.launchStartAt) / 1000)} s` : '';
        stuck.push({ runId: id, why: `launch did not answer ready (${rec.launchFailure ?? 'no answer'} after ${rec.launchAttempts} calls${took}), yet the run ended ${f.outcome}` });
      }
      const notOwned = f.refs.filter((x) => x.state === 'not-owned');
      if (notOwned.length) stuck.push({ runId: id, why: `${notOwned.length} refs not owned at delete` });
    }
    timings.collectMs = now() - collectStart;

    // ---- what is left in the targets -----------------------------------------------------------
    const leftBehind = await listLeftovers(world);
    const leftoverSearchFinds = await leftoverControl(world, tag);

    // ---- plaintext: histories, logs, every file ------------------------------------------------
    const scanStart = now();
    const scanner = new ValueScanner([...book.values, ...world.credentialSecrets]);
    // The scanner itself: it finds a value planted in noise, long and short.
    const probe = Buffer.concat([randomBytes(4096), Buffer.from(book.values[0]!), randomBytes(100), Buffer.from(book.values[[...book.short][0] ?? 0]!)]);
    const selfTest = new ValueScanner(book.values).scan(probe, 'self-test', 'self-test').length >= 2;
    let histories = 0;
    let namesInHistory = false;
    const someName = records.find((x) => x.ready && x.plan.secretNames.length)?.plan.secretNames[0] ?? 'WS_SECRET_00';
    for await (const w of world.client.workflow.list()) {
      const handle = world.client.workflow.getHandle(w.workflowId, w.runId);
      const history = await retrying(() => handle.fetchHistory());
      histories++;
      scanner.scanText(await historyText(history), `history ${w.workflowId}/${w.runId} (raw)`, 'history');
      const decoded = await historyText(history, world.codec);
      if (decoded.includes(someName)) namesInHistory = true;
      scanner.scanText(decoded, `history ${w.workflowId}/${w.runId} (decoded)`, 'history');
    }
    // The sweep, once: what it deletes was left behind by the runs and the reaper.
    let finalSweep: ChaosResult['finalSweep'];
    try {
      finalSweep = await retrying(() => world.client.workflow.execute(sweepOrphans, { taskQueue: TASK_QUEUE, workflowId: `chaos-final-sweep-${tag}`, args: [] }));
    } catch (err) {
      finalSweep = { error: (err as Error).message };
    }
    const faultStats = { aws: world.awsProxy.stats(), gcp: world.gcpProxy.stats() };
    await world.workers.stop();
    await world.temporal.stop();
    world.temporalOutputs.push(world.temporal.process.output());
    fs.writeFileSync(path.join(world.logDir, 'temporal.log'), world.temporalOutputs.join('\n'));
    fs.writeFileSync(path.join(world.logDir, 'sshd.log'), world.sshd.output());
    fs.writeFileSync(path.join(world.logDir, 'postgres.log'), world.pg.output());
    await world.pg.sql('CHECKPOINT').catch(() => undefined);
    const someRunId = records.find((x) => x.ready)?.plan.runId ?? records[0]!.plan.runId;
    const controls: Record<string, boolean> = {
      'scanner finds planted values': selfTest,
      'decoded histories hold secret names': namesInHistory,
      'worker logs hold run ids': world.workers.logFiles().some((f) => fs.readFileSync(f, 'utf8').includes(someRunId)),
      'dev server files hold run ids': treeContains(world.dir, pipelineRunWorkflowId(someRunId)),
      'PostgreSQL files hold secret names': treeContains(world.pg.dataDir, 'WS_SECRET_00'),
      'the leftover search finds one planted in every target': leftoverSearchFinds,
    };
    for (const f of world.workers.logFiles()) scanner.scan(fs.readFileSync(f), f, 'log');
    for (const f of ['temporal.log', 'sshd.log', 'postgres.log']) scanner.scan(fs.readFileSync(path.join(world.logDir, f)), path.join(world.logDir, f), 'log');
    // Every file: the dev server's SQLite database, the worker's data dir, the local work dir, the
    // logs just written, PostgreSQL's data directory, the cluster's work dir.
    scanner.scanTree(world.dir, 'file');
    scanner.scanTree(world.pg.dataDir, 'file');
    scanner.scanTree(world.hpcWorkDir, 'file');
    timings.scanMs = now() - scanStart;

    return {
      cfg,
      seed,
      startedAt,
      chaosStartAt: t0,
      chaosEndAt,
      endedAt: now(),
      records,
      events,
      workerEvents: world.workers.events,
      book,
      credentialSecretCount: world.credentialSecrets.length,
      leftBehind,
      stuck,
      scanner,
      controls,
      histories,
      finalSweep,
      ...(quiescentAfterMs !== undefined ? { quiescentAfterMs } : {}),
      faultStats,
      driverRetries,
      timings,
    };
  } finally {
    stop.abort();
    await world.close(keep);
    if (keep) log(`kept ${world.dir}`);
  }
}

/**
 * The leftover search itself: a run-shaped leftover planted in every target (a directory in each
 * work dir, a secret in moto and in the emulator) is found, one per target; then it is removed.
 */
async function leftoverControl(world: World, tag: string): Promise<boolean> {
  const name = `tower-chaoscontrol${tag}`;
  for (const dir of [world.localWorkDir, world.hpcWorkDir]) fs.mkdirSync(path.join(dir, name));
  await world.sm.createSecret({ Name: name, SecretString: 'planted by the chaos driver' });
  const gcp = world.gcp.client();
  await gcp.createSecret({ parent: GCP_PARENT, secretId: name, secret: { replication: { automatic: {} } } });
  try {
    const found = await listLeftovers(world);
    return (['local', 'hpc', 'aws', 'gcp'] as const).every((k) => found[k].some((x) => x.includes(name)));
  } finally {
    for (const dir of [world.localWorkDir, world.hpcWorkDir]) fs.rmSync(path.join(dir, name), { recursive: true, force: true });
    await world.sm.deleteSecret({ SecretId: name, ForceDeleteWithoutRecovery: true });
    await gcp.deleteSecret({ name: `${GCP_PARENT}/secrets/${name}` });
  }
}

/** Everything run-shaped in every target: tower-* in the work dirs, tower-* secrets in moto and the emulator. */
async function listLeftovers(world: World): Promise<ChaosResult['leftBehind']> {
  const out: ChaosResult['leftBehind'] = { local: [], hpc: [], aws: [], gcp: [], other: [] };
  for (const [key, dir] of [
    ['local', world.localWorkDir],
    ['hpc', world.hpcWorkDir],
  ] as const) {
    for (const e of fs.readdirSync(dir)) (e.startsWith('tower-') ? out[key] : out.other).push(path.join(dir, e));
  }
  let NextToken: string | undefined;
  do {
    const page = await world.sm.listSecrets({ IncludePlannedDeletion: true, MaxResults: 100, ...(NextToken ? { NextToken } : {}) });
    for (const s of page.SecretList ?? []) if (s.Name?.startsWith('tower-')) out.aws.push(`${AWS_REGION} ${s.Name}${s.DeletedDate ? ' (scheduled for deletion)' : ''}`);
    NextToken = page.NextToken;
  } while (NextToken);
  const [secrets] = await world.gcp.client().listSecrets({ parent: GCP_PARENT, pageSize: 1000 });
  for (const s of secrets) if (s.name?.split('/').pop()?.startsWith('tower-')) out.gcp.push(s.name);
  return out;
}

