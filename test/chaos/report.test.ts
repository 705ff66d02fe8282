/**
 * The chaos table's verdict: every must-be-0 figure and every search control is checked, and each
 * one alone fails the run (so `make chaos` exits non-zero on it).
 */
import { table, violations, type Figures } from './report';

const clean: Figures = {
  mode: 'short',
  seed: 1,
  date: '2026-12-01T00:00:00.000Z',
  machine: 'test',
  durationMs: 1_000,
  timings: {},
  launched: 2,
  byPlatform: { local: 2 },
  ready: 2,
  launchFailed: { total: 0, byReason: {} },
  launchAnsweredEnded: { total: 0, byOutcome: {} },
  ended: { total: 2, byOutcome: { succeeded: 2 } },
  secretsPushed: 3,
  secretsDeleted: 3,
  leftBehind: { total: 0, local: 0, hpc: 0, aws: 0, gcp: 0, other: 0, items: [] },
  lostOrStuck: { total: 0, runs: [] },
  plaintextHits: { total: 0, bySource: {}, hits: [], searched: {}, histories: 2 },
  controls: { 'scanner finds planted values': true },
  wrongValues: { total: 0, checked: 3, runs: [] },
  endToDeleteMs: { n: 0 },
  terminatedToDeletedMs: { n: 0 },
  killToNextDeleteMs: { n: 0, kills: 0, withDeletePending: 0 },
  workerBackMs: { n: 0 },
  chaos: {
    workerKills: 0,
    workerExitsOnItsOwn: 0,
    temporalRestarts: 0,
    sshdStops: 0,
    gcpCuts: 0,
    terminations: 0,
    aws: { calls: 0, throttled: 0, errors5xx: 0, resets: 0, held: 0 },
    gcp: { connections: 0, chunks: 0, resetsBefore: 0, resetsAfter: 0, cuts: 0, delayed: 0 },
  },
  finalSweep: 'not run',
  driverRetries: 0,
  driverErrors: [],
};

test('a clean run has no violation, and its table says 0 for every must-be-0 figure', () => {
  expect(violations(clean)).toEqual([]);
  expect(table(clean)).toMatch(/secrets left behind in any target \(must be 0\)\*\* \| \*\*0\*\*/);
});

test.each<[string, Partial<Figures>, RegExp]>([
  ['a secret left behind', { leftBehind: { ...clean.leftBehind, total: 1, aws: 1, items: ['eu-central-1 tower-x-A'] } }, /secrets left behind: 1: eu-central-1 tower-x-A/],
  ['a run stuck open', { lostOrStuck: { total: 1, runs: [{ runId: 'r1', why: 'stuck open in phase deleting' }] } }, /runs lost or stuck open: 1: r1 stuck open/],
  ['a plaintext hit', { plaintextHits: { ...clean.plaintextHits, total: 1, hits: [{ value: 'secret #3', source: 'worker-01.log @10' }] } }, /plaintext hits: 1: secret #3 in worker-01.log/],
  ['a wrong value', { wrongValues: { total: 1, checked: 3, runs: ['r2: A'] } }, /wrong value in the target: r2: A/],
  ['a search control that found nothing', { controls: { 'scanner finds planted values': false } }, /controls failed .*scanner finds planted values/],
])('%s fails the run', (_what, change, line) => {
  const v = violations({ ...clean, ...change });
  expect(v).toHaveLength(1);
  expect(v[0]).toMatch(line);
});
