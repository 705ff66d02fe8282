/**
 * The bench's writers (bench/report.ts) on fixed figures: `make bench` is not part of `make test`,
 * so its percentiles, ratios, goals, table, JSON rows, chart and history timelines are checked here.
 */
import {
  GOALS,
  checkGoals,
  formatGoals,
  formatTable,
  formatTimeline,
  latencyOf,
  launchSeries,
  medianTimeline,
  percentile,
  renderLaunchChart,
  rowsFor,
  timeline,
  toJson,
  type Row,
  type TimedEvent,
} from '../../bench/report';

const lat = (p50: number, p95 = p50 * 2, p99 = p50 * 3, n = 20) => ({ n, p50, p95, p99 });

function sampleRows(): Row[] {
  return [
    ...rowsFor({ target: 'local', case: '1 secret', metric: 'launch→ready', latency: lat(120), errors: 0 }, [
      { name: 'provider push+verify', latency: lat(4) },
      { name: 'vault reads', latency: lat(2) },
      { name: 'trivial workflow', latency: lat(80) },
    ]),
    ...rowsFor({ target: 'local', case: '1 secret', metric: 'complete→deleted', latency: lat(25), errors: 0 }, [{ name: 'trivial workflow', latency: lat(20) }]),
    ...rowsFor({ target: 'local', case: '1 secret', metric: 'history events before ready', value: 30, unit: 'events' }, [{ name: 'trivial workflow', value: 24 }]),
    ...rowsFor({ target: 'aws', case: '1 secret', metric: 'launch→ready', latency: lat(300), errors: 1 }, [{ name: 'provider push+verify', latency: lat(200) }]),
    ...rowsFor({ target: 'local', case: 'concurrency 100', metric: 'throughput to ready', value: 75, unit: 'runs/s', higherIsBetter: true, errors: 0 }, [
      { name: 'trivial workflow', value: 150 },
    ]),
    ...rowsFor({ target: 'local', case: '1,000 runs in flight', metric: 'worker RSS (VmRSS)', value: 300, unit: 'MB' }),
  ];
}

