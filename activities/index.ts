/** Every activity the worker registers, built over injected dependencies. */
import { createPipelineRunActivities, type ActivityDeps } from './pipeline-run';
import { createRotationActivities, type RotationDeps } from './rotation';
import { createSweepActivities, type RunLiveness } from './sweep';
import { createVaultKeyActivities } from './vault-key';

export type { ActivityDeps, DeleteResult, PushInput, RefsInput } from './pipeline-run';
export type { RunLiveness, SweepResult } from './sweep';
export type { RotationDeps } from './rotation';

export function createActivities(deps: ActivityDeps & { runLiveness: RunLiveness; rotators?: RotationDeps['rotators'] }) {
  // deps.metrics (ActivityDeps) reaches every group: pushes, deletes, verification, sweep, rotations.
  return {
    ...createPipelineRunActivities(deps),
    ...createSweepActivities(deps),
    ...createRotationActivities(deps),
    ...createVaultKeyActivities(deps),
  };
}
