/**
 * What a chaos run will do, drawn from one seed: the secret values (random, distinctive, some of
 * them short), who holds them, and for each run its platform, its secrets, when it starts, how long
 * it lives and how it ends.
 */
import type { Platform } from '../../domain/run';
import { seeded } from '../harness/fault-proxy';
import type { VaultApi } from '../../store/types';
import type { ChaosConfig } from './config';
import type { ComputeEnvs } from './world';

/** The plan's generator: the fault proxies' (mulberry32), seeded. */
export const rng = seeded;

export type Rand = () => number;
export const between = (r: Rand, [lo, hi]: [number, number]) => Math.floor(lo + r() * (hi - lo));
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

const ALNUM = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'];
const PRINTABLE = [...ALNUM, ...'-_.~+=/:@%!*'];
// Two bytes each in UTF-8: a four-character value is still a rare byte sequence, so a miss in
// megabytes of binary files means something, and a hit is not chance.
const WIDE = [...'ÆØÅæøåßðþÐÞçñéüΩλψжщ'];

/** A long value: 20 to 48 random printable characters (no fixed prefix, so nothing else matches it). */
function longValue(r: Rand): string {
  const n = between(r, [20, 49]);
  let s = '';
  for (let i = 0; i < n; i++) s += pick(r, PRINTABLE);
  return s;
}

/** A short value: 4 or 5 characters, two of them outside ASCII. */
function shortValue(r: Rand): string {
  const n = between(r, [4, 6]);
  const chars = Array.from({ length: n }, (_, i) => (i < 2 ? pick(r, WIDE) : pick(r, ALNUM)));
  for (let i = chars.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [chars[i], chars[j]] = [chars[j]!, chars[i]!];
  }
  return chars.join('');
}

export interface SecretBook {
  /** Every value stored, in order (indexes name them in reports). */
  values: string[];
  short: Set<number>;
  /** Workspace id → name → value. */
  workspace: Map<string, Map<string, string>>;
  /** User id → name → value. */
  user: Map<string, Map<string, string>>;
  /** Names a run may ask for. */
  names: string[];
}

const WS_NAMES = Array.from({ length: 30 }, (_, i) => `WS_SECRET_${String(i).padStart(2, '0')}`);
/** Names users override (a run asking for one gets the user's value). */
const OVERRIDDEN = WS_NAMES.slice(0, 8);
const USER_ONLY = ['USER_TOKEN', 'USER_KEY', 'PERSONAL_API', 'HOME_PASS'];

/** Store workspace and user secrets in the vault: a quarter of the values short. */
export async function storeSecrets(vault: VaultApi, r: Rand, workspaceIds: string[], userIds: string[]): Promise<SecretBook> {
  const book: SecretBook = { values: [], short: new Set(), workspace: new Map(), user: new Map(), names: [...WS_NAMES, ...USER_ONLY] };
  const value = () => {
    const isShort = r() < 0.25;
    const v = isShort ? shortValue(r) : longValue(r);
    if (book.values.includes(v)) return value();
    if (isShort) book.short.add(book.values.length);
    book.values.push(v);
    return v;
  };
  for (const ws of workspaceIds) {
    const m = new Map<string, string>();
    for (const name of WS_NAMES) {
      const v = value();
      await vault.setSecret({ scope: 'workspace', ownerId: ws, name, value: v });
      m.set(name, v);
    }
    book.workspace.set(ws, m);
  }
  for (const u of userIds) {
    const m = new Map<string, string>();
    for (const name of [...OVERRIDDEN.filter(() => r() < 0.5), ...USER_ONLY]) {
      const v = value();
      await vault.setSecret({ scope: 'user', ownerId: u, name, value: v });
      m.set(name, v);
    }
    book.user.set(u, m);
  }
  return book;
}

export type EndPlan = 'succeeded' | 'failed' | 'cancel' | 'lease' | 'terminate-ready' | 'terminate-launch' | 'fail-missing' | 'fail-verify';

export interface RunPlan {
  runId: string;
  seq: number;
  /** When to launch, ms after the start. */
  at: number;
  workspaceId: string;
  userId: string;
  platform: Platform;
  computeEnvId: string;
  computeEnvName: string;
  secretNames: string[];
  /** Name → the value the run must get (the user's over the workspace's). */
  expected: Record<string, string>;
  end: EndPlan;
  holdMs: number;
  leaseMs?: number;
  /** Renew the lease once while it lives. */
  renew: boolean;
  /** terminate-launch: how long after the launch starts. */
  terminateAfterMs?: number;
}

