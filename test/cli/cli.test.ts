/**
 * The CLI in-process (runCli with captured streams) against the API listening on 127.0.0.1:0, on
 * the real vault and the in-memory runs double. Values come from stdin or files, never argv.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import type { Command } from 'commander';
import { runCli, type CliIo } from '../../cli/main';
import { buildCli } from '../../cli/program';
import { distinctiveValue, grant, identityToken, startTestApi, uniqueName, type TestApi } from '../api/helpers';
import { ISOLATED_CLI_ENV } from '../harness/cli';


let api: TestApi;
let tmp: string;
/** Everything the CLI printed in this suite. */
const printed: string[] = [];
const values: string[] = [];

beforeAll(async () => {
  api = await startTestApi();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-cli-test-'));
});

afterAll(async () => {
  await api?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

type Stdin = CliIo['stdin'];

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

interface RunOpts {
  /** Piped stdin content; default: an empty pipe. */
  stdin?: string | Stdin;
  env?: Record<string, string | undefined>;
  /** Omit the --api option (use env or the default). */
  noApi?: boolean;
}

function io(opts: RunOpts, out: string[], err: string[]): CliIo {
  const stdin: Stdin = typeof opts.stdin === 'object' ? opts.stdin : (Readable.from(opts.stdin === undefined ? [] : [Buffer.from(opts.stdin)]) as unknown as Stdin);
  return {
    stdout: { write: (s: string) => out.push(s) },
    stderr: { write: (s: string) => err.push(s) },
    stdin,
    // The suite's caller (a broker administrator) unless the test gives its own token.
    env: { ...ISOLATED_CLI_ENV, BROKER_TOKEN: api?.harness.token, ...opts.env },
  };
}

async function cli(args: string[], opts: RunOpts = {}): Promise<Result> {
  const out: string[] = [];
  const err: string[] = [];
  const argv = opts.noApi ? args : ['--api', api.url, ...args];
  const code = await runCli(argv, io(opts, out, err));
  const r = { code, stdout: out.join(''), stderr: err.join('') };
  printed.push(r.stdout, r.stderr);
  return r;
}

function secretValue(tag: string): string {
  const v = distinctiveValue(tag);
  values.push(v);
  return v;
}

/** A terminal stdin: keystrokes already typed, raw-mode switches recorded. */
function ttyStdin(keys: string, withRawMode = true): Stdin & { rawModes: boolean[] } {
  const s = new PassThrough() as unknown as Stdin & { rawModes: boolean[]; isTTY: boolean; setRawMode?: (m: boolean) => void };
  s.isTTY = true;
  s.rawModes = [];
  if (withRawMode) s.setRawMode = (m: boolean) => void s.rawModes.push(m);
  (s as unknown as PassThrough).write(keys);
  return s;
}

/** The value the vault holds for a workspace secret, or undefined. */
async function storedValue(workspace: string, name: string): Promise<string | undefined> {
  const ws = await api.vault.getWorkspace(workspace);
  const meta = (await api.vault.listSecrets({ scope: 'workspace', ownerId: ws.id })).find((s) => s.name === name);
  return meta ? api.vault.readSecretValue({ name, scope: 'workspace', secretId: meta.id, version: meta.version }) : undefined;
}

async function newWorkspace(): Promise<string> {
  const name = uniqueName('ws');
  const r = await cli(['workspaces', 'create', name]);
  expect(r).toMatchObject({ code: 0, stderr: '' });
  return name;
}

describe('workspaces and users', () => {
  test('create and list, as tables and as JSON', async () => {
    const ws = uniqueName('ws');
    const created = await cli(['workspaces', 'create', ws]);
    expect(created).toEqual({ code: 0, stdout: expect.stringMatching(new RegExp(`^created workspace ${ws} \\(id [0-9a-f-]{36}\\)\\n$`)), stderr: '' });
    const table = await cli(['workspaces', 'list']);
    expect(table.stdout.split('\n')[0]).toMatch(/^NAME\s+ID\s+CREATED$/);
    expect(table.stdout).toContain(ws);
    const asJson = await cli(['--json', 'workspaces', 'list']);
    expect(JSON.parse(asJson.stdout).map((w: { name: string }) => w.name)).toContain(ws);

    const user = uniqueName('u');
    expect((await cli(['users', 'create', user, '--json'])).stdout).toContain(`"name": "${user}"`);
    expect((await cli(['users', 'list'])).stdout).toContain(user);
  });

  test('an API error is one line on stderr and exit 1', async () => {
    const ws = await newWorkspace();
    const r = await cli(['workspaces', 'create', ws]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`error: workspace "${ws}" already exists\n`);
    const bad = await cli(['workspaces', 'create', 'bad name']);
    expect(bad).toMatchObject({ code: 1, stderr: 'error: name: may contain only letters, digits, dashes and underscores\n' });
  });
});

describe('secrets set', () => {
  test.each([
    ['echo (one trailing newline removed)', (v: string) => `${v}\n`],
    ['printf (no newline)', (v: string) => v],
    ['CRLF line ending', (v: string) => `${v}\r\n`],
  ])('reads the value from stdin: %s', async (_how, wrap) => {
    const ws = await newWorkspace();
    const v = secretValue('stdin');
    const r = await cli(['secrets', 'set', 'API_KEY', '--workspace', ws], { stdin: wrap(v) });
    expect(r).toEqual({ code: 0, stdout: `stored secret API_KEY for workspace ${ws} (version 1)\n`, stderr: '' });
    expect(await storedValue(ws, 'API_KEY')).toBe(v);
  });

  test('only one newline is removed: a second one is refused by the API as multi-line', async () => {
    const ws = await newWorkspace();
    const v = secretValue('twonl');
    const r = await cli(['secrets', 'set', 'API_KEY', '--workspace', ws], { stdin: `${v}\n\n` });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: value: multi-line secrets must be base64-encoded.*\n$/);
    expect(r.stderr.split('\n')).toHaveLength(2);
    expect(await storedValue(ws, 'API_KEY')).toBeUndefined();
  });

  test('reads the value from --from-file, removing one trailing newline', async () => {
    const ws = await newWorkspace();
    const v = secretValue('file');
    const file = path.join(tmp, 'value.txt');
    fs.writeFileSync(file, `${v}\n`, { mode: 0o600 });
    const r = await cli(['secrets', 'set', 'FILE_KEY', '--workspace', ws, '--from-file', file]);
    expect(r.code).toBe(0);
    expect(await storedValue(ws, 'FILE_KEY')).toBe(v);
    const missing = await cli(['secrets', 'set', 'FILE_KEY', '--workspace', ws, '--from-file', path.join(tmp, 'nope')]);
    expect(missing).toMatchObject({ code: 2, stderr: expect.stringMatching(/^error: --from-file: cannot read .*nope \(ENOENT\)\n$/) });
  });

  test.each([
    ['as an extra argument', (v: string) => ['API_KEY', v]],
    ['with --value', (v: string) => ['API_KEY', '--value', v]],
    ['with --value=', (v: string) => ['API_KEY', `--value=${v}`]],
  ])('refuses a value given on argv %s, helpfully, without echoing it', async (_how, args) => {
    const ws = await newWorkspace();
    const v = secretValue('argv');
    const r = await cli(['secrets', 'set', ...args(v), '--workspace', ws], { stdin: 'from-stdin-ignored\n' });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^error: secret values are never taken from the command line .*--from-file PATH.*rotate it\n$/);
    expect(r.stderr).not.toContain(v);
    expect(await storedValue(ws, 'API_KEY')).toBeUndefined();
  });

  test('a terminal stdin prompts on stderr without echo, in raw mode', async () => {
    const ws = await newWorkspace();
    const v = secretValue('tty');
    const stdin = ttyStdin(`${v}x\u007f\r`); // a typo erased with backspace
    const r = await cli(['secrets', 'set', 'TYPED', '--workspace', ws], { stdin });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('Value for TYPED (input hidden): \n');
    expect(stdin.rawModes).toEqual([true, false]);
    expect(await storedValue(ws, 'TYPED')).toBe(v);
  });

  test('a terminal that cannot hide input is refused; Ctrl-C cancels', async () => {
    const ws = await newWorkspace();
    const r = await cli(['secrets', 'set', 'TYPED', '--workspace', ws], { stdin: ttyStdin('abc\r', false) });
    expect(r).toMatchObject({ code: 2, stderr: expect.stringMatching(/cannot hide input: pipe the value on stdin or use --from-file PATH\n$/) });
    const c = await cli(['secrets', 'set', 'TYPED', '--workspace', ws], { stdin: ttyStdin('abc\u0003') });
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(/error: cancelled\n$/);
    expect(await storedValue(ws, 'TYPED')).toBeUndefined();
  });

  test('a bad name is refused before any value is read', async () => {
    const ws = await newWorkspace();
    const stdin = ttyStdin('never-read\r');
    const r = await cli(['secrets', 'set', 'MY-TOKEN', '--workspace', ws], { stdin });
    expect(r).toEqual({ code: 2, stdout: '', stderr: expect.stringMatching(/^error: name: must not contain "-": Nextflow exports secret names as shell variables/) });
    expect(stdin.rawModes).toEqual([]);
  });

  test('an empty stdin is refused with the way to pipe a value', async () => {
    const ws = await newWorkspace();
    const r = await cli(['secrets', 'set', 'EMPTY', '--workspace', ws], { stdin: '' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: no value on stdin: pipe it in .* or use --from-file PATH\n$/);
  });

  test('exactly one of --workspace and --user', async () => {
    expect((await cli(['secrets', 'set', 'X_Y'], { stdin: 'v' })).stderr).toMatch(/give --workspace NAME .* or --user NAME/);
    const both = await cli(['secrets', 'list', '--workspace', 'a', '--user', 'b']);
    expect(both).toMatchObject({ code: 2, stderr: 'error: give either --workspace or --user, not both\n' });
  });
});

describe('secrets list and delete', () => {
  test('user secrets: list as a table and as JSON (no values), then delete', async () => {
    const user = uniqueName('u');
    await cli(['users', 'create', user]);
    // A user secret is its user's alone: the user's own token.
    const env = { BROKER_TOKEN: (await identityToken(api.vault, user)).token };
    const v = secretValue('user');
    const set = await cli(['secrets', 'set', 'GH_TOKEN', '--user', user, '--json'], { stdin: `${v}\n`, env });
    expect(set.code).toBe(0);
    expect(Object.keys(JSON.parse(set.stdout)).sort()).toEqual(['createdAt', 'id', 'name', 'ownerId', 'scope', 'updatedAt', 'version']);
    const table = await cli(['secrets', 'list', '--user', user], { env });
    expect(table.stdout).toMatch(/^NAME\s+SCOPE\s+VERSION\s+UPDATED\nGH_TOKEN\s+user\s+1\s+\S+\n$/);
    const asJson = await cli(['secrets', 'list', '--user', user, '--json'], { env });
    expect(JSON.parse(asJson.stdout)).toEqual([expect.objectContaining({ name: 'GH_TOKEN', scope: 'user', version: 1 })]);
    expect((await cli(['secrets', 'delete', 'GH_TOKEN', '--user', user], { env })).stdout).toBe(`deleted secret GH_TOKEN of user ${user}\n`);
    const again = await cli(['secrets', 'delete', 'GH_TOKEN', '--user', user], { env });
    expect(again).toMatchObject({ code: 1, stderr: 'error: user secret "GH_TOKEN" not found\n' });
  });

  test('a user that does not exist is named as such, not as a compute environment or a secret', async () => {
    const ghost = uniqueName('ghost');
    expect(await cli(['secrets', 'list', '--user', ghost])).toMatchObject({ code: 1, stderr: `error: user "${ghost}" not found\n` });
    const json = await cli(['-o', 'json', 'secrets', 'list', '--user', ghost]);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stderr)).toEqual({ error: `user "${ghost}" not found`, status: 404, code: 'not-found', type: 'UserNotFoundError', exitCode: 1 });
  });
});

