/**
 * The one sanitizer: take known secret values out of text that is about to leave the process (an
 * error message, a log line, a failure handed to Temporal). Providers add their own patterns for
 * what an SDK may echo (signatures, tokens) on top of this; every path that holds a value calls it.
 */

export const REDACTED = '[REDACTED]';

/** Values this short are replaced only where they stand alone, so messages stay readable. */
const SHORT = 4;

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Replace every occurrence of each value (and its JSON-escaped form, as it appears inside a quoted
 * JSON string) with [REDACTED], longest first so a value that contains another goes whole. Values
 * shorter than four characters are replaced where no letter or digit touches them: a one-letter
 * value must not turn every word of a message into [REDACTED], but must not survive on its own.
 */
export function redact(text: string, values: readonly (string | undefined | null)[]): string {
  const forms = new Set<string>();
  for (const v of values) {
    if (typeof v !== 'string' || v.length === 0) continue;
    forms.add(v);
    forms.add(JSON.stringify(v).slice(1, -1));
  }
  let out = text;
  for (const f of [...forms].sort((a, b) => b.length - a.length)) {
    if (f.length >= SHORT) out = out.split(f).join(REDACTED);
    else out = out.replace(new RegExp(`(?<![A-Za-z0-9])${escapeRegExp(f)}(?![A-Za-z0-9])`, 'g'), REDACTED);
  }
  return out;
}

/** Every string leaf of a parsed request body (values and credential fields), longest first. */
export function stringLeaves(body: unknown, out: string[] = [], depth = 0): string[] {
  if (depth > 20) return out;
  if (typeof body === 'string') out.push(body);
  else if (Array.isArray(body)) for (const v of body) stringLeaves(v, out, depth + 1);
  else if (body && typeof body === 'object') for (const v of Object.values(body)) stringLeaves(v, out, depth + 1);
  if (depth === 0) out.sort((a, b) => b.length - a.length);
  return out;
}