/** The outcome a run must end with, given its plan. */
export function expectedOutcome(end: EndPlan): string {
  return { succeeded: 'succeeded', failed: 'failed', cancel: 'cancelled', lease: 'lease-expired', 'terminate-ready': 'terminated', 'terminate-launch': 'terminated', 'fail-missing': 'launch-failed', 'fail-verify': 'launch-failed' }[end];
}

const PLATFORMS: Platform[] = ['local', 'hpc', 'aws', 'gcp'];

/** Secret counts: a few runs with none, most with a handful, some with many. */
function secretCount(r: Rand): number {
  const x = r();
  if (x < 0.06) return 0;
  if (x < 0.5) return between(r, [1, 4]);
  if (x < 0.9) return between(r, [4, 9]);
  return between(r, [9, 16]);
}

export function planRuns(cfg: ChaosConfig, r: Rand, book: SecretBook, envs: ComputeEnvs, userIds: string[], tag: string): RunPlan[] {
  const plans: RunPlan[] = [];
  const ends: EndPlan[] = [];
  for (let i = 0; i < cfg.terminations; i++) ends.push(i % 2 === 0 ? 'terminate-ready' : 'terminate-launch');
  const weighted: [EndPlan, number][] = [
    ['succeeded', 0.38],
    ['failed', 0.13],
    ['cancel', 0.17],
    ['lease', 0.2],
    ['fail-missing', 0.06],
    ['fail-verify', 0.06],
  ];
  while (ends.length < cfg.runs) {
    let x = r();
    const hit = weighted.find(([, w]) => (x -= w) < 0);
    ends.push(hit ? hit[0] : 'succeeded');
  }
  // Shuffle so terminations fall anywhere in the run.
  for (let i = ends.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [ends[i], ends[j]] = [ends[j]!, ends[i]!];
  }
  const workspaceIds = Object.keys(envs.byWorkspace);
  ends.forEach((end, seq) => {
    const workspaceId = end === 'fail-verify' ? envs.awsNoRead.workspaceId : pick(r, workspaceIds);
    const userId = pick(r, userIds);
    const platform: Platform = end === 'fail-verify' ? 'aws' : PLATFORMS[seq % PLATFORMS.length]!;
    const computeEnvId = end === 'fail-verify' ? envs.awsNoRead.id : envs.byWorkspace[workspaceId]![platform];
    let count = secretCount(r);
    if (end === 'fail-verify' || end === 'fail-missing') count = Math.max(1, count);
    const names = new Set<string>();
    while (names.size < count) names.add(pick(r, book.names));
    const secretNames = [...names];
    if (end === 'fail-missing') secretNames.splice(between(r, [0, secretNames.length]), 0, `MISSING_${seq}`);
    const expected: Record<string, string> = {};
    for (const n of secretNames) {
      const v = book.user.get(userId)?.get(n) ?? book.workspace.get(workspaceId)?.get(n);
      if (v !== undefined) expected[n] = v;
    }
    // A user-only name the user lacks: the launch fails as a missing secret, which is what it is.
    const missingAnyway = secretNames.some((n) => expected[n] === undefined);
    plans.push({
      runId: `chaos${tag}${String(seq).padStart(3, '0')}`,
      seq,
      at: Math.floor((seq / cfg.runs) * cfg.launchWindowMs + r() * (cfg.launchWindowMs / cfg.runs)),
      workspaceId,
      userId,
      platform,
      computeEnvId,
      computeEnvName: end === 'fail-verify' ? 'aws-noread' : `${platform}-ce`,
      secretNames,
      expected,
      end: missingAnyway && end !== 'fail-verify' && !end.startsWith('terminate') ? 'fail-missing' : end,
      holdMs: between(r, cfg.holdMs),
      ...(end === 'lease' ? { leaseMs: between(r, cfg.leaseMs) } : {}),
      renew: end === 'succeeded' && r() < 0.15,
      ...(end === 'terminate-launch' ? { terminateAfterMs: between(r, [200, 2_500]) } : {}),
    });
  });
  return plans;
}
