/**
 * The CLI's identity commands and habits against the API on the real vault: tokens made and used
 * (`--env` for eval), whoami, members, the audit trail and its check, config show, the default
 * workspace, runs list, and the exit codes and JSON errors of refusals. Tokens never reach output
 * except where one is made.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { grant, startTestApi, uniqueName, type TestApi } from '../api/helpers';
import { runCliCaptured, type CliResult } from '../harness/cli';

let api: TestApi;
let ws: string;
let alice: string;
let aliceToken: string;
let tmp: string;

beforeAll(async () => {
  api = await startTestApi();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-cli-access-'));
  ws = uniqueName('ws');
  alice = uniqueName('alice');
  expect((await admin(['workspaces', 'create', ws])).code).toBe(0);
  expect((await admin(['users', 'create', alice])).code).toBe(0);
});
afterAll(async () => {
  await api?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** As the suite's broker administrator. */
const admin = (args: string[], env: Record<string, string> = {}) => runCliCaptured(['--api', api.url, ...args], { BROKER_TOKEN: api.harness.token, ...env });
/** With the given token (or none). */
const as = (token: string | undefined, args: string[], env: Record<string, string> = {}) => runCliCaptured(['--api', api.url, ...args], { ...(token ? { BROKER_TOKEN: token } : {}), ...env });

const tokenOf = (r: CliResult) => /export BROKER_TOKEN='?(sbt_[A-Za-z0-9_-]{43})'?/.exec(r.stdout)?.[1];

test('tokens create --env prints one export line; the token works and whoami names its user', async () => {
  const made = await admin(['tokens', 'create', '--user', alice, '--name', 'laptop', '--expires-in', '1d', '--env']);
  expect(made.code).toBe(0);
  expect(made.stdout.trim().split('\n')).toHaveLength(1);
  aliceToken = tokenOf(made)!;
  expect(aliceToken).toBeDefined();
  const who = await as(aliceToken, ['whoami']);
  expect(who).toMatchObject({ code: 0, stderr: '' });
  expect(who.stdout).toMatch(new RegExp(`user ${alice}`));
  expect(who.stdout).toMatch(/via:\s+token/);
  expect(who.stdout).not.toContain(aliceToken);
  const json = await as(aliceToken, ['-o', 'json', 'whoami']);
  expect(JSON.parse(json.stdout)).toMatchObject({ identity: { name: alice, kind: 'user', brokerAdmin: false }, via: 'token', memberships: [] });
});

test('no token, a revoked token: exit 3, one line with a hint; in json mode one JSON object', async () => {
  const none = await as(undefined, ['workspaces', 'list']);
  expect(none.code).toBe(3);
  expect(none.stderr).toMatch(/^error: .*\nhint: .*BROKER_TOKEN/);
  const json = await as(undefined, ['-o', 'json', 'workspaces', 'list']);
  expect(json.code).toBe(3);
  expect(JSON.parse(json.stderr)).toMatchObject({ status: 401, code: 'unauthenticated', exitCode: 3 });

  const made = tokenOf(await admin(['tokens', 'create', '--user', alice, '--env']))!;
  const list = JSON.parse((await admin(['-o', 'json', 'tokens', 'list', '--user', alice])).stdout) as { id: string; name: string; revokedAt?: string }[];
  expect(JSON.stringify(list)).not.toMatch(/sbt_/);
  const id = list.find((t) => t.name === 'token' && !t.revokedAt)!.id;
  expect((await as(made, ['whoami'])).code).toBe(0);
  expect((await admin(['tokens', 'revoke', id])).code).toBe(0);
  expect((await as(made, ['whoami'])).code).toBe(3);
});

test('a workspace alice has no role in is not found (exit 1); a role too small is exit 3 naming the role needed', async () => {
  const hidden = await as(aliceToken, ['secrets', 'list', '--workspace', ws]);
  expect(hidden).toMatchObject({ code: 1, stderr: expect.stringMatching(/not found/) });
  expect((await admin(['members', 'set', alice, '--workspace', ws, '--role', 'view'])).code).toBe(0);
  expect((await as(aliceToken, ['secrets', 'list', '--workspace', ws])).code).toBe(0);
  const r = await as(aliceToken, ['compute-envs', 'create', 'ce1', '--workspace', ws, '--platform', 'local']);
  expect(r).toMatchObject({ code: 3, stderr: expect.stringMatching(/admin role/) });
});

