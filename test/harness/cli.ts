/**
 * The CLI in-process with captured output, an empty stdin and the given environment: what the suites
 * that drive `secret-broker ...` against a listening API use (the CLI suite itself, which needs
 * terminals and piped stdin, has its own).
 */
import { Readable } from 'node:stream';
import { runCli, type CliIo } from '../../cli/main';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCliCaptured(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    stdout: { write: (s: string) => out.push(s) },
    stderr: { write: (s: string) => err.push(s) },
    stdin: Readable.from([]) as unknown as CliIo['stdin'],
    env,
  };
  const code = await runCli(args, io);
  return { code, stdout: out.join(''), stderr: err.join('') };
}
