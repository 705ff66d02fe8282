/**
 * Where runs are, without asking their workflows: Temporal's visibility (search attributes and
 * memo), which answers while no worker runs. The API uses it to authorize a call on a run (whose
 * workspace, whose user) before acting, and to list a workspace's runs page by page.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { decodeMapFromPayloads } from '@temporalio/common/lib/internal-non-workflow';
import { LaunchError } from '../domain/errors';
import { pipelineRunWorkflowId, SearchAttr, type Phase } from '../domain/run';
import { TEMPORAL_CALL_DEADLINE_MS, withTemporal } from './temporal';
import type { RunDirectoryApi, RunListFilter, RunListPage, RunLocation, RunSummary } from './types';

/** The workflow type of a pipeline run (workflows/pipeline-run.ts). */
const PIPELINE_RUN_TYPE = 'pipelineRun';

/** A visibility query literal. Names reaching here follow the entity rule; quotes are escaped anyway. */
function literal(v: string): string {
  return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** Search attribute values are JSON payloads (never encoded by the payload codec). */
function keyword(p: Payload | null | undefined): string | undefined {
  if (!p?.data) return undefined;
  try {
    const v = JSON.parse(Buffer.from(p.data).toString('utf8')) as unknown;
    return typeof v === 'string' ? v : Array.isArray(v) && typeof v[0] === 'string' ? v[0] : undefined;
  } catch {
    return undefined;
  }
}

const STATUS_NAMES: Record<number, string> = {
  1: 'RUNNING',
  2: 'COMPLETED',
  3: 'FAILED',
  4: 'CANCELLED',
  5: 'TERMINATED',
  6: 'CONTINUED_AS_NEW',
  7: 'TIMED_OUT',
};

function iso(ts: { seconds?: unknown; nanos?: number | null } | null | undefined): string | undefined {
  if (!ts || ts.seconds == null) return undefined;
  return new Date(Number(ts.seconds) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6)).toISOString();
}

export class RunDirectory implements RunDirectoryApi {
  constructor(
    private readonly client: Client,
    /** How long one visibility call may take before it answers Temporal unavailable (503). */
    private readonly callDeadlineMs = TEMPORAL_CALL_DEADLINE_MS,
  ) {}

  async locate(runId: string): Promise<RunLocation> {
    let d;
    try {
      d = await withTemporal(this.client.connection, `look-up of run ${runId}`, () => this.client.workflow.getHandle(pipelineRunWorkflowId(runId)).describe(), this.callDeadlineMs);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new LaunchError(`run ${runId} not found`, 'not-found');
      throw err;
    }
    const sa = d.raw.workflowExecutionInfo?.searchAttributes?.indexedFields ?? {};
    const workspace = keyword(sa[SearchAttr.Workspace]);
    if (!workspace) throw new LaunchError(`run ${runId} not found`, 'not-found');
    const user = typeof d.memo?.user === 'string' ? d.memo.user : undefined;
    return { runId, workspace, ...(user ? { user } : {}) };
  }

  async list(filter: RunListFilter): Promise<RunListPage> {
    const clauses = [`WorkflowType = ${literal(PIPELINE_RUN_TYPE)}`, `${SearchAttr.Workspace} = ${literal(filter.workspace)}`, `ExecutionStatus != "ContinuedAsNew"`];
    if (filter.phase) clauses.push(`${SearchAttr.Phase} = ${literal(filter.phase)}`);
    if (filter.computeEnv) clauses.push(`${SearchAttr.ComputeEnv} = ${literal(filter.computeEnv)}`);
    if (filter.execution === 'running') clauses.push('ExecutionStatus = "Running"');
    if (filter.execution === 'closed') clauses.push('ExecutionStatus != "Running"');
    const res = await withTemporal(
      this.client.connection,
      `list of runs of workspace ${filter.workspace}`,
      () =>
        this.client.workflowService.listWorkflowExecutions({
          namespace: this.client.options.namespace,
          pageSize: filter.pageSize,
          query: clauses.join(' AND '),
          ...(filter.pageToken ? { nextPageToken: Buffer.from(filter.pageToken, 'base64url') } : {}),
        }),
      this.callDeadlineMs,
    );
    const runs: RunSummary[] = [];
    for (const e of res.executions ?? []) {
      const sa = e.searchAttributes?.indexedFields ?? {};
      const memo = await decodeMapFromPayloads(this.client.options.loadedDataConverter, e.memo?.fields as Record<string, Payload> | undefined).catch(() => undefined);
      const runId = keyword(sa[SearchAttr.RunId]);
      if (!runId) continue;
      const platform = keyword(sa[SearchAttr.Platform]);
      const phase = keyword(sa[SearchAttr.Phase]);
      const closedAt = iso(e.closeTime);
      runs.push({
        runId,
        workflowId: e.execution?.workflowId ?? pipelineRunWorkflowId(runId),
        workspace: keyword(sa[SearchAttr.Workspace]) ?? filter.workspace,
        computeEnv: keyword(sa[SearchAttr.ComputeEnv]) ?? '',
        ...(platform ? { platform } : {}),
        ...(phase ? { phase: phase as Phase } : {}),
        execution: STATUS_NAMES[e.status ?? 0] ?? 'UNKNOWN',
        ...(typeof memo?.user === 'string' ? { user: memo.user } : {}),
        startedAt: iso(e.startTime) ?? '',
        ...(closedAt ? { closedAt } : {}),
      });
    }
    const next = res.nextPageToken && res.nextPageToken.length ? Buffer.from(res.nextPageToken).toString('base64url') : undefined;
    return { runs, ...(next ? { nextPageToken: next } : {}) };
  }
}
