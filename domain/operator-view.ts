/**
 * What the Temporal Web UI shows of a run or a rotation without opening its payloads: a one-line static
 * summary (the list page's Summary column), static details (the detail page's header), both given at
 * start, and current details the workflow keeps up to date (phase, last error, and while deleting what
 * is left). Markdown, as the UI renders it. Names, ids and counts only: never a secret value (the
 * workflows never hold one; the leak tests search these too). Pure: the services and the workflows
 * both call these.
 */
import type { RotationInput, RotationStatus } from './rotation';
import type { RunStatus, TrackedRef } from './run';

/** The names a launch knows of a run (the API resolves them from the vault). */
export interface RunLabels {
  runId: string;
  workspace: string;
  user: string;
  computeEnv: string;
  platform?: string;
  secretCount: number;
}

/** At most this many characters of an error in the current details (the status keeps the whole). */
const ERROR_SHOWN = 500;

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;
/** Markdown-inert text: names come from users, so their markup characters are escaped. */
/**
 * Lines of their own, without list margins: the UI renders markdown (where a single newline joins
 * lines into one paragraph) in boxes of fixed height, so each line ends in a hard break (two spaces).
 */
const lines = (ls: string[]) => ls.join('  \n');
const md = (s: string) => s.replace(/[\\`*_[\]<>|#]/g, (c) => `\\${c}`).replace(/\s+/g, ' ');

export function runSummary(l: RunLabels): string {
  return `run ${l.runId}: ${plural(l.secretCount, 'secret')} for ${l.workspace}/${l.user} on ${l.computeEnv}${l.platform ? ` (${l.platform})` : ''}`;
}

export function runDetails(l: RunLabels): string {
  return lines([
    `**Run** ${md(l.runId)}, ${plural(l.secretCount, 'secret')}`,
    `**Workspace** ${md(l.workspace)}`,
    `**User** ${md(l.user)}`,
    `**Compute environment** ${md(l.computeEnv)}${l.platform ? ` (${md(l.platform)})` : ''}`,
  ]);
}

const pending = (r: TrackedRef) => r.state === 'planned' || r.state === 'pushed';

/** Secret names by where they are (file targets keep a run's secrets in one directory), markdown-inert. */
function byPlace(refs: TrackedRef[]): string {
  const at = new Map<string, string[]>();
  for (const r of refs) at.set(r.ref.remoteId, [...(at.get(r.ref.remoteId) ?? []), r.ref.secretName]);
  return [...at].map(([where, names]) => `${names.map(md).join(', ')} (${md(where)})`).join('; ');
}

/**
 * The run as it is now: phase, how it ended, what is left to delete and the last error. Few lines:
 * the Web UI shows current details in a box of fixed height.
 */
export function runCurrentDetails(s: RunStatus): string {
  const rounds = s.phase === 'deleting' || s.phase === 'deleted' || s.deleteAttempts > 0 ? `, ${plural(s.deleteAttempts, 'delete round')}` : '';
  const shown = [`**Phase** ${s.phase}${s.outcome ? ` (run ${s.outcome})` : ''}${s.platform ? ` on ${s.platform}` : ''}${rounds}`];
  if (s.phase === 'ready' && s.leaseExpiresAt) shown.push(`**Lease expires** ${s.leaseExpiresAt}`);
  return lines([...shown, ...deleteLines(s)]);
}

/** While deleting, what is left and where; what was left alone; the last error. */
function deleteLines(s: { phase: string; refs: TrackedRef[]; lastError?: string }): string[] {
  const shown: string[] = [];
  const left = s.refs.filter(pending);
  if (s.phase === 'deleting') shown.push(left.length ? `**Left to delete** ${left.length} of ${s.refs.length}: ${byPlace(left)}` : '**Left to delete** nothing');
  const notOwned = s.refs.filter((r) => r.state === 'not-owned');
  if (notOwned.length) shown.push(`**Left alone (not the broker's)** ${byPlace(notOwned)}`);
  if (s.lastError) shown.push(lastErrorLine(s.lastError));
  return shown;
}

const lastErrorLine = (e: string) => `**Last error** ${md(e.length > ERROR_SHOWN ? `${e.slice(0, ERROR_SHOWN)}…` : e)}`;

/** The cleanup of a run whose workflow was terminated before it deleted (workflows/cleanup.ts). */
export function cleanupSummary(runId: string): string {
  return `cleanup of run ${runId}, terminated before it deleted its secrets`;
}

/** A terminated run's cleanup as it is now: the same lines as a run's. */
export function cleanupCurrentDetails(s: { phase: string; refs: TrackedRef[]; deleteAttempts: number; lastError?: string }): string {
  const shown = [`**Phase** ${s.phase}${s.deleteAttempts ? `, ${plural(s.deleteAttempts, 'delete round')}` : ''}`];
  if (s.phase === 'unreadable') shown.push("the run's history could not be read: the hourly sweep deletes what it left");
  return lines([...shown, ...deleteLines(s)]);
}

/** The names a rotation is known by: the account and the credential's label. */
export interface RotationLabels {
  kind: string;
  account: string;
  label: string;
  credentialId: string;
  /** The workflow that started it (a schedule's firing), if not an operator. */
  startedBy?: string;
}

export function rotationLabels(input: RotationInput, startedBy?: string): RotationLabels {
  return { kind: input.target.kind, account: input.account, label: input.label ?? input.account, credentialId: input.target.credentialId, ...(startedBy ? { startedBy } : {}) };
}

export function rotationSummary(l: RotationLabels): string {
  return `${l.startedBy ? 'scheduled ' : ''}rotation of ${l.label} (${l.kind})`;
}

export function rotationDetails(l: RotationLabels): string {
  return lines([`**Rotation** ${md(l.kind)}`, `**Account** ${md(l.account)}`, `**Credential** ${md(l.label)} (${md(l.credentialId)})`, ...(l.startedBy ? [`**Started by** ${md(l.startedBy)}`] : [])]);
}

export function rotationCurrentDetails(s: RotationStatus, lastError?: string): string {
  const shown = [`**Step** ${s.step}`];
  if (s.from) shown.push(`**Slots** ${md(s.from)}${s.to ? ` → ${md(s.to)}` : ''}`);
  if (s.graceEndsAt !== undefined) shown.push(`**Grace ends** ${new Date(s.graceEndsAt).toISOString()}`);
  if (s.steps.length) shown.push(`**Done** ${s.steps.map((d) => d.step).join(', ')}`);
  if (lastError) shown.push(lastErrorLine(lastError));
  return lines(shown);
}
