/**
 * The figures of a chaos run, from what the driver recorded and what it found afterwards; one
 * table (Markdown, so it can go into the README as printed) and the same as JSON.
 */
import * as os from 'node:os';
import type { ChaosResult, RunRecord } from './scenario';

export interface Spread {
  n: number;
  p50?: number;
  p99?: number;
  max?: number;
}

export interface Figures {
  mode: string;
  seed: number;
  date: string;
  machine: string;
  durationMs: number;
  timings: Record<string, number>;
  launched: number;
  byPlatform: Record<string, number>;
  ready: number;
  launchFailed: { total: number; byReason: Record<string, number> };
  /** Launches answered "already ended" after a retry: the ready answer lost to the chaos, the run ended meanwhile. */
  launchAnsweredEnded: { total: number; byOutcome: Record<string, number> };
  ended: { total: number; byOutcome: Record<string, number> };
  secretsPushed: number;
  secretsDeleted: number;
  /** Must be 0. */
  leftBehind: { total: number; local: number; hpc: number; aws: number; gcp: number; other: number; items: string[] };
  /** Must be 0. */
  lostOrStuck: { total: number; runs: { runId: string; why: string }[] };
  /** Must be 0. */
  plaintextHits: { total: number; bySource: Record<string, number>; hits: { value: string; source: string }[]; searched: Record<string, { sources: number; bytes: number }>; histories: number };
  /** Must all hold: otherwise a miss in the search means nothing. */
  controls: Record<string, boolean>;
  /** Must be 0 (not asked for, but a run that got the wrong value is no better than a leak). */
  wrongValues: { total: number; checked: number; runs: string[] };
  endToDeleteMs: Spread;
  terminatedToDeletedMs: Spread;
  killToNextDeleteMs: Spread & { kills: number; withDeletePending: number };
  workerBackMs: Spread;
  chaos: {
    workerKills: number;
    workerExitsOnItsOwn: number;
    temporalRestarts: number;
    sshdStops: number;
    gcpCuts: number;
    terminations: number;
    aws: { calls: number; throttled: number; errors5xx: number; resets: number; held: number };
    gcp: { connections: number; chunks: number; resetsBefore: number; resetsAfter: number; cuts: number; delayed: number };
  };
  quiescentAfterMs?: number;
  finalSweep: string;
  driverRetries: number;
  driverErrors: string[];
}

function spread(xs: number[]): Spread {
  if (!xs.length) return { n: 0 };
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
  return { n: s.length, p50: at(0.5), p99: at(0.99), max: s[s.length - 1] };
}

