/**
 * The CLI in-process with captured output, an empty stdin and the given environment: what the suites
 * that drive `secret-broker ...` against a listening API use (the CLI suite itself, which needs
 * terminals and piped stdin, has its own).
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { runCli, type CliIo } from '../../cli/main';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Settings that keep a suite's CLI away from the machine's own (a config file in the home directory,
 * a `make start` token in ./.data): the suite's `env` adds its token and API.
 */
export const ISOLATED_CLI_ENV: Record<string, string> = {
  SECRET_BROKER_CONFIG: path.join(os.tmpdir(), 'secret-broker-tests-no-config.json'),
  BROKER_DATA_DIR: path.join(os.tmpdir(), 'secret-broker-tests-no-data-dir'),
};

/**
 * For a CLI process beside a broker the suite started: the developer's own token and config file
 * left out, so the CLI uses the administrator token that broker wrote in its data directory.
 */
export const OWN_BROKER_CLI_ENV: NodeJS.ProcessEnv = { BROKER_TOKEN: undefined, BROKER_TOKEN_FILE: undefined, SECRET_BROKER_CONFIG: ISOLATED_CLI_ENV.SECRET_BROKER_CONFIG };

export async function runCliCaptured(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    stdout: { write: (s: string) => out.push(s) },
    stderr: { write: (s: string) => err.push(s) },
    stdin: Readable.from([]) as unknown as CliIo['stdin'],
    env: { ...ISOLATED_CLI_ENV, ...env },
  };
  const code = await runCli(args, io);
  return { code, stdout: out.join(''), stderr: err.join('') };
}
