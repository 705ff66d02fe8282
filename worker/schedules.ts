/**
 * The broker's own schedules: the hourly sweep (anything the broker owns whose run is over) and the
 * one-minute reaper (runs terminated before they deleted). Created on first start; on every start
 * after that, a changed period (BROKER_SWEEP_EVERY, BROKER_REAP_EVERY) updates the schedule, and
 * nothing else is touched (operators may pause them).
 */
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import { msToNumber, type Duration } from '@temporalio/common';
import { REAPER_SCHEDULE_ID, reapTerminatedRuns } from '../workflows/cleanup';
import { SWEEP_SCHEDULE_ID, sweepOrphans } from '../workflows/sweep';

export type ScheduleState = 'created' | 'updated' | 'unchanged';

interface BrokerSchedule {
  scheduleId: string;
  every: Duration;
  workflowType: typeof sweepOrphans | typeof reapTerminatedRuns;
  workflowId: string;
  purpose: string;
}

async function ensureSchedule(client: Client, taskQueue: string, s: BrokerSchedule): Promise<ScheduleState> {
  const everyMs = msToNumber(s.every);
  try {
    await client.schedule.create({
      scheduleId: s.scheduleId,
      spec: { intervals: [{ every: everyMs }] },
      action: { type: 'startWorkflow', workflowType: s.workflowType, taskQueue, workflowId: s.workflowId },
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
      memo: { purpose: s.purpose },
    });
    return 'created';
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  const handle = client.schedule.getHandle(s.scheduleId);
  const current = (await handle.describe()).spec.intervals?.map((i) => msToNumber(i.every));
  if (current?.length === 1 && current[0] === everyMs) return 'unchanged';
  await handle.update((d) => ({ ...d, spec: { ...d.spec, intervals: [{ every: everyMs }] } }));
  return 'updated';
}

export function ensureSweepSchedule(client: Client, taskQueue: string, every: Duration = '1h'): Promise<ScheduleState> {
  return ensureSchedule(client, taskQueue, {
    scheduleId: SWEEP_SCHEDULE_ID,
    every,
    workflowType: sweepOrphans,
    workflowId: 'secret-broker-sweep-run',
    purpose: 'delete broker-owned secrets of runs whose workflow is closed',
  });
}

export function ensureReaperSchedule(client: Client, taskQueue: string, every: Duration = '1m'): Promise<ScheduleState> {
  return ensureSchedule(client, taskQueue, {
    scheduleId: REAPER_SCHEDULE_ID,
    every,
    workflowType: reapTerminatedRuns,
    workflowId: 'secret-broker-reaper-run',
    purpose: 'delete what terminated runs had pushed, within minutes of their termination',
  });
}
