/**
 * Fault injection for the rotation suites, as a worker activity interceptor (pass `interceptors` to
 * startTestBroker):
 *
 * - `crashAfter(type)`: the next run of activity `type` does its work (its effect at the cloud and
 *   in the vault), then the worker "dies" before reporting the result: the activity fails and the
 *   worker is restarted (`restart`, usually broker.stopWorker() then broker.startWorker()), so the
 *   restarted worker runs the step again.
 * - `afterEffect(type, fn)`: after the next run of activity `type` did its work and before its result
 *   is reported, `fn` runs (awaited): a test looks at the world at that exact moment of a rotation
 *   (for example, after the switch and before the old key is retired) without racing a timer.
 *
 * Both fire once per arming; `reset()` disarms (call it in beforeEach).
 */
import type { Context } from '@temporalio/activity';
import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, Next, WorkerOptions } from '@temporalio/worker';

export interface CrashAfter {
  /** The interceptors for startTestBroker({ interceptors }). */
  readonly interceptors: NonNullable<WorkerOptions['interceptors']>;
  /** What restarts the worker after an injected crash. */
  restart?: () => void;
  /** Arms a crash after the next run of activity `activityType`. */
  crashAfter(activityType: string): void;
  /** Whether the armed crash happened. */
  fired(): boolean;
  /** Runs `fn` after the next run of `activityType` did its work, before its result is reported. */
  afterEffect(activityType: string, fn: () => Promise<void> | void): void;
  reset(): void;
}

export function createCrashAfter(): CrashAfter {
  let crashType: string | undefined;
  let fired = false;
  let hook: { type: string; fn: () => Promise<void> | void } | undefined;

  const self: CrashAfter = {
    interceptors: {
      activity: [
        (ctx: Context) => ({
          inbound: {
            async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
              const result = await next(input);
              const type = ctx.info.activityType;
              if (hook && hook.type === type) {
                const { fn } = hook;
                hook = undefined;
                await fn();
              }
              if (crashType === type && !fired) {
                fired = true;
                setImmediate(() => self.restart?.());
                throw new Error(`injected crash after ${type}`);
              }
              return result;
            },
          },
        }),
      ],
    },
    crashAfter(activityType) {
      crashType = activityType;
      fired = false;
    },
    fired: () => fired,
    afterEffect(activityType, fn) {
      hook = { type: activityType, fn };
    },
    reset() {
      crashType = undefined;
      fired = false;
      hook = undefined;
    },
  };
  return self;
}
