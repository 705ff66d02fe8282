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
const md = (s: string) => s.replace(/[\\`*_[\]<>|#]/g, (c) => `\\${c}`).replace(/\s+/g, ' ');

export function runSummary(l: RunLabels): string {
  return `run ${l.runId}: ${plural(l.secretCount, 'secret')} for ${l.workspace}/${l.user} on ${l.computeEnv}${l.platform ? ` (${l.platform})` : ''}`;
}

export function runDetails(l: RunLabels): string {
  return [
    `**Run** ${md(l.runId)}`,
    `**Workspace** ${md(l.workspace)}`,
    `**User** ${md(l.user)}`,
    `**Compute environment** ${md(l.computeEnv)}${l.platform ? ` (${md(l.platform)})` : ''}`,
    `**Secrets** ${l.secretCount}`,
    '',
    'The current details below say the phase, the last error and, while deleting, what is left. `secret-broker runs status <runId>` says the same.',
  ].join('\n');
}

const pending = (r: TrackedRef) => r.state === 'planned' || r.state === 'pushed';

/** The run as it is now: phase, how it ended, what is left to delete and the last error. */
export function runCurrentDetails(s: RunStatus): string {
  const lines = [`**Phase** ${s.phase}${s.outcome ? ` (run ${s.outcome})` : ''}`];
  if (s.platform) lines.push(`**Platform** ${s.platform}`);
  if (s.phase === 'ready' && s.leaseExpiresAt) lines.push(`**Lease expires** ${s.leaseExpiresAt}`);
  if (s.phase === 'deleting' || s.phase === 'deleted' || s.deleteAttempts > 0) {
    const left = s.refs.filter(pending);
    lines.push(`**Delete rounds** ${s.deleteAttempts}`);
    if (s.phase === 'deleting') {
      lines.push(
        left.length
          ? `**Left to delete** ${left.length} of ${s.refs.length}: ${left.map((r) => `${md(r.ref.secretName)} (${md(r.ref.remoteId)})`).join(', ')}`
          : '**Left to delete** nothing',
      );
    }
    const notOwned = s.refs.filter((r) => r.state === 'not-owned');
    if (notOwned.length) lines.push(`**Left alone (not the broker's)** ${notOwned.map((r) => md(r.ref.secretName)).join(', ')}`);
  }
  if (s.lastError) lines.push(`**Last error** ${md(s.lastError.length > ERROR_SHOWN ? `${s.lastError.slice(0, ERROR_SHOWN)}…` : s.lastError)}`);
  return lines.join('\n');
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
  return [
    `**Rotation** ${md(l.kind)}`,
    `**Account** ${md(l.account)}`,
    `**Credential** ${md(l.label)} (${md(l.credentialId)})`,
    ...(l.startedBy ? [`**Started by** ${md(l.startedBy)}`] : []),
    '',
    'The current details below say the step, the slots and the last error. `secret-broker rotations status <workflowId>` says the same.',
  ].join('\n');
}

export function rotationCurrentDetails(s: RotationStatus, lastError?: string): string {
  const lines = [`**Step** ${s.step}`];
  if (s.from) lines.push(`**Slots** ${md(s.from)}${s.to ? ` → ${md(s.to)}` : ''}`);
  if (s.graceEndsAt !== undefined) lines.push(`**Grace ends** ${new Date(s.graceEndsAt).toISOString()}`);
  if (s.steps.length) lines.push(`**Done** ${s.steps.map((d) => d.step).join(', ')}`);
  if (lastError) lines.push(`**Last error** ${md(lastError.length > ERROR_SHOWN ? `${lastError.slice(0, ERROR_SHOWN)}…` : lastError)}`);
  return lines.join('\n');
}
