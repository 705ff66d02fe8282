/** Every activity the worker registers, built over injected dependencies. */
import { createPipelineRunActivities, type ActivityDeps } from './pipeline-run';

export type { ActivityDeps, DeleteResult, PushInput, RefsInput } from './pipeline-run';

export function createActivities(deps: ActivityDeps) {
  return {
    ...createPipelineRunActivities(deps),
  };
}
