/**
 * The layout both file targets (local, hpc) write, as Nextflow's LocalSecretsProvider reads it: a
 * JSON array of {name, value} in a file of mode exactly 0600, inside a 0700 directory. One directory
 * per run, because Nextflow leaves `.nf-<hash>.secrets` files beside the store: deleting the run
 * directory removes those too. An ownership marker says which run of which workspace the directory
 * belongs to; without it the broker touches nothing.
 */
import type { PlainSecret, RunContext } from '../types';

export const STORE_FILE = 'store.json';
export const MARKER_FILE = '.secret-broker.json';
export const DIR_MODE = 0o700;
export const FILE_MODE = 0o600;
export const BROKER_ID = 'secret-broker';

export function runDirName(runId: string): string {
  return `tower-${runId}`;
}

/**
 * Characters a value cannot carry through Nextflow's local secrets provider to a task unchanged.
 * Nextflow (24.04.2 and later) copies the store into `.nf-<hash>.secrets` as lines
 * `export NAME="value"` escaping only `$` (nextflow.util.Escape.variable), and each task's wrapper
 * `source`s the lines of the secrets it asks for, found with `grep`, under `set -eu`. Inside those
 * double quotes bash removes a backslash before `\`, `"` or a backtick and runs what backticks or
 * paired quotes enclose, so such a value reaches the task changed, fails it, or runs as shell code;
 * a line break ends the line `grep` finds, and a NUL makes it read the file as binary, so no task
 * gets any secret. (The vault refuses line breaks in every value already.) Found by reading
 * Nextflow's LocalSecretsProvider and BashWrapperBuilder.
 */
const UNSAFE_IN_NEXTFLOW_FILE: readonly [string, string][] = [
  ['"', 'a double quote (")'],
  ['`', 'a backtick (`)'],
  ['\\', 'a backslash (\\)'],
  ['\u0000', 'a NUL character (\\u0000)'],
  ['\n', 'a line break (\\n)'],
  ['\r', 'a carriage return (\\r)'],
];

/**
 * Why `value` cannot go into a Nextflow secrets file for tasks to read unchanged, or null. Names the
 * character, never the value.
 */
export function nextflowFileValueProblem(value: string): string | null {
  const found = UNSAFE_IN_NEXTFLOW_FILE.filter(([c]) => value.includes(c)).map(([, said]) => said);
  if (!found.length) return null;
  return `holds ${found.join(' and ')}, which Nextflow's local secrets provider does not pass to tasks unchanged (its task wrapper reads values inside double quotes, escaping only $): the task would see another value, fail, or run part of it as shell code. Store it without those characters (for example base64-encoded, decoded by the pipeline) to use it on local and hpc compute environments`;
}

export function renderStore(secrets: PlainSecret[]): string {
  return JSON.stringify(secrets.map(({ name, value }) => ({ name, value })));
}

export interface OwnerMarker {
  broker: typeof BROKER_ID;
  runId: string;
  workspaceId: string;
}

export function renderMarker(run: Pick<RunContext, 'runId' | 'workspaceId'>): string {
  const marker: OwnerMarker = { broker: BROKER_ID, runId: run.runId, workspaceId: run.workspaceId };
  return JSON.stringify(marker) + '\n';
}

/** The marker's contents, or null when the text is not a broker marker. */
export function parseMarker(text: string): OwnerMarker | null {
  try {
    const m = JSON.parse(text) as Partial<OwnerMarker>;
    if (m.broker === BROKER_ID && typeof m.runId === 'string' && typeof m.workspaceId === 'string') {
      return { broker: BROKER_ID, runId: m.runId, workspaceId: m.workspaceId };
    }
  } catch {
    /* not ours */
  }
  return null;
}

/** What the Nextflow head job needs to read the store. */
export function headJobEnv(storePath: string): Record<string, string> {
  return { NXF_SECRETS_FILE: storePath, NXF_ENABLE_SECRETS: 'true' };
}

/** Mode bits other than exactly `want`, as a human sentence, or null when right. */
export function modeProblem(actual: number, want: number): string | null {
  const perm = actual & 0o777;
  return perm === want ? null : `mode is ${perm.toString(8).padStart(4, '0')}, must be ${want.toString(8).padStart(4, '0')}`;
}
