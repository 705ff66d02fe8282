/** Every activity the worker registers, built over injected dependencies. */
import { createPipelineRunActivities, type ActivityDeps } from './pipeline-run';
import { createSweepActivities, type RunLiveness } from './sweep';

export type { ActivityDeps, DeleteResult, PushInput, RefsInput } from './pipeline-run';
export type { RunLiveness, SweepResult } from './sweep';

export function createActivities(deps: ActivityDeps & { runLiveness: RunLiveness }) {
  return {
    ...createPipelineRunActivities(deps),
    ...createSweepActivities(deps),
  };
}
