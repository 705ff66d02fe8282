/**
 * The entry of bin/secret-broker: runs the program of cli/program.ts and maps its outcome to an exit
 * code: 0, 1 for failures, 2 for usage mistakes. Errors are one line on stderr. See docs/cli.md.
 */
import { ApiConnectionError, ApiError } from './api-client';
import { type CliIo, UsageError } from './io';
import { buildCli } from './program';

export type { CliIo } from './io';

/** Commander's error codes for a mistake on the command line (exit 2); help and version exit 0. */
function commanderExitCode(code: string, exitCode: number): number {
  if (code === 'commander.helpDisplayed' || code === 'commander.version') return 0;
  if (code === 'commander.executeSubCommandAsync') return exitCode;
  return 2;
}

/** Run the CLI on `argv` (without the node and script paths); resolves to the exit code. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const program = buildCli(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    const e = err as { code?: unknown; exitCode?: unknown };
    if (typeof e.code === 'string' && e.code.startsWith('commander.')) {
      // Commander already printed its message (or the help) through configureOutput.
      return commanderExitCode(e.code, typeof e.exitCode === 'number' ? e.exitCode : 1);
    }
    if (err instanceof UsageError) {
      io.stderr.write(`error: ${err.message}\n`);
      return 2;
    }
    if (err instanceof ApiError || err instanceof ApiConnectionError) {
      io.stderr.write(`error: ${err.message}\n`);
      for (const m of (err instanceof ApiError && err.missing) || []) {
        io.stderr.write(`\n  ${m.principal} needs ${m.permission} on ${m.resource}; grant it with:\n${m.grant.replace(/^/gm, '    ')}\n`);
      }
      return 1;
    }
    io.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

/** Entry point for bin/secret-broker. */
export function main(): void {
  const io: CliIo = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env };
  runCli(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
