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
