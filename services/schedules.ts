/**
 * What the broker's on-demand schedules (credential rotations, the vault master key) and their
 * workflows share on the client side: the spec a caller may ask for, the state of a run, a
 * schedule's description in plain fields, and "not found" as a NotFoundError.
 */
import {
  ScheduleNotFoundError,
  WorkflowNotFoundError,
  type Client,
  type QueryDefinition,
  type ScheduleDescription,
  type ScheduleSpec,
  type ScheduleSummary,
  type WorkflowHandle,
} from '@temporalio/client';
import { NotFoundError, ValidationError } from '../domain/errors';

/** Schedules fire at most hourly: each firing rotates keys. */
const MIN_SCHEDULE_EVERY_MS = 60 * 60_000;

export interface ScheduleTiming {
  /** Fire every this many milliseconds (at least an hour) ... */
  everyMs?: number;
  /** ... or on these cron expressions (UTC). Exactly one of the two. */
  cron?: string[];
  note?: string;
}

/** The Temporal spec for `t`, or a ValidationError naming everyMs, cron or note. */
export function scheduleSpec(t: ScheduleTiming): ScheduleSpec {
  const hasEvery = t.everyMs !== undefined;
  const hasCron = t.cron !== undefined;
  if (hasEvery === hasCron) throw new ValidationError('everyMs', 'give exactly one of everyMs (an interval) and cron (expressions)');
  if (t.note !== undefined && (typeof t.note !== 'string' || t.note.length > 500)) throw new ValidationError('note', 'must be text of at most 500 characters');
  if (hasEvery) {
    if (typeof t.everyMs !== 'number' || !Number.isInteger(t.everyMs) || t.everyMs < MIN_SCHEDULE_EVERY_MS) {
      throw new ValidationError('everyMs', `must be a whole number of milliseconds of at least ${MIN_SCHEDULE_EVERY_MS} (1 hour)`);
    }
    return { intervals: [{ every: t.everyMs }] };
  }
  if (!Array.isArray(t.cron) || t.cron.length === 0 || !t.cron.every((c) => typeof c === 'string' && c.trim().split(/\s+/).length >= 5)) {
    throw new ValidationError('cron', 'must be a list of cron expressions of five fields, e.g. "0 3 1 * *"');
  }
  return { cronExpressions: t.cron };
}

function formatEvery(ms: number): string {
  const units: [number, string][] = [
    [86_400_000, 'd'],
    [3_600_000, 'h'],
    [60_000, 'm'],
    [1_000, 's'],
  ];
  for (const [size, unit] of units) if (ms % size === 0) return `every ${ms / size}${unit}`;
  return `every ${ms}ms`;
}

/** A schedule's spec in words: "every 30d", "cron 0 3 1 * *". */
function specText(spec: ScheduleSpec | ScheduleDescription['spec']): string {
  const parts: string[] = [];
  for (const i of spec.intervals ?? []) parts.push(formatEvery(Number(typeof i.every === 'number' ? i.every : Number(i.every))));
  for (const c of (spec as { cronExpressions?: string[] }).cronExpressions ?? []) parts.push(`cron ${c}`);
  if (!parts.length && (spec.calendars?.length ?? 0) > 0) parts.push(`${spec.calendars!.length} calendar rule(s)`);
  return parts.join(', ') || '(none)';
}

export interface ScheduleFacts {
  paused: boolean;
  note?: string;
  spec: string;
  nextRuns: string[];
  recentRuns: { at: string; workflowId: string }[];
}

/** The plain fields of a schedule's description or list entry. */
export function scheduleFacts(s: ScheduleDescription | ScheduleSummary): ScheduleFacts {
  return {
    paused: s.state.paused,
    ...(s.state.note ? { note: s.state.note } : {}),
    spec: s.spec ? specText(s.spec) : '(unknown)',
    nextRuns: s.info.nextActionTimes.map((t) => t.toISOString()),
    recentRuns: s.info.recentActions.map((a) => ({ at: a.takenAt.toISOString(), workflowId: a.action.workflow.workflowId })),
  };
}

/** Runs `fn` on the schedule's handle; a schedule that does not exist is a NotFoundError(`what`). */
export async function onSchedule<T>(client: Client, scheduleId: string, what: string, fn: (h: ReturnType<Client['schedule']['getHandle']>) => Promise<T>): Promise<T> {
  try {
    return await fn(client.schedule.getHandle(scheduleId));
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) throw new NotFoundError(what, scheduleId);
    throw err;
  }
}

export interface RunState<S, R> {
  workflowId: string;
  /** Temporal's execution status: RUNNING, COMPLETED, FAILED, TERMINATED ... */
  execution: string;
  status?: S;
  result?: R;
  /** The failure's message (an activity's own message when an activity failed it). */
  error?: string;
}

/** A workflow's execution status, its status query's answer, and its result or failure. */
export async function runState<S, R>(handle: WorkflowHandle, query: QueryDefinition<S>, what: string): Promise<RunState<S, R>> {
  let execution: string;
  try {
    execution = (await handle.describe()).status.name;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new NotFoundError(what, handle.workflowId);
    throw err;
  }
  const state: RunState<S, R> = { workflowId: handle.workflowId, execution };
  try {
    state.status = await handle.query(query);
  } catch {
    // No worker to answer (or the workflow failed before its first task): status stays unknown.
  }
  if (execution === 'COMPLETED') state.result = (await handle.result()) as R;
  if (execution === 'FAILED') {
    try {
      await handle.result();
    } catch (err) {
      const cause = (err as { cause?: { cause?: { message?: string }; message?: string } }).cause;
      state.error = cause?.cause?.message ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
    }
  }
  return state;
}
