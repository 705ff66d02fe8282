/**
 * What a Nextflow task's shell makes of a secret from the file targets' store, with real bash as the
 * oracle. Nextflow's local secrets provider (24.04.2 and later) copies the store into
 * `.nf-<hash>.secrets` as `export NAME="value"` lines, escaping only `$` (nextflow.util.Escape
 * .variable), and each task wrapper runs, under `set -eu`:
 *
 *   source /dev/stdin <<<"$(cat <(grep -w -e 'NAME=.*' FILE))"
 *
 * (LocalSecretsProvider.getSecretsEnv). This suite writes such a file the same way and sources it the
 * same way: every value the file targets accept reaches the task byte for byte, and each character
 * they refuse would not have.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { secretValueProblem } from '../../domain/rules';
import { nextflowFileValueProblem } from '../../targets/files/secrets-file';
import { anyString, edgeChar, fuzz, NASTY_VALUE } from '../fuzz/fuzz';

const run = promisify(execFile);
let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-nf-env-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Nextflow's `.nf-<hash>.secrets` line for one secret: `$` escaped, nothing else. */
const secretsLine = (name: string, value: string) => `export ${name}="${value.replace(/\$/g, '\\$')}"`;

/** What a task that asks for API_TOKEN sees, or the wrapper's failure. */
async function taskSees(value: string): Promise<{ ok: true; value: string } | { ok: false; error: string }> {
  const file = path.join(dir, `.nf-${Math.random().toString(36).slice(2)}.secrets`);
  fs.writeFileSync(file, `${secretsLine('OTHER', 'x')}\n${secretsLine('API_TOKEN', value)}\n`, { mode: 0o600 });
  const script = `set -eu\nsource /dev/stdin <<<"$(cat <(grep -w -e 'API_TOKEN=.*' '${file}'))"\nprintf '%s' "$API_TOKEN"`;
  try {
    const { stdout } = await run('bash', ['-c', script], { encoding: 'buffer', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C.UTF-8' } });
    return { ok: true, value: stdout.toString('utf8') };
  } catch (err) {
    return { ok: false, error: String((err as { stderr?: Buffer }).stderr ?? err) };
  } finally {
    fs.rmSync(file, { force: true });
  }
}

test('every value the file targets accept reaches the task unchanged', async () => {
  const accepted = fc
    .oneof(anyString(60), fc.constant(NASTY_VALUE), fc.string({ unit: edgeChar, minLength: 1, maxLength: 30 }), fc.constantFrom("it's", 'a(b)|c&d<e>f;g*h?[i]#~=!', ' sp  aces ', '$HOME $(id) ${X}', 'é 日本 🔑'))
    .filter((v) => secretValueProblem(v) === null && nextflowFileValueProblem(v) === null);
  await fc.assert(
    fc.asyncProperty(accepted, async (v) => {
      expect(await taskSees(v)).toEqual({ ok: true, value: v });
    }),
    fuzz(80),
  );
});

test.each([
  ['a double quote, odd', 'pa"ss'],
  ['double quotes, paired', 'a"b c"d'],
  ['a backtick pair', 'a`echo INJECTED`b'],
  ['a lone backtick', 'pa`ss'],
  ['a backslash before a quote', 'a\\"b'],
  ['a double backslash', 'a\\\\b'],
  ['a trailing backslash', 'pass\\'],
  ['a NUL', 'a\u0000b'],
  ['a line break', 'first\nsecond'],
])('refused, and rightly: %s would reach the task changed or fail it', async (_what, value) => {
  expect(nextflowFileValueProblem(value)).toMatch(/Nextflow's local secrets provider does not pass to tasks unchanged/);
  expect(await taskSees(value)).not.toEqual({ ok: true, value });
});

test('the refusal names the characters, never the value', () => {
  const problem = nextflowFileValueProblem('s3cr"et`\\')!;
  expect(problem).toContain('a double quote (")');
  expect(problem).toContain('a backtick (`)');
  expect(problem).toContain('a backslash (\\)');
  expect(problem).not.toContain('s3cr');
});
