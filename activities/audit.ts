/**
 * The audit trail's records of what the broker does on its own, with no API call behind it: a run
 * ended by its lease, a terminated run cleaned up by the reaper, a rotation fired by its schedule.
 * The API records every call it answers (api/auth.ts); these records come from the workflows, as
 * `via: system`, with no actor. Names and counts only, never a value.
 */
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
    /** Append one system record. A retry after a lost completion may append it twice; never a value. */
    async auditSystemEvent(e: SystemEvent): Promise<void> {
      // A rotation knows its credential, not its workspace: the record is filed under the credential's.
      let workspaceId = e.workspaceId;
      if (!workspaceId && e.target.credential) workspaceId = await deps.vault.getCredential(e.target.credential).then((c) => c.workspaceId, () => undefined);
      await deps.vault.audit.append({
        via: 'system',
        action: e.action,
        ...(workspaceId ? { workspaceId } : {}),
        target: e.target,
        outcome: e.outcome,
        ...(e.detail ? { detail: e.detail } : {}),
      });
    },
  };
}

export type AuditActivities = ReturnType<typeof createAuditActivities>;
