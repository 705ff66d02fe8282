/**
 * The audit trail's records of what the broker does on its own, with no API call behind it: a run
 * ended by its lease, a terminated run cleaned up by the reaper, a rotation fired by its schedule.
 * The API records every call it answers (api/auth.ts); these records come from the workflows, as
 * `via: system`, with no actor. Names and counts only, never a value.
 */
import { Context } from '@temporalio/activity';
import type { VaultApi } from '../store/types';

export interface SystemEvent {
  /** What happened, in the API's operation-id style: runLeaseExpired, terminatedRunCleanedUp ... */
  action: string;
  workspaceId?: string;
  /** What it happened to (run id, account ...), as the API's records name their route parameters. */
  target: Record<string, string>;
  outcome: 'ok' | 'failed';
  detail?: Record<string, string | number | boolean>;
}

export function createAuditActivities(deps: { vault: VaultApi }) {
  return {
    /**
     * Append one system record, once: the key is this activity's workflow, run and activity ids, which
     * every retry shares, so an attempt that wrote the record before its worker was lost is not
     * written again by the next. Never a value.
     */
    async auditSystemEvent(e: SystemEvent): Promise<void> {
      const { workflowExecution: wf, activityId } = Context.current().info;
      const once = wf ? { eventKey: `${wf.workflowId}/${wf.runId}/${activityId}` } : {};
      // A rotation knows its credential, not its workspace: the record is filed under the credential's.
      let workspaceId = e.workspaceId;
      if (!workspaceId && e.target.credential) workspaceId = await deps.vault.getCredential(e.target.credential).then((c) => c.workspaceId, () => undefined);
      const entry = { via: 'system', action: e.action, ...(workspaceId ? { workspaceId } : {}), target: e.target, outcome: e.outcome, ...(e.detail ? { detail: e.detail } : {}) } as const;
      await deps.vault.audit.append(entry, once);
    },
  };
}

export type AuditActivities = ReturnType<typeof createAuditActivities>;
