/**
 * The two sizes of a chaos run. `short` runs in `make test` (a few dozen runs, two worker kills);
 * `full` is `make chaos` (a few hundred runs, twelve worker kills, the dev server restarted once).
 * Both inject every kind of trouble; the full one has more of it, for longer.
 */
import type { Faults, TcpFaults } from '../harness/fault-proxy';

export interface ChaosConfig {
  mode: 'short' | 'full';
  /** Runs launched, spread over launchWindowMs. */
  runs: number;
  launchWindowMs: number;
  /** Launch calls in flight at once. */
  maxConcurrentLaunches: number;
  /** How long a ready run lives before the driver ends it. */
  holdMs: [number, number];
  /** The lease of runs that are left to expire. */
  leaseMs: [number, number];
  /** Runs terminated (their workflow, skipping its cleanup): half while ready, half while launching. */
  terminations: number;
  workerKills: number;
  /** Pause between a worker's SIGKILL and the start of the next one. */
  workerDownMs: [number, number];
  temporalRestarts: number;
  temporalDownMs: number;
  sshdStops: number;
  sshdDownMs: number;
  /** Times every open connection to the Google emulator is reset at once. */
  gcpCuts: number;
  /** A share of AWS calls (Secrets Manager, IAM, STS): throttled, 5xx, reset, held latencyMs. */
  aws: Faults & { throttle: number };
  /** A share of what the broker sends to the Google emulator: its connection reset (before or after), or slowed. */
  gcp: TcpFaults;
  reapEvery: string;
  /** How long to wait, after the last run ended, for every workflow to close. */
  quiesceMs: number;
  /** The whole run, setup to report, stops by then. */
  deadlineMs: number;
}

const aws = { throttle: 0.06, error5xx: 0.04, reset: 0.03, latency: 0.08, latencyMs: 1_500 };
const gcp = { reset: 0.04, latency: 0.1, latencyMs: 400 };

const SHORT: ChaosConfig = {
  mode: 'short',
  runs: 36,
  launchWindowMs: 40_000,
  maxConcurrentLaunches: 8,
  holdMs: [2_000, 15_000],
  leaseMs: [6_000, 15_000],
  terminations: 2,
  workerKills: 2,
  workerDownMs: [0, 3_000],
  temporalRestarts: 1,
  temporalDownMs: 3_000,
  sshdStops: 1,
  sshdDownMs: 8_000,
  gcpCuts: 1,
  aws,
  gcp,
  reapEvery: '10s',
  quiesceMs: 180_000,
  deadlineMs: 10 * 60_000,
};

const FULL: ChaosConfig = {
  mode: 'full',
  runs: 300,
  launchWindowMs: 7 * 60_000,
  maxConcurrentLaunches: 16,
  holdMs: [3_000, 60_000],
  leaseMs: [8_000, 40_000],
  terminations: 8,
  workerKills: 12,
  workerDownMs: [0, 8_000],
  temporalRestarts: 1,
  temporalDownMs: 5_000,
  sshdStops: 2,
  sshdDownMs: 25_000,
  gcpCuts: 3,
  aws,
  gcp,
  reapEvery: '10s',
  quiesceMs: 6 * 60_000,
  deadlineMs: 30 * 60_000,
};

/** CHAOS=full picks the full run; CHAOS_RUNS and CHAOS_KILLS adjust either. */
export function chaosConfig(env: NodeJS.ProcessEnv = process.env): ChaosConfig {
  const base = env.CHAOS === 'full' ? FULL : SHORT;
  const n = (v: string | undefined, fallback: number) => (v && /^\d+$/.test(v) ? Number(v) : fallback);
  return { ...base, runs: n(env.CHAOS_RUNS, base.runs), workerKills: n(env.CHAOS_KILLS, base.workerKills) };
}
