/**
 * A small typed client for the broker's HTTP API (api/server.ts), used by the CLI. Built on
 * node:http(s) so a launch may wait as long as the broker needs (no client-side timeout).
 */
import type { MissingPermission } from '../domain/run';
import { firstLoneSurrogate } from '../domain/rules';
import { UsageError } from './io';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AuditRecord, AuditVerification, ComputeEnv, CredentialMeta, MemberInfo, PrincipalRecord, SecretMeta, SecretScope, TokenMeta, Workspace } from '../store/types';
import type { Platform, ReadyResult, RunStatus } from '../domain/run';
import type { RotationScheduleInfo, RotationStarted, RotationState } from '../services/rotations';
import type { VaultKeyRotationStarted, VaultKeyRotationState, VaultKeyScheduleInfo } from '../services/vault-key';
import type { VerifyReport } from '../verifiers';
import type { RunSummary } from '../services/types';

export const DEFAULT_API_URL = 'http://127.0.0.1:8787';

/** The API answered with an error. `message` is the server's `error` text. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    message: string,
    readonly code?: string,
    readonly field?: string,
    readonly rule?: string,
    /** A failed access check: what is missing and the statement that would grant it. */
    readonly missing?: MissingPermission[],
    /** Not found or launch failed: the error type (UserNotFoundError, SecretNotFoundError ...). */
    readonly type?: string,
  ) {
    super(message);
  }
}

/** The API could not be reached or did not speak JSON. */
export class ApiConnectionError extends Error {
  override readonly name = 'ApiConnectionError';
}

/** A user or service, as the API shows it. */
export type Identity = PrincipalRecord;

export interface CreatedToken {
  /** The token itself: in this answer only. */
  token: string;
  meta: TokenMeta;
}

export interface Me {
  identity: { id: string; kind: 'user' | 'service'; name: string; brokerAdmin: boolean };
  via: 'token' | 'oidc';
  token?: { id: string; expiresAt: string };
  memberships: { workspace: { id: string; name: string }; role: string; onBehalf: boolean }[];
}

export interface Links {
  /** The run's workflow in the Temporal Web UI. */
  links?: { webUi?: string };
}

export interface RunStatusAnswer extends RunStatus, Links {
  /** The names of the run's workspace, user and compute environment. */
  names?: { workspace?: string; user?: string; computeEnv?: string };
}

export type { AuditRecord, AuditVerification, MemberInfo, TokenMeta, RunSummary };

export interface LaunchInput {
  runId: string;
  workspace: string;
  /** The user whose secrets the run gets: a person launches as themselves (the default); a service names one. */
  user?: string;
  computeEnv: string;
  secrets: string[];
  /** A duration: 90s, 15m, 12h, 30d. */
  lease?: string;
}

export interface CreateComputeEnvInput {
  name: string;
  platform: Platform;
  config?: Record<string, unknown>;
  credential?: string;
}

/** What a compute environment update changes: at least one of the two. */
export interface UpdateComputeEnvInput {
  /** The whole settings object (it replaces the current one). */
  config?: Record<string, unknown>;
  /** Credential name or id in the same workspace; null clears it where the platform takes none. */
  credential?: string | null;
}

export type SecretOwner = { scope: 'workspace'; workspace: string } | { scope: 'user'; user: string };

/** The body of a rotation request, as the API takes it (names, not ids; durations as text). */
export interface RotationBody {
  kind: string;
  managementCredential?: string;
  resourceGroup?: string;
  registryName?: string;
  tokenName?: string;
  grace?: string;
  switchBack?: boolean;
}

export interface RotationScheduleBody extends RotationBody {
  every?: string;
  cron?: string[];
  paused?: boolean;
  note?: string;
}

function scheduleUrl(workspace: string, credential: string): string {
  return `/v1/workspaces/${seg(workspace)}/credentials/${seg(credential)}/rotation-schedule`;
}

/** The body of a vault master key rotation schedule, as the API takes it. */
export interface VaultKeyScheduleBody {
  /** A duration of at least 1h: 90d ... */
  every?: string;
  cron?: string[];
  paused?: boolean;
  note?: string;
}

const VAULT_KEY_SCHEDULE_URL = '/v1/vault/master-key/rotation-schedule';
/** The manual rotation's workflow id (workflows/vault-key.ts VAULT_KEY_ROTATION_WORKFLOW_ID). */
const VAULT_KEY_ROTATION_WORKFLOW_ID = 'vault-master-key-rotation';

export interface ClientOptions {
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** PEM CA certificates an https API's certificate is checked against (besides the system's). */
  ca?: string;
}

/** One page of a list answer. */
interface Page {
  nextCursor?: string;
}

/** What the API answers to complete and cancel. */
export interface RunEndAnswer {
  runId: string;
  result?: 'accepted' | 'already-ended';
  outcome?: string;
}