test('members set, list and remove; the default workspace comes from BROKER_WORKSPACE', async () => {
  expect((await admin(['members', 'set', alice, '--workspace', ws, '--role', 'launch'])).stdout).toContain(`user ${alice} is launch of workspace ${ws}`);
  const list = await admin(['members', 'list'], { BROKER_WORKSPACE: ws });
  expect(list.code).toBe(0);
  expect(list.stdout).toMatch(new RegExp(`${alice}\\s+user\\s+launch`));
  const json = JSON.parse((await admin(['-o', 'json', 'members', 'list', '--workspace', ws])).stdout) as { principal: { name: string }; role: string }[];
  expect(json.find((m) => m.principal.name === alice)?.role).toBe('launch');
  const other = uniqueName('bob');
  await admin(['users', 'create', other]);
  expect((await admin(['members', 'set', other, '--workspace', ws, '--role', 'view'])).code).toBe(0);
  expect((await admin(['members', 'remove', other, '--workspace', ws])).code).toBe(0);
  expect((await admin(['members', 'list', '--workspace', ws])).stdout).not.toContain(other);
});

test('runs list: the workspace runs, with names', async () => {
  await grant(api.vault, ws, alice, 'launch');
  await admin(['compute-envs', 'create', 'laptop', '--workspace', ws, '--platform', 'local']);
  const runId = uniqueName('run');
  const launched = await as(aliceToken, ['runs', 'launch', '--workspace', ws, '--compute-env', 'laptop', '--run-id', runId]);
  expect(launched.code).toBe(0);
  const list = await as(aliceToken, ['runs', 'list', '--workspace', ws]);
  expect(list.code).toBe(0);
  expect(list.stdout).toContain(runId);
  const json = JSON.parse((await as(aliceToken, ['-o', 'json', 'runs', 'list', '--workspace', ws])).stdout) as { runId: string; user?: string }[];
  expect(json.find((r) => r.runId === runId)).toMatchObject({ user: alice });
});

test('audit list shows who did what with the names; audit verify says intact; neither shows a token', async () => {
  const list = await admin(['audit', 'list', '--workspace', ws]);
  expect(list.code).toBe(0);
  expect(list.stdout).toMatch(new RegExp(`user:${alice}\\s+launchRun .*runId=run-`));
  expect(list.stdout).toMatch(/setMember .*member=/);
  // The workspace's creation is filed under it too (the record is written once it exists).
  expect(list.stdout).toMatch(/createWorkspace .*name=/);
  expect(list.stdout).not.toMatch(/sbt_/);
  const byAlice = JSON.parse((await admin(['-o', 'json', 'audit', 'list', '--identity', alice])).stdout) as { actor?: { name: string } }[];
  expect(byAlice.length).toBeGreaterThan(0);
  expect(byAlice.every((r) => r.actor?.name === alice)).toBe(true);
  const verify = await admin(['audit', 'verify']);
  expect(verify).toMatchObject({ code: 0, stdout: expect.stringMatching(/intact/) });
  // Not a broker administrator: refused.
  expect((await as(aliceToken, ['audit', 'verify'])).code).toBe(3);
});

test('config show names where each setting comes from, never the token; a token file works', async () => {
  const file = path.join(tmp, 'alice.token');
  fs.writeFileSync(file, `${aliceToken}\n`, { mode: 0o600 });
  const show = await runCliCaptured(['--api', api.url, 'config', 'show'], { BROKER_TOKEN_FILE: file, BROKER_WORKSPACE: ws });
  expect(show.code).toBe(0);
  expect(show.stdout).toContain(file);
  expect(show.stdout).toContain(ws);
  expect(show.stdout).not.toContain(aliceToken);
  expect((await runCliCaptured(['--api', api.url, 'whoami'], { BROKER_TOKEN_FILE: file })).stdout).toContain(alice);
});
