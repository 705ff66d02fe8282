/** Ask Temporal whether a run's workflow still runs (the sweep leaves those alone). */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { RunLiveness } from '../activities';
import { pipelineRunWorkflowId } from '../domain/run';

export function runLivenessFrom(client: Client): RunLiveness {
  return async (runId) => {
    try {
      const desc = await client.workflow.getHandle(pipelineRunWorkflowId(runId)).describe();
      return desc.status.name === 'RUNNING' ? 'running' : 'closed';
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return 'not-found';
      throw err;
    }
  };
}
