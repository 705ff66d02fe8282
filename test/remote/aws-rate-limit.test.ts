/**
 * The process-wide write limiter: a sustained rate with a small burst, slots in call order, one
 * bucket per (account or key, region, class) shared by every target of the process.
 */
import { RateLimiter, writeLimiter, writesPerSecondFrom } from '../../remote/aws/rate-limit';

function fakeClock() {
  let now = 1_000_000;
  const slept: number[] = [];
  return {
    now: () => now,
    sleep: async (ms: number) => {
      slept.push(ms);
      now += ms;
    },
    slept,
    advance: (ms: number) => (now += ms),
    get time() {
      return now;
    },
  };
}

describe('RateLimiter', () => {
  test('lets a burst through at once, then spaces requests at the rate', async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ ratePerSecond: 50, burst: 10, now: clock.now, sleep: clock.sleep });
    const start = clock.time;
    for (let i = 0; i < 10; i++) await limiter.acquire();
    expect(clock.time).toBe(start); // the burst
    for (let i = 0; i < 50; i++) await limiter.acquire();
    // 50 more at 50/s: one second, less the burst's head start.
    expect(clock.time - start).toBeGreaterThanOrEqual(980);
    expect(clock.time - start).toBeLessThanOrEqual(1000);
  });

  test('concurrent callers are served in order, never above the rate', async () => {
    const limiter = new RateLimiter({ ratePerSecond: 40, burst: 1 });
    const t0 = Date.now();
    const done: number[] = [];
    await Promise.all(Array.from({ length: 20 }, (_, i) => limiter.acquire().then(() => done.push(i))));
    const took = Date.now() - t0;
    expect(done).toEqual([...done].sort((a, b) => a - b));
    expect(took).toBeGreaterThanOrEqual(19 * 25 - 15); // timers may fire a little early
  });

  test('refuses a nonsense rate', () => {
    expect(() => new RateLimiter({ ratePerSecond: 0 })).toThrow(RangeError);
  });
});

describe('writeLimiter registry', () => {
  test('one bucket per account and region and class, shared and reconfigurable', () => {
    const a = writeLimiter('key:AKIA1', 'eu-west-1', 'create', 50);
    expect(writeLimiter('key:AKIA1', 'eu-west-1', 'create', 50)).toBe(a);
    expect(writeLimiter('key:AKIA1', 'eu-west-1', 'delete', 50)).not.toBe(a);
    expect(writeLimiter('key:AKIA1', 'us-east-1', 'create', 50)).not.toBe(a);
    expect(writeLimiter('key:AKIA2', 'eu-west-1', 'create', 50)).not.toBe(a);
    writeLimiter('key:AKIA1', 'eu-west-1', 'create', 5);
    expect(a.ratePerSecond).toBe(5);
  });

  test('rate from the option (the worker passes BROKER_AWS_WRITES_PER_SECOND), else 50; never from the environment', () => {
    const before = process.env.BROKER_AWS_WRITES_PER_SECOND;
    process.env.BROKER_AWS_WRITES_PER_SECOND = '9';
    try {
      expect(writesPerSecondFrom(7)).toBe(7);
      expect(writesPerSecondFrom(undefined)).toBe(50);
    } finally {
      if (before === undefined) delete process.env.BROKER_AWS_WRITES_PER_SECOND;
      else process.env.BROKER_AWS_WRITES_PER_SECOND = before;
    }
    expect(() => writesPerSecondFrom(0)).toThrow(/positive number/);
  });
});
