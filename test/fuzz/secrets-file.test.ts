/**
 * The Nextflow secrets file, as the local target writes it: any set of secrets the rules accept
 * (names Nextflow exports, values of any text with quotes, `$`, backticks, backslashes, non-ASCII
 * letters, astral characters) is read back from store.json, as UTF-8 JSON the way Nextflow's
 * LocalSecretsProvider reads it, byte for byte and in order; the file is 0600 and verifies; delete
 * leaves nothing.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { secretNameProblem, secretValueProblem } from '../../domain/rules';
import { STORE_FILE, runDirName } from '../../targets/files/secrets-file';
import { LocalTarget } from '../../targets/files/local';
import type { RunContext } from '../../targets/types';
import { ASCII_LETTERS, DIGITS, anyString, edgeChar, fuzz, NASTY_VALUE, over } from './fuzz';

let workDir: string;
beforeAll(() => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-fuzz-file-'));
});
afterAll(() => fs.rmSync(workDir, { recursive: true, force: true }));

const name = over([...ASCII_LETTERS, ...DIGITS, '_'], 2, 50).filter((n) => secretNameProblem(n) === null);
const value = fc
  .oneof(anyString(80), fc.constant(NASTY_VALUE), fc.string({ unit: edgeChar, minLength: 1, maxLength: 30 }))
  .filter((v) => secretValueProblem(v) === null);
const secrets = fc.uniqueArray(fc.record({ name, value }), { selector: (s) => s.name, minLength: 1, maxLength: 8 });

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
