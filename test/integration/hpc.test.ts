/**
 * The pipeline-run workflow end to end on an `hpc` compute environment: real Temporal dev server,
 * real worker, real vault, and a real OpenSSH sshd on loopback standing in for the cluster's login
 * node (its files are the shared storage the head job reads).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pipelineRunWorkflowId } from '../../domain/run';
import { historyText } from '../harness/history';
import { eventually, startTestBroker, uniqueRunId, type TestBroker } from '../harness/broker';
import { startSshd, type Sshd } from '../harness/sshd';
import { LaunchError } from '../../domain/errors';

let sshd: Sshd;
let broker: TestBroker;
let ids: Awaited<ReturnType<TestBroker['seed']>>;
let workDir: string;
let edCe: string; // ed25519 key with a passphrase
let rsaCe: string; // RSA key without one
const runIds: string[] = [];

const WS_VALUE = 'hpc-workspace-value-5e1f0a7c93';
const USER_VALUE = 'hpc-user-value-b8d2c4e6f1a3';

beforeAll(async () => {
  sshd = await startSshd();
  broker = await startTestBroker();
  ids = await broker.seed();
  workDir = sshd.makeWorkDir();
  const { vault } = broker;
  await vault.setSecret({ scope: 'workspace', ownerId: ids.workspaceId, name: 'DB_PASSWORD', value: WS_VALUE });
  await vault.setSecret({ scope: 'user', ownerId: ids.userId, name: 'API_TOKEN', value: USER_VALUE });
  const ed = await vault.createCredential({
    workspaceId: ids.workspaceId,
    name: 'cluster-ed25519',
    kind: 'ssh',
    fields: { privateKey: sshd.keys.ed25519.privateKey, passphrase: sshd.keys.ed25519.passphrase },
  });
  const rsa = await vault.createCredential({ workspaceId: ids.workspaceId, name: 'cluster-rsa', kind: 'ssh', fields: { privateKey: sshd.keys.rsa.privateKey } });
  const config = { host: sshd.host, port: sshd.port, user: sshd.user, hostKeyFingerprint: sshd.hostKeyFingerprint, workDir };
  edCe = (await vault.createComputeEnv({ workspaceId: ids.workspaceId, name: 'slurm-ed', platform: 'hpc', config, credentialId: ed.id })).id;
  rsaCe = (await vault.createComputeEnv({ workspaceId: ids.workspaceId, name: 'slurm-rsa', platform: 'hpc', config, credentialId: rsa.id })).id;
});

afterAll(async () => {
  await broker?.stop();
  await sshd?.close();
});

function launch(runId: string, opts: { computeEnvId?: string; leaseMs?: number } = {}) {
  runIds.push(runId);
  return broker.runs.launch({
    runId,
    workspaceId: ids.workspaceId,
    userId: ids.userId,
    computeEnvId: opts.computeEnvId ?? edCe,
    secretNames: ['DB_PASSWORD', 'API_TOKEN'],
    ...(opts.leaseMs ? { leaseMs: opts.leaseMs } : {}),
    labels: { workspace: ids.workspaceName, computeEnv: 'slurm', platform: 'hpc', user: ids.userName },
  });
}

const runDir = (runId: string) => path.join(workDir, `tower-${runId}`);
const EXPECTED_STORE = [
  { name: 'DB_PASSWORD', value: WS_VALUE },
  { name: 'API_TOKEN', value: USER_VALUE },
];

/** The store as the SSH user (the head job's identity) reads it, and its modes. */
function storeAsUser(runId: string): { entries: unknown; dirMode: number; fileMode: number; uid: number } {
  const file = path.join(runDir(runId), 'store.json');
  const cat = sshd.runAsUser('cat', [file]);
  expect(cat.code).toBe(0);
  return {
    entries: JSON.parse(cat.stdout),
    dirMode: fs.statSync(runDir(runId)).mode & 0o7777,
    fileMode: fs.statSync(file).mode & 0o7777,
    uid: fs.statSync(file).uid,
  };
}

