/**
 * Replays every recorded history in test/replay/histories/ (record.ts wrote them from earlier
 * workflow code) against the workflow code of this checkout. A change that would make a run already
 * in flight non-deterministic (another activity order, an extra timer, a removed signal handler ...)
 * fails here instead of in production. A new JSON file in the folder is picked up by itself.
 *
 * When a case fails, the change is not safe for runs in flight: keep the old behaviour for old
 * histories (patched() / deprecatePatch() from @temporalio/workflow, or a new workflow type) instead
 * of re-recording the fixture. See record.ts for adding fixtures.
 *
 * Every patch the workflow code uses (patched() / deprecatePatch() in workflows/) needs a fixture
 * that took it, so the patched branch is replayed as well as the old one: a new patch fails here until
 * record.ts records a run that takes it (patches.ts reads the ids from the source).
 *
 * Every pipelineRun launched today takes the short launch (`shape: 2` in its start input; see
 * workflows/pipeline-run.ts): at least MIN_SHORT_LAUNCH_FIXTURES fixtures must be such runs, so a
 * non-deterministic change to the path every live run takes cannot pass on the older shape's
 * fixtures alone (record.ts records every pipelineRun scenario in both shapes, the short one as -s2).
 *
 * The bundle is the one global setup builds (test/harness/global-setup.ts), with the production
 * failure converter (codec/failure-converter), as record.ts used; no payload codec: the fixtures
 * are plain JSON payloads.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { History } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { FAILURE_CONVERTER_PATH } from '../../codec/data-converter';
import { ENCODING as ENCRYPTED_ENCODING } from '../../codec/encryption-codec';
import { historyFromJSONObject } from './history-json';
import { patchCallsIn, patchesTaken, workflowPatchIds } from './patches';
import { testWorkflowBundle } from '../harness/global-setup';

const HISTORIES_DIR = path.join(__dirname, 'histories');

/** Fewer files than this means fixtures were lost (an emptied or half-deleted folder). */
const MIN_FIXTURES = 30;

/** Every workflow type that can have runs in flight needs at least one fixture. */
const WORKFLOW_TYPES = ['pipelineRun', 'rotateCredential', 'scheduledRotation', 'rotateVaultMasterKey', 'scheduledVaultKeyRotation', 'sweepOrphans', 'reapTerminatedRuns', 'cleanUpTerminatedRun'];

/**
 * Patch ids the workflow code used when this list was written: the scan must find at least these, so
 * a scan that silently finds nothing (a moved folder, a renamed import) cannot pass the guard below.
 * Drop an id here only with its last patched() / deprecatePatch() call.
 */
const KNOWN_PATCH_IDS = ['audit-lease-expiry', 'audit-scheduled-rotation', 'audit-terminated-cleanup', 'cleanup-child-summary', 'rotation-child-summary'];

/**
 * pipelineRun fixtures of the short launch (`shape: 2`, what services/pipeline-runs.ts launches): fewer
 * means the shape every live run takes lost its coverage. Counted from the start input, not the name.
 */
const MIN_SHORT_LAUNCH_FIXTURES = 8;

/** The launch shape a pipelineRun history was started with (`shape` of its input; absent: 1). */
function launchShapeOf(history: History): number | undefined {
  const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
  if (started?.workflowType?.name !== 'pipelineRun') return undefined;
  const payload = started.input?.payloads?.[0];
  const data = payload?.data;
  // Only a plain JSON input can be read (an encrypted fixture fails its own test below).
  if (!data || Buffer.from(payload.metadata?.encoding ?? new Uint8Array()).toString('utf8') !== 'json/plain') return undefined;
  const input = JSON.parse(Buffer.from(data).toString('utf8')) as { shape?: unknown };
  return typeof input.shape === 'number' ? input.shape : 1;
}

const isShortLaunch = (f: Pick<Fixture, 'shape'>) => f.shape === 2;

interface Fixture {
  file: string;
  workflowId: string;
  workflowType: string;
  history: History;
  /** A pipelineRun's launch shape (launchShapeOf); undefined for other workflow types. */
  shape: number | undefined;
  /** Patch ids the history took (its core_patch markers). */
  patches: string[];
  /** Every payload metadata "encoding" value in the file. */
  encodings: Set<string>;
}

function load(file: string): Fixture {
  const json = JSON.parse(fs.readFileSync(path.join(HISTORIES_DIR, file), 'utf8')) as { workflowId?: unknown; events?: unknown };
  const history = historyFromJSONObject(json);
  const encodings = new Set<string>();
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (!v || typeof v !== 'object') return;
    for (const [k, x] of Object.entries(v)) {
      if (k === 'metadata' && x && typeof x === 'object' && typeof (x as Record<string, unknown>).encoding === 'string') {
        encodings.add(Buffer.from((x as Record<string, string>).encoding, 'base64').toString('utf8'));
      }
      walk(x);
    }
  };
  walk(json.events);
  return {
    file,
    // Histories do not carry the workflow id; record.ts stores it beside the events.
    workflowId: typeof json.workflowId === 'string' ? json.workflowId : path.basename(file, '.json'),
    workflowType: history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? '(no start event)',
    history,
    shape: launchShapeOf(history),
    patches: patchesTaken(history),
    encodings,
  };
}

const files = fs
  .readdirSync(HISTORIES_DIR)
  .filter((f) => f.endsWith('.json'))
  .sort();
const fixtures = files.map(load);

/** Replay outcome per file: undefined when it replayed cleanly. */
const outcomes = new Map<string, Error | undefined>();
let replayMs = 0;

