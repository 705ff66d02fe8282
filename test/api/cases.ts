/**
 * Every /v1 route as a case: a URL and a good body, the status it answers when allowed, and who
 * is allowed (docs/access.md). The authorization matrix calls each case as every kind of caller;
 * the bad-input suite breaks each case's body and parameters.
 */
import { randomBytes } from 'node:crypto';
import { EVERYONE, ROLE_USERS, ROTATION_ID, UNAUTHENTICATED, type Who, type World } from './world';

let n = 0;
export const uniq = (p: string) => `${p}-${++n}-${randomBytes(2).toString('hex')}`;

export type Scope = 'broker' | 'workspace' | 'user' | 'any' | 'token';

export interface Case {
  name: string;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** The route as declared, to check that every route has a case. */
  route: string;
  url: () => Promise<string> | string;
  body?: () => unknown;
  ok: number;
  allow: Who[];
  scope: Scope;
  /** Answers that differ from the scope's rule. */
  except?: Partial<Record<Who, number>>;
}

/** The cases, over the world `w()` returns once the suite has built it. */
export function routeCases(w: () => World): Case[] {
  const MEMBERS: Who[] = [...ROLE_USERS, 'svc', 'svcNoBehalf'];
  const LAUNCHERS: Who[] = ['launch', 'connect', 'maintainer', 'admin', 'owner'];
  const MAINTAINERS: Who[] = ['maintainer', 'admin', 'owner'];
  const ADMINS: Who[] = ['admin', 'owner'];
  const AUTHENTICATED: Who[] = EVERYONE.filter((x) => !UNAUTHENTICATED.includes(x));

  const wsPath = () => `/v1/workspaces/${w().ws.id}`;
  const fresh = {
    user: async () => (await w().api.vault.access.createPrincipal('user', uniq('dummy'))).id,
    service: async () => (await w().api.vault.access.createPrincipal('service', uniq('dsvc'))).id,
  };
  let target: string;
  const memberTarget = async () => {
    target ??= (await w().api.vault.access.createPrincipal('user', uniq('member'))).id;
    await w().api.vault.access.setMember(w().ws.id, target, 'view');
    return `${wsPath()}/members/${target}`;
  };
  const runPath = () => `/v1/runs/${w().runId}`;
  const schedule = () => `${wsPath()}/credentials/${w().credential.id}/rotation-schedule`;

  return [
    // broker-wide
    { name: 'create a workspace', method: 'POST', route: '/v1/workspaces', url: () => '/v1/workspaces', body: () => ({ name: uniq('nws') }), ok: 201, allow: ['root'], scope: 'broker' },
    { name: 'list workspaces', method: 'GET', route: '/v1/workspaces', url: () => '/v1/workspaces', ok: 200, allow: AUTHENTICATED, scope: 'any' },
    { name: 'create a user', method: 'POST', route: '/v1/users', url: () => '/v1/users', body: () => ({ name: uniq('nu') }), ok: 201, allow: ['root'], scope: 'broker' },
    { name: 'list users', method: 'GET', route: '/v1/users', url: () => '/v1/users', ok: 200, allow: AUTHENTICATED, scope: 'any' },
    { name: 'update a user', method: 'PATCH', route: '/v1/users/:user', url: async () => `/v1/users/${await fresh.user()}`, body: () => ({ brokerAdmin: false }), ok: 200, allow: ['root'], scope: 'broker' },
    { name: 'create a service', method: 'POST', route: '/v1/services', url: () => '/v1/services', body: () => ({ name: uniq('ns') }), ok: 201, allow: ['root'], scope: 'broker' },
    { name: 'list services', method: 'GET', route: '/v1/services', url: () => '/v1/services', ok: 200, allow: ['root'], scope: 'broker' },
    { name: 'update a service', method: 'PATCH', route: '/v1/services/:service', url: async () => `/v1/services/${await fresh.service()}`, body: () => ({ brokerAdmin: false }), ok: 200, allow: ['root'], scope: 'broker' },
    { name: 'who am I', method: 'GET', route: '/v1/me', url: () => '/v1/me', ok: 200, allow: AUTHENTICATED, scope: 'any' },
    { name: 'a token for oneself', method: 'POST', route: '/v1/tokens', url: () => '/v1/tokens', body: () => ({ name: 'mine' }), ok: 201, allow: AUTHENTICATED, scope: 'any' },
    { name: 'a token for another user', method: 'POST', route: '/v1/tokens', url: () => '/v1/tokens', body: () => ({ user: w().ids.launch.id }), ok: 201, allow: ['root', 'launch'], scope: 'broker' },
    { name: "another user's tokens", method: 'GET', route: '/v1/tokens', url: () => `/v1/tokens?user=${w().ids.launch.id}`, ok: 200, allow: ['root', 'launch'], scope: 'broker' },
    { name: 'list own tokens', method: 'GET', route: '/v1/tokens', url: () => '/v1/tokens', ok: 200, allow: AUTHENTICATED, scope: 'any' },
    {
      name: "revoke another's token",
      method: 'DELETE',
      route: '/v1/tokens/:id',
      url: async () => `/v1/tokens/${(await w().api.vault.access.createToken({ principalId: await fresh.user(), name: 't', ttlMs: 60_000 })).meta.id}`,
      ok: 200,
      allow: ['root'],
      scope: 'token',
    },
    { name: 'audit records of ws', method: 'GET', route: '/v1/audit', url: () => `/v1/audit?workspace=${w().ws.id}`, ok: 200, allow: ['admin', 'owner', 'root'], scope: 'workspace' },
    { name: 'verify the audit chain', method: 'GET', route: '/v1/audit/verify', url: () => '/v1/audit/verify', ok: 200, allow: ['root'], scope: 'broker' },
    // members
    { name: 'list members', method: 'GET', route: '/v1/workspaces/:workspace/members', url: () => `${wsPath()}/members`, ok: 200, allow: ['admin', 'owner', 'root'], scope: 'workspace' },
    { name: 'set a member (view)', method: 'PUT', route: '/v1/workspaces/:workspace/members/:member', url: memberTarget, body: () => ({ role: 'launch' }), ok: 200, allow: ['admin', 'owner', 'root'], scope: 'workspace' },
    { name: 'make an owner', method: 'PUT', route: '/v1/workspaces/:workspace/members/:member', url: memberTarget, body: () => ({ role: 'owner' }), ok: 200, allow: ['owner', 'root'], scope: 'workspace' },
    { name: 'remove a member', method: 'DELETE', route: '/v1/workspaces/:workspace/members/:member', url: memberTarget, ok: 204, allow: ['admin', 'owner', 'root'], scope: 'workspace' },
    // workspace secrets
    { name: 'list workspace secrets', method: 'GET', route: '/v1/workspaces/:workspace/secrets', url: () => `${wsPath()}/secrets`, ok: 200, allow: MEMBERS, scope: 'workspace' },
    { name: 'set a workspace secret', method: 'PUT', route: '/v1/workspaces/:workspace/secrets/:name', url: () => `${wsPath()}/secrets/${w().secret}`, body: () => ({ value: `v-${randomBytes(6).toString('hex')}` }), ok: 200, allow: MAINTAINERS, scope: 'workspace' },
    {
      name: 'delete a workspace secret',
      method: 'DELETE',
      route: '/v1/workspaces/:workspace/secrets/:name',
      url: async () => {
        await w().api.vault.setSecret({ scope: 'workspace', ownerId: w().ws.id, name: 'DOOMED', value: 'doomed-value' });
        return `${wsPath()}/secrets/DOOMED`;
      },
      ok: 204,
      allow: MAINTAINERS,
      scope: 'workspace',
    },
    // user secrets (of `launch`)
    { name: "list a user's secrets", method: 'GET', route: '/v1/users/:user/secrets', url: () => `/v1/users/${w().ids.launch.id}/secrets`, ok: 200, allow: ['launch'], scope: 'user' },
    { name: 'set a user secret', method: 'PUT', route: '/v1/users/:user/secrets/:name', url: () => `/v1/users/${w().ids.launch.id}/secrets/MINE`, body: () => ({ value: `u-${randomBytes(6).toString('hex')}` }), ok: 200, allow: ['launch'], scope: 'user' },
    {
      name: 'delete a user secret',
      method: 'DELETE',
      route: '/v1/users/:user/secrets/:name',
      url: async () => {
        await w().api.vault.setSecret({ scope: 'user', ownerId: w().ids.launch.id, name: 'GONE_SOON', value: 'gone-soon-value' });
        return `/v1/users/${w().ids.launch.id}/secrets/GONE_SOON`;
      },
      ok: 204,
      allow: ['launch'],
      scope: 'user',
    },
    // credentials
    { name: 'list credentials', method: 'GET', route: '/v1/workspaces/:workspace/credentials', url: () => `${wsPath()}/credentials`, ok: 200, allow: ADMINS, scope: 'workspace' },
    {
      name: 'create a credential',
      method: 'POST',
      route: '/v1/workspaces/:workspace/credentials',
      url: () => `${wsPath()}/credentials`,
      body: () => ({ name: uniq('c'), kind: 'test-token', fields: { user: 'nf', token: 'long-enough-token' } }),
      ok: 201,
      allow: ADMINS,
      scope: 'workspace',
    },
    {
      name: 'delete a credential',
      method: 'DELETE',
      route: '/v1/workspaces/:workspace/credentials/:name',
      url: async () => `${wsPath()}/credentials/${(await w().api.vault.createCredential({ workspaceId: w().ws.id, name: uniq('dc'), kind: 'test-token', fields: { user: 'nf', token: 'long-enough-token' } })).id}`,
      ok: 204,
      allow: ADMINS,
      scope: 'workspace',
    },
    { name: 'verify a credential', method: 'POST', route: '/v1/workspaces/:workspace/credentials/:name/verify', url: () => `${wsPath()}/credentials/${w().credential.id}/verify`, body: () => ({}), ok: 200, allow: ADMINS, scope: 'workspace' },
    // compute environments
    { name: 'list compute environments', method: 'GET', route: '/v1/workspaces/:workspace/compute-envs', url: () => `${wsPath()}/compute-envs`, ok: 200, allow: MEMBERS, scope: 'workspace' },
    { name: 'show a compute environment', method: 'GET', route: '/v1/workspaces/:workspace/compute-envs/:name', url: () => `${wsPath()}/compute-envs/${w().computeEnv.id}`, ok: 200, allow: MEMBERS, scope: 'workspace' },
    { name: 'create a compute environment', method: 'POST', route: '/v1/workspaces/:workspace/compute-envs', url: () => `${wsPath()}/compute-envs`, body: () => ({ name: uniq('ce'), platform: 'local', config: { workDir: '/tmp/attacker-dir' } }), ok: 201, allow: ADMINS, scope: 'workspace' },
    { name: 'update a compute environment', method: 'PATCH', route: '/v1/workspaces/:workspace/compute-envs/:name', url: () => `${wsPath()}/compute-envs/${w().computeEnv.id}`, body: () => ({ config: {} }), ok: 200, allow: ADMINS, scope: 'workspace' },
    {
      name: 'delete a compute environment',
      method: 'DELETE',
      route: '/v1/workspaces/:workspace/compute-envs/:name',
      url: async () => `${wsPath()}/compute-envs/${(await w().api.vault.createComputeEnv({ workspaceId: w().ws.id, name: uniq('dce'), platform: 'local', config: {} })).id}`,
      ok: 204,
      allow: ADMINS,
      scope: 'workspace',
    },
    // runs
    {
      name: 'launch as oneself',
      method: 'POST',
      route: '/v1/runs',
      url: () => '/v1/runs',
      body: () => ({ runId: uniq('r'), workspace: w().ws.id, computeEnv: w().computeEnv.id, secrets: [w().secret] }),
      ok: 200,
      allow: LAUNCHERS,
      scope: 'workspace',
      // A service must name the user it launches for.
      except: { svc: 400 },
    },
    {
      name: 'launch for user `launch`',
      method: 'POST',
      route: '/v1/runs',
      url: () => '/v1/runs',
      body: () => ({ runId: uniq('r'), workspace: w().ws.id, user: w().ids.launch.id, computeEnv: w().computeEnv.id, secrets: [w().secret] }),
      ok: 200,
      allow: ['launch', 'svc'],
      scope: 'workspace',
    },
    {
      name: 'launch for a user with no role in ws (cross-workspace)',
      method: 'POST',
      route: '/v1/runs',
      url: () => '/v1/runs',
      body: () => ({ runId: uniq('r'), workspace: w().ws.id, user: w().ids.outsider.id, computeEnv: w().computeEnv.id, secrets: [] }),
      ok: 200,
      allow: [],
      scope: 'workspace',
    },
    { name: 'list runs', method: 'GET', route: '/v1/workspaces/:workspace/runs', url: () => `${wsPath()}/runs`, ok: 200, allow: MEMBERS, scope: 'workspace' },
    { name: 'show a run', method: 'GET', route: '/v1/runs/:runId', url: runPath, ok: 200, allow: MEMBERS, scope: 'workspace' },
    ...(['complete', 'cancel', 'renew'] as const).map(
      (op): Case => ({
        name: `${op} a run of user \`launch\``,
        method: 'POST',
        route: `/v1/runs/:runId/${op}`,
        url: () => `${runPath()}/${op}`,
        body: () => (op === 'complete' ? { status: 'succeeded' } : op === 'renew' ? { extendBy: '1h' } : {}),
        ok: 202,
        allow: ['launch', ...MAINTAINERS, 'svc'],
        scope: 'workspace',
      }),
    ),
    // rotations and their schedules
    { name: 'start a rotation', method: 'POST', route: '/v1/workspaces/:workspace/credentials/:name/rotations', url: () => `${wsPath()}/credentials/${w().credential.id}/rotations`, body: () => ({ kind: 'azure-batch-key' }), ok: 202, allow: ADMINS, scope: 'workspace' },
    { name: 'show a rotation', method: 'GET', route: '/v1/rotations/:workflowId', url: () => `/v1/rotations/${ROTATION_ID}`, ok: 200, allow: ADMINS, scope: 'workspace' },
    { name: 'list rotation schedules', method: 'GET', route: '/v1/rotation-schedules', url: () => '/v1/rotation-schedules', ok: 200, allow: AUTHENTICATED, scope: 'any' },
    { name: 'create a rotation schedule', method: 'POST', route: '/v1/workspaces/:workspace/credentials/:name/rotation-schedule', url: schedule, body: () => ({ kind: 'azure-batch-key', every: '30d' }), ok: 201, allow: ADMINS, scope: 'workspace' },
    { name: 'show a rotation schedule', method: 'GET', route: '/v1/workspaces/:workspace/credentials/:name/rotation-schedule', url: schedule, ok: 200, allow: ADMINS, scope: 'workspace' },
    { name: 'delete a rotation schedule', method: 'DELETE', route: '/v1/workspaces/:workspace/credentials/:name/rotation-schedule', url: schedule, ok: 204, allow: ADMINS, scope: 'workspace' },
    ...(['pause', 'unpause', 'trigger'] as const).map(
      (op): Case => ({ name: `${op} a rotation schedule`, method: 'POST', route: `/v1/workspaces/:workspace/credentials/:name/rotation-schedule/${op}`, url: () => `${schedule()}/${op}`, body: () => ({}), ok: 202, allow: ADMINS, scope: 'workspace' }),
    ),
    // the vault master key
    { name: 'start a vault key rotation', method: 'POST', route: '/v1/vault/master-key/rotations', url: () => '/v1/vault/master-key/rotations', body: () => ({}), ok: 202, allow: ['root'], scope: 'broker' },
    { name: 'show a vault key rotation', method: 'GET', route: '/v1/vault/master-key/rotations/:workflowId', url: () => '/v1/vault/master-key/rotations/vault-master-key-rotation', ok: 200, allow: ['root'], scope: 'broker' },
    { name: 'create the vault key schedule', method: 'POST', route: '/v1/vault/master-key/rotation-schedule', url: () => '/v1/vault/master-key/rotation-schedule', body: () => ({ every: '90d' }), ok: 201, allow: ['root'], scope: 'broker' },
    { name: 'show the vault key schedule', method: 'GET', route: '/v1/vault/master-key/rotation-schedule', url: () => '/v1/vault/master-key/rotation-schedule', ok: 200, allow: ['root'], scope: 'broker' },
    { name: 'delete the vault key schedule', method: 'DELETE', route: '/v1/vault/master-key/rotation-schedule', url: () => '/v1/vault/master-key/rotation-schedule', ok: 204, allow: ['root'], scope: 'broker' },
    ...(['pause', 'unpause', 'trigger'] as const).map(
      (op): Case => ({ name: `${op} the vault key schedule`, method: 'POST', route: `/v1/vault/master-key/rotation-schedule/${op}`, url: () => `/v1/vault/master-key/rotation-schedule/${op}`, body: () => ({}), ok: 202, allow: ['root'], scope: 'broker' }),
    ),
  ];
}