describe('pipeline run on hpc over SSH', () => {
  test('launch → store present for the SSH user at 0600 in 0700 → complete → run directory gone', async () => {
    const runId = uniqueRunId('hpc');
    const ready = await launch(runId);
    expect(ready.platform).toBe('hpc');
    expect(ready.headJobEnv).toEqual({ NXF_SECRETS_FILE: path.join(runDir(runId), 'store.json'), NXF_ENABLE_SECRETS: 'true' });
    expect(storeAsUser(runId)).toEqual({ entries: expect.arrayContaining(EXPECTED_STORE), dirMode: 0o700, fileMode: 0o600, uid: sshd.uid });
    expect((storeAsUser(runId).entries as unknown[]).length).toBe(2);
    const state = await broker.runs.state(runId);
    expect(state.phase).toBe('ready');
    expect(state.refs.map((r) => [r.ref.platform, r.ref.remoteId, r.state])).toEqual([
      ['hpc', runDir(runId), 'pushed'],
      ['hpc', runDir(runId), 'pushed'],
    ]);

    // What the head job leaves behind goes with the directory.
    expect(sshd.runAsUser('sh', ['-c', `umask 077; echo 'export API_TOKEN="x"' > ${runDir(runId)}/.nf-9f8e7d6c.secrets`]).code).toBe(0);
    await broker.runs.complete(runId, 'succeeded');
    const final = await broker.runs.waitClosed(runId);
    expect([final.phase, final.outcome]).toEqual(['deleted', 'succeeded']);
    expect(final.refs.map((r) => r.state)).toEqual(['deleted', 'deleted']);
    expect(fs.existsSync(runDir(runId))).toBe(false);
  });

  test('cancel deletes (RSA credential without passphrase)', async () => {
    const runId = uniqueRunId('hpc');
    await launch(runId, { computeEnvId: rsaCe });
    expect(storeAsUser(runId).entries).toEqual(expect.arrayContaining(EXPECTED_STORE));
    await broker.runs.cancel(runId);
    const final = await broker.runs.waitClosed(runId);
    expect([final.phase, final.outcome]).toEqual(['deleted', 'cancelled']);
    expect(fs.existsSync(runDir(runId))).toBe(false);
  });

  test('lease expiry deletes without a completion signal', async () => {
    const runId = uniqueRunId('hpc');
    await launch(runId, { leaseMs: 2_000 });
    expect(fs.existsSync(runDir(runId))).toBe(true);
    const final = await broker.runs.waitClosed(runId);
    expect([final.phase, final.outcome]).toEqual(['deleted', 'lease-expired']);
    expect(fs.existsSync(runDir(runId))).toBe(false);
  });

  test('sshd stopped during delete: the workflow keeps retrying, and deletes once sshd is back', async () => {
    const runId = uniqueRunId('hpc');
    await launch(runId);
    await sshd.stop();
    try {
      await broker.runs.complete(runId, 'succeeded');
      await eventually(async () => /^delete round 2 failed/.test((await broker.runs.state(runId)).lastError ?? ''), 'two failed delete rounds', 60_000);
      const stuck = await broker.runs.state(runId);
      expect(stuck.phase).toBe('deleting');
      expect(stuck.lastError).toMatch(/ConnectionError|cannot connect to 127\.0\.0\.1:\d+ .*ECONNREFUSED/);
      expect(stuck.lastError).toMatch(/ECONNREFUSED/);
      expect(fs.existsSync(path.join(runDir(runId), 'store.json'))).toBe(true);
    } finally {
      await sshd.start();
    }
    const final = await broker.runs.waitClosed(runId);
    expect([final.phase, final.outcome]).toEqual(['deleted', 'succeeded']);
    expect(final.deleteAttempts).toBeGreaterThanOrEqual(3);
    expect(fs.existsSync(runDir(runId))).toBe(false);
  });

  test('a changed host key fails the launch with a host-key error and nothing reaches the host', async () => {
    const pinned = sshd.hostKeyFingerprint;
    const restore = await sshd.regenerateHostKeys();
    const runId = uniqueRunId('hpc');
    try {
      const err = await launch(runId).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LaunchError);
      expect((err as LaunchError).code).toBe('launch-failed');
      expect((err as LaunchError).type).toBe('HostKeyMismatchError');
      expect((err as LaunchError).message).toContain(pinned);
      expect((err as LaunchError).message).toContain(sshd.hostKeyFingerprints.ed25519); // what the impostor offered
      expect(fs.existsSync(runDir(runId))).toBe(false);
      // Cleanup of the planned refs refuses the impostor too: visible, not silent.
      const state = await broker.runs.state(runId);
      expect(state.phase).toBe('deleting');
      expect(state.lastError).toMatch(/host key/);
    } finally {
      await restore();
    }
    // With the trusted host back, the cleanup round finds nothing to delete.
    const final = await broker.runs.waitClosed(runId);
    expect([final.phase, final.outcome]).toEqual(['deleted', 'launch-failed']);
    expect(final.refs.map((r) => r.state)).toEqual(['not-found', 'not-found']);
  });

  test('no secret value, passphrase or key line in worker logs or workflow history', async () => {
    expect(runIds.length).toBeGreaterThanOrEqual(5);
    const keyLines = [sshd.keys.ed25519.privateKey, sshd.keys.rsa.privateKey].flatMap((k) => k.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----')));
    const forbidden = [WS_VALUE, USER_VALUE, sshd.keys.ed25519.passphrase!, ...keyLines];
    const logs = broker.workerLogs();
    const histories: string[] = [];
    for (const runId of runIds) {
      const history = await broker.client.workflow.getHandle(pipelineRunWorkflowId(runId)).fetchHistory();
      histories.push(await historyText(history, broker.codec), await historyText(history));
    }
    for (const text of [logs, sshd.output(), ...histories]) {
      for (const f of forbidden) {
        expect(text.includes(f)).toBe(false);
        expect(text.includes(Buffer.from(f).toString('base64'))).toBe(false);
      }
    }
    // Controls: the texts searched are the right ones.
    expect(logs).toContain(runIds[0]);
    expect(histories[0]).toContain('DB_PASSWORD'); // decoded history names the secrets
    expect(histories.join('\n')).toContain('HostKeyMismatchError');
  });
});
