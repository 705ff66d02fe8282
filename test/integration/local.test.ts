/**
 * The pipeline-run workflow end to end on the `local` compute environment: real Temporal dev server,
 * real worker, real vault, real files.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { sweepOrphans } from '../../workflows/sweep';
import { pipelineRunWorkflowId } from '../../domain/run';
import { currentDetails, historyText } from '../harness/history';
import { eventually, startTestBroker, uniqueRunId, type TestBroker } from '../harness/broker';
import { LaunchError } from '../../domain/errors';

let broker: TestBroker;
let ids: Awaited<ReturnType<TestBroker['seed']>>;
let ceId: string;

const WS_VALUE = 'workspace-value-7f3a91c2e5';
const USER_VALUE = 'user-value-c0ffee4b1d9e';
const OTHER_VALUE = 'other-value-9d8e7f6a5b4c';

beforeAll(async () => {
  broker = await startTestBroker();
  ids = await broker.seed();
  await broker.vault.setSecret({ scope: 'workspace', ownerId: ids.workspaceId, name: 'DB_PASSWORD', value: WS_VALUE });
  await broker.vault.setSecret({ scope: 'user', ownerId: ids.userId, name: 'DB_PASSWORD', value: USER_VALUE });
  await broker.vault.setSecret({ scope: 'workspace', ownerId: ids.workspaceId, name: 'API_TOKEN', value: OTHER_VALUE });
  const ce = await broker.vault.createComputeEnv({ workspaceId: ids.workspaceId, name: 'laptop', platform: 'local', config: {} });
  ceId = ce.id;
});

afterAll(async () => {
  await broker?.stop();
});

function launch(runId: string, secretNames = ['DB_PASSWORD', 'API_TOKEN'], leaseMs?: number) {
  return broker.runs.launch({
    runId,
    workspaceId: ids.workspaceId,
    userId: ids.userId,
    computeEnvId: ceId,
    secretNames,
    ...(leaseMs ? { leaseMs } : {}),
    labels: { workspace: ids.workspaceName, computeEnv: 'laptop', platform: 'local', user: ids.userName },
  });
}

const runDir = (runId: string) => path.join(broker.localWorkDir, `tower-${runId}`);

describe('pipeline run on local', () => {
  test('launch → ready with the user value at 0600 → complete → directory gone', async () => {
    const runId = uniqueRunId();
    const ready = await launch(runId);

    expect(ready.platform).toBe('local');
    expect(ready.headJobEnv.NXF_ENABLE_SECRETS).toBe('true');
    const file = ready.headJobEnv.NXF_SECRETS_FILE;
    expect(file).toBe(path.join(runDir(runId), 'store.json'));
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(runDir(runId)).mode & 0o777).toBe(0o700);
    const store = JSON.parse(fs.readFileSync(file, 'utf8')) as { name: string; value: string }[];
    expect(store).toEqual(
      expect.arrayContaining([
        { name: 'DB_PASSWORD', value: USER_VALUE }, // the user's secret overrides the workspace's
        { name: 'API_TOKEN', value: OTHER_VALUE },
      ]),
    );
    expect(store).toHaveLength(2);

    const state = await broker.runs.state(runId);
    expect(state.phase).toBe('ready');
    expect(state.refs.map((r) => r.state)).toEqual(['pushed', 'pushed']);
    expect(JSON.stringify(state)).not.toContain(USER_VALUE);

    // Nextflow leaves .nf-<hash>.secrets files beside the store: they go with the directory.
    fs.writeFileSync(path.join(runDir(runId), '.nf-abc123.secrets'), 'export X="y"\n', { mode: 0o600 });
    await broker.runs.complete(runId, 'succeeded');
    const final = await broker.runs.waitClosed(runId);
    expect(final.phase).toBe('deleted');
    expect(final.outcome).toBe('succeeded');
    expect(final.refs.every((r) => r.state === 'deleted')).toBe(true);
    expect(fs.existsSync(runDir(runId))).toBe(false);
  });

  test('cancel deletes the secrets', async () => {
    const runId = uniqueRunId();
    await launch(runId);
    expect(fs.existsSync(runDir(runId))).toBe(true);
    await broker.runs.cancel(runId);
    const final = await broker.runs.waitClosed(runId);
    expect(final.outcome).toBe('cancelled');
    expect(final.phase).toBe('deleted');
    expect(fs.existsSync(runDir(runId))).toBe(false);
  });

  test('lease expiry deletes the secrets without a completion signal', async () => {
    const runId = uniqueRunId();
    const ready = await launch(runId, ['API_TOKEN'], 2_000);
    expect(Date.parse(ready.leaseExpiresAt) - Date.now()).toBeLessThanOrEqual(2_000);
    const final = await broker.runs.waitClosed(runId);
    expect(final.outcome).toBe('lease-expired');
    expect(fs.existsSync(runDir(runId))).toBe(false);
    // No API call ended the run: its workflow put it on the workspace's audit trail, as the system.
    const trail = await broker.vault.audit.list({ workspaceIds: [ids.workspaceId], limit: 500 });
    expect(trail.filter((r) => r.target?.runId === runId).map((r) => [r.via, r.action, r.outcome, r.detail])).toEqual([['system', 'runLeaseExpired', 'ok', { deleted: 1 }]]);
    expect((await broker.vault.audit.verify()).ok).toBe(true);
  });

  test('renewing the lease keeps the secrets past the original expiry', async () => {
    const runId = uniqueRunId();
    await launch(runId, ['API_TOKEN'], 3_000);
    const renewed = await broker.runs.renew(runId, 60_000);
    await new Promise((r) => setTimeout(r, 4_000));
    const state = await broker.runs.state(runId);
    expect(state.phase).toBe('ready');
    expect(state.leaseExpiresAt).toBe(renewed.leaseExpiresAt);
    expect(fs.existsSync(runDir(runId))).toBe(true);
    await broker.runs.complete(runId, 'failed');
    expect((await broker.runs.waitClosed(runId)).outcome).toBe('failed');
    expect(fs.existsSync(runDir(runId))).toBe(false);
    // Renewing a run that ended is refused, saying how it ended.
    await expect(broker.runs.renew(runId, 60_000)).rejects.toMatchObject({ code: 'already-ended', outcome: 'failed' });
  });

  test('a worker stopped between push and delete: a new worker still deletes', async () => {
    const runId = uniqueRunId();
    await launch(runId);
    await broker.stopWorker();
    await broker.runs.complete(runId, 'succeeded'); // recorded by the server while no worker runs
    await new Promise((r) => setTimeout(r, 500));
    expect(fs.existsSync(runDir(runId))).toBe(true);
    await broker.startWorker();
    const final = await broker.runs.waitClosed(runId);
    expect(final.outcome).toBe('succeeded');
    expect(fs.existsSync(runDir(runId))).toBe(false);
  });

  test('a second launch of the same run id: the same request gets the same answer, another one is refused, an ended run is not launched again', async () => {
    // Launch is idempotent (issue: a launch could not be safely retried); test/integration/retries.test.ts has the rest.
    const runId = uniqueRunId();
    const first = await launch(runId);
    await expect(launch(runId)).resolves.toEqual(first);
    await expect(launch(runId, ['DB_PASSWORD'])).rejects.toMatchObject({ name: 'LaunchError', code: 'duplicate-run' });
    await broker.runs.complete(runId, 'succeeded');
    await broker.runs.waitClosed(runId);
    // A run that got past its launch is not relaunched: its run id is spent.
    await expect(launch(runId)).rejects.toMatchObject({ code: 'already-ended', outcome: 'succeeded' });
  });

  test('a missing secret fails the launch at once, naming it, and leaves nothing', async () => {
    const runId = uniqueRunId();
    const err = await launch(runId, ['API_TOKEN', 'NOT_THERE', 'ALSO_MISSING']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LaunchError);
    expect((err as LaunchError).code).toBe('launch-failed');
    expect((err as LaunchError).type).toBe('SecretNotFoundError');
    expect((err as LaunchError).message).toContain('NOT_THERE');
    expect((err as LaunchError).message).toContain('ALSO_MISSING');
    const final = await broker.runs.waitClosed(runId);
    expect(final.outcome).toBe('launch-failed');
    expect(fs.existsSync(runDir(runId))).toBe(false);
  });

  test("a value Nextflow would not pass to tasks unchanged fails the launch naming the secret and the character, never the value, and leaves nothing", async () => {
    const quoted = 'quoted-"value"-5e1d';
    await broker.vault.setSecret({ scope: 'workspace', ownerId: ids.workspaceId, name: 'QUOTED', value: quoted });
    const runId = uniqueRunId();
    const err = await launch(runId, ['API_TOKEN', 'QUOTED']).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'LaunchError', code: 'launch-failed', type: 'InvalidInputError' });
    expect((err as LaunchError).message).toMatch(/secret QUOTED holds a double quote \(\"\), which Nextflow's local secrets provider does not pass to tasks unchanged/);
    expect((err as LaunchError).message).not.toContain('5e1d');
    expect((await broker.runs.waitClosed(runId)).outcome).toBe('launch-failed');
    expect(fs.existsSync(runDir(runId))).toBe(false);
  });

  test('operators find the run by its search attributes', async () => {
    const runId = uniqueRunId();
    await launch(runId, ['API_TOKEN']);
    const query = `BrokerRunId = "${runId}" AND BrokerWorkspace = "${ids.workspaceName}" AND BrokerPlatform = "local" AND BrokerPhase = "ready"`;
    await eventually(async () => {
      for await (const wf of broker.client.workflow.list({ query })) return wf.workflowId === pipelineRunWorkflowId(runId);
      return false;
    }, 'the run to be listed by its search attributes');
    const handle = broker.client.workflow.getHandle(pipelineRunWorkflowId(runId));
    const desc = await handle.describe();
    expect(desc.memo).toMatchObject({ workspace: ids.workspaceName, computeEnv: 'laptop', secretNames: ['API_TOKEN'] });
    // The Web UI's summary, details and current details say what the run is and where it stands.
    expect(await desc.staticSummary()).toBe(`run ${runId}: 1 secret for ${ids.workspaceName}/${ids.userName} on laptop (local)`);
    const details = await desc.staticDetails();
    for (const line of [`**Run** ${runId}, 1 secret`, `**Workspace** ${ids.workspaceName.replace(/_/g, '\\_')}`, '**Compute environment** laptop (local)']) expect(details).toContain(line);
    expect(await currentDetails(handle)).toMatch(/^\*\*Phase\*\* ready on local {2}\n\*\*Lease expires\*\* \d{4}-/);
    await broker.runs.complete(runId, 'succeeded');
    await broker.runs.waitClosed(runId);
  });

  test('no secret value in workflow history (raw or decoded) or worker logs', async () => {
    const runId = uniqueRunId();
    await launch(runId);
    const workflowId = pipelineRunWorkflowId(runId);
    const handle = broker.client.workflow.getHandle(workflowId);
    // What the Web UI shows without opening payloads: summary, details, current details (ready, deleted).
    const desc = await handle.describe();
    const shown = [(await desc.staticSummary()) ?? '', (await desc.staticDetails()) ?? '', await currentDetails(handle)];
    await broker.runs.complete(runId, 'succeeded');
    await broker.runs.waitClosed(runId);
    shown.push(await currentDetails(handle));
    expect(shown.join('\n')).toContain(`run ${runId}: 2 secrets for`);
    expect(shown.join('\n')).toContain('**Phase** deleted (run succeeded) on local, 1 delete round');

    const history = await handle.fetchHistory();
    // Raw, as the server stores it, and decoded with the broker's codec: references only.
    const rawHistory = await historyText(history);
    const decoded = await historyText(history, broker.codec);
    // Control: the worker's log lines for this run have arrived (they may trail the workflow's close).
    await eventually(async () => broker.workerLogs().includes(runId), 'the worker to log this run');
    const logs = broker.workerLogs();

    for (const value of [WS_VALUE, USER_VALUE, OTHER_VALUE]) {
      for (const text of [decoded, rawHistory, logs, ...shown]) {
        expect(text).not.toContain(value);
        expect(text).not.toContain(Buffer.from(value).toString('base64'));
      }
    }
    // Controls: the searches can find things. Decoded history names the secrets; raw history is
    // encrypted, so not even the names appear there.
    expect(decoded).toContain('DB_PASSWORD');
    expect(rawHistory).not.toContain('DB_PASSWORD');
    // The summary is a payload too: encrypted in raw history, readable through the codec.
    expect(decoded).toContain(`run ${runId}: 2 secrets for`);
    expect(rawHistory).not.toContain(`run ${runId}: 2 secrets for`);
  });

  test('the sweep deletes what a terminated run left, and leaves live runs and foreign directories alone', async () => {
    const live = uniqueRunId('live');
    const orphan = uniqueRunId('orphan');
    await launch(live, ['API_TOKEN']);
    await launch(orphan, ['API_TOKEN']);
    // An operator terminates the orphan's workflow: no cleanup runs, its file stays behind.
    await broker.client.workflow.getHandle(pipelineRunWorkflowId(orphan)).terminate('operator test');
    const foreign = path.join(broker.localWorkDir, 'tower-foreign');
    fs.mkdirSync(foreign, { mode: 0o700 });
    fs.writeFileSync(path.join(foreign, 'store.json'), '[]');
    expect(fs.existsSync(runDir(orphan))).toBe(true);

    const summary = await broker.client.workflow.execute(sweepOrphans, { taskQueue: broker.taskQueue, workflowId: `sweep-${uniqueRunId()}` });

    expect(fs.existsSync(runDir(orphan))).toBe(false);
    expect(fs.existsSync(runDir(live))).toBe(true);
    expect(fs.existsSync(path.join(foreign, 'store.json'))).toBe(true);
    expect(summary.deleted).toBeGreaterThanOrEqual(1);
    expect(summary.kept).toBeGreaterThanOrEqual(1);
    expect(summary.failed).toEqual([]);
    await broker.runs.complete(live, 'succeeded');
    await broker.runs.waitClosed(live);
  });
});