describe('bench report', () => {
  test('percentiles are nearest-rank over the samples', () => {
    const xs = Array.from({ length: 100 }, (_, i) => 100 - i); // 100 .. 1, unsorted on purpose
    expect(percentile(xs, 50)).toBe(50);
    expect(percentile(xs, 95)).toBe(95);
    expect(percentile(xs, 99)).toBe(99);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([3, 1, 2], 50)).toBe(2);
    expect(percentile([], 50)).toBeNaN();
    expect(latencyOf([10, 20, 30, 40])).toEqual({ n: 4, p50: 20, p95: 40, p99: 40 });
  });

  test('a figure gets one row per floor, with the ratio oriented so that above 1 is worse', () => {
    const rows = sampleRows();
    const launch = rows.filter((r) => r.target === 'local' && r.metric === 'launch→ready');
    expect(launch.map((r) => [r.floor, r.floor_p50_ms, r.ratio, r.diff])).toEqual([
      ['provider push+verify', 4, 30, 116],
      ['vault reads', 2, 60, 118],
      ['trivial workflow', 80, 1.5, 40],
    ]);
    expect(launch.every((r) => r.p50_ms === 120 && r.p95_ms === 240 && r.p99_ms === 360 && r.n === 20 && r.unit === 'ms')).toBe(true);
    const throughput = rows.find((r) => r.metric === 'throughput to ready')!;
    expect([throughput.value, throughput.floor_value, throughput.ratio, throughput.p50_ms]).toEqual([75, 150, 2, null]);
    const events = rows.find((r) => r.metric === 'history events before ready')!;
    expect([events.value, events.floor_value, events.ratio, events.diff]).toEqual([30, 24, 1.25, 6]);
    const rss = rows.find((r) => r.metric === 'worker RSS (VmRSS)')!;
    expect([rss.floor, rss.ratio, rss.value, rss.unit]).toEqual([null, null, 300, 'MB']);
  });

  test('goals are checked on their rows; a goal whose row was not measured says so', () => {
    const rows = sampleRows();
    const results = checkGoals(rows);
    const by = (label: string) => results.find((r) => r.goal.label.startsWith(label))!;
    expect(by('local, 1 secret: launch')).toMatchObject({ actual: 120, met: false });
    expect(by('local, 1 secret: complete')).toMatchObject({ actual: 25, met: true });
    expect(by('throughput')).toMatchObject({ actual: 75, met: true });
    expect(by('errors')).toMatchObject({ actual: 0, met: true });
    expect(by('history')).toMatchObject({ actual: 30, met: false });
    expect(by('aws (moto), 1 secret')).toMatchObject({ actual: 300, met: false });
    expect(by('aws (moto), 10 secrets').actual).toBeUndefined();
    expect(by('local, 50 secrets').actual).toBeUndefined();
    expect(by('worker process RSS')).toMatchObject({ actual: 300, met: false });
    // Only the first row of a figure carries its goal.
    const launch = rows.filter((r) => r.target === 'local' && r.metric === 'launch→ready');
    expect(launch.map((r) => r.meets_goal)).toEqual([false, undefined, undefined]);
    // Two goals on one row (throughput and errors at concurrency 100) are both recorded.
    expect(rows.find((r) => r.metric === 'throughput to ready')).toMatchObject({ goal: 'value ≥ 60; errors ≤ 0', meets_goal: true });
    const text = formatGoals(results);
    expect(text.split('\n')).toHaveLength(GOALS.length);
    expect(text).toContain('MISS local, 1 secret: launch → ready p50 ≤ 40 ms: 120 ms');
    expect(text).toContain('met  local, 1 secret: complete → deleted p50 ≤ 30 ms: 25 ms');
    expect(text).toContain('-    aws (moto), 10 secrets: launch → ready p50 ≤ 100 ms: not measured in this run');
  });

  test('the table prints a figure once and its floors beneath it, aligned', () => {
    const rows = sampleRows();
    checkGoals(rows);
    const lines = formatTable(rows).split('\n');
    expect(lines[0]).toMatch(/^target\s+case\s+metric\s+n\s+p50\s+p95\s+p99\s+value\s+err\s+floor\s+floor\s+ratio\s+diff\s+goal$/);
    const first = lines.find((l) => l.includes('provider push+verify') && l.startsWith('local'))!;
    expect(first).toMatch(/^local\s+1 secret\s+launch→ready\s+20\s+120\.0\s+240\.0\s+360\.0\s+0\s+provider push\+verify\s+4\.0\s+30\.00\s+\+116\.0\s+p50 ≤ 40: NOT met$/);
    const vault = lines.find((l) => l.includes('vault reads'))!;
    expect(vault).toMatch(/^\s+vault reads\s+2\.0\s+60\.00\s+\+118\.0$/);
    // Floors line up under the floor column.
    expect(vault.indexOf('vault reads')).toBe(first.indexOf('provider push+verify'));
    expect(lines.find((l) => l.includes('throughput to ready'))).toMatch(/75\.0 runs\/s\s+0\s+trivial workflow\s+150\.0\s+2\.00\s+-75\.0\s+value ≥ 60; errors ≤ 0: met$/);
    expect(lines.find((l) => l.includes('worker RSS'))).toMatch(/worker RSS \(VmRSS\)\s+300 MB\s+value ≤ 256: NOT met$/);
    // A blank line between targets.
    expect(lines[lines.findIndex((l) => l.startsWith('aws')) - 1]).toBe('');
  });

  test('the JSON rows carry the issue fields first, in order, and read back', () => {
    const rows = sampleRows();
    checkGoals(rows);
    const parsed = JSON.parse(toJson(rows)) as Record<string, unknown>[];
    expect(parsed).toHaveLength(rows.length);
    expect(Object.keys(parsed[0]!).slice(0, 9)).toEqual(['target', 'case', 'metric', 'p50_ms', 'p95_ms', 'p99_ms', 'floor', 'floor_p50_ms', 'ratio']);
    expect(parsed[0]).toMatchObject({ target: 'local', case: '1 secret', metric: 'launch→ready', p50_ms: 120, floor: 'provider push+verify', floor_p50_ms: 4, ratio: 30, goal: 'p50 ≤ 40', meets_goal: false });
    expect(parsed.at(-1)).toMatchObject({ metric: 'worker RSS (VmRSS)', p50_ms: null, floor: null, floor_p50_ms: null, ratio: null, value: 300, unit: 'MB' });
    expect(parsed.every((r) => !('goal' in r) || typeof r.meets_goal === 'boolean')).toBe(true);
  });

  test('the chart is an SVG with both percentiles of every series, on finite coordinates', () => {
    const svg = renderLaunchChart(
      [
        { name: 'broker <local>', points: [1, 10, 50, 100].map((x) => ({ x, p50: 100 * x, p95: 150 * x })) },
        { name: 'trivial workflow', points: [1, 10, 50, 100].map((x) => ({ x, p50: 50 * x, p95: 60 * x })) },
      ],
      'Launch → ready & concurrency',
    );
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('Launch → ready &amp; concurrency');
    expect(svg).toContain('broker &lt;local&gt;');
    expect(svg).not.toContain('broker <local>');
    expect(svg.match(/<path /g)).toHaveLength(4); // p50 and p95 per series
    expect(svg.match(/stroke-dasharray/g)).toHaveLength(3); // two series and the key
    expect(svg.match(/<circle /g)).toHaveLength(8);
    for (const x of ['1', '10', '50', '100']) expect(svg).toContain(`>${x}</text>`);
    expect(svg).not.toMatch(/NaN|Infinity|undefined/);
    // Every opened element closes.
    const opened = (svg.match(/<(svg|text|title|circle)\b/g) ?? []).length;
    const closed = (svg.match(/<\/(svg|text|title|circle)>/g) ?? []).length;
    expect(closed).toBe(opened);
  });

  test('the chart is drawn from the rows alone: the broker at each concurrency and each of its floors', () => {
    const rows = [10, 1, 100].flatMap((c) =>
      rowsFor({ target: 'local', case: `concurrency ${c}`, metric: 'launch→ready', latency: lat(10 * c) }, [
        { name: 'trivial workflow', latency: lat(5 * c) },
        { name: 'trivial, local activities', latency: lat(2 * c) },
      ]),
    );
    rows.push(...sampleRows()); // other rows are left out
    const series = launchSeries(rows);
    expect(series.map((s) => s.name)).toEqual(['broker (local, 1 secret)', 'trivial workflow', 'trivial, local activities']);
    expect(series[0]!.points).toEqual([
      { x: 10, p50: 100, p95: 200 },
      { x: 1, p50: 10, p95: 20 },
      { x: 100, p50: 1000, p95: 2000 },
    ]);
    expect(series[2]!.points.map((p) => p.p50)).toEqual([20, 2, 200]);
  });

  test('a history timeline splits its span into queued and running tasks and the server between them', () => {
    const ev = (id: number, type: string, ms: number, link: Partial<TimedEvent> = {}): TimedEvent => ({ id, type, ms, ...link });
    const events = [
      ev(1, 'workflow_execution_started', 0),
      ev(2, 'workflow_task_scheduled', 0),
      ev(3, 'workflow_task_started', 10, { scheduledId: 2 }),
      ev(4, 'workflow_task_completed', 15, { startedId: 3 }),
      ev(5, 'workflow_execution_update_accepted', 15),
      ev(6, 'activity_task_scheduled', 15),
      ev(7, 'activity_task_started', 65, { scheduledId: 6 }),
      ev(8, 'activity_task_completed', 70, { startedId: 7 }),
      ev(9, 'workflow_task_scheduled', 72),
      ev(10, 'workflow_task_started', 80, { scheduledId: 9 }),
      ev(11, 'workflow_task_completed', 84, { startedId: 10 }),
      ev(12, 'workflow_execution_update_completed', 84),
    ];
    const t = timeline(events);
    expect(t).toEqual({ span: 84, workflowTasks: 2, activities: 1, parts: { workflowTaskQueued: 18, workflowTaskOnWorker: 9, activityQueued: 50, activityRunning: 5, serverBetweenTasks: 2 } });
    expect(formatTimeline(t)).toBe('84 ms in history: 2 workflow tasks queued 18 + on the worker 9; 1 activities queued 50 + running 5; server between tasks 2');
    expect(timeline([])).toMatchObject({ span: 0, workflowTasks: 0, activities: 0 });
    const slower = { ...t, span: 100, parts: { ...t.parts, activityQueued: 66 } };
    const m = medianTimeline([t, slower, slower]);
    expect([m.span, m.parts.activityQueued, m.parts.workflowTaskQueued]).toEqual([100, 66, 18]);
  });
});
