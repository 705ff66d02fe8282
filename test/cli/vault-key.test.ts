/**
 * `secret-broker vault key-rotation ...` and the /v1/vault/master-key routes, in-process against the
 * API on 127.0.0.1:0 with a VaultKeyRotationsApi double (the Temporal side is covered by
 * test/integration/vault-key-rotation.test.ts): what the CLI sends, prints and refuses.
 */
import type { AddressInfo } from 'node:net';
import { buildApiServer } from '../../api/server';
import type { VaultKeyRotationsApi, VaultKeyRotationState, VaultKeyScheduleInfo, VaultKeyScheduleRequest } from '../../services/vault-key';
import { ConflictError, NotFoundError } from '../../domain/errors';
import { CapturingLogger, FakeRuns, harnessIdentity, openTestVault, type TestIdentity, type TestVault } from '../api/helpers';
import { runCliCaptured, type CliResult } from '../harness/cli';

class FakeVaultKeyRotations implements VaultKeyRotationsApi {
  readonly calls: string[] = [];
  schedule: (VaultKeyScheduleInfo & { req: VaultKeyScheduleRequest }) | undefined;
  running = false;
  async start() {
    this.calls.push('start');
    if (this.running) throw new ConflictError('a vault master key rotation is already running (workflow vault-master-key-rotation)');
    return { workflowId: 'vault-master-key-rotation' };
  }
  async state(workflowId?: string): Promise<VaultKeyRotationState> {
    this.calls.push(`state ${workflowId}`);
    return {
      workflowId: workflowId ?? 'vault-master-key-rotation',
      execution: 'COMPLETED',
      result: { newKeyId: 'kek-00000000000000bb', oldKeyIds: ['kek-00000000000000aa'], rewrapped: 7, skipped: 1, nextSteps: ['remove master.key.retired-kek-00000000000000aa'] },
    };
  }
  async createSchedule(req: VaultKeyScheduleRequest) {
    this.calls.push(`create ${JSON.stringify(req)}`);
    if (this.schedule) throw new ConflictError('the vault master key rotation schedule (rotate-vault-master-key) already exists; delete it first');
    this.schedule = { req, scheduleId: 'rotate-vault-master-key', paused: !!req.paused, spec: `every ${(req.everyMs ?? 0) / 86_400_000}d`, nextRuns: [], recentRuns: [] };
    return this.schedule;
  }
  private need(): VaultKeyScheduleInfo & { req: VaultKeyScheduleRequest } {
    if (!this.schedule) throw new NotFoundError('vault key rotation schedule', 'rotate-vault-master-key');
    return this.schedule;
  }
  async describeSchedule() {
    this.calls.push('describe');
    return this.need();
  }
  async pauseSchedule(note?: string) {
    this.calls.push(`pause ${note}`);
    this.need().paused = true;
  }
  async unpauseSchedule(note?: string) {
    this.calls.push(`unpause ${note}`);
    this.need().paused = false;
  }
  async triggerSchedule() {
    this.calls.push('trigger');
    this.need();
  }
  async deleteSchedule() {
    this.calls.push('delete');
    this.need();
    this.schedule = undefined;
  }
}

let tv: TestVault;
let fake: FakeVaultKeyRotations;
let app: ReturnType<typeof buildApiServer>;
let bare: ReturnType<typeof buildApiServer>;
let url: string;
let bareUrl: string;
/** The suite's caller: a broker administrator (the vault's master key is theirs to rotate). */
let harness: TestIdentity;

beforeAll(async () => {
  tv = await openTestVault();
  fake = new FakeVaultKeyRotations();
  harness = await harnessIdentity(tv.vault);
  app = buildApiServer({ vault: tv.vault, runs: new FakeRuns(tv.vault), vaultKeyRotations: fake, logger: new CapturingLogger() });
  bare = buildApiServer({ vault: tv.vault, runs: new FakeRuns(tv.vault), logger: new CapturingLogger() });
  await app.listen({ host: '127.0.0.1', port: 0 });
  await bare.listen({ host: '127.0.0.1', port: 0 });
  url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  bareUrl = `http://127.0.0.1:${(bare.server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await app?.close();
  await bare?.close();
  await tv?.close();
});

function cli(args: string[], api = url): Promise<CliResult> {
  return runCliCaptured(['--api', api, ...args], { BROKER_TOKEN: harness.token });
}

test('start --wait prints the result; a second start while one runs is a conflict', async () => {
  const r = await cli(['vault', 'key-rotation', 'start', '--wait']);
  expect(r).toMatchObject({ code: 0 });
  expect(r.stdout).toMatch(/new key:\s+kek-00000000000000bb/);
  expect(r.stdout).toMatch(/re-wrapped:\s+7/);
  expect(fake.calls).toEqual(['start', 'state vault-master-key-rotation']);
  fake.running = true;
  const again = await cli(['vault', 'key-rotation', 'start']);
  fake.running = false;
  expect(again.code).toBe(1);
  expect(again.stderr).toMatch(/already running/);
});

test('schedule create --every 90d / show / pause / unpause / trigger / delete; usage and validation errors', async () => {
  fake.calls.length = 0;
  expect((await cli(['vault', 'key-rotation', 'schedule', 'create'])).code).toBe(2);
  const tooOften = await cli(['vault', 'key-rotation', 'schedule', 'create', '--every', 'soon']);
  expect(tooOften).toMatchObject({ code: 1 });
  expect(tooOften.stderr).toMatch(/every/);

  const created = await cli(['--json', 'vault', 'key-rotation', 'schedule', 'create', '--every', '90d', '--note', 'quarterly']);
  expect(created.code).toBe(0);
  expect(JSON.parse(created.stdout)).toMatchObject({ scheduleId: 'rotate-vault-master-key', spec: 'every 90d' });
  expect(fake.schedule?.req).toEqual({ everyMs: 90 * 86_400_000, note: 'quarterly' });
  expect((await cli(['vault', 'key-rotation', 'schedule', 'create', '--every', '90d'])).stderr).toMatch(/already exists/);

  expect((await cli(['vault', 'key-rotation', 'schedule', 'show'])).stdout).toMatch(/schedule:\s+rotate-vault-master-key/);
  expect((await cli(['vault', 'key-rotation', 'schedule', 'pause', '--note', 'freeze'])).code).toBe(0);
  expect(fake.schedule?.paused).toBe(true);
  expect((await cli(['vault', 'key-rotation', 'schedule', 'unpause'])).code).toBe(0);
  expect((await cli(['vault', 'key-rotation', 'schedule', 'trigger'])).stdout).toMatch(/triggered/);
  expect((await cli(['vault', 'key-rotation', 'schedule', 'delete'])).code).toBe(0);
  const gone = await cli(['vault', 'key-rotation', 'schedule', 'show']);
  expect(gone.code).toBe(1);
  expect(gone.stderr).toMatch(/not found|does not exist/i);
  expect(fake.calls).toEqual([
    'create {"everyMs":7776000000,"note":"quarterly"}',
    'create {"everyMs":7776000000}',
    'describe',
    'pause freeze',
    'unpause undefined',
    'trigger',
    'delete',
    'describe',
  ]);
});

test('an API process without the Temporal client answers 503; a workflow id of another kind is refused', async () => {
  const r = await cli(['vault', 'key-rotation', 'start'], bareUrl);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/not available/);
  const bad = await cli(['vault', 'key-rotation', 'status', 'credential-rotation-x']);
  expect(bad.code).toBe(1);
  expect(bad.stderr).toMatch(/workflowId/);
});
