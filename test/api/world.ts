/**
 * A populated broker for the access suites (the authorization matrix, the bad-input suite, the
 * OpenAPI check): the API on the real vault, with
 *
 *   - workspace `ws` and its members: one user per role (view ... owner), the launch service with
 *     the on-behalf right (`svc`) and a service without it (`svcNoBehalf`);
 *   - workspace `other`, whose owner (`outsider`) has no role in `ws`;
 *   - a broker administrator with no workspace role (`root`);
 *   - tokens for each, an expired and a revoked token of ws's owner;
 *   - in ws: a secret, a credential, a compute environment, and a run launched by `launch`;
 *   - doubles of the rotation and vault key services (their Temporal side has its own suites).
 */
import { randomBytes } from 'node:crypto';
import { ROTATION_SCHEDULE_PREFIX } from '../../domain/rotation';
import { NotFoundError } from '../../domain/errors';
import type { Role } from '../../domain/access';
import type { RotationScheduleInfo, RotationsApi } from '../../services/rotations';
import type { VaultKeyRotationsApi } from '../../services/vault-key';
import { grant, identityToken, startTestApi, type TestApi, type TestIdentity } from './helpers';

export const ROLE_USERS = ['view', 'launch', 'connect', 'maintainer', 'admin', 'owner'] as const;
export type Who =
  | 'none'
  | 'malformed'
  | 'forged'
  | 'expired'
  | 'revoked'
  | 'outsider'
  | 'root'
  | (typeof ROLE_USERS)[number]
  | 'svc'
  | 'svcNoBehalf';
export const EVERYONE: Who[] = ['none', 'malformed', 'forged', 'expired', 'revoked', 'outsider', 'root', ...ROLE_USERS, 'svc', 'svcNoBehalf'];
export const UNAUTHENTICATED: Who[] = ['none', 'malformed', 'forged', 'expired', 'revoked'];

export const ROTATION_ID = 'credential-rotation-acct-1';

export interface World {
  api: TestApi;
  tag: string;
  ws: { id: string; name: string };
  other: { id: string; name: string };
  ids: Record<Exclude<Who, 'none' | 'malformed' | 'forged' | 'expired' | 'revoked'>, TestIdentity>;
  headers(who: Who): Record<string, string>;
  secret: string;
  credential: { id: string; name: string };
  otherCredential: { id: string; name: string };
  computeEnv: { id: string; name: string };
  otherComputeEnv: { id: string; name: string };
  /** A run of ws launched by `launch` for themself. */
  runId: string;
  /** Names a refusal must never carry. */
  secretNames(): string[];
  close(): Promise<void>;
}

function scheduleOf(credentialId: string): RotationScheduleInfo {
  return { scheduleId: `${ROTATION_SCHEDULE_PREFIX}${credentialId}`, credentialId, kind: 'azure-batch-key', paused: false, spec: 'every 30d', nextRuns: [], recentRuns: [] };
}

