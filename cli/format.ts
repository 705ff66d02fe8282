/** Human output: aligned tables, key/value blocks, shell-safe export lines. */

/** Columns padded to the widest cell; `-` for empty cells. */
export function table(headers: string[], rows: Array<Array<string | number | null | undefined>>): string {
  const cells = rows.map((r) => r.map((c) => (c === null || c === undefined || c === '' ? '-' : String(c))));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...cells.map(line)].join('\n') + '\n';
}

/** `key: value` lines with the keys aligned; undefined values are left out. */
export function keyValues(pairs: Array<[string, unknown]>): string {
  const kept = pairs.filter(([, v]) => v !== undefined && v !== null && v !== '');
  const width = Math.max(0, ...kept.map(([k]) => k.length));
  return kept.map(([k, v]) => `${`${k}:`.padEnd(width + 1)} ${typeof v === 'string' ? v : JSON.stringify(v)}`).join('\n') + '\n';
}

/** Quote for POSIX shells: bare when safe, else single quotes. */
export function shellQuote(value: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `export NAME=value` lines, sorted by name; names that are not shell identifiers are refused. */
export function exportLines(env: Record<string, string>): string {
  return Object.keys(env)
    .sort()
    .map((k) => {
      if (!ENV_NAME_RE.test(k)) throw new Error(`the broker returned an environment variable name that is not a shell identifier: ${JSON.stringify(k)}`);
      return `export ${k}=${shellQuote(env[k] ?? '')}\n`;
    })
    .join('');
}

export function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** Temporal execution statuses after which a workflow does nothing more. */
export const CLOSED_EXECUTIONS: ReadonlySet<string> = new Set(['COMPLETED', 'FAILED', 'TERMINATED', 'CANCELLED', 'TIMED_OUT']);

/** A schedule's state as key/value pairs: spec, paused, note, the next three and the recent runs. */
export function schedulePairs(s: { spec: string; paused: boolean; note?: string; nextRuns: string[]; recentRuns: { at: string; workflowId: string }[] }): Array<[string, unknown]> {
  return [
    ['spec', s.spec],
    ['paused', s.paused ? 'yes' : 'no'],
    ['note', s.note],
    ['next runs', s.nextRuns.slice(0, 3).join(', ') || undefined],
    ['recent runs', s.recentRuns.map((r) => `${r.at} ${r.workflowId}`).join('; ') || undefined],
  ];
}
