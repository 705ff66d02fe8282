/**
 * The vault's acceptance rules, shared by the vault, the HTTP API and the CLI so every door refuses
 * the same things with the same words. Every refusal is a ValidationError(field, rule); no message
 * ever includes the value it judged (names are not secret, but the rules do not repeat them either).
 */
import { ValidationError } from './errors';

/** Nextflow's own pattern for secret names (SecretsHelper.groovy). */
export const NEXTFLOW_SECRET_NAME = /^[a-zA-Z_](?:[0-9A-Za-z]+|(_)(?!\1)){1,49}$/;
/**
 * The `{1,49}` in Nextflow's pattern counts groups, not characters, so the pattern alone does not
 * bound the length; the broker holds names to the 50 characters the pattern is meant to allow (and
 * which keep `tower-<workflowId>-<NAME>` within Google's 255-character secret ids).
 */
export const SECRET_NAME_MIN = 2;
export const SECRET_NAME_MAX = 50;
/** AWS Secrets Manager's SecretString limit, the smallest of the targets. */
const SECRET_VALUE_MAX_BYTES = 65_536;

/** Workspace, user, credential and compute environment names (Seqera Platform's credential pages). */
export const ENTITY_NAME = /^[A-Za-z0-9_-]{1,100}$/;
const ENTITY_NAME_MAX = 100;
/** Ids are UUIDs; a name of that shape would make `get(idOrName)` ambiguous. */
const ID_SHAPE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const SecretNameRule = {
  type: 'must be a string',
  length: `must be ${SECRET_NAME_MIN} to ${SECRET_NAME_MAX} characters long`,
  hyphen:
    'must not contain "-": Nextflow exports secret names as shell variables, so a hyphenated name cannot reach a task (use "_" instead)',
  firstChar: 'must start with a letter or "_"',
  leadingDoubleUnderscore: 'must not start with "__" (Nextflow reserves such names)',
  doubleUnderscore: 'must not contain "__" (Nextflow allows only single underscores)',
  chars: 'may contain only letters, digits and single underscores (Nextflow exports secret names as shell variables)',
  /** Followed by ": character N is not" (counting characters from 1). */
  nonAscii: 'may contain only letters, digits and single underscores, and only ASCII ones (A-Z, a-z, 0-9, _; Nextflow exports secret names as shell variables)',
} as const;

export const SecretValueRule = {
  type: 'must be a string',
  empty: 'must not be empty',
  tooLarge: `must be at most ${SECRET_VALUE_MAX_BYTES.toLocaleString('en-US')} bytes of UTF-8`,
  multiLine: 'multi-line secrets must be base64-encoded (the value contains a line break: encode it, and decode it in the task)',
  wrappedBase64:
    'must be one line: this value is base64 already, wrapped over several lines; encode it on one line with `base64 -w0` (macOS: `base64 -b 0`), or join its lines',
  /** Followed by "; ... at character N". */
  utf8: 'must be valid UTF-8 text',
} as const;

export const EntityNameRule = {
  type: 'must be a string',
  length: `must be 1 to ${ENTITY_NAME_MAX} characters long`,
  chars: 'may contain only letters, digits, dashes and underscores',
  /** Followed by ": character N is not" (counting characters from 1). */
  nonAscii: 'may contain only letters, digits, dashes and underscores, and only ASCII ones (A-Z, a-z, 0-9, -, _)',
  idShape: 'must not have the form of an id (a UUID)',
} as const;