export async function buildWorld(): Promise<World> {
  const tag = randomBytes(3).toString('hex');
  let credIds: string[] = [];
  // Called only once `api` below exists.
  const credentialIn = async (credential: string, workspaceId?: string) => (await api.vault.getCredential(credential, workspaceId)).id;
  const rotations = {
    start: async (r: { credentialId: string }) => ({ workflowId: `credential-rotation-${r.credentialId}`, account: 'acct', label: 'a Batch account' }),
    state: async (id: string) => ({ workflowId: id, execution: 'COMPLETED' }),
    credentialOf: async (id: string) => {
      if (id !== ROTATION_ID) throw new NotFoundError('rotation', id);
      return credIds[0];
    },
    createSchedule: async (r: { credentialId: string }) => scheduleOf(r.credentialId),
    listSchedules: async () => credIds.map(scheduleOf),
    // As the real service: the credential is looked up in the request's workspace (404 when not there).
    describeSchedule: async (credential: string, workspaceId?: string) => scheduleOf(await credentialIn(credential, workspaceId)),
    pauseSchedule: async (credential: string, _note?: string, workspaceId?: string) => void (await credentialIn(credential, workspaceId)),
    unpauseSchedule: async (credential: string, _note?: string, workspaceId?: string) => void (await credentialIn(credential, workspaceId)),
    triggerSchedule: async (credential: string, workspaceId?: string) => void (await credentialIn(credential, workspaceId)),
    deleteSchedule: async (credential: string, workspaceId?: string) => void (await credentialIn(credential, workspaceId)),
  } as unknown as RotationsApi;
  const vaultKeyRotations = {
    start: async () => ({ workflowId: 'vault-master-key-rotation' }),
    state: async (id?: string) => ({ workflowId: id ?? 'vault-master-key-rotation', execution: 'RUNNING' }),
    createSchedule: async () => ({ scheduleId: 'rotate-vault-master-key', paused: false, spec: 'every 90d', nextRuns: [], recentRuns: [] }),
    describeSchedule: async () => ({ scheduleId: 'rotate-vault-master-key', paused: false, spec: 'every 90d', nextRuns: [], recentRuns: [] }),
    pauseSchedule: async () => undefined,
    unpauseSchedule: async () => undefined,
    triggerSchedule: async () => undefined,
    deleteSchedule: async () => undefined,
  } as unknown as VaultKeyRotationsApi;

  // A generous failed-authentication limit: these suites send many bad tokens on purpose.
  const api = await startTestApi({ rotations, vaultKeyRotations, auth: { failureLimit: { max: 100_000, windowMs: 60_000 } }, webUi: { url: 'http://127.0.0.1:8233', namespace: 'default' } });
  const { vault } = api;
  const ws = await vault.createWorkspace(`ws-${tag}`);
  const other = await vault.createWorkspace(`other-${tag}`);

  const ids = {} as World['ids'];
  for (const role of ROLE_USERS) {
    await vault.access.createPrincipal('user', `${role}-${tag}`);
    ids[role] = await identityToken(vault, `${role}-${tag}`);
    await grant(vault, ws.id, ids[role].id, role as Role);
  }
  await vault.access.createPrincipal('user', `outsider-${tag}`);
  ids.outsider = await identityToken(vault, `outsider-${tag}`);
  await grant(vault, other.id, ids.outsider.id, 'owner');
  await vault.access.createPrincipal('user', `root-${tag}`, { brokerAdmin: true });
  ids.root = await identityToken(vault, `root-${tag}`);
  await vault.access.createPrincipal('service', `svc-${tag}`);
  ids.svc = await identityToken(vault, `svc-${tag}`);
  await grant(vault, ws.id, ids.svc.id, 'launch', true);
  await vault.access.createPrincipal('service', `svcnb-${tag}`);
  ids.svcNoBehalf = await identityToken(vault, `svcnb-${tag}`);
  await grant(vault, ws.id, ids.svcNoBehalf.id, 'launch');

  const expired = await vault.access.createToken({ principalId: ids.owner.id, name: 'expired', ttlMs: 1000 });
  const revoked = await vault.access.createToken({ principalId: ids.owner.id, name: 'revoked', ttlMs: 86_400_000 });
  await vault.access.revokeToken(revoked.meta.id);
  await new Promise((r) => setTimeout(r, 1100));

  const secret = `WS_SECRET_${tag.toUpperCase()}`;
  await vault.setSecret({ scope: 'workspace', ownerId: ws.id, name: secret, value: `value-${randomBytes(8).toString('hex')}` });
  await vault.setSecret({ scope: 'user', ownerId: ids.launch.id, name: `USER_SECRET_${tag.toUpperCase()}`, value: `value-${randomBytes(8).toString('hex')}` });
  const cred = await vault.createCredential({ workspaceId: ws.id, name: `cred-${tag}`, kind: 'test-token', fields: { user: 'nf', token: 'long-enough-token' } });
  const otherCred = await vault.createCredential({ workspaceId: other.id, name: `ocred-${tag}`, kind: 'test-token', fields: { user: 'nf', token: 'long-enough-token' } });
  credIds = [cred.id, otherCred.id];
  const ce = await vault.createComputeEnv({ workspaceId: ws.id, name: `ce-${tag}`, platform: 'local', config: {} });
  const oce = await vault.createComputeEnv({ workspaceId: other.id, name: `oce-${tag}`, platform: 'local', config: {} });
  const runId = `run-${tag}`;
  await api.runs.launch({
    runId,
    workspaceId: ws.id,
    userId: ids.launch.id,
    computeEnvId: ce.id,
    secretNames: [secret],
    labels: { workspace: ws.name, computeEnv: ce.name, platform: 'local', user: ids.launch.name },
  });

  const headers = (who: Who): Record<string, string> => {
    switch (who) {
      case 'none':
        return {};
      case 'malformed':
        return { authorization: 'Bearer sbt_short' };
      case 'forged':
        return { authorization: `Bearer sbt_${randomBytes(32).toString('base64url')}` };
      case 'expired':
        return { authorization: `Bearer ${expired.token}` };
      case 'revoked':
        return { authorization: `Bearer ${revoked.token}` };
      default:
        return ids[who].headers;
    }
  };
  return {
    api,
    tag,
    ws,
    other,
    ids,
    headers,
    secret,
    credential: { id: cred.id, name: cred.name },
    otherCredential: { id: otherCred.id, name: otherCred.name },
    computeEnv: { id: ce.id, name: ce.name },
    otherComputeEnv: { id: oce.id, name: oce.name },
    runId,
    secretNames: () => [ws.name, other.name, secret, `USER_SECRET_${tag.toUpperCase()}`, cred.name, otherCred.name, ce.name, oce.name, ...Object.values(ids).map((i) => i.name)],
    close: () => api.close(),
  };
}
