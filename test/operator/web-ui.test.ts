/**
 * The operator's view, in a browser: the dev server's Temporal Web UI, wired to the broker API's codec
 * endpoint as `make start` wires it, finds a run by BrokerWorkspace and shows what it is and why it is
 * stuck without anyone opening a payload. The run is an hpc run whose cluster (sshd) went away after
 * the launch, so its delete rounds fail. Debian's chromium, driven by playwright-core (no browser
 * download); the screenshot it saves (.data/screenshots/, or docs/ with UPDATE_SCREENSHOTS=1) is docs/operator-ui.png, which docs/operator.md shows.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { FastifyInstance } from 'fastify';
import { buildApiServer, type ApiLogger } from '../../api/server';
import { pipelineRunWorkflowId } from '../../domain/run';
import { grant, harnessIdentity, type TestIdentity } from '../api/helpers';
import { eventually, startTestBroker, uniqueRunId, type TestBroker } from '../harness/broker';
import { currentDetails } from '../harness/history';
import { freePort } from '../harness/process';
import { startSshd, type Sshd } from '../harness/sshd';
import { startTemporal, type TemporalServer } from '../harness/temporal';

const CHROMIUM = '/usr/bin/chromium'; // scripts/test-deps.d/60-chromium.sh; jest.config.js fails the run without it
// docs/ with UPDATE_SCREENSHOTS=1 (commit them when the UI's look changes); else .data/, so a test
// run leaves the tree as it was.
const SHOTS = process.env.UPDATE_SCREENSHOTS === '1' ? path.join(__dirname, '../../docs') : path.join(__dirname, '../../.data/screenshots');
fs.mkdirSync(SHOTS, { recursive: true });
const SCREENSHOT = path.join(SHOTS, 'operator-ui.png');
const LIST_SCREENSHOT = path.join(SHOTS, 'operator-ui-list.png');
const WS_VALUE = 'ui-workspace-value-3f9c1e7a52';
const USER_VALUE = 'ui-user-value-8b4d2a6c0e1f';

const quiet: ApiLogger = { info: () => {}, warn: () => {}, error: () => {} };

let sshd: Sshd;
let temporal: TemporalServer;
let broker: TestBroker;
let api: FastifyInstance;
let browser: Browser | undefined;
let uiUrl: string;
let ids: Awaited<ReturnType<TestBroker['seed']>>;
/** The launch service: a member of the workspace that launches for its users. */
let launcher: TestIdentity;

beforeAll(async () => {
  const [apiPort, uiPort] = [await freePort(), await freePort()];
  uiUrl = `http://127.0.0.1:${uiPort}`;
  sshd = await startSshd();
  temporal = await startTemporal({ ui: { port: uiPort, codecEndpoint: `http://127.0.0.1:${apiPort}/codec` } });
  broker = await startTestBroker({ temporal });
  api = buildApiServer({ vault: broker.vault, runs: broker.runs, logger: quiet, codec: { codec: broker.codec, allowedOrigins: [uiUrl] } });
  await api.listen({ host: '127.0.0.1', port: apiPort });

  ids = await broker.seed();
  launcher = await harnessIdentity(broker.vault);
  await grant(broker.vault, ids.workspaceId, launcher.id, 'launch', true);
  await grant(broker.vault, ids.workspaceId, ids.userId, 'launch');
  const { vault } = broker;
  await vault.setSecret({ scope: 'workspace', ownerId: ids.workspaceId, name: 'DB_PASSWORD', value: WS_VALUE });
  await vault.setSecret({ scope: 'user', ownerId: ids.userId, name: 'API_TOKEN', value: USER_VALUE });
  const cred = await vault.createCredential({ workspaceId: ids.workspaceId, name: 'cluster-key', kind: 'ssh', fields: { privateKey: sshd.keys.rsa.privateKey } });
  const config = { host: sshd.host, port: sshd.port, user: sshd.user, hostKeyFingerprint: sshd.hostKeyFingerprint, workDir: sshd.makeWorkDir() };
  await vault.createComputeEnv({ workspaceId: ids.workspaceId, name: 'slurm-login', platform: 'hpc', config, credentialId: cred.id });
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await api?.close();
  await broker?.stop();
  await temporal?.stop();
  await sshd?.stop();
});

