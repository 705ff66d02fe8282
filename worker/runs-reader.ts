/** What the sweep and the cleanup of terminated runs ask Temporal about runs. */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { RunLiveness } from '../activities';
import type { RunsReader } from '../activities/cleanup';
import { isClosedBeforeFirstTask, startInput } from '../codec/start-input';
import { pipelineRunWorkflowId, statusAtStart, type PipelineRunInput, type RunStatus } from '../domain/run';
import { statusQuery } from '../workflows/pipeline-run';

/** Whether a run's workflow still runs (the sweep leaves those alone). */
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

export function runsReaderFrom(client: Client): RunsReader {
  return {
    async abandonedSince(sinceIso) {
      const ids: string[] = [];
      const query = `WorkflowType = 'pipelineRun' AND (ExecutionStatus = 'Terminated' OR ExecutionStatus = 'TimedOut') AND CloseTime >= '${sinceIso}'`;
      for await (const w of client.workflow.list({ query })) {
        const runId = w.workflowId.startsWith('pipeline-run-') ? w.workflowId.slice('pipeline-run-'.length) : undefined;
        if (runId && !ids.includes(runId)) ids.push(runId);
      }
      return ids;
    },
    async lastStatus(runId): Promise<RunStatus | undefined> {
      try {
        // A query on a closed workflow replays its history on a worker: the state it had when it stopped.
        return await client.workflow.getHandle(pipelineRunWorkflowId(runId)).query(statusQuery);
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return undefined;
        // Terminated before its first workflow task: it ran no code, so it has what it started with
        // (for a run that continued as new, the refs it carried in).
        if (isClosedBeforeFirstTask(err)) {
          const start = await startInput<PipelineRunInput>(client, pipelineRunWorkflowId(runId));
          return start && statusAtStart(start.input, start.startedAt);
        }
        throw err;
      }
    },
  };
}
