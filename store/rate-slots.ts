/**
 * Fleet-wide rate slots in the vault's PostgreSQL: every worker process on one database shares them.
 *
 * GCRA, as remote/aws/rate-limit.ts does in one process: a key's row holds the time its next slot is
 * free; reserving moves it on by one interval (from now if it lies in the past) and says how long
 * the caller waits. One statement per slot; concurrent reservations of one key queue on its row
 * lock, and the database's clock is the only clock, so workers on different machines agree.
 */
import type { RateSlots } from '../domain/rate';
import type { Db } from './db';

// statement_timestamp() is when this statement began: a reservation that waited for the row lock
// computes its wait from before it waited, which can only make it wait longer, never too little.
const NOW_MS = 'extract(epoch from statement_timestamp()) * 1000';

const RESERVE = `INSERT INTO rate_slots AS s (key, next_ms) VALUES ($1, ${NOW_MS} + $2)
  ON CONFLICT (key) DO UPDATE SET next_ms = GREATEST(s.next_ms, ${NOW_MS}) + $2
  RETURNING next_ms - $2 - $3 - ${NOW_MS} AS wait_ms`;

export function sqlRateSlots(db: Db): RateSlots {
  return {
    async reserve(key, intervalMs, toleranceMs) {
      const [row] = await db.query<{ wait_ms: number | string }>(RESERVE, [key, intervalMs, toleranceMs]);
      return Number(row!.wait_ms);
    },
  };
}