beforeAll(async () => {
  const workflowBundle = await testWorkflowBundle();
  const started = Date.now();
  // One replay worker for all histories, one after another (the SDK replays them in order).
  const results = Worker.runReplayHistories(
    { workflowBundle, dataConverter: { failureConverterPath: FAILURE_CONVERTER_PATH }, replayName: 'replay-fixtures' },
    fixtures.map((f) => ({ workflowId: f.workflowId, history: f.history })),
  );
  let i = 0;
  for await (const r of results) outcomes.set(fixtures[i++].file, r.error);
  replayMs = Date.now() - started;
});

afterAll(() => {
  process.stdout.write(`replayed ${outcomes.size} histories in ${replayMs} ms\n`);
});

test(`the folder holds at least ${MIN_FIXTURES} fixtures, covering every workflow type`, () => {
  expect(files.length).toBeGreaterThanOrEqual(MIN_FIXTURES);
  const types = new Set(fixtures.map((f) => f.workflowType));
  expect(WORKFLOW_TYPES.filter((t) => !types.has(t))).toEqual([]);
});

describe('every patch of the workflow code is taken by a fixture', () => {
  const source = workflowPatchIds();

  test('the scan reads patch ids from calls, not from comments, and names calls it cannot read', () => {
    const scan = patchCallsIn(
      [
        "import * as wf from '@temporalio/workflow';",
        "// patched('in-a-comment') is no call",
        "/* nor deprecatePatch('in-a-block-comment') */",
        "if (patched('a')) x();",
        'deprecatePatch("b");',
        'const y = wf.patched(`c`) ? 1 : 0;',
        "notPatched('d'); obj.patchedThing('e');",
        "if (patched('a')) z();",
        'patched(SOME_ID);',
      ].join('\n'),
      'example.ts',
    );
    expect(scan.ids).toEqual(['a', 'b', 'c']);
    expect(scan.unreadable).toEqual(['example.ts:9: patched(SOME_ID)']);
  });

  test('the scan finds the known patch ids in workflows/, each given as a string literal', () => {
    expect(source.files.length).toBeGreaterThan(0);
    expect(source.unreadable).toEqual([]);
    expect(source.ids).toEqual(expect.arrayContaining(KNOWN_PATCH_IDS));
  });

  test('a fixture takes every patch id of workflows/', () => {
    const taken = new Set(fixtures.flatMap((f) => f.patches));
    // A patch without a fixture: record a run that takes it (record.ts, under a new REPLAY_RECORD_SUFFIX).
    expect(source.ids.filter((id) => !taken.has(id))).toEqual([]);
  });
});

describe(`at least ${MIN_SHORT_LAUNCH_FIXTURES} pipelineRun fixtures took the short launch (shape 2)`, () => {
  test('the fixtures launched with shape: 2 are enough', () => {
    const short = fixtures.filter(isShortLaunch).map((f) => f.file);
    // Too few: record the pipelineRun scenarios in shape 2 (record.ts, REPLAY_RECORD_ONLY='-s2$').
    expect(short.length).toBeGreaterThanOrEqual(MIN_SHORT_LAUNCH_FIXTURES);
  });

  test('a fixture named -s2 was launched with shape 2', () => {
    const named = fixtures.filter((f) => f.workflowType === 'pipelineRun' && /-s2(-|\.json$)/.test(f.file));
    expect(named.length).toBeGreaterThanOrEqual(MIN_SHORT_LAUNCH_FIXTURES);
    expect(named.filter((f) => !isShortLaunch(f)).map((f) => f.file)).toEqual([]);
  });

  test('the count reads the start input: the same histories without shape in their input count none', () => {
    // Each shape-2 fixture again, its start input without `shape` (as a run launched before it):
    // read through the same path as the fixtures, none counts, so the guard above would fail.
    const resaved = fixtures.filter(isShortLaunch).map((f) => {
      const json = JSON.parse(fs.readFileSync(path.join(HISTORIES_DIR, f.file), 'utf8')) as { events: { workflowExecutionStartedEventAttributes?: { input: { payloads: { data: string }[] } } }[] };
      const payload = json.events[0].workflowExecutionStartedEventAttributes!.input.payloads[0];
      const { shape, ...input } = JSON.parse(Buffer.from(payload.data, 'base64').toString('utf8')) as { shape?: number };
      expect(shape).toBe(2);
      payload.data = Buffer.from(JSON.stringify(input)).toString('base64');
      return { shape: launchShapeOf(historyFromJSONObject(json)) };
    });
    expect(resaved.length).toBeGreaterThanOrEqual(MIN_SHORT_LAUNCH_FIXTURES);
    expect(resaved.map((f) => f.shape)).toEqual(resaved.map(() => 1));
    expect(resaved.filter(isShortLaunch).length).toBeLessThan(MIN_SHORT_LAUNCH_FIXTURES);
  });
});

test('the bundle carries the production failure converter, as the recording did', () => {
  const codePath = process.env.BROKER_TEST_WORKFLOW_BUNDLE;
  if (!codePath) return; // bundled above with FAILURE_CONVERTER_PATH
  expect(fs.readFileSync(codePath, 'utf8')).toContain('codec/failure-converter');
});

test.each(files)('%s replays on the current workflow code', (file) => {
  const fixture = fixtures.find((f) => f.file === file)!;
  // An encrypted history cannot be replayed here (no key) and must not be committed.
  expect([...fixture.encodings].filter((e) => e === ENCRYPTED_ENCODING)).toEqual([]);
  expect(outcomes.has(file)).toBe(true);
  const error = outcomes.get(file);
  if (error) throw new Error(`${file} (${fixture.workflowType}, workflow id ${fixture.workflowId}) no longer replays: ${error.name}: ${error.message}`, { cause: error });
});
