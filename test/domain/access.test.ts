/**
 * The role rules of domain/access.ts, case by case, and the role table of docs/access.md rendered
 * from them (so the documented table is the one the API applies).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  accessTable,
  decideLaunch,
  decideMemberChange,
  decideRun,
  decideUserSecrets,
  decideWorkspace,
  ROLES,
  type Decision,
  type Membership,
  type Principal,
  type Role,
  type WorkspaceAction,
} from '../../domain/access';

const person = (id = 'u1', brokerAdmin = false): Principal => ({ id, kind: 'user', name: id, brokerAdmin });
const service = (id = 's1'): Principal => ({ id, kind: 'service', name: id, brokerAdmin: false });
const member = (p: Principal, role: Role, onBehalf = false): Membership => ({ workspaceId: 'w', principalId: p.id, role, onBehalf });
const answer = (d: Decision) => (d.allow ? 'allow' : d.answer);

describe('workspace actions', () => {
  // The table: which roles hold each action.
  const expected: Record<WorkspaceAction, Role[]> = {
    read: ['view', 'launch', 'connect', 'maintainer', 'admin', 'owner'],
    launch: ['launch', 'connect', 'maintainer', 'admin', 'owner'],
    manageRuns: ['maintainer', 'admin', 'owner'],
    writeSecrets: ['maintainer', 'admin', 'owner'],
    manage: ['admin', 'owner'],
    members: ['admin', 'owner'],
    audit: ['admin', 'owner'],
  };

  test.each(Object.entries(expected))('%s: exactly these roles', (action, roles) => {
    for (const role of ROLES) {
      const p = person();
      expect([role, answer(decideWorkspace(p, member(p, role), action as WorkspaceAction))]).toEqual([role, roles.includes(role) ? 'allow' : 'forbidden']);
    }
  });

  test('no role: hidden, whatever the action; a broker administrator sees the workspace but holds no role in it', () => {
    for (const action of Object.keys(expected)) {
      expect(answer(decideWorkspace(person(), undefined, action as 'read'))).toBe('hidden');
      const admin = person('a', true);
      const d = decideWorkspace(admin, undefined, action as 'read');
      expect(answer(d)).toBe(action === 'members' || action === 'audit' ? 'allow' : 'forbidden');
    }
  });

  test('a forbidden answer names the role needed, nothing else', () => {
    const p = person();
    expect(decideWorkspace(p, member(p, 'view'), 'writeSecrets')).toEqual({ allow: false, answer: 'forbidden', needs: 'the maintainer role in the workspace' });
  });
});

describe('launching', () => {
  test('a person launches as themselves with the launch role or more, never for another user', () => {
    const p = person();
    expect(answer(decideLaunch(p, member(p, 'view'), undefined))).toBe('forbidden');
    expect(answer(decideLaunch(p, member(p, 'launch'), undefined))).toBe('allow');
    expect(answer(decideLaunch(p, member(p, 'connect'), { id: p.id, membership: undefined }))).toBe('allow');
    expect(answer(decideLaunch(p, member(p, 'owner'), { id: 'u2', membership: member(person('u2'), 'owner') }))).toBe('forbidden');
    expect(answer(decideLaunch(p, undefined, undefined))).toBe('hidden');
  });

  test('a service launches only with the on-behalf right, for a user who may launch there', () => {
    const s = service();
    const alice = person('alice');
    expect(answer(decideLaunch(s, member(s, 'launch'), { id: alice.id, membership: member(alice, 'launch') }))).toBe('forbidden');
    expect(answer(decideLaunch(s, member(s, 'launch', true), { id: alice.id, membership: member(alice, 'launch') }))).toBe('allow');
    expect(answer(decideLaunch(s, member(s, 'launch', true), { id: alice.id, membership: member(alice, 'view') }))).toBe('forbidden');
    expect(answer(decideLaunch(s, member(s, 'launch', true), { id: alice.id, membership: undefined }))).toBe('forbidden');
    expect(answer(decideLaunch(s, member(s, 'view', true), { id: alice.id, membership: member(alice, 'owner') }))).toBe('forbidden');
    expect(answer(decideLaunch(s, undefined, { id: alice.id, membership: member(alice, 'owner') }))).toBe('hidden');
  });
});

describe('acting on a run', () => {
  test('launch and connect: their own runs; maintainers and up: any; a service with the on-behalf right: any', () => {
    const p = person('u1');
    for (const role of ['launch', 'connect'] as const) {
      expect(answer(decideRun(p, member(p, role), 'u1', 'control'))).toBe('allow');
      expect(answer(decideRun(p, member(p, role), 'u2', 'control'))).toBe('forbidden');
    }
    expect(answer(decideRun(p, member(p, 'view'), 'u1', 'control'))).toBe('forbidden');
    expect(answer(decideRun(p, member(p, 'view'), 'u2', 'read'))).toBe('allow');
    expect(answer(decideRun(p, member(p, 'maintainer'), 'u2', 'control'))).toBe('allow');
    const s = service();
    expect(answer(decideRun(s, member(s, 'launch', true), 'u2', 'control'))).toBe('allow');
    expect(answer(decideRun(s, member(s, 'launch'), 'u2', 'control'))).toBe('forbidden');
    expect(answer(decideRun(p, undefined, 'u1', 'read'))).toBe('hidden');
  });
});

describe('members', () => {
  test('an admin changes members but never owners, nor makes one; an owner and a broker administrator do anything', () => {
    const p = person();
    const admin = member(p, 'admin');
    expect(answer(decideMemberChange(p, admin, 'view', 'maintainer'))).toBe('allow');
    expect(answer(decideMemberChange(p, admin, undefined, 'admin'))).toBe('allow');
    expect(answer(decideMemberChange(p, admin, 'admin', undefined))).toBe('allow');
    expect(answer(decideMemberChange(p, admin, undefined, 'owner'))).toBe('forbidden');
    expect(answer(decideMemberChange(p, admin, 'owner', 'view'))).toBe('forbidden');
    expect(answer(decideMemberChange(p, admin, 'owner', undefined))).toBe('forbidden');
    expect(answer(decideMemberChange(p, member(p, 'owner'), 'owner', 'view'))).toBe('allow');
    expect(answer(decideMemberChange(person('b', true), undefined, 'owner', undefined))).toBe('allow');
    expect(answer(decideMemberChange(p, member(p, 'maintainer'), 'view', 'launch'))).toBe('forbidden');
    expect(answer(decideMemberChange(p, undefined, 'view', 'launch'))).toBe('hidden');
  });
});

describe('user secrets', () => {
  test('their user alone; a broker administrator is told no, anyone else sees no such user', () => {
    expect(answer(decideUserSecrets(person('u1'), 'u1'))).toBe('allow');
    expect(answer(decideUserSecrets(person('u2'), 'u1'))).toBe('hidden');
    expect(answer(decideUserSecrets(service(), 'u1'))).toBe('hidden');
    expect(answer(decideUserSecrets(person('root', true), 'u1'))).toBe('forbidden');
  });
});

test('docs/access.md holds the role table these rules make', () => {
  const doc = fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'access.md'), 'utf8');
  for (const row of accessTable()) {
    const cells = ROLES.map((r) => (row.roles.includes(r) ? '✓' : ' ')).join(' | ');
    expect(doc).toContain(`| ${row.what} | ${cells} |`);
  }
});
