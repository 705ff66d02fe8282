/**
 * The CLI's streams, and the only ways a secret reaches it: stdin (piped, or typed at a prompt that
 * does not echo) and files. Never argv: values there end up in shell history and the process list.
 */
import * as fs from 'node:fs/promises';

export interface CliInput extends NodeJS.EventEmitter {
  /** True when stdin is a terminal. */
  isTTY?: boolean;
  /** Present on terminals: turn echo and line buffering off. */
  setRawMode?(mode: boolean): unknown;
  resume(): unknown;
  pause(): unknown;
  setEncoding?(encoding: BufferEncoding): unknown;
}

export interface CliIo {
  stdout: { write(chunk: string): unknown };
  /** A terminal stderr gets progress lines (runs launch). */
  stderr: { write(chunk: string): unknown; isTTY?: boolean };
  stdin: CliInput;
  env: Record<string, string | undefined>;
}

/** A mistake in how the CLI was called: printed as one line, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Most bytes read from stdin or a file: comfortably above the API's body limit. */
const MAX_INPUT_BYTES = 256 * 1024;

/** Remove exactly one trailing line ending (`\n` or `\r\n`), so `echo value |` stores `value`. */
function stripOneNewline(text: string): string {
  if (text.endsWith('\r\n')) return text.slice(0, -2);
  if (text.endsWith('\n')) return text.slice(0, -1);
  return text;
}

/** Everything on a piped stdin. */
function readAll(input: CliInput, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer | string) => {
      const b = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
      size += b.length;
      if (size > MAX_INPUT_BYTES) {
        cleanup();
        input.pause();
        reject(new UsageError(`${what}: more than ${MAX_INPUT_BYTES} bytes on stdin`));
        return;
      }
      chunks.push(b);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks).toString('utf8'));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(new UsageError(`${what}: cannot read stdin (${err.message})`));
    };
    const cleanup = () => {
      input.removeListener('data', onData);
      input.removeListener('end', onEnd);
      input.removeListener('error', onError);
    };
    input.on('data', onData);
    input.on('end', onEnd);
    input.on('error', onError);
    input.resume();
  });
}

/** A whole file, refusing anything larger than MAX_INPUT_BYTES. Errors name the option and path only. */
async function readFileText(path: string, option: string): Promise<string> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(path, 'r');
  } catch (err) {
    throw new UsageError(`${option}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new UsageError(`${option}: ${path} is not a regular file`);
    if (st.size > MAX_INPUT_BYTES) throw new UsageError(`${option}: ${path} is larger than ${MAX_INPUT_BYTES} bytes`);
    return await handle.readFile({ encoding: 'utf8' });
  } finally {
    await handle.close();
  }
}

/**
 * Read one line from a terminal without echoing it. Backspace edits, Enter ends, Ctrl-C and
 * Ctrl-D on an empty line abort. The prompt goes to stderr so stdout stays clean for scripts.
 */
function promptHidden(io: CliIo, prompt: string): Promise<string> {
  const input = io.stdin;
  if (!input.isTTY || typeof input.setRawMode !== 'function') {
    return Promise.reject(new UsageError('stdin is a terminal that cannot hide input: pipe the value on stdin or use --from-file PATH'));
  }
  io.stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = (err?: Error) => {
      input.removeListener('data', onData);
      input.setRawMode?.(false);
      input.pause();
      io.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: Buffer | string) => {
      const text = typeof chunk === 'string' ? chunk : chunk.toString('utf8');
      for (const ch of text) {
        if (ch === '\r' || ch === '\n') return finish();
        if (ch === '\u0003') return finish(new UsageError('cancelled'));
        if (ch === '\u0004') {
          if (value.length === 0) return finish(new UsageError('cancelled: no value entered'));
          return finish();
        }
        if (ch === '\u007f' || ch === '\b') {
          value = Array.from(value).slice(0, -1).join('');
          continue;
        }
        if (ch < ' ') continue; // other control characters (arrow-key escapes start with ESC)
        value += ch;
      }
    };
    input.setRawMode!(true);
    input.on('data', onData);
    input.resume();
  });
}

/**
 * A secret value from `--from-file PATH`, a piped stdin, or a no-echo prompt on a terminal. One
 * trailing newline is removed in the first two cases; the API refuses any other line break.
 */
export async function readSecretValue(io: CliIo, opts: { fromFile?: string; name: string }): Promise<string> {
  if (opts.fromFile !== undefined) return stripOneNewline(await readFileText(opts.fromFile, '--from-file'));
  if (io.stdin.isTTY) {
    const first = await promptHidden(io, `Value for ${opts.name} (input hidden): `);
    if (first.length === 0) throw new UsageError('no value entered');
    return first;
  }
  const text = stripOneNewline(await readAll(io.stdin, 'value'));
  if (text.length === 0) {
    throw new UsageError('no value on stdin: pipe it in (printf \'%s\' "$VALUE" | secret-broker secrets set ...) or use --from-file PATH');
  }
  return text;
}

/** A JSON object from a file or a piped stdin. Parse errors never quote the content (it may hold secrets). */
export async function readJsonObject(io: CliIo, opts: { file?: string; option: string }): Promise<Record<string, unknown>> {
  let text: string;
  if (opts.file !== undefined) {
    text = await readFileText(opts.file, opts.option);
  } else {
    if (io.stdin.isTTY) {
      throw new UsageError(`${opts.option}: give a JSON file, or pipe the JSON object on stdin (stdin is a terminal)`);
    }
    text = await readAll(io.stdin, opts.option);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UsageError(`${opts.option}: not valid JSON (content not shown: it may hold secrets)`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new UsageError(`${opts.option}: must be a JSON object`);
  return parsed as Record<string, unknown>;
}