/** The position (counting characters, i.e. code points, from 1) of the first non-ASCII character, or null. */
function firstNonAscii(text: string): number | null {
  let at = 1;
  for (const ch of text) {
    if (ch.codePointAt(0)! > 0x7f) return at;
    at++;
  }
  return null;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * The position (counting characters from 1, a surrogate pair being one character) of the first lone
 * UTF-16 surrogate: a JSON `\ud800` escape without its partner, which no UTF-8 text can hold (encoding
 * it writes U+FFFD instead). Null when the string is well-formed.
 */
export function firstLoneSurrogate(text: string): number | null {
  const m = LONE_SURROGATE.exec(text);
  // The prefix ends before the lone surrogate, so it splits no pair.
  return m === null ? null : Array.from(text.slice(0, m.index)).length + 1;
}

/** Why a string is not text UTF-8 can carry ("must be valid UTF-8 text; ... at character N"), or null. */
function utf8TextProblem(text: string): string | null {
  const at = firstLoneSurrogate(text);
  return at === null ? null : `${SecretValueRule.utf8}; it holds a lone UTF-16 surrogate (a \\uD800-\\uDFFF escape without its pair, which is no character) at character ${at}`;
}

/**
 * Why a string of a setting or credential field cannot be stored, or null: a NUL character (the
 * vault's JSON columns cannot hold one, and no path, host or key has one) or a lone surrogate.
 */
export function storableTextProblem(text: string): string | null {
  const nul = text.indexOf('\u0000');
  if (nul !== -1) return `must not contain a NUL character (\\u0000), found at character ${Array.from(text.slice(0, nul)).length + 1}`;
  return utf8TextProblem(text);
}

/**
 * Whether a multi-line value is base64 as `base64` or `openssl base64` print it: lines of the same
 * width (a multiple of 4, at least 16), a last line no longer than them, `=` padding only at the very
 * end, and a whole length that base64 can have.
 */
function isWrappedBase64(value: string): boolean {
  const lines = value.replace(/\r?\n$/, '').split(/\r?\n/);
  if (lines.length < 2) return false;
  const width = lines[0]!.length;
  if (width < 16 || width % 4 !== 0) return false;
  const last = lines[lines.length - 1]!;
  if (!lines.slice(0, -1).every((l) => l.length === width && /^[A-Za-z0-9+/]+$/.test(l))) return false;
  return last.length > 0 && last.length <= width && /^[A-Za-z0-9+/]+={0,2}$/.test(last) && lines.join('').length % 4 === 0;
}

/** Why `name` is not a usable Nextflow secret name, or null when it is. */
export function secretNameProblem(name: unknown): string | null {
  if (typeof name !== 'string') return SecretNameRule.type;
  if (name.includes('-')) return SecretNameRule.hyphen;
  if (name.length < SECRET_NAME_MIN || name.length > SECRET_NAME_MAX) return SecretNameRule.length;
  // Before the first-character rule: "Ä" is a letter, just not one a shell variable may hold.
  const nonAscii = firstNonAscii(name);
  if (nonAscii !== null) return `${SecretNameRule.nonAscii}: character ${nonAscii} is not`;
  if (!/^[A-Za-z_]/.test(name)) return SecretNameRule.firstChar;
  if (name.startsWith('__')) return SecretNameRule.leadingDoubleUnderscore;
  if (!/^[0-9A-Za-z_]*$/.test(name)) return SecretNameRule.chars;
  if (name.includes('__')) return SecretNameRule.doubleUnderscore;
  // Belt and braces: whatever passed the specific checks must also pass Nextflow's own pattern.
  if (!NEXTFLOW_SECRET_NAME.test(name)) return SecretNameRule.chars;
  return null;
}

/** Why `value` cannot be stored as a secret value, or null when it can. Never echoes the value. */
export function secretValueProblem(value: unknown): string | null {
  if (typeof value !== 'string') return SecretValueRule.type;
  if (value.length === 0) return SecretValueRule.empty;
  if (Buffer.byteLength(value, 'utf8') > SECRET_VALUE_MAX_BYTES) return SecretValueRule.tooLarge;
  // Sealing encodes the value as UTF-8, which would silently store U+FFFD for a lone surrogate.
  const text = utf8TextProblem(value);
  if (text) return text;
  if (value.includes('\n') || value.includes('\r')) return isWrappedBase64(value) ? SecretValueRule.wrappedBase64 : SecretValueRule.multiLine;
  return null;
}

/** Why `name` is not a usable workspace, user, credential or compute environment name, or null. */
export function entityNameProblem(name: unknown): string | null {
  if (typeof name !== 'string') return EntityNameRule.type;
  if (name.length < 1 || name.length > ENTITY_NAME_MAX) return EntityNameRule.length;
  const nonAscii = firstNonAscii(name);
  if (nonAscii !== null) return `${EntityNameRule.nonAscii}: character ${nonAscii} is not`;
  if (!ENTITY_NAME.test(name)) return EntityNameRule.chars;
  if (ID_SHAPE.test(name)) return EntityNameRule.idShape;
  return null;
}

export function assertSecretName(name: unknown, field = 'name'): asserts name is string {
  const problem = secretNameProblem(name);
  if (problem) throw new ValidationError(field, problem);
}

export function assertSecretValue(value: unknown, field = 'value'): asserts value is string {
  const problem = secretValueProblem(value);
  if (problem) throw new ValidationError(field, problem);
}

export function assertEntityName(name: unknown, field = 'name'): asserts name is string {
  const problem = entityNameProblem(name);
  if (problem) throw new ValidationError(field, problem);
}

/** A platform run id: it becomes part of remote names and paths, so it is checked everywhere it enters. */
export const RUN_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
export const RUN_ID_RULE = 'must be 1 to 64 letters, digits, dashes or underscores, starting with a letter or digit';
