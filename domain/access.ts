/**
 * Who may do what: the workspace roles, the actions they grant, and the rules for the cases a role
 * alone does not settle (launching for a user, acting on a run, changing a member, user secrets).
 * Pure: the API (api/auth.ts) applies these to every route; docs/access.md shows the same table,
 * rendered from ACTIONS by `accessTable()` (a test keeps the two equal).
 *
 * Decisions are one of three answers:
 *   - `allow`;
 *   - `hidden`: the caller may not know the thing exists (a workspace it has no role in, another
 *     user's secrets, a run of such a workspace): answered exactly as if it did not exist (404);
 *   - `forbidden`: the caller sees the thing but may not do this (403, naming the role needed and
 *     nothing else).
 */

/** Workspace roles, least to most. */
export const ROLES = ['view', 'launch', 'connect', 'maintainer', 'admin', 'owner'] as const;
export type Role = (typeof ROLES)[number];

export function isRole(v: unknown): v is Role {
  return typeof v === 'string' && (ROLES as readonly string[]).includes(v);
}

function roleRank(role: Role): number {
  return ROLES.indexOf(role);
}

function roleAtLeast(role: Role | undefined, min: Role): boolean {
  return role !== undefined && roleRank(role) >= roleRank(min);
}

/** A caller: a person (a user of the vault) or a service (the launch service, CI ...). */
export type PrincipalKind = 'user' | 'service';

export interface Principal {
  id: string;
  kind: PrincipalKind;
  name: string;
  /** A broker administrator manages users, services, workspaces, tokens, the vault master key. Not a workspace role. */
  brokerAdmin: boolean;
}

/** A principal's role in one workspace. */
export interface Membership {
  workspaceId: string;
  principalId: string;
  role: Role;
  /** Services only: may launch on behalf of the workspace's members (the launch service's right). */
  onBehalf: boolean;
}

/** What a role in a workspace lets a caller do, and the least role for it. */
export const ACTIONS = {
  read: {
    min: 'view',
    what: 'list secret names and metadata, compute environments and runs of the workspace; show a compute environment or a run',
  },
  launch: {
    min: 'launch',
    what: "launch a run with the workspace's secrets and the caller's own user secrets; complete, cancel and renew the runs the caller launched",
  },
  manageRuns: { min: 'maintainer', what: 'complete, cancel and renew any run of the workspace' },
  writeSecrets: { min: 'maintainer', what: 'create, update and delete workspace secrets' },
  manage: {
    min: 'admin',
    what: 'credentials (list, create, delete, verify), compute environments (create, update, delete), rotations and their schedules',
  },
  members: { min: 'admin', what: 'list members; add, change and remove members and their roles (an admin: not owners, and never to owner)' },
  audit: { min: 'admin', what: "read the workspace's audit records" },
} as const satisfies Record<string, { min: Role; what: string }>;

export type WorkspaceAction = keyof typeof ACTIONS;

export type Decision = { allow: true } | { allow: false; answer: 'hidden' | 'forbidden'; needs?: string };

const ALLOW: Decision = { allow: true };
const HIDDEN: Decision = { allow: false, answer: 'hidden' };
const forbidden = (needs: string): Decision => ({ allow: false, answer: 'forbidden', needs });

/**
 * Can the caller see the workspace at all? Members can; broker administrators can (they manage
 * workspaces and their members) but hold no role in it unless given one.
 */
function seesWorkspace(p: Principal, m: Membership | undefined): boolean {
  return p.brokerAdmin || m !== undefined;
}

/** A workspace action: allowed, hidden (not a member and no broker administrator), or forbidden. */
export function decideWorkspace(p: Principal, m: Membership | undefined, action: WorkspaceAction): Decision {
  if (!seesWorkspace(p, m)) return HIDDEN;
  // Broker administrators manage the members of every workspace (a new workspace's first owner).
  if (action === 'members' && p.brokerAdmin) return ALLOW;
  if (action === 'audit' && p.brokerAdmin) return ALLOW;
  const min = ACTIONS[action].min;
  return roleAtLeast(m?.role, min) ? ALLOW : forbidden(`the ${min} role in the workspace`);
}

