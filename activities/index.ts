/** Every activity the worker registers, built over injected dependencies. */
import { createPipelineRunActivities, type ActivityDeps } from './pipeline-run';
import { createRotationActivities, type RotationDeps } from './rotation';
import { createSweepActivities, type RunLiveness } from './sweep';
import { createCleanupActivities, type RunsReader } from './cleanup';
import { createVaultKeyActivities } from './vault-key';
import { createAuditActivities } from './audit';

export type { ActivityDeps, DeleteResult, PushInput, RefsInput } from './pipeline-run';
export type { RunLiveness, SweepResult } from './sweep';
export type { AuditActivities, SystemEvent } from './audit';
export type { RotationDeps } from './rotation';
export type { RunsReader, AbandonedRun } from './cleanup';

export function createActivities(deps: ActivityDeps & { runLiveness: RunLiveness; runsReader: RunsReader; rotators?: RotationDeps['rotators'] }) {
  // deps.metrics (ActivityDeps) reaches every group: pushes, deletes, verification, sweep, rotations.
  return {
    ...createPipelineRunActivities(deps),
    ...createSweepActivities(deps),
    ...createCleanupActivities(deps),
    ...createRotationActivities(deps),
    ...createVaultKeyActivities(deps),
    ...createAuditActivities(deps),
  };
}
