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
  const sorted = [...forms].sort((a, b) => b.length - a.length);
  for (const f of sorted) if (f.length >= SHORT) out = out.split(f).join(REDACTED);
  // Short values: again until nothing changes, so one that touched only another (now redacted) value
  // stands alone and goes too ("0 " with values "0" and " "). Each pass shortens the text outside the
  // markers, and no short form matches inside a marker (its letters touch every part of it).
  const short = sorted.filter((f) => f.length < SHORT).map((f) => new RegExp(`(?<![A-Za-z0-9])${escapeRegExp(f)}(?![A-Za-z0-9])`, 'g'));
  for (let changed = short.length > 0; changed; ) {
    changed = false;
    for (const re of short) {
      const next = out.replace(re, REDACTED);
      if (next !== out) changed = true;
      out = next;
    }
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
