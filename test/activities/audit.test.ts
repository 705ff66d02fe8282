/**
 * auditSystemEvent in MockActivityEnvironment over a real (PGlite) vault: a retried attempt of the
 * same activity (its first attempt wrote the record, then its worker was lost) writes nothing more;
 * another activity, or another run of the workflow, is another record. Names only, never a value.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { createAuditActivities, type SystemEvent } from '../../activities/audit';
import type { VaultApi } from '../../store/types';
import { openVault } from '../../store/vault';
import { useBackend, vaultOptions } from '../store/backends';

const backend = useBackend('pglite');
let vault: VaultApi;
beforeAll(async () => {
  vault = await openVault(vaultOptions(await backend.fresh()));
});
afterAll(async () => {
  await vault?.close();
});

const EVENT: SystemEvent = { action: 'runLeaseExpired', target: { runId: 'r-lease' }, outcome: 'ok', detail: { deleted: 2 } };
const attempt = (activityId: string, runId: string, n: number) =>
  new MockActivityEnvironment({ activityId, attempt: n, workflowExecution: { workflowId: 'run-r-lease', runId } });

test('a retried attempt appends nothing more; another activity or workflow run appends its own record', async () => {
  const acts = createAuditActivities({ vault });
  await attempt('7', 'wf-run-1', 1).run(acts.auditSystemEvent, EVENT);
  await attempt('7', 'wf-run-1', 2).run(acts.auditSystemEvent, EVENT);
  expect(await vault.audit.list({ limit: 10, action: 'runLeaseExpired' })).toHaveLength(1);

  await attempt('8', 'wf-run-1', 1).run(acts.auditSystemEvent, EVENT);
  await attempt('7', 'wf-run-2', 1).run(acts.auditSystemEvent, EVENT);
  const records = await vault.audit.list({ limit: 10, action: 'runLeaseExpired' });
  expect(records).toHaveLength(3);
  expect(records.every((r) => r.via === 'system' && r.actor === undefined && r.target?.runId === 'r-lease')).toBe(true);
  expect(await vault.audit.verify()).toMatchObject({ ok: true, records: 3 });
});
