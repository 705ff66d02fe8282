/**
 * The entry of bin/secret-broker: runs the program of cli/program.ts and maps its outcome to an exit
 * code (docs/cli.md): 0 success; 1 the API refused or failed, or could not be reached; 2 a usage
 * mistake; 3 not authenticated or not allowed (401, 403, and 429 after too many failed
 * authentications). Errors are one line on stderr, or one JSON object with -o json.
 */
import { ApiConnectionError, ApiError } from './api-client';
import { type CliIo, UsageError } from './io';
import { buildCli, jsonMode } from './program';

/** Exit codes. */
const EXIT = { ok: 0, failed: 1, usage: 2, denied: 3 } as const;

/** A hint after a refusal that the CLI's settings can fix. */
function hint(err: ApiError): string | undefined {
  if (err.status === 401) return 'the CLI sends BROKER_TOKEN, BROKER_TOKEN_FILE, the config file\'s token, or .data/admin.token (what `make start` writes): see `secret-broker config show`';
  return undefined;
}

export type { CliIo } from './io';

/** Commander's error codes for a mistake on the command line (exit 2); help and version exit 0. */
function commanderExitCode(code: string, exitCode: number): number {
  if (code === 'commander.helpDisplayed' || code === 'commander.version') return 0;
  if (code === 'commander.executeSubCommandAsync') return exitCode;
  return 2;
}

/** Run the CLI on `argv` (without the node and script paths); resolves to the exit code. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const asJson = jsonMode(argv);
  let program;
  try {
    program = buildCli(io, argv);
    await program.parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (err) {
    const e = err as { code?: unknown; exitCode?: unknown };
    if (typeof e.code === 'string' && e.code.startsWith('commander.')) {
      // Commander already printed its message (or the help) through configureOutput.
      return commanderExitCode(e.code, typeof e.exitCode === 'number' ? e.exitCode : 1);
    }
    const fail = (exitCode: number, fields: Record<string, unknown>, extra = '') => {
      if (asJson) io.stderr.write(`${JSON.stringify({ ...fields, exitCode })}\n`);
      else io.stderr.write(`error: ${String(fields.error)}\n${extra}`);
      return exitCode;
    };
    if (err instanceof UsageError) return fail(EXIT.usage, { error: err.message, code: 'usage' });
    if (err instanceof ApiError) {
      const denied = err.status === 401 || err.status === 403 || err.status === 429;
      const missing = (err.missing ?? []).map((m) => `\n  ${m.principal} needs ${m.permission} on ${m.resource}; grant it with:\n${m.grant.replace(/^/gm, '    ')}\n`).join('');
      const h = hint(err);
      return fail(
        denied ? EXIT.denied : EXIT.failed,
        { error: err.message, status: err.status, ...(err.code ? { code: err.code } : {}), ...(err.type ? { type: err.type } : {}), ...(err.field ? { field: err.field, rule: err.rule } : {}), ...(err.missing ? { missing: err.missing } : {}) },
        missing + (h ? `hint: ${h}\n` : ''),
      );
    }
    if (err instanceof ApiConnectionError) return fail(EXIT.failed, { error: err.message, code: 'unreachable' });
    return fail(EXIT.failed, { error: err instanceof Error ? err.message : String(err), code: 'failed' });
  }
}

/**
 * Entry point for bin/secret-broker. A reader that stops early (`secret-broker --help | head`)
 * closes stdout: the CLI then stops quietly with 141, as a program killed by SIGPIPE does, never
 * with a stack trace.
 * @public bin/secret-broker calls it on lib/cli/main.js, by path.
 */
export function main(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(141);
      throw err;
    });
  }
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
