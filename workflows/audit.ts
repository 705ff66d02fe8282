/** The audit trail's system records, written from workflows (activities/audit.ts). */
import { log, proxyActivities } from '@temporalio/workflow';
import type { AuditActivities, SystemEvent } from '../activities/audit';
import { vaultRead } from './activity-options';
import { errorMessage } from './failures';

const { auditSystemEvent } = proxyActivities<AuditActivities>(vaultRead);

/** Record what the broker did on its own. A trail that cannot be written is logged; the workflow goes on. */
export async function auditSystem(e: SystemEvent): Promise<void> {
  try {
    await auditSystemEvent(e);
  } catch (err) {
    log.warn('could not write the audit record', { action: e.action, error: errorMessage(err) });
  }
}
