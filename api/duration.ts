/**
 * Durations as people type them: a whole number and one unit, `90s`, `15m`, `12h`, `30d`. Nothing
 * else is accepted (no `1.5h`, no `1h30m`, no bare numbers), so a typo cannot become a surprise lease.
 */
import { ValidationError } from '../domain/errors';

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
type Unit = keyof typeof UNIT_MS;

/** The longest lease or extension the API accepts: one year. */
export const MAX_DURATION_MS = 365 * UNIT_MS.d;

export const DURATION_RULE = 'must be a whole number followed by s, m, h or d (for example 90s, 15m, 12h, 30d), at most 365d';

const DURATION_RE = /^([1-9][0-9]{0,9})([smhd])$/;

/** Milliseconds for `text`, or a ValidationError(field, DURATION_RULE). */
export function parseDuration(text: unknown, field: string): number {
  if (typeof text !== 'string') throw new ValidationError(field, DURATION_RULE);
  const m = DURATION_RE.exec(text);
  if (!m) throw new ValidationError(field, DURATION_RULE);
  const ms = Number(m[1]) * UNIT_MS[m[2] as Unit];
  if (ms > MAX_DURATION_MS) throw new ValidationError(field, DURATION_RULE);
  return ms;
}

/** True when `text` is a duration parseDuration accepts. */
export function isDuration(text: unknown): boolean {
  try {
    parseDuration(text, 'duration');
    return true;
  } catch {
    return false;
  }
}
