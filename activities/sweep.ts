/**
 * The sweep's activities: find what the broker owns in each compute environment and delete what
 * belongs to runs whose workflow is closed or gone (an operator terminated it, or history expired).
 */
import { heartbeating } from './heartbeat';
import type { SecretTarget } from '../targets/types';
import type { ComputeEnv, VaultApi } from '../store/types';
import type { RemoteRef } from '../domain/run';
import { toFailure } from './errors';

/** Whether a run's workflow still runs: a running workflow deletes its own secrets. */
export type RunLiveness = (runId: string) => Promise<'running' | 'closed' | 'not-found'>;

export interface SweepDeps {
  vault: VaultApi;
  target(ce: ComputeEnv): Promise<SecretTarget>;
  runLiveness: RunLiveness;
}

export interface SweepResult {
  computeEnvId: string;
  owned: number;
  deleted: number;
  kept: number;
  notOwned: number;
}

export function createSweepActivities(deps: SweepDeps) {
  return {
    /** Every compute environment id, across workspaces. */
    async listComputeEnvIds(): Promise<string[]> {
      const ids: string[] = [];
      for (const ws of await deps.vault.listWorkspaces()) {
        for (const ce of await deps.vault.listComputeEnvs(ws.id)) ids.push(ce.id);
      }
      return ids;
    },

    /** Delete the orphans of one compute environment. */
    sweepComputeEnv: (computeEnvId: string): Promise<SweepResult> =>
      heartbeating(async ({ progress, signal }) => {
        const result: SweepResult = { computeEnvId, owned: 0, deleted: 0, kept: 0, notOwned: 0 };
        let target: SecretTarget | undefined;
        try {
          const ce = await deps.vault.getComputeEnv(computeEnvId);
          target = await deps.target(ce);
          const owned = await target.listOwned();
          result.owned = owned.length;
          for (const obj of owned) {
            signal.throwIfAborted();
            progress({ ...result });
            if ((await deps.runLiveness(obj.runId)) === 'running') {
              result.kept++;
              continue;
            }
            const ref: RemoteRef = { platform: ce.platform, computeEnvId, secretName: '(sweep)', remoteId: obj.remoteId };
            const [outcome] = await target.delete({ runId: obj.runId, workspaceId: obj.workspaceId, computeEnv: ce, signal }, [ref]);
            if (outcome === 'not-owned') result.notOwned++;
            else result.deleted++;
          }
          return result;
        } catch (err) {
          throw toFailure(err, [], `sweep of compute environment ${computeEnvId}`);
        } finally {
          await target?.close();
        }
      }),
  };
}