function count<T>(xs: T[], key: (x: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[key(x)] = (out[key(x)] ?? 0) + 1;
  return Object.fromEntries(Object.entries(out).sort((a, b) => b[1] - a[1]));
}

/** When the run's last delete completed (a terminated run: its cleanup's). */
function deletedAt(rec: RunRecord): number | undefined {
  const f = rec.final;
  const t = f?.cleanup?.deletedAt ?? f?.deletedAt;
  return t ? Date.parse(t) : undefined;
}

function machine(): string {
  const cpus = os.cpus();
  return `${cpus.length} cores (${cpus[0]?.model.trim() ?? 'unknown CPU'}), ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, ${os.type()} ${os.release()}, Node ${process.version}, load average ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')} at the end`;
}

export function figures(res: ChaosResult): Figures {
  const recs = res.records.filter((r) => r.launchStartAt !== undefined);
  const ready = recs.filter((r) => r.ready);
  const failed = recs.filter((r) => !r.ready && r.launchFailure && !(r.plan.end === 'terminate-launch' && r.terminatedAt !== undefined));
  const answeredEnded = recs.filter((r) => r.launchAnsweredEnded !== undefined);
  const ended = recs.filter((r) => r.final?.outcome && r.final.outcome !== 'launch-failed');
  const refs = recs.flatMap((r) => r.final?.refs ?? []);

  const endToDelete: number[] = [];
  for (const r of ready) {
    if (r.terminatedAt !== undefined || r.endAt === undefined) continue;
    const d = deletedAt(r);
    if (d !== undefined) endToDelete.push(Math.max(0, d - r.endAt));
  }
  const reaped: number[] = [];
  for (const r of recs) {
    if (r.terminatedAt === undefined) continue;
    const d = r.final?.cleanup?.deletedAt;
    if (d) reaped.push(Math.max(0, Date.parse(d) - r.terminatedAt));
  }

  // A kill at K: the runs whose delete was due (end asked, lease over, terminated) and not done at K.
  const kills = res.workerEvents.filter((e) => e.kind === 'killed');
  const killToDelete: number[] = [];
  for (const k of kills) {
    const next = recs
      .map((r) => ({ due: r.terminatedAt ?? r.endAt, done: deletedAt(r) }))
      .filter((x) => x.due !== undefined && x.done !== undefined && x.due <= k.at && x.done > k.at)
      .map((x) => x.done! - k.at);
    if (next.length) killToDelete.push(Math.min(...next));
  }
  const workerBack = kills.flatMap((k) => {
    const up = res.workerEvents.find((e) => e.kind === 'polling' && e.at > k.at);
    return up ? [up.at - k.at] : [];
  });

  const left = res.leftBehind;
  const valueName = (i: number) => (i < res.book.values.length ? `secret #${i}${res.book.short.has(i) ? ' (short)' : ''}` : `credential secret #${i - res.book.values.length}`);
  const hits = res.scanner.hits;
  const wrong = ready.filter((r) => r.wrong.length);
  const aws = res.faultStats.aws;
  return {
    mode: res.cfg.mode,
    seed: res.seed,
    date: new Date(res.startedAt).toISOString(),
    machine: machine(),
    durationMs: res.endedAt - res.startedAt,
    timings: { ...res.timings, chaosMs: res.chaosEndAt - res.chaosStartAt },
    launched: recs.length,
    byPlatform: count(recs, (r) => r.plan.platform),
    ready: ready.length,
    launchFailed: { total: failed.length, byReason: count(failed, (r) => r.launchFailure!) },
    launchAnsweredEnded: { total: answeredEnded.length, byOutcome: count(answeredEnded, (r) => r.launchAnsweredEnded!) },
    ended: { total: ended.length, byOutcome: count(ended, (r) => r.final!.outcome!) },
    secretsPushed: refs.length,
    secretsDeleted: refs.filter((x) => x.state === 'deleted' || x.state === 'not-found').length,
    leftBehind: {
      total: left.local.length + left.hpc.length + left.aws.length + left.gcp.length + left.other.length,
      local: left.local.length,
      hpc: left.hpc.length,
      aws: left.aws.length,
      gcp: left.gcp.length,
      other: left.other.length,
      items: [...left.local, ...left.hpc, ...left.aws, ...left.gcp, ...left.other],
    },
    lostOrStuck: { total: res.stuck.length, runs: res.stuck },
    plaintextHits: {
      total: hits.length,
      bySource: count(hits, (h) => h.source.split(' ')[0]!.startsWith('/') ? 'file' : h.source.split(' ')[0]!),
      hits: hits.slice(0, 50).map((h) => ({ value: valueName(h.value), source: `${h.source} @${h.offset}` })),
      searched: res.scanner.searched,
      histories: res.histories,
    },
    controls: res.controls,
    wrongValues: { total: wrong.length, checked: ready.reduce((n, r) => n + r.checked, 0), runs: wrong.map((r) => `${r.plan.runId}: ${r.wrong.join(', ')}`) },
    endToDeleteMs: spread(endToDelete),
    terminatedToDeletedMs: spread(reaped),
    killToNextDeleteMs: { ...spread(killToDelete), kills: kills.length, withDeletePending: killToDelete.length },
    workerBackMs: spread(workerBack),
    chaos: {
      workerKills: kills.length,
      workerExitsOnItsOwn: res.workerEvents.filter((e) => e.kind === 'exited' && e.detail !== 'SIGKILL' && e.detail !== 'SIGTERM' && e.detail !== 'code 0').length,
      temporalRestarts: res.events.filter((e) => e.kind === 'temporal-up').length,
      sshdStops: res.events.filter((e) => e.kind === 'sshd-down').length,
      gcpCuts: res.events.filter((e) => e.kind === 'gcp-cut').length,
      terminations: recs.filter((r) => r.terminatedAt !== undefined).length,
      aws: { calls: aws.forwarded + aws.throttled + aws.errors5xx + aws.resets + aws.abandoned, throttled: aws.throttled, errors5xx: aws.errors5xx, resets: aws.resets, held: aws.held },
      gcp: res.faultStats.gcp,
    },
    ...(res.quiescentAfterMs !== undefined ? { quiescentAfterMs: res.quiescentAfterMs } : {}),
    finalSweep: !res.finalSweep ? 'not run' : 'error' in res.finalSweep ? `failed: ${res.finalSweep.error}` : `${res.finalSweep.deleted} deleted, ${res.finalSweep.kept} kept, ${res.finalSweep.failed.length} environments failed`,
    driverRetries: res.driverRetries,
    driverErrors: recs.flatMap((r) => r.driverErrors.map((e) => `${r.plan.runId}: ${e}`)),
  };
}

const sec = (ms?: number) => (ms === undefined ? '–' : ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`);
const list = (o: Record<string, number>) => Object.entries(o).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
const mb = (b: number) => `${(b / 2 ** 20).toFixed(0)} MB`;

/** The failures of the must-be-0 figures (and of the controls), one line each; empty when all hold. */
export function violations(f: Figures): string[] {
  const out: string[] = [];
  if (f.leftBehind.total) out.push(`secrets left behind: ${f.leftBehind.total}: ${f.leftBehind.items.slice(0, 20).join('; ')}`);
  if (f.lostOrStuck.total) out.push(`runs lost or stuck open: ${f.lostOrStuck.total}: ${f.lostOrStuck.runs.slice(0, 20).map((r) => `${r.runId} ${r.why}`).join('; ')}`);
  if (f.plaintextHits.total) out.push(`plaintext hits: ${f.plaintextHits.total}: ${f.plaintextHits.hits.slice(0, 20).map((h) => `${h.value} in ${h.source}`).join('; ')}`);
  if (f.wrongValues.total) out.push(`runs with a wrong value in the target: ${f.wrongValues.runs.join('; ')}`);
  const failedControls = Object.entries(f.controls).filter(([, ok]) => !ok).map(([k]) => k);
  if (failedControls.length) out.push(`search controls failed (a miss would mean nothing): ${failedControls.join(', ')}`);
  return out;
}

export function table(f: Figures): string {
  const s = f.plaintextHits.searched;
  const searched = `${f.plaintextHits.histories} histories raw and decoded (${mb(s.history?.bytes ?? 0)}), ${s.log?.sources ?? 0} logs (${mb(s.log?.bytes ?? 0)}), ${s.file?.sources ?? 0} files (${mb(s.file?.bytes ?? 0)})`;
  const rows: [string, string][] = [
    ['runs launched', `${f.launched} (${list(f.byPlatform)})`],
    ['ready', String(f.ready)],
    ['launch-failed, by reason', `${f.launchFailed.total}: ${list(f.launchFailed.byReason)}`],
    ['launch retried after its answer was lost, answered "already ended"', `${f.launchAnsweredEnded.total}${f.launchAnsweredEnded.total ? `: ${list(f.launchAnsweredEnded.byOutcome)}` : ''}`],
    ['ended', `${f.ended.total}: ${list(f.ended.byOutcome)}`],
    ['secrets pushed / deleted', `${f.secretsPushed} / ${f.secretsDeleted}`],
    ['**secrets left behind in any target (must be 0)**', `**${f.leftBehind.total}** (local ${f.leftBehind.local}, hpc ${f.leftBehind.hpc}, aws ${f.leftBehind.aws}, gcp ${f.leftBehind.gcp}, other files ${f.leftBehind.other}); the sweep run afterwards: ${f.finalSweep}`],
    ['**runs lost or stuck open (must be 0)**', `**${f.lostOrStuck.total}**`],
    ['**plaintext hits in history, logs and data files (must be 0)**', `**${f.plaintextHits.total}** in ${searched}; controls ${Object.values(f.controls).every(Boolean) ? 'all found' : 'FAILED'}`],
    ['wrong value in the target (must be 0)', `${f.wrongValues.total} runs (${f.wrongValues.checked} values checked)`],
    ['run end → last delete (complete, cancel, lease expiry)', `p50 ${sec(f.endToDeleteMs.p50)}, p99 ${sec(f.endToDeleteMs.p99)}, max ${sec(f.endToDeleteMs.max)} (${f.endToDeleteMs.n} runs)`],
    ['terminated → deleted by the reaper', `p50 ${sec(f.terminatedToDeletedMs.p50)}, max ${sec(f.terminatedToDeletedMs.max)} (${f.terminatedToDeletedMs.n} runs)`],
    ['worker SIGKILL → next completed delete', `p50 ${sec(f.killToNextDeleteMs.p50)}, max ${sec(f.killToNextDeleteMs.max)} (${f.killToNextDeleteMs.withDeletePending} of ${f.killToNextDeleteMs.kills} kills had deletes pending)`],
    ['worker SIGKILL → new worker polling', `p50 ${sec(f.workerBackMs.p50)}, max ${sec(f.workerBackMs.max)}`],
    [
      'chaos injected',
      `${f.chaos.workerKills} worker SIGKILLs (${f.chaos.workerExitsOnItsOwn} exits on its own), ${f.chaos.temporalRestarts} dev-server SIGKILL+restart, sshd stopped ${f.chaos.sshdStops}×, ${f.chaos.terminations} runs terminated, ` +
        `AWS: ${f.chaos.aws.throttled} throttled, ${f.chaos.aws.errors5xx} 5xx, ${f.chaos.aws.resets} resets, ${f.chaos.aws.held} delayed of ${f.chaos.aws.calls} calls; ` +
        `Google (gRPC): ${f.chaos.gcp.resetsBefore} connections reset before a request and ${f.chaos.gcp.resetsAfter} after it, ${f.chaos.gcp.delayed} requests delayed of ${f.chaos.gcp.chunks}, ${f.chaos.gcp.cuts} connections cut in ${f.chaos.gcpCuts} blips`,
    ],
    ['took', `${sec(f.durationMs)} in all: setup ${sec(f.timings.setupMs)}, chaos ${sec(f.timings.chaosMs)}, quiescent ${sec(f.quiescentAfterMs)} after the driver, checks ${sec((f.timings.collectMs ?? 0) + (f.timings.scanMs ?? 0))}; driver retried ${f.driverRetries} calls`],
  ];
  const head = `chaos (${f.mode}), ${f.date}, seed ${f.seed}\n${f.machine}\n\n`;
  return head + ['| figure | value |', '| --- | --- |', ...rows.map(([k, v]) => `| ${k} | ${v.replace(/\|/g, '\\|')} |`)].join('\n') + '\n';
}
