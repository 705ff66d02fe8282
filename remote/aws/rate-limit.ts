/**
 * A client-side bound on Secrets Manager writes, shared by every aws target in this worker process.
 *
 * Secrets Manager allows about 50 CreateSecret and 50 DeleteSecret calls per second per account and
 * region (AWS Secrets Manager's service quotas). Many runs launching at once would otherwise all hit the quota, be throttled,
 * back off and retry together. Here each (account or access key, region, operation class) has one
 * bucket (GCRA: a request reserves the next free slot, so waiting callers are served in order), and
 * every target built in this process for that key shares it.
 *
 * When the vault is on PostgreSQL (several worker processes), the bucket lives in the database
 * instead (fleetWriteLimiter over store/rate-slots.ts): the rate then holds for the whole fleet, not
 * per process. The SDK's throttling retries stay as the last net.
 */

import type { RateSlots } from '../../domain/rate';

const DEFAULT_WRITES_PER_SECOND = 50;

export type WriteClass = 'create' | 'delete';

export interface RateLimiterOptions {
  /** Sustained rate, requests per second. */
  ratePerSecond: number;
  /** Requests allowed at once before the rate applies; default a fifth of a second's worth (>= 1). */
  burst?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Something that hands out slots: wait for yours, then make the call. */
export interface Limiter {
  acquire(): Promise<void>;
}

/** Slot spacing for a rate and burst: the GCRA interval and how early a slot may be used. */
function spacing(ratePerSecond: number, burst?: number): { interval: number; tolerance: number } {
  if (!(ratePerSecond > 0) || !Number.isFinite(ratePerSecond)) throw new RangeError('ratePerSecond must be a positive number');
  const b = Math.max(1, Math.floor(burst ?? ratePerSecond / 5));
  const interval = 1000 / ratePerSecond;
  return { interval, tolerance: (b - 1) * interval };
}

export class RateLimiter implements Limiter {
  private interval!: number;
  private tolerance!: number;
  /** Theoretical arrival time of the next request (ms). */
  private tat = 0;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private rate!: number;

  constructor(opts: RateLimiterOptions) {
    this.now = opts.now ?? Date.now;
    this.sleep = opts.sleep ?? realSleep;
    this.configure(opts.ratePerSecond, opts.burst);
  }

  get ratePerSecond(): number {
    return this.rate;
  }

  configure(ratePerSecond: number, burst?: number): void {
    ({ interval: this.interval, tolerance: this.tolerance } = spacing(ratePerSecond, burst));
    this.rate = ratePerSecond;
  }

  /** Wait for this request's slot. Slots are reserved at call time, so callers go in order. */
  async acquire(): Promise<void> {
    const now = this.now();
    const tat = Math.max(this.tat, now);
    const wait = tat - this.tolerance - now;
    this.tat = tat + this.interval;
    if (wait > 0) await this.sleep(wait);
  }
}

const registry = new Map<string, RateLimiter>();

/**
 * The process-wide limiter for one account (or access key) and region and one class of write. A
 * later call with a different rate reconfigures the shared bucket (the latest setting wins).
 */
export function writeLimiter(accountKey: string, region: string, cls: WriteClass, ratePerSecond = DEFAULT_WRITES_PER_SECOND): RateLimiter {
  const key = `${accountKey}|${region}|${cls}`;
  let limiter = registry.get(key);
  if (!limiter) {
    limiter = new RateLimiter({ ratePerSecond });
    registry.set(key, limiter);
  } else if (limiter.ratePerSecond !== ratePerSecond) {
    limiter.configure(ratePerSecond);
  }
  return limiter;
}

/**
/**
 * The fleet-wide limiter for one account (or access key), region and class of write: its slots come
 * from `slots` (the vault's database), so every worker process on that database shares the rate.
 */
export function fleetWriteLimiter(
  slots: RateSlots,
  accountKey: string,
  region: string,
  cls: WriteClass,
  ratePerSecond = DEFAULT_WRITES_PER_SECOND,
  sleep: (ms: number) => Promise<void> = realSleep,
): Limiter {
  const { interval, tolerance } = spacing(ratePerSecond);
  const key = `aws|${accountKey}|${region}|${cls}`;
  return {
    async acquire() {
      const wait = await slots.reserve(key, interval, tolerance);
      if (wait > 0) await sleep(wait);
    },
  };
}

/**
 * The rate a target uses: an explicit option (the worker passes BROKER_AWS_WRITES_PER_SECOND, checked
 * by broker/settings.ts), else 50. This module reads no environment.
 */
export function writesPerSecondFrom(option: number | undefined): number {
  if (option === undefined) return DEFAULT_WRITES_PER_SECOND;
  if (!(option > 0) || !Number.isFinite(option)) throw new RangeError(`writes per second must be a positive number, got ${option}`);
  return option;
}
