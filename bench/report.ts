/**
 * The bench's figures and how they are written: percentiles, rows beside their floors, the goals, the
 * table, the JSON rows and the launch-latency chart (SVG, no dependency). Pure functions: the bench
 * (broker.bench.ts) measures and calls these; test/bench/report.test.ts runs them on fixed rows.
 */

/** Nearest-rank percentile of samples (ms): the smallest sample with at least p% of them at or below it. */
export function percentile(samples: number[], p: number): number {
  if (!samples.length) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export interface Latency {
  n: number;
  p50: number;
  p95: number;
  p99: number;
}

export function latencyOf(samples: number[]): Latency {
  return { n: samples.length, p50: percentile(samples, 50), p95: percentile(samples, 95), p99: percentile(samples, 99) };
}

/**
 * One row of `.data/bench/latest.json`: a figure beside one floor (a figure with three floors is three
 * rows; one with none is one row with `floor: null`). Latency rows fill the `_ms` fields; counts,
 * rates and sizes fill `value` and `unit`. `ratio` is how many times the floor the figure is, oriented
 * so that above 1 is worse: p50 / floor p50 for latencies, events and memory; floor / value for
 * throughput. `diff` is the figure minus the floor (ms for latencies, the unit otherwise).
 */
export interface Row {
  target: string;
  case: string;
  metric: string;
  p50_ms: number | null;
  p95_ms: number | null;
  p99_ms: number | null;
  floor: string | null;
  floor_p50_ms: number | null;
  ratio: number | null;
  n: number | null;
  floor_p95_ms: number | null;
  floor_p99_ms: number | null;
  diff: number | null;
  value: number | null;
  unit: string | null;
  floor_value: number | null;
  errors: number | null;
  /** The goal this row is held to ("p50 ≤ 40 ms") and whether it meets it; only on the row it is checked on. */
  goal?: string;
  meets_goal?: boolean;
  /** Anything else worth keeping beside the figure (event types of a history ...). */
  detail?: Record<string, unknown>;
}

/** What was measured, before it is set beside its floors. */
export interface Figure {
  target: string;
  case: string;
  metric: string;
  latency?: Latency;
  value?: number;
  unit?: string;
  /** true: higher is better (throughput); the ratio is then floor / value. */
  higherIsBetter?: boolean;
  errors?: number;
  detail?: Record<string, unknown>;
}

export interface Floor {
  name: string;
  latency?: Latency;
  value?: number;
}

const round = (x: number | null | undefined, digits = 2): number | null => {
  if (x === null || x === undefined || !Number.isFinite(x)) return null;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};

/** The rows of one figure: one per floor, or one without a floor. */
export function rowsFor(fig: Figure, floors: Floor[] = []): Row[] {
  const base = {
    target: fig.target,
    case: fig.case,
    metric: fig.metric,
    n: fig.latency?.n ?? null,
    p50_ms: round(fig.latency?.p50),
    p95_ms: round(fig.latency?.p95),
    p99_ms: round(fig.latency?.p99),
    value: round(fig.value),
    unit: fig.latency ? 'ms' : (fig.unit ?? null),
    errors: fig.errors ?? null,
    ...(fig.detail ? { detail: fig.detail } : {}),
  };
  if (!floors.length) return [{ ...base, floor: null, floor_p50_ms: null, floor_p95_ms: null, floor_p99_ms: null, floor_value: null, ratio: null, diff: null }];
  return floors.map((f) => {
    let ratio: number | null = null;
    let diff: number | null = null;
    if (fig.latency && f.latency) {
      ratio = fig.latency.p50 / f.latency.p50;
      diff = fig.latency.p50 - f.latency.p50;
    } else if (fig.value !== undefined && f.value !== undefined) {
      ratio = fig.higherIsBetter ? f.value / fig.value : fig.value / f.value;
      diff = fig.value - f.value;
    }
    return {
      ...base,
      floor: f.name,
      floor_p50_ms: round(f.latency?.p50),
      floor_p95_ms: round(f.latency?.p95),
      floor_p99_ms: round(f.latency?.p99),
      floor_value: round(f.value),
      ratio: round(ratio),
      diff: round(diff),
    };
  });
}

const KEY_ORDER: (keyof Row)[] = [
  'target', 'case', 'metric', 'p50_ms', 'p95_ms', 'p99_ms', 'floor', 'floor_p50_ms', 'ratio',
  'n', 'floor_p95_ms', 'floor_p99_ms', 'diff', 'value', 'unit', 'floor_value', 'errors', 'goal', 'meets_goal', 'detail',
];

/** `.data/bench/latest.json`: the rows, each with the fields first, in its order. */
export function toJson(rows: Row[]): string {
  const ordered = rows.map((r) => Object.fromEntries(KEY_ORDER.filter((k) => r[k] !== undefined).map((k) => [k, r[k]])));
  return JSON.stringify(ordered, null, 2) + '\n';
}

/** A goal of issue 13: a row (target, case, metric; the first of its rows) and a bound on one field. */
export interface Goal {
  label: string;
  target: string;
  case: string;
  metric: string;
  field: 'p50_ms' | 'value' | 'errors';
  op: '<=' | '>=';
  limit: number;
}

export const GOALS: Goal[] = [
  { label: 'local, 1 secret: launch → ready p50 ≤ 40 ms', target: 'local', case: '1 secret', metric: 'launch→ready', field: 'p50_ms', op: '<=', limit: 40 },
  { label: 'local, 1 secret: complete → deleted p50 ≤ 30 ms', target: 'local', case: '1 secret', metric: 'complete→deleted', field: 'p50_ms', op: '<=', limit: 30 },
  { label: 'local, 50 secrets: launch → ready p50 ≤ 60 ms', target: 'local', case: '50 secrets', metric: 'launch→ready', field: 'p50_ms', op: '<=', limit: 60 },
  { label: 'aws (moto), 1 secret: launch → ready p50 ≤ 50 ms', target: 'aws', case: '1 secret', metric: 'launch→ready', field: 'p50_ms', op: '<=', limit: 50 },
  { label: 'aws (moto), 10 secrets: launch → ready p50 ≤ 100 ms', target: 'aws', case: '10 secrets', metric: 'launch→ready', field: 'p50_ms', op: '<=', limit: 100 },
  { label: 'throughput to ready at concurrency 100 ≥ 60 runs/s', target: 'local', case: 'concurrency 100', metric: 'throughput to ready', field: 'value', op: '>=', limit: 60 },
  { label: 'errors at concurrency 100 = 0', target: 'local', case: 'concurrency 100', metric: 'throughput to ready', field: 'errors', op: '<=', limit: 0 },
  { label: 'history events before ready ≤ 15', target: 'local', case: '1 secret', metric: 'history events before ready', field: 'value', op: '<=', limit: 15 },
  { label: 'worker process RSS with 1,000 runs in flight ≤ 256 MB', target: 'local', case: '1,000 runs in flight', metric: 'worker RSS (VmRSS)', field: 'value', op: '<=', limit: 256 },
];

export interface GoalResult {
  goal: Goal;
  /** undefined: the row was not measured in this run (BENCH_QUICK measures fewer runs in flight ...). */
  actual?: number;
  met?: boolean;
}

/** Check every goal against the rows, marking the row each is checked on. */
export function checkGoals(rows: Row[], goals: Goal[] = GOALS): GoalResult[] {
  return goals.map((goal) => {
    const row = rows.find((r) => r.target === goal.target && r.case === goal.case && r.metric === goal.metric);
    const actual = row?.[goal.field];
    if (!row || actual === null || actual === undefined) return { goal };
    const met = goal.op === '<=' ? actual <= goal.limit : actual >= goal.limit;
    const text = `${goal.field === 'p50_ms' ? 'p50' : goal.field} ${goal.op === '<=' ? '≤' : '≥'} ${goal.limit}`;
    row.goal = row.goal ? `${row.goal}; ${text}` : text;
    row.meets_goal = row.meets_goal === undefined ? met : row.meets_goal && met;
    return { goal, actual, met };
  });
}

// --- where the time goes ------------------------------------------------------------------------

/** A history event as the timeline needs it: id, type (lower case, no EVENT_TYPE_), server time, links. */
export interface TimedEvent {
  id: number;
  type: string;
  ms: number;
  /** Of a task's started event: its scheduled event. */
  scheduledId?: number;
  /** Of a task's completed (failed, timed out) event: its started event. */
  startedId?: number;
}

export interface Timeline {
  /** From the first event to the last, ms. */
  span: number;
  workflowTasks: number;
  activities: number;
  /** ms by part; the parts add up to the span when tasks do not overlap (the pipeline run's launch). */
  parts: {
    workflowTaskQueued: number;
    workflowTaskOnWorker: number;
    activityQueued: number;
    activityRunning: number;
    serverBetweenTasks: number;
  };
}

/**
 * Where a stretch of history spent its time, from the server's event times: tasks waiting to be
 * picked up by a worker (scheduled → started), tasks on the worker (started → completed), and the
 * rest (the server between one task's completion and the next task, timers, updates).
 */
export function timeline(events: TimedEvent[]): Timeline {
  const byId = new Map(events.map((e) => [e.id, e]));
  const parts = { workflowTaskQueued: 0, workflowTaskOnWorker: 0, activityQueued: 0, activityRunning: 0, serverBetweenTasks: 0 };
  let workflowTasks = 0;
  let activities = 0;
  for (const e of events) {
    const wf = e.type.startsWith('workflow_task_');
    const act = e.type.startsWith('activity_task_');
    if (!wf && !act) continue;
    if (e.type.endsWith('_started') && e.scheduledId !== undefined) {
      const from = byId.get(e.scheduledId);
      if (!from) continue;
      if (wf) parts.workflowTaskQueued += e.ms - from.ms;
      else parts.activityQueued += e.ms - from.ms;
    } else if (e.startedId !== undefined && !e.type.endsWith('_started') && !e.type.endsWith('_scheduled')) {
      const from = byId.get(e.startedId);
      if (!from) continue;
      if (wf) {
        parts.workflowTaskOnWorker += e.ms - from.ms;
        workflowTasks++;
      } else {
        parts.activityRunning += e.ms - from.ms;
        activities++;
      }
    }
  }
  const span = events.length ? events[events.length - 1]!.ms - events[0]!.ms : 0;
  parts.serverBetweenTasks = span - parts.workflowTaskQueued - parts.workflowTaskOnWorker - parts.activityQueued - parts.activityRunning;
  return { span, workflowTasks, activities, parts };
}

/** Field by field, the median of several runs' timelines (so the parts need not add up exactly). */
export function medianTimeline(ts: Timeline[]): Timeline {
  const med = (f: (t: Timeline) => number) => percentile(ts.map(f), 50);
  return {
    span: med((t) => t.span),
    workflowTasks: med((t) => t.workflowTasks),
    activities: med((t) => t.activities),
    parts: {
      workflowTaskQueued: med((t) => t.parts.workflowTaskQueued),
      workflowTaskOnWorker: med((t) => t.parts.workflowTaskOnWorker),
      activityQueued: med((t) => t.parts.activityQueued),
      activityRunning: med((t) => t.parts.activityRunning),
      serverBetweenTasks: med((t) => t.parts.serverBetweenTasks),
    },
  };
}

/** One line: "340 ms in history: 4 workflow tasks queued 80 + on the worker 20; 3 activities queued 230 + running 15; server 5". */
export function formatTimeline(t: Timeline): string {
  const r = (x: number) => x.toFixed(0);
  const p = t.parts;
  return (
    `${r(t.span)} ms in history: ${t.workflowTasks} workflow tasks queued ${r(p.workflowTaskQueued)} + on the worker ${r(p.workflowTaskOnWorker)}; ` +
    `${t.activities} activities queued ${r(p.activityQueued)} + running ${r(p.activityRunning)}; server between tasks ${r(p.serverBetweenTasks)}`
  );
}

// --- the table ---------------------------------------------------------------------------------

const num = (x: number | null, digits = 1): string => (x === null ? '' : x.toFixed(digits));

function pad(cells: string[], widths: number[], right: boolean[]): string {
  return cells.map((c, i) => (right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
}

/**
 * The table: a figure's own columns once, then one line per floor (floor p50, ratio, difference).
 * Latencies in ms; other figures in the value column with their unit.
 */
export function formatTable(rows: Row[]): string {
  const head = ['target', 'case', 'metric', 'n', 'p50', 'p95', 'p99', 'value', 'err', 'floor', 'floor', 'ratio', 'diff', 'goal'];
  const head2 = ['', '', '', '', 'ms', 'ms', 'ms', '', '', '', 'p50|value', '×', '', ''];
  const right = [false, false, false, true, true, true, true, true, true, false, true, true, true, false];
  const lines: string[][] = [];
  let last = '';
  for (const r of rows) {
    const key = `${r.target}\u0000${r.case}\u0000${r.metric}`;
    const first = key !== last;
    last = key;
    const value = r.value === null ? '' : `${num(r.value, r.unit === 'runs/s' ? 1 : 0)} ${r.unit ?? ''}`.trim();
    const floorFig = r.floor_p50_ms !== null ? num(r.floor_p50_ms) : r.floor_value !== null ? num(r.floor_value, r.unit === 'runs/s' ? 1 : 0) : '';
    const diff = r.diff === null ? '' : `${r.diff >= 0 ? '+' : ''}${num(r.diff)}`;
    const verdict = r.meets_goal === undefined ? '' : `${r.goal}: ${r.meets_goal ? 'met' : 'NOT met'}`;
    lines.push([
      first ? r.target : '',
      first ? r.case : '',
      first ? r.metric : '',
      first && r.n !== null ? String(r.n) : '',
      first ? num(r.p50_ms) : '',
      first ? num(r.p95_ms) : '',
      first ? num(r.p99_ms) : '',
      first ? value : '',
      first && r.errors !== null ? String(r.errors) : '',
      r.floor ?? '',
      floorFig,
      r.ratio === null ? '' : `${num(r.ratio, 2)}`,
      diff,
      first ? verdict : '',
    ]);
  }
  const widths = head.map((h, i) => Math.max(h.length, head2[i]!.length, ...lines.map((l) => (i === head.length - 1 ? 0 : l[i]!.length))));
  const out = [pad(head, widths, right), pad(head2, widths, right), widths.map((w) => '-'.repeat(w)).join('  ')];
  last = '';
  rows.forEach((r, i) => {
    const key = `${r.target}\u0000${r.metric}`;
    if (i > 0 && key !== last && r.target !== rows[i - 1]!.target) out.push('');
    last = key;
    out.push(pad(lines[i]!, widths, right));
  });
  return out.join('\n');
}

/** The goals, one line each: measured value and verdict. */
export function formatGoals(results: GoalResult[]): string {
  return results
    .map(({ goal, actual, met }) => {
      const unit = goal.field === 'p50_ms' ? ' ms' : '';
      if (actual === undefined) return `  -    ${goal.label}: not measured in this run`;
      return `  ${met ? 'met ' : 'MISS'} ${goal.label}: ${Number.isInteger(actual) ? actual : actual.toFixed(1)}${unit}`;
    })
    .join('\n');
}

// --- the chart ---------------------------------------------------------------------------------

export interface ChartSeries {
  name: string;
  /** x: concurrency; p50 and p95 in ms. */
  points: { x: number; p50: number; p95: number }[];
}

/**
 * The chart's series from the rows: launch → ready at each concurrency (cases "concurrency N"), the
 * broker's figure and each of its floors; so the chart can be drawn again from latest.json alone.
 */
export function launchSeries(rows: Row[]): ChartSeries[] {
  const series = new Map<string, ChartSeries>();
  const add = (name: string, x: number, p50: number | null, p95: number | null) => {
    if (p50 === null || p95 === null) return;
    let s = series.get(name);
    if (!s) series.set(name, (s = { name, points: [] }));
    if (!s.points.some((p) => p.x === x)) s.points.push({ x, p50, p95 });
  };
  for (const r of rows) {
    const m = /^concurrency (\d+)$/.exec(r.case);
    if (!m || r.metric !== 'launch→ready') continue;
    const x = Number(m[1]);
    add(`broker (${r.target}, 1 secret)`, x, r.p50_ms, r.p95_ms);
    if (r.floor) add(r.floor, x, r.floor_p50_ms, r.floor_p95_ms);
  }
  return [...series.values()];
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const COLORS = ['#d62728', '#1f77b4', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

/**
 * Launch latency against concurrency: p50 solid with dots, p95 dashed, one colour per series; x at
 * the measured concurrencies (evenly spaced), y logarithmic in ms.
 */
export function renderLaunchChart(series: ChartSeries[], title: string): string {
  const W = 760;
  const H = 440;
  const m = { l: 64, r: 230, t: 44, b: 54 };
  const xs = [...new Set(series.flatMap((s) => s.points.map((p) => p.x)))].sort((a, b) => a - b);
  const ys = series.flatMap((s) => s.points.flatMap((p) => [p.p50, p.p95])).filter((y) => Number.isFinite(y) && y > 0);
  const lo = ys.length ? 10 ** Math.floor(Math.log10(Math.min(...ys))) : 1;
  const hi = Math.max(lo * 10, ys.length ? 10 ** Math.ceil(Math.log10(Math.max(...ys))) : 1000);
  const px = (x: number) => m.l + (xs.length === 1 ? (W - m.l - m.r) / 2 : (xs.indexOf(x) * (W - m.l - m.r)) / (xs.length - 1));
  const py = (y: number) => H - m.b - ((Math.log10(Math.max(y, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (H - m.t - m.b);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${m.l}" y="24" font-size="15" font-weight="bold">${esc(title)}</text>`);
  for (let d = lo; d <= hi * 1.0001; d *= 10) {
    for (const k of [1, 2, 5]) {
      const v = d * k;
      if (v > hi * 1.0001) break;
      const y = py(v).toFixed(1);
      out.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${y}" y2="${y}" stroke="${k === 1 ? '#ccc' : '#eee'}"/>`);
      out.push(`<text x="${m.l - 6}" y="${y}" dy="4" text-anchor="end" fill="#555">${v >= 1 ? v : v.toPrecision(1)}</text>`);
    }
  }
  for (const x of xs) {
    const X = px(x).toFixed(1);
    out.push(`<line x1="${X}" x2="${X}" y1="${m.t}" y2="${H - m.b}" stroke="#eee"/>`);
    out.push(`<text x="${X}" y="${H - m.b + 18}" text-anchor="middle" fill="#555">${x}</text>`);
  }
  out.push(`<line x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${H - m.b}" stroke="#333"/>`);
  out.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${H - m.b}" y2="${H - m.b}" stroke="#333"/>`);
  out.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 12}" text-anchor="middle">concurrent launches</text>`);
  out.push(`<text transform="translate(16 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">launch → ready, ms (log scale)</text>`);
  series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length];
    const pts = [...s.points].sort((a, b) => a.x - b.x);
    const path = (f: (p: { p50: number; p95: number }) => number) => pts.map((p, j) => `${j ? 'L' : 'M'}${px(p.x).toFixed(1)},${py(f(p)).toFixed(1)}`).join(' ');
    out.push(`<path d="${path((p) => p.p50)}" fill="none" stroke="${c}" stroke-width="2"/>`);
    out.push(`<path d="${path((p) => p.p95)}" fill="none" stroke="${c}" stroke-width="1.5" stroke-dasharray="5 4"/>`);
    for (const p of pts) out.push(`<circle cx="${px(p.x).toFixed(1)}" cy="${py(p.p50).toFixed(1)}" r="3" fill="${c}"><title>${esc(s.name)} @ ${p.x}: p50 ${p.p50.toFixed(1)} ms, p95 ${p.p95.toFixed(1)} ms</title></circle>`);
    const ly = m.t + 10 + i * 36;
    out.push(`<line x1="${W - m.r + 16}" x2="${W - m.r + 40}" y1="${ly}" y2="${ly}" stroke="${c}" stroke-width="2"/>`);
    out.push(`<text x="${W - m.r + 46}" y="${ly}" dy="4">${esc(s.name)}</text>`);
  });
  const ky = m.t + 10 + series.length * 36;
  out.push(`<line x1="${W - m.r + 16}" x2="${W - m.r + 40}" y1="${ky}" y2="${ky}" stroke="#555" stroke-width="2"/>`);
  out.push(`<text x="${W - m.r + 46}" y="${ky}" dy="4" fill="#555">p50</text>`);
  out.push(`<line x1="${W - m.r + 16}" x2="${W - m.r + 40}" y1="${ky + 20}" y2="${ky + 20}" stroke="#555" stroke-width="1.5" stroke-dasharray="5 4"/>`);
  out.push(`<text x="${W - m.r + 46}" y="${ky + 20}" dy="4" fill="#555">p95</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}
