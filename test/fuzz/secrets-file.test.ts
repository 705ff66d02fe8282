/**
 * The Nextflow secrets file, as the local target writes it: any set of secrets the rules accept
 * (names Nextflow exports, values of any text with single quotes, `$`, non-ASCII letters, astral
 * characters) is read back from store.json, as UTF-8 JSON the way Nextflow's LocalSecretsProvider
 * reads it, byte for byte and in order; the file is 0600 and verifies; delete leaves nothing. A set
 * holding a value Nextflow would not pass to tasks unchanged (a double quote, backtick, backslash or
 * NUL: test/targets/nextflow-task-env.test.ts) is refused naming the secret, and nothing is written.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { secretNameProblem, secretValueProblem } from '../../domain/rules';
import { STORE_FILE, nextflowFileValueProblem, runDirName } from '../../targets/files/secrets-file';
import { InvalidInputError } from '../../domain/errors';
import { LocalTarget } from '../../targets/files/local';
import type { RunContext } from '../../targets/types';
import { ASCII_LETTERS, DIGITS, anyString, edgeChar, fuzz, NASTY_VALUE, over } from './fuzz';

let workDir: string;
beforeAll(() => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-fuzz-file-'));
});
afterAll(() => fs.rmSync(workDir, { recursive: true, force: true }));

const name = over([...ASCII_LETTERS, ...DIGITS, '_'], 2, 50).filter((n) => secretNameProblem(n) === null);
const anyValue = fc.oneof(anyString(80), fc.constant(NASTY_VALUE), fc.string({ unit: edgeChar, minLength: 1, maxLength: 30 })).filter((v) => secretValueProblem(v) === null);
const value = anyValue.filter((v) => nextflowFileValueProblem(v) === null);
const secrets = fc.uniqueArray(fc.record({ name, value }), { selector: (s) => s.name, minLength: 1, maxLength: 8 });
const refusedValue = fc.tuple(anyValue, fc.constantFrom('"', '`', '\\', '\u0000'), fc.nat()).map(([v, c, at]) => {
  const i = at % (v.length + 1);
  return v.slice(0, i) + c + v.slice(i);
});

test('any accepted secrets come out of store.json byte for byte; delete leaves nothing', async () => {
  const target = new LocalTarget(workDir);
  let n = 0;
  try {
    await fc.assert(
      fc.asyncProperty(secrets, async (plain) => {
        const run: RunContext = {
          runId: `fuzz${++n}`,
          workspaceId: 'w1',
          computeEnv: { id: 'ce1', workspaceId: 'w1', name: 'laptop', platform: 'local', config: { workDir }, credentialId: null },
        };
        const { refs } = await target.push(run, plain);
        const file = path.join(workDir, runDirName(run.runId), STORE_FILE);
        expect(fs.statSync(file).mode & 0o777).toBe(0o600);
        const read = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(fs.readFileSync(file))) as Array<{ name: string; value: string }>;
        expect(read).toEqual(plain.map(({ name: n2, value: v }) => ({ name: n2, value: v })));
        for (let i = 0; i < plain.length; i++) expect(Buffer.from(read[i]!.value, 'utf8').equals(Buffer.from(plain[i]!.value, 'utf8'))).toBe(true);
        await expect(target.verify(run, refs)).resolves.toEqual({ ok: true });
        await target.delete(run, refs);
        expect(fs.existsSync(path.join(workDir, runDirName(run.runId)))).toBe(false);
      }),
      fuzz(60),
    );
  } finally {
    await target.close();
  }
});

test('a set with a value Nextflow would change is refused naming that secret, and nothing is written', async () => {
  const target = new LocalTarget(workDir);
  let n = 0;
  try {
    await fc.assert(
      fc.asyncProperty(secrets, refusedValue, fc.nat(), async (plain, bad, at) => {
        const badName = 'REFUSED_ONE';
        const all = [...plain.filter((s) => s.name !== badName)];
        all.splice(at % (all.length + 1), 0, { name: badName, value: bad });
        const run: RunContext = {
          runId: `fuzzbad${++n}`,
          workspaceId: 'w1',
          computeEnv: { id: 'ce1', workspaceId: 'w1', name: 'laptop', platform: 'local', config: { workDir }, credentialId: null },
        };
        const err = await target.push(run, all).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(InvalidInputError);
        expect((err as Error).message).toContain(`secret ${badName} holds`);
        expect(fs.existsSync(path.join(workDir, runDirName(run.runId)))).toBe(false);
      }),
      fuzz(40),
    );
  } finally {
    await target.close();
  }
});