/** The page's text, with that of its frames: the UI renders user metadata (markdown) in sandboxed iframes. */
async function textOf(page: Page): Promise<string> {
  const texts = await Promise.all(page.frames().map((f) => f.locator('body').innerText({ timeout: 5_000 }).catch(() => '')));
  return texts.join('\n');
}

async function waitForText(page: Page, what: string | RegExp, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await textOf(page);
    if (typeof what === 'string' ? text.includes(what) : what.test(text)) return;
    if (Date.now() > deadline) throw new Error(`the page never showed ${what}; it shows:\n${text.slice(0, 3000)}`);
    await page.waitForTimeout(500);
  }
}

test('the Web UI finds a stuck delete by BrokerWorkspace and says what it is and why it is stuck, decoded', async () => {
  const runId = uniqueRunId('ui');
  const workflowId = pipelineRunWorkflowId(runId);
  // Launched through the API, as a launch service does: it resolves the names the UI shows.
  const launched = await api.inject({ method: 'POST', url: '/v1/runs', headers: launcher.headers, payload: { runId, workspace: ids.workspaceName, user: ids.userName, computeEnv: 'slurm-login', secrets: ['DB_PASSWORD', 'API_TOKEN'] } });
  expect(launched.statusCode).toBe(200);

  // The cluster goes away; the run ends; every delete round fails.
  await sshd.stop();
  let restarted = false;
  try {
    await broker.runs.complete(runId, 'succeeded');
    await eventually(async () => /^delete round 2 failed/.test((await broker.runs.state(runId)).lastError ?? ''), 'two failed delete rounds', 90_000);
    const handle = broker.client.workflow.getHandle(workflowId);
    const details = await currentDetails(handle);
    expect(details).toMatch(/\*\*Phase\*\* deleting \(run succeeded\) on hpc, \d+ delete rounds/);
    expect(details).toMatch(/\*\*Left to delete\*\* 2 of 2: DB\\_PASSWORD, API\\_TOKEN \(.*tower-ui/);
    expect(details).toMatch(/\*\*Last error\*\* delete round \d+ failed: .*ECONNREFUSED/);

    const page = await browser!.newPage({ viewport: { width: 1600, height: 900 } });
    try {
      // The list, filtered by the workspace's name.
      const query = `BrokerWorkspace="${ids.workspaceName}"`;
      await page.goto(`${uiUrl}/namespaces/default/workflows?query=${encodeURIComponent(query)}`, { waitUntil: 'domcontentloaded' });
      await waitForText(page, workflowId);
      fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
      await page.screenshot({ path: LIST_SCREENSHOT, fullPage: false });
      await page.getByText(workflowId, { exact: true }).first().click();

      // The run's page: summary and details decoded through the codec endpoint, and the current details.
      await waitForText(page, `run ${runId}: 2 secrets for ${ids.workspaceName}/${ids.userName} on slurm-login (hpc)`);
      // The current details sit under the User Metadata tab, beside the summary and details.
      await page.getByText('User Metadata', { exact: true }).first().click();
      await waitForText(page, 'Left to delete');
      await waitForText(page, /ECONNREFUSED/);
      const text = await textOf(page);
      for (const shown of ['Phase', 'deleting (run succeeded) on hpc', 'delete rounds', 'Left to delete', 'Last error', `Workspace ${ids.workspaceName}`, `User ${ids.userName}`, `Run ${runId}, 2 secrets`]) {
        expect(text).toContain(shown);
      }
      for (const value of [WS_VALUE, USER_VALUE]) expect(text).not.toContain(value);
      await page.screenshot({ path: SCREENSHOT, fullPage: false });
    } finally {
      await page.close();
    }

    // The cluster comes back: the next round deletes, and the run closes.
    await sshd.start();
    restarted = true;
    const final = await broker.runs.waitClosed(runId);
    expect([final.phase, final.outcome]).toEqual(['deleted', 'succeeded']);
  } finally {
    if (!restarted) await sshd.start();
  }
}, 300_000);
