/**
 * The CLI's inputs: every command of the program (found by walking it, so a new command is fuzzed
 * too; `vault rewrap`, which opens a data directory given on the command line, is left out), with
 * positional arguments and option values drawn from real names and from any string, options left
 * out or unknown, and any text on stdin, against the API on the real vault.
 *
 * The property: the exit code is 0, 1 (a failure, one `error:` line) or 2 (a usage mistake); no
 * answer is a JavaScript error or a stack trace; the API never answers 500; a value given on stdin
 * is never printed.
 */
import { Readable } from 'node:stream';
import type { Command } from 'commander';
import fc from 'fast-check';
import { runCli, type CliIo } from '../../cli/main';
import { buildCli } from '../../cli/program';
import { grant, startTestApi, type TestApi } from '../api/helpers';
import { leaks } from '../harness/credential-vault';
import { anyString, fuzz, NASTY_VALUE } from './fuzz';

let api: TestApi;
const WS = 'fuzz-ws';
const USER = 'fuzz-user';
const STDIN_SECRET = 'fuzz-stdin-secret-3c8e71aa';

interface Leaf {
  path: string[];
  args: number;
  options: Array<{ flag: string; takesValue: boolean }>;
}

/** Every leaf command of the program, with its positional arguments and options. */
function leaves(cmd: Command, prefix: string[] = []): Leaf[] {
  return cmd.commands.flatMap((sub) => {
    const path = [...prefix, sub.name()];
    if (sub.commands.length) return leaves(sub, path);
    const options = sub.options.map((o) => ({ flag: o.long ?? o.short!, takesValue: o.required || o.optional }));
    return [{ path, args: sub.registeredArguments.length, options }];
  });
}

const quietIo = (): CliIo => ({ stdout: { write: () => true }, stderr: { write: () => true }, stdin: Readable.from([]) as unknown as CliIo['stdin'], env: {} });
const LEAVES = leaves(buildCli(quietIo())).filter((l) => l.path.join(' ') !== 'vault rewrap');

/** Words that name real records, and values of the right shape, so commands get past the first check. */
const word = fc.oneof(
  fc.constantFrom(WS, USER, 'fuzz-ce', 'fuzz-cred', 'WS_SECRET', 'fuzz-run-1', 'local', 'test-token', '1h', '30d', 'succeeded', '{"workDir":"/tmp/fuzz-cli"}', '{}', '-', '--', '--json'),
  anyString(20),
);

const argv = fc.constantFrom(...LEAVES).chain((leaf) =>
  fc
    .tuple(
      fc.array(word, { minLength: 0, maxLength: leaf.args + 1 }),
      fc.subarray(leaf.options),
      fc.array(word, { minLength: 0, maxLength: leaf.options.length }),
      fc.option(fc.constantFrom('--no-such-option', '--json', '-x'), { nil: undefined }),
    )
    .map(([positional, options, values, extra]) => {
      const out = [...leaf.path, ...positional];
      options.forEach((o, i) => out.push(o.flag, ...(o.takesValue ? [values[i] ?? WS] : [])));
      if (extra) out.push(extra);
      return out;
    }),
);

const stdin = fc.oneof(anyString(60), fc.constant(STDIN_SECRET), fc.constant(NASTY_VALUE), fc.constant(JSON.stringify({ user: 'u', token: STDIN_SECRET })));

beforeAll(async () => {
  api = await startTestApi();
  const ws = await api.vault.createWorkspace(WS);
  await api.vault.createUser(USER);
  // The suite's caller owns the workspace and may launch for its users (docs/access.md).
  await grant(api.vault, WS, api.harness.name, 'owner', true);
  await api.vault.createCredential({ workspaceId: ws.id, name: 'fuzz-cred', kind: 'test-token', fields: { user: 'u', token: 'fuzz-token-0a1b2c3d' } });
  await api.vault.createComputeEnv({ workspaceId: ws.id, name: 'fuzz-ce', platform: 'local', config: {}, credentialId: null });
});

afterAll(async () => {
  await api?.close();
});

async function cli(args: string[], input = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(['--api', api.url, ...args], {
    stdout: { write: (s: string) => out.push(s) },
    stderr: { write: (s: string) => err.push(s) },
    stdin: Readable.from([Buffer.from(input)]) as unknown as CliIo['stdin'],
    // The suite's caller, a broker administrator: commands get past authentication to their checks.
    env: { BROKER_TOKEN: api.harness.token },
  });
  return { code, stdout: out.join(''), stderr: err.join('') };
}

test('any command line and stdin: exit 0, 1 or 2 with one error line, never a JavaScript error, a 500 or a printed stdin value', async () => {
  expect(LEAVES.length).toBeGreaterThan(20);
  await fc.assert(
    fc.asyncProperty(argv, stdin, async (args, input) => {
      const logged = api.logger.lines.length;
      const { code, stdout, stderr } = await cli(args, input);
      expect([0, 1, 2]).toContain(code);
      if (code !== 0) expect(stderr).toMatch(/^error: /m);
      expect(stderr).not.toMatch(/\n\s+at |TypeError|ReferenceError|RangeError|URIError|URI malformed|Cannot read propert|is not a function|\[object Object\]/);
      expect(api.logger.lines.slice(logged).filter((l) => l.startsWith('error'))).toEqual([]);
      expect(leaks(stdout + stderr, [STDIN_SECRET])).toBe(false);
    }),
    fuzz(300),
  );
});

test('a name holding a lone surrogate is a usage mistake saying so, not "URI malformed" (found by fuzzing)', async () => {
  for (const args of [['runs', 'cancel', 'run\ud800'], ['compute-envs', 'show', '\udc00', '--workspace', WS], ['secrets', 'list', '--workspace', `ws\ud83d`]]) {
    const r = await cli(args);
    expect([r.code, r.stderr]).toEqual([2, expect.stringMatching(/^error: a name or id given holds a lone UTF-16 surrogate .* at character \d+\n$/)]);
  }
});