describe('credentials', () => {
  test('create from --fields-file and from stdin; list shows public fields only; delete', async () => {
    const ws = await newWorkspace();
    const t1 = secretValue('cred1');
    const t2 = secretValue('cred2');
    const file = path.join(tmp, 'fields.json');
    fs.writeFileSync(file, JSON.stringify({ user: 'nf', token: t1 }), { mode: 0o600 });
    const a = await cli(['credentials', 'create', 'key-a', '--workspace', ws, '--kind', 'test-token', '--fields-file', file]);
    expect(a).toMatchObject({ code: 0, stdout: expect.stringMatching(/^created credential key-a \(test-token\)/) });
    const b = await cli(['credentials', 'create', 'key-b', '--workspace', ws, '--kind', 'test-token'], { stdin: JSON.stringify({ user: 'ci', token: t2 }) });
    expect(b.code).toBe(0);
    const list = await cli(['credentials', 'list', '--workspace', ws]);
    expect(list.stdout).toMatch(/key-a\s+test-token\s+\{"user":"nf"\}/);
    expect(list.stdout).toMatch(/key-b\s+test-token\s+\{"user":"ci"\}/);
    const ids = JSON.parse((await cli(['--json', 'credentials', 'list', '--workspace', ws])).stdout).map((c: { id: string }) => c.id);
    expect((await api.vault.readCredential(ids[1])).secret).toEqual({ token: t2 });
    expect((await cli(['credentials', 'delete', 'key-a', '--workspace', ws])).code).toBe(0);
    expect((await cli(['credentials', 'list', '--workspace', ws])).stdout).not.toContain('key-a');
  });

  test('fields on argv are refused; unreadable JSON is refused without quoting it', async () => {
    const ws = await newWorkspace();
    const t = secretValue('credargv');
    const r = await cli(['credentials', 'create', 'k', '--workspace', ws, '--kind', 'test-token', '--fields', `{"token":"${t}"}`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: credential fields are never taken from the command line/);
    expect(r.stderr).not.toContain(t);
    const bad = await cli(['credentials', 'create', 'k', '--workspace', ws, '--kind', 'test-token'], { stdin: `{"token": ${t}` });
    expect(bad).toMatchObject({ code: 2, stderr: 'error: --fields-file: not valid JSON (content not shown: it may hold secrets)\n' });
    const tty = await cli(['credentials', 'create', 'k', '--workspace', ws, '--kind', 'test-token'], { stdin: ttyStdin('') });
    expect(tty.code).toBe(2);
    expect(tty.stderr).toMatch(/pipe the JSON object on stdin/);
    const badField = await cli(['credentials', 'create', 'k', '--workspace', ws, '--kind', 'test-token'], { stdin: JSON.stringify({ user: 'x', token: 'short' }) });
    expect(badField).toMatchObject({ code: 1, stderr: 'error: fields.token: must be at least 8 characters\n' });
    expect((await api.vault.listCredentials(ws)).length).toBe(0);
  });
});

describe('compute-envs', () => {
  test('create with --config and --config-file, list, show, delete', async () => {
    const ws = await newWorkspace();
    const a = await cli(['compute-envs', 'create', 'local1', '--workspace', ws, '--platform', 'local', '--config', '{"workDir":"/srv/nf"}']);
    expect(a).toMatchObject({ code: 0, stdout: expect.stringMatching(/^created compute environment local1 \(local\)/) });
    const cfg = path.join(tmp, 'ce.json');
    fs.writeFileSync(cfg, '{"workDir": "/scratch/nf"}\n');
    expect((await cli(['compute-envs', 'create', 'local2', '--workspace', ws, '--platform', 'local', '--config-file', cfg])).code).toBe(0);
    const list = await cli(['compute-envs', 'list', '--workspace', ws]);
    expect(list.stdout).toMatch(/^NAME\s+PLATFORM\s+CREDENTIAL\s+ID\s+UPDATED\nlocal1\s+local\s+-\s+/);
    const show = await cli(['compute-envs', 'show', 'local2', '--workspace', ws]);
    expect(show.stdout).toMatch(/^name:\s+local2$/m);
    expect(show.stdout).toMatch(/^config:\s+\{"workDir":"\/scratch\/nf"\}$/m);
    expect(JSON.parse((await cli(['compute-envs', 'show', 'local1', '--workspace', ws, '--json'])).stdout).config).toEqual({ workDir: '/srv/nf' });
    expect((await cli(['compute-envs', 'delete', 'local1', '--workspace', ws])).code).toBe(0);
    const gone = await cli(['compute-envs', 'show', 'local1', '--workspace', ws]);
    expect(gone).toMatchObject({ code: 1, stderr: 'error: compute environment "local1" not found\n' });
  });

  test('usage mistakes exit 2; a refused setting exits 1 naming it', async () => {
    const ws = await newWorkspace();
    expect((await cli(['compute-envs', 'create', 'c', '--workspace', ws, '--platform', 'mainframe'])).code).toBe(2);
    expect((await cli(['compute-envs', 'create', 'c', '--workspace', ws, '--platform', 'local', '--config', '{nope'])).stderr).toBe('error: --config: not valid JSON\n');
    expect((await cli(['compute-envs', 'create', 'c', '--workspace', ws, '--platform', 'local', '--config', '[]'])).stderr).toBe('error: --config: must be a JSON object\n');
    const both = await cli(['compute-envs', 'create', 'c', '--workspace', ws, '--platform', 'local', '--config', '{}', '--config-file', 'x']);
    expect(both).toMatchObject({ code: 2, stderr: 'error: give either --config or --config-file, not both\n' });
    const refused = await cli(['compute-envs', 'create', 'c', '--workspace', ws, '--platform', 'local', '--config', '{"workDir":"rel"}']);
    expect(refused).toMatchObject({ code: 1, stderr: expect.stringMatching(/^error: config\.workDir: must be an absolute path\n$/) });
  });
});

describe('runs', () => {
  async function seed(): Promise<{ ws: string; user: string }> {
    const ws = await newWorkspace();
    const user = uniqueName('u');
    await cli(['users', 'create', user]);
    await cli(['compute-envs', 'create', 'local1', '--workspace', ws, '--platform', 'local']);
    await cli(['secrets', 'set', 'NCBI_KEY', '--workspace', ws], { stdin: secretValue('run1') });
    // A user secret is set by its user; the suite launches as the launch service, for that user.
    await cli(['secrets', 'set', 'GH_TOKEN', '--user', user], { stdin: secretValue('run2'), env: { BROKER_TOKEN: (await identityToken(api.vault, user)).token } });
    await grant(api.vault, ws, api.harness.name, 'owner', true);
    await grant(api.vault, ws, user, 'launch');
    return { ws, user };
  }

  test('launch --env prints export lines; the API got ids, names, and the lease', async () => {
    const { ws, user } = await seed();
    const runId = uniqueName('run');
    const r = await cli(['runs', 'launch', '--workspace', ws, '--user', user, '--compute-env', 'local1', '--secret', 'NCBI_KEY', '--secret', 'GH_TOKEN', '--run-id', runId, '--lease', '2h', '--env']);
    expect(r).toEqual({ code: 0, stdout: `export NXF_ENABLE_SECRETS=true\nexport NXF_SECRETS_FILE=/tmp/broker-runs/${runId}/secrets.json\n`, stderr: '' });
    const sent = api.runs.launches.at(-1)!;
    expect(sent).toMatchObject({ runId, secretNames: ['NCBI_KEY', 'GH_TOKEN'], leaseMs: 7_200_000, workspaceId: (await api.vault.getWorkspace(ws)).id });
  });

  test('launch --json and the human summary', async () => {
    const { ws, user } = await seed();
    const base = ['runs', 'launch', '--workspace', ws, '--user', user, '--compute-env', 'local1', '--secret', 'NCBI_KEY'];
    const j = await cli(['--json', ...base, '--run-id', uniqueName('run')]);
    expect(JSON.parse(j.stdout)).toMatchObject({ platform: 'local', secretNames: ['NCBI_KEY'], headJobEnv: { NXF_ENABLE_SECRETS: 'true' } });
    const runId = uniqueName('run');
    const h = await cli([...base, '--run-id', runId]);
    expect(h.stdout).toMatch(new RegExp(`^run:\\s+${runId}$`, 'm'));
    expect(h.stdout).toMatch(/^compute env:\s+local1 \(local\)$/m);
    expect(h.stdout).toMatch(/^export NXF_SECRETS_FILE=/m);
    const both = await cli([...base, '--run-id', uniqueName('run'), '--env', '--json']);
    expect(both).toMatchObject({ code: 2, stderr: 'error: give either --env or --json, not both\n' });
  });

  test('a launch that fails names the missing secrets; a bad lease is explained', async () => {
    const { ws, user } = await seed();
    const base = ['runs', 'launch', '--workspace', ws, '--user', user, '--compute-env', 'local1', '--run-id', uniqueName('run')];
    const r = await cli([...base, '--secret', 'NCBI_KEY', '--secret', 'NOT_THERE']);
    expect(r).toMatchObject({ code: 1, stdout: '', stderr: 'error: secrets not found: NOT_THERE\n' });
    const lease = await cli([...base, '--secret', 'NCBI_KEY', '--lease', '2 hours']);
    expect(lease.code).toBe(1);
    expect(lease.stderr).toMatch(/^error: lease: must be a whole number followed by s, m, h or d \(for example 90s, 15m, 12h, 30d\)/);
    const missingOpt = await cli(['runs', 'launch', '--workspace', ws, '--user', user, '--secret', 'A_B', '--run-id', 'r1']);
    expect(missingOpt).toMatchObject({ code: 2, stderr: "error: required option '--compute-env <name>' not specified\n" });
  });

  test('status, renew, complete and cancel', async () => {
    const { ws, user } = await seed();
    const runId = uniqueName('run');
    await cli(['runs', 'launch', '--workspace', ws, '--user', user, '--compute-env', 'local1', '--secret', 'NCBI_KEY', '--run-id', runId]);
    const st = await cli(['runs', 'status', runId]);
    expect(st.stdout).toMatch(/^phase:\s+ready$/m);
    expect(st.stdout).toMatch(/^NCBI_KEY\s+pushed\s+/m);
    expect(JSON.parse((await cli(['runs', 'status', runId, '--json'])).stdout)).toMatchObject({ runId, phase: 'ready' });
    expect((await cli(['runs', 'renew', runId, '--extend-by', '7d'])).stdout).toMatch(new RegExp(`^run ${runId}: lease renewed for 7d from now \\(until \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\)\\n$`));
    expect(api.runs.renewals.at(-1)).toEqual({ runId, extendByMs: 7 * 86_400_000 });
    expect((await cli(['runs', 'complete', runId, '--status', 'failed'])).code).toBe(0);
    expect(api.runs.completions.at(-1)).toEqual({ runId, status: 'failed' });
    expect((await cli(['runs', 'complete', runId, '--status', 'exploded'])).code).toBe(2);
    expect((await cli(['runs', 'cancel', runId])).stdout).toBe(`run ${runId}: cancel requested; its secrets are being deleted\n`);
    const ghost = await cli(['runs', 'status', uniqueName('ghost')]);
    expect(ghost).toMatchObject({ code: 1, stderr: expect.stringMatching(/^error: run .* not found\n$/) });
  });
});

describe('the program', () => {
  test('BROKER_API_URL is used when --api is absent; an unreachable API is one clear line', async () => {
    const viaEnv = await cli(['workspaces', 'list'], { noApi: true, env: { BROKER_API_URL: api.url } });
    expect(viaEnv.code).toBe(0);
    const down = await cli(['workspaces', 'list'], { noApi: true, env: { BROKER_API_URL: 'http://127.0.0.1:1' } });
    expect(down).toMatchObject({ code: 1, stderr: expect.stringMatching(/^error: cannot reach the broker API at http:\/\/127\.0\.0\.1:1 \(ECONNREFUSED\).*BROKER_API_URL\n$/) });
    const badUrl = await cli(['--api', 'not a url', 'workspaces', 'list'], { noApi: true });
    expect(badUrl).toMatchObject({ code: 2, stderr: expect.stringMatching(/^error: --api: API URL "not a url" is not a valid URL/) });
  });

  test('usage errors exit 2: no command, unknown command, unknown option', async () => {
    const none = await cli([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^Usage: secret-broker/);
    expect(await cli(['secrets', 'lst'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/^error: unknown command 'lst'/) });
    expect(await cli(['workspaces', 'list', '--colour'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/^error: unknown option '--colour'/) });
  });

  test('every command has help with an example, and help exits 0', async () => {
    const leaves: string[][] = [];
    const walk = (cmd: Command, trail: string[]) => {
      if (cmd.commands.length === 0) leaves.push(trail);
      for (const c of cmd.commands) walk(c, [...trail, c.name()]);
    };
    walk(buildCli(io({}, [], [])), []);
    // 39 before identities: + users update, services create|list|update, tokens create|list|revoke,
    // members list|set|remove, audit list|verify, whoami, config show, runs list.
    expect(leaves.length).toBe(54);
    for (const trail of leaves) {
      const r = await cli([...trail, '--help']);
      expect([trail.join(' '), r.code]).toEqual([trail.join(' '), 0]);
      expect(r.stdout).toMatch(/Example/);
      expect(r.stdout).toContain(`secret-broker ${trail.join(' ')}`);
    }
  });
});

test('no secret value this suite handled was printed or logged', () => {
  // Defined last, so it runs after every test above.
  expect(values.length).toBeGreaterThan(15);
  const all = printed.join('\n') + '\n' + api.logger.text();
  for (const v of values) expect(all).not.toContain(v);
});
