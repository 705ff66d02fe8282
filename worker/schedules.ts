/** The broker's own schedules, created once and left alone afterwards (operators may pause them). */
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import type { Duration } from '@temporalio/common';
import { SWEEP_SCHEDULE_ID, sweepOrphans } from '../workflows/sweep';

export async function ensureSweepSchedule(client: Client, taskQueue: string, every: Duration = '1h'): Promise<'created' | 'exists'> {
  try {
    await client.schedule.create({
      scheduleId: SWEEP_SCHEDULE_ID,
      spec: { intervals: [{ every }] },
      action: { type: 'startWorkflow', workflowType: sweepOrphans, taskQueue, workflowId: 'secret-broker-sweep-run' },
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
      memo: { purpose: 'delete broker-owned secrets of runs whose workflow is closed' },
    });
    return 'created';
  } catch (err) {
    if (err instanceof ScheduleAlreadyRunning) return 'exists';
    throw err;
  }
}
