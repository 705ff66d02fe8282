/**
 * The codec endpoint as the Temporal CLI uses it (`--codec-endpoint`): `temporal workflow show` and
 * `temporal workflow query` against a real run on the dev server, through the broker's API. The CLI
 * sends `{}` for an event without payloads; empty in, empty out. What it prints holds names and
 * references, never a value.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { buildApiServer } from '../../api/server';
import { pipelineRunWorkflowId } from '../../domain/run';
import { startTestBroker, uniqueRunId, type TestBroker } from '../harness/broker';
import { tool } from '../harness/tools';

const run = promisify(execFile);
const VALUE = 'codec-cli-value-5f1e2d3c';

let broker: TestBroker;
let api: FastifyInstance;
let codecUrl: string;

beforeAll(async () => {
  broker = await startTestBroker();
  const ids = await broker.seed();
  await broker.vault.setSecret({ scope: 'workspace', ownerId: ids.workspaceId, name: 'DB_PASSWORD', value: VALUE });
  const ce = await broker.vault.createComputeEnv({ workspaceId: ids.workspaceId, name: 'laptop', platform: 'local', config: {} });
  api = buildApiServer({ vault: broker.vault, runs: broker.runs, codec: { codec: broker.codec, allowedOrigins: [] }, logger: { info() {}, warn() {}, error() {} } });
  const address = await api.listen({ host: '127.0.0.1', port: 0 });
  codecUrl = `${address}/codec`;
  runId = uniqueRunId('codec');
  await broker.runs.launch({ runId, workspaceId: ids.workspaceId, userId: ids.userId, computeEnvId: ce.id, secretNames: ['DB_PASSWORD'] });
  await broker.runs.complete(runId, 'succeeded');
  await broker.runs.waitClosed(runId);
});
let runId: string;

afterAll(async () => {
  await api?.close();
  await broker?.stop();
});

const temporal = (args: string[]) =>
  run(tool('temporal'), [...args, '--address', broker.temporal.address, '--namespace', broker.temporal.namespace, '--codec-endpoint', codecUrl, '--output', 'json'], {
    maxBuffer: 16 * 1024 * 1024,
  });

test('temporal workflow show decodes the whole history through the endpoint', async () => {
  const { stdout } = await temporal(['workflow', 'show', '--workflow-id', pipelineRunWorkflowId(runId)]);
  expect(stdout).toContain('"placeSecrets"');
  // Every payload came back decoded (json/plain), none still encrypted; their data reads as JSON.
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  expect(stdout).toContain(b64('json/plain'));
  expect(stdout).not.toContain(b64('binary/encrypted'));
  const data = [...stdout.matchAll(/"data": "([A-Za-z0-9+/=]*)"/g)].map((m) => Buffer.from(m[1]!, 'base64').toString('utf8')).join('\n');
  expect(data).toContain('"secretNames":["DB_PASSWORD"]'); // names and references are readable
  expect(data).toContain('"phase":"deleted"');
  expect(stdout + data).not.toContain(VALUE);
});

test('temporal workflow query reads the decoded status', async () => {
  const { stdout } = await temporal(['workflow', 'query', '--workflow-id', pipelineRunWorkflowId(runId), '--type', 'status']);
  expect(stdout).toContain('"phase": "deleted"');
  expect(stdout).not.toContain(VALUE);
});

test('an empty payload list, as protobuf JSON sends it, is answered with an empty list', async () => {
  for (const op of ['encode', 'decode']) {
    const r = await api.inject({ method: 'POST', url: `/codec/${op}`, payload: {} });
    expect({ status: r.statusCode, body: r.json() }).toEqual({ status: 200, body: { payloads: [] } });
  }
  const bad = await api.inject({ method: 'POST', url: '/codec/decode', payload: { payloads: 'x' } });
  expect(bad.statusCode).toBe(400);
});