export class BrokerApiClient {
  readonly baseUrl: URL;
  private readonly token: string | undefined;
  private readonly ca: string | undefined;

  constructor(baseUrl: string = DEFAULT_API_URL, opts: ClientOptions = {}) {
    this.token = opts.token;
    this.ca = opts.ca;
    let url: URL;
    try {
      url = new URL(baseUrl);
    } catch {
      throw new ApiConnectionError(`API URL "${baseUrl}" is not a valid URL (expected for example ${DEFAULT_API_URL})`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new ApiConnectionError(`API URL "${baseUrl}" must start with http:// or https://`);
    }
    if (url.username || url.password) throw new ApiConnectionError('API URL must not carry a user name or password');
    this.baseUrl = url;
  }

  // ---- workspaces and users ----
  createWorkspace(name: string): Promise<Workspace> {
    return this.request('POST', '/v1/workspaces', { name });
  }
  listWorkspaces(): Promise<Workspace[]> {
    return this.all('/v1/workspaces', 'workspaces');
  }
  createUser(name: string, opts: { brokerAdmin?: boolean; oidcSubject?: string } = {}): Promise<Identity> {
    return this.request('POST', '/v1/users', { name, ...opts });
  }
  listUsers(): Promise<Identity[]> {
    return this.all('/v1/users', 'users');
  }
  createService(name: string, opts: { brokerAdmin?: boolean; oidcSubject?: string } = {}): Promise<Identity> {
    return this.request('POST', '/v1/services', { name, ...opts });
  }
  listServices(): Promise<Identity[]> {
    return this.all('/v1/services', 'services');
  }
  updateIdentity(kind: 'user' | 'service', name: string, patch: { brokerAdmin?: boolean; oidcSubject?: string | null }): Promise<Identity> {
    return this.request('PATCH', `/v1/${kind === 'user' ? 'users' : 'services'}/${seg(name)}`, patch);
  }
  me(): Promise<Me> {
    return this.request('GET', '/v1/me');
  }

  // ---- tokens ----
  createToken(input: { name?: string; expiresIn?: string; user?: string; service?: string }): Promise<CreatedToken> {
    return this.request('POST', '/v1/tokens', input);
  }
  listTokens(q: { user?: string; service?: string; all?: boolean } = {}): Promise<TokenMeta[]> {
    const qs = new URLSearchParams({ ...(q.user ? { user: q.user } : {}), ...(q.service ? { service: q.service } : {}), ...(q.all ? { all: 'true' } : {}) });
    return this.all(`/v1/tokens${qs.size ? `?${qs}` : ''}`, 'tokens');
  }
  revokeToken(id: string): Promise<TokenMeta> {
    return this.request('DELETE', `/v1/tokens/${seg(id)}`);
  }

  // ---- members ----
  listMembers(workspace: string): Promise<MemberInfo[]> {
    return this.all(`/v1/workspaces/${seg(workspace)}/members`, 'members');
  }
  setMember(workspace: string, member: string, input: { role: string; onBehalf?: boolean }): Promise<MemberInfo> {
    return this.request('PUT', `/v1/workspaces/${seg(workspace)}/members/${seg(member)}`, input);
  }
  async removeMember(workspace: string, member: string): Promise<void> {
    await this.request('DELETE', `/v1/workspaces/${seg(workspace)}/members/${seg(member)}`);
  }

  // ---- audit ----
  /** One page of audit records, oldest first. */
  auditPage(q: Record<string, string | undefined>): Promise<{ records: AuditRecord[]; nextCursor?: string }> {
    const qs = new URLSearchParams(Object.entries(q).filter((e): e is [string, string] => e[1] !== undefined));
    return this.request('GET', `/v1/audit${qs.size ? `?${qs}` : ''}`);
  }
  verifyAudit(): Promise<AuditVerification> {
    return this.request('GET', '/v1/audit/verify');
  }

  // ---- secrets ----
  /** Create or replace. The value goes in the request body only; the answer is metadata. */
  setSecret(owner: SecretOwner, name: string, value: string): Promise<SecretMeta> {
    return this.request('PUT', `${ownerPath(owner)}/secrets/${seg(name)}`, { value });
  }
  listSecrets(owner: SecretOwner): Promise<SecretMeta[]> {
    return this.all(`${ownerPath(owner)}/secrets`, 'secrets');
  }
  async deleteSecret(owner: SecretOwner, name: string): Promise<void> {
    await this.request('DELETE', `${ownerPath(owner)}/secrets/${seg(name)}`);
  }

  // ---- credentials ----
  createCredential(workspace: string, input: { name: string; kind: string; fields: Record<string, unknown> }): Promise<CredentialMeta> {
    return this.request('POST', `/v1/workspaces/${seg(workspace)}/credentials`, input);
  }
  listCredentials(workspace: string): Promise<CredentialMeta[]> {
    return this.all(`/v1/workspaces/${seg(workspace)}/credentials`, 'credentials');
  }
  async deleteCredential(workspace: string, name: string): Promise<void> {
    await this.request('DELETE', `/v1/workspaces/${seg(workspace)}/credentials/${seg(name)}`);
  }

  // ---- compute environments ----
  createComputeEnv(workspace: string, input: CreateComputeEnvInput): Promise<ComputeEnv> {
    return this.request('POST', `/v1/workspaces/${seg(workspace)}/compute-envs`, input);
  }
  listComputeEnvs(workspace: string): Promise<ComputeEnv[]> {
    return this.all(`/v1/workspaces/${seg(workspace)}/compute-envs`, 'computeEnvs');
  }
  getComputeEnv(workspace: string, name: string): Promise<ComputeEnv> {
    return this.request('GET', `/v1/workspaces/${seg(workspace)}/compute-envs/${seg(name)}`);
  }
  updateComputeEnv(workspace: string, name: string, input: UpdateComputeEnvInput): Promise<ComputeEnv> {
    return this.request('PATCH', `/v1/workspaces/${seg(workspace)}/compute-envs/${seg(name)}`, input);
  }
  async deleteComputeEnv(workspace: string, name: string): Promise<void> {
    await this.request('DELETE', `/v1/workspaces/${seg(workspace)}/compute-envs/${seg(name)}`);
  }

  // ---- runs ----
  launchRun(input: LaunchInput): Promise<ReadyResult & Links> {
    return this.request('POST', '/v1/runs', input);
  }
  runStatus(runId: string): Promise<RunStatusAnswer> {
    return this.request('GET', `/v1/runs/${seg(runId)}`);
  }
  /** One page of a workspace's runs, newest first. */
  listRuns(workspace: string, q: { phase?: string; computeEnv?: string; status?: string; limit?: number; cursor?: string }): Promise<{ runs: RunSummary[]; nextCursor?: string }> {
    const qs = new URLSearchParams(
      Object.entries({ ...q, limit: q.limit === undefined ? undefined : String(q.limit) }).filter((e): e is [string, string] => e[1] !== undefined),
    );
    return this.request('GET', `/v1/workspaces/${seg(workspace)}/runs${qs.size ? `?${qs}` : ''}`);
  }
  /** accepted: this call ended the run; already-ended: it had ended (a retry), with its outcome. */
  completeRun(runId: string, status: 'succeeded' | 'failed' | 'cancelled'): Promise<RunEndAnswer> {
    return this.request('POST', `/v1/runs/${seg(runId)}/complete`, { status });
  }
  cancelRun(runId: string): Promise<RunEndAnswer> {
    return this.request('POST', `/v1/runs/${seg(runId)}/cancel`, {});
  }
  /** leaseExpiresAt: when the lease now ends, as the run answered (absent when no worker answered in time). */
  renewRun(runId: string, extendBy: string): Promise<{ runId: string; leaseExpiresAt?: string }> {
    return this.request('POST', `/v1/runs/${seg(runId)}/renew`, { extendBy });
  }

  /** Live check of a stored credential; the report names checks, never values. */
  verifyCredential(workspace: string, name: string, input: { managementCredential?: string; resourceGroup?: string; storageAccount?: string; computeEnv?: string } = {}): Promise<VerifyReport> {
    return this.request('POST', `/v1/workspaces/${seg(workspace)}/credentials/${seg(name)}/verify`, input);
  }

  // ---- credential rotations ----
  startRotation(workspace: string, credential: string, input: RotationBody): Promise<RotationStarted> {
    return this.request('POST', `/v1/workspaces/${seg(workspace)}/credentials/${seg(credential)}/rotations`, input);
  }
  rotationState(workflowId: string): Promise<RotationState> {
    return this.request('GET', `/v1/rotations/${seg(workflowId)}`);
  }
  createRotationSchedule(workspace: string, credential: string, input: RotationScheduleBody): Promise<RotationScheduleInfo> {
    return this.request('POST', scheduleUrl(workspace, credential), input);
  }
  listRotationSchedules(): Promise<RotationScheduleInfo[]> {
    return this.all('/v1/rotation-schedules', 'schedules');
  }
  rotationSchedule(workspace: string, credential: string): Promise<RotationScheduleInfo> {
    return this.request('GET', scheduleUrl(workspace, credential));
  }
  async rotationScheduleAction(workspace: string, credential: string, action: 'pause' | 'unpause' | 'trigger', note?: string): Promise<void> {
    await this.request('POST', `${scheduleUrl(workspace, credential)}/${action}`, note === undefined ? {} : { note });
  }
  async deleteRotationSchedule(workspace: string, credential: string): Promise<void> {
    await this.request('DELETE', scheduleUrl(workspace, credential));
  }

  // ---- vault master key rotation ----
  startVaultKeyRotation(): Promise<VaultKeyRotationStarted> {
    return this.request('POST', '/v1/vault/master-key/rotations', {});
  }
  vaultKeyRotationState(workflowId: string = VAULT_KEY_ROTATION_WORKFLOW_ID): Promise<VaultKeyRotationState> {
    return this.request('GET', `/v1/vault/master-key/rotations/${seg(workflowId)}`);
  }
  createVaultKeySchedule(input: VaultKeyScheduleBody): Promise<VaultKeyScheduleInfo> {
    return this.request('POST', VAULT_KEY_SCHEDULE_URL, input);
  }
  vaultKeySchedule(): Promise<VaultKeyScheduleInfo> {
    return this.request('GET', VAULT_KEY_SCHEDULE_URL);
  }
  async vaultKeyScheduleAction(action: 'pause' | 'unpause' | 'trigger', note?: string): Promise<void> {
    await this.request('POST', `${VAULT_KEY_SCHEDULE_URL}/${action}`, note === undefined ? {} : { note });
  }
  async deleteVaultKeySchedule(): Promise<void> {
    await this.request('DELETE', VAULT_KEY_SCHEDULE_URL);
  }

  health(): Promise<{ status: string }> {
    return this.request('GET', '/healthz');
  }

  /** Every item of a paginated list, page after page. */
  async all<T>(path: string, key: string): Promise<T[]> {
    const out: T[] = [];
    let cursor: string | undefined;
    for (;;) {
      const sep = path.includes('?') ? '&' : '?';
      const page = await this.request<Page & Record<string, T[]>>('GET', `${path}${sep}limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      out.push(...(page[key] ?? []));
      if (!page.nextCursor) return out;
      cursor = page.nextCursor;
    }
  }

  /** One JSON request. Errors never include the request body, nor the token. */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const url = new URL(this.baseUrl.pathname.replace(/\/+$/, '') + path, this.baseUrl);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body), 'utf8');
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    const transport = url.protocol === 'https:' ? https : http;
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = transport.request(url, { method, headers, ...(this.ca && url.protocol === 'https:' ? { ca: this.ca } : {}) }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        const code = err.code ?? err.message;
        // Node's certificate checks: UNABLE_TO_VERIFY_LEAF_SIGNATURE, SELF_SIGNED_CERT_IN_CHAIN, CERT_HAS_EXPIRED, ERR_TLS_CERT_ALTNAME_INVALID ...
        if (/CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/.test(err.code ?? '')) {
          reject(new ApiConnectionError(`the broker API at ${this.baseUrl.origin} presented a TLS certificate this CLI does not trust (${code}): set BROKER_CA_FILE to the CA that signed it`));
        } else {
          reject(new ApiConnectionError(`cannot reach the broker API at ${this.baseUrl.origin} (${code}); is it running? Set --api or BROKER_API_URL`));
        }
      });
      req.end(payload);
    });
    let parsed: unknown = undefined;
    if (text.length > 0) {
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new ApiConnectionError(`the broker API at ${this.baseUrl.origin} answered ${status} with a body that is not JSON`);
      }
    }
    if (status >= 200 && status < 300) return parsed as T;
    const e = (parsed ?? {}) as { error?: unknown; code?: unknown; field?: unknown; rule?: unknown; missing?: unknown; type?: unknown };
    throw new ApiError(
      status,
      typeof e.error === 'string' ? e.error : `the broker API answered ${status}`,
      typeof e.code === 'string' ? e.code : undefined,
      typeof e.field === 'string' ? e.field : undefined,
      typeof e.rule === 'string' ? e.rule : undefined,
      Array.isArray(e.missing) ? (e.missing as MissingPermission[]) : undefined,
      typeof e.type === 'string' ? e.type : undefined,
    );
  }
}

/** One path segment, percent-encoded; a lone surrogate, which no URL can carry, is a usage mistake. */
function seg(s: string): string {
  const at = firstLoneSurrogate(s);
  if (at !== null) {
    throw new UsageError(`a name or id given holds a lone UTF-16 surrogate (a \\uD800-\\uDFFF escape without its pair, which is no character) at character ${at}`);
  }
  return encodeURIComponent(s);
}

function ownerPath(owner: SecretOwner): string {
  return owner.scope === 'workspace' ? `/v1/workspaces/${seg(owner.workspace)}` : `/v1/users/${seg(owner.user)}`;
}

export type { SecretScope };
export type { RotationScheduleInfo, RotationStarted, RotationState };
export type { VaultKeyRotationStarted, VaultKeyRotationState, VaultKeyScheduleInfo };