/**
 * Launching a run in a workspace, with `runUser` the user whose secrets the run gets.
 * - A person launches with their own user secrets only, with at least the launch role.
 * - A service launches only on behalf of a user, where it holds the launch role and the on-behalf
 *   right; the user must be allowed to launch in that workspace themselves.
 */
export function decideLaunch(
  p: Principal,
  m: Membership | undefined,
  runUser: { id: string; membership: Membership | undefined } | undefined,
): Decision {
  const base = decideWorkspace(p, m, 'launch');
  if (!base.allow) return base;
  if (p.kind === 'user') {
    if (runUser && runUser.id !== p.id) return forbidden("to launch as yourself: a person's runs get that person's user secrets only");
    return ALLOW;
  }
  if (!m?.onBehalf) return forbidden('the on-behalf right in the workspace: a service launches only on behalf of a user');
  if (!runUser) return forbidden('a user to launch on behalf of');
  if (!roleAtLeast(runUser.membership?.role, 'launch')) return forbidden('a user who holds the launch role in the workspace');
  return ALLOW;
}

/**
 * Completing, cancelling or renewing a run of the workspace (`read` for its status). The launch and
 * connect roles act on their own runs; maintainers and up on any; a service with the on-behalf right
 * on any run of the workspace (it launched them for their users).
 */
export function decideRun(p: Principal, m: Membership | undefined, runUserId: string | undefined, action: 'read' | 'control'): Decision {
  if (action === 'read') return decideWorkspace(p, m, 'read');
  const base = decideWorkspace(p, m, 'launch');
  if (!base.allow) return base;
  if (roleAtLeast(m?.role, ACTIONS.manageRuns.min)) return ALLOW;
  if (p.kind === 'service' && m?.onBehalf) return ALLOW;
  if (p.kind === 'user' && runUserId === p.id) return ALLOW;
  return forbidden(`the ${ACTIONS.manageRuns.min} role to act on another user's run`);
}

/**
 * Changing a member's role (or removing them: `to` undefined). Broker administrators and owners may
 * do anything; an admin may not touch an owner, nor make anyone an owner.
 */
export function decideMemberChange(p: Principal, actor: Membership | undefined, current: Role | undefined, to: Role | undefined): Decision {
  const base = decideWorkspace(p, actor, 'members');
  if (!base.allow) return base;
  if (p.brokerAdmin || actor?.role === 'owner') return ALLOW;
  if (current === 'owner' || to === 'owner') return forbidden('the owner role to add, change or remove owners');
  return ALLOW;
}

/**
 * A user secret: only its user sets, updates, deletes or lists it. Another caller is answered as if
 * the user did not exist, except a broker administrator, who sees users (and is told no).
 */
export function decideUserSecrets(p: Principal, userId: string): Decision {
  if (p.kind === 'user' && p.id === userId) return ALLOW;
  return p.brokerAdmin ? forbidden('to be that user: a user secret belongs to its user alone') : HIDDEN;
}

/** Broker-wide actions: users, services, tokens of others, workspaces, the vault master key. */
export function decideBroker(p: Principal): Decision {
  return p.brokerAdmin ? ALLOW : forbidden('a broker administrator');
}

/** The rows of the role table (docs/access.md): each action, and which roles hold it. */
export function accessTable(): { action: WorkspaceAction; what: string; roles: Role[] }[] {
  return (Object.keys(ACTIONS) as WorkspaceAction[]).map((action) => ({
    action,
    what: ACTIONS[action].what,
    roles: ROLES.filter((r) => roleAtLeast(r, ACTIONS[action].min)),
  }));
}

/**
 * API tokens: `sbt_` and 43 base64url characters (32 random bytes). The prefix makes a leaked token
 * recognisable to secret scanners and tells the API a broker token from an OIDC JWT.
 */
export const TOKEN_PREFIX = 'sbt_';
export const TOKEN_PATTERN = /^sbt_[A-Za-z0-9_-]{43}$/;
/** A token's life when none is asked for (the longest it may have is api/duration.ts's MAX_DURATION_MS, 365d). */
export const DEFAULT_TOKEN_TTL = '90d';
