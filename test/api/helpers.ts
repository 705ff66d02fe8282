/**
 * Shared pieces of the API and CLI suites: the real vault on PGlite in a temp dir (with a test
 * credential kind and a test platform that needs it), an in-memory PipelineRunsApi double, and a
 * logger that keeps every line so suites can search it for secret values.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApiServer, type ApiLogger, type BuildApiServerOptions } from '../../api/server';
import { type CancelAnswer, type LaunchRequest, type PipelineRunsApi, type RunDirectoryApi, type RunListFilter, type RunListPage, type RunLocation } from '../../services/types';
import { credentialKind as realCredentialKind, type CredentialKind } from '../../credentials';
import { platformSpec as realPlatformSpec, type PlatformSpec } from '../../platforms';
import { ValidationError, LaunchError } from '../../domain/errors';
import type { VaultApi } from '../../store/types';
import { openVault } from '../../store/vault';
import type { CompleteAnswer, ReadyResult, RenewAnswer, RunStatus } from '../../domain/run';
import type { Role } from '../../domain/access';

/** A credential kind for tests: public `user`, secret `token`. */
export const tokenKind: CredentialKind = {
  kind: 'test-token',
  description: 'a user name and a token (tests only)',
  parse(fields) {
    const unknown = Object.keys(fields).filter((k) => k !== 'user' && k !== 'token');
    if (unknown.length) throw new ValidationError(`fields.${unknown[0]}`, 'is not a field of test-token credentials');
    if (typeof fields.user !== 'string' || !fields.user) throw new ValidationError('fields.user', 'is required');
    if (typeof fields.token !== 'string' || fields.token.length < 8) throw new ValidationError('fields.token', 'must be at least 8 characters');
    return { public: { user: fields.user }, secret: { token: fields.token } };
  },
};

/** The `hpc` platform, for tests: takes any `host` setting and needs a test-token credential. */
const testHpcPlatform: PlatformSpec = {
  platform: 'hpc',
  credentialKind: 'test-token',
  parseConfig(config) {
    const unknown = Object.keys(config).filter((k) => k !== 'host');
    if (unknown.length) throw new ValidationError(`config.${unknown[0]}`, 'is not a setting (allowed: host)');
    return { host: String(config.host ?? 'localhost') };
  },
};

export interface TestVault {
  vault: VaultApi;
  dataDir: string;
  close(): Promise<void>;
}

export async function openTestVault(): Promise<TestVault> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-api-test-'));
  const vault = await openVault({
    dataDir,
    masterKey: randomBytes(32),
    env: {},
    credentialKinds: (name) => (name === tokenKind.kind ? tokenKind : realCredentialKind(name)),
    platformSpecs: (p) => (p === 'hpc' ? testHpcPlatform : realPlatformSpec(p)),
  });
  return {
    vault,
    dataDir,
    async close() {
      await vault.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * PipelineRunsApi in memory. Resolves names with the vault like the real workflow does, so a
 * missing secret fails the launch with the names; keeps every call for assertions.
 */
export class FakeRuns implements PipelineRunsApi, RunDirectoryApi {
  readonly launches: LaunchRequest[] = [];
  readonly completions: Array<{ runId: string; status: string }> = [];
  readonly cancels: string[] = [];
  readonly renewals: Array<{ runId: string; extendByMs: number }> = [];
  private readonly runs = new Map<string, RunStatus>();
  private readonly labels = new Map<string, NonNullable<LaunchRequest['labels']>>();
  /** How long each launch takes (the CLI's progress line). */
  launchDelayMs = 0;
  /** Thrown by the next call of any method, once. */
  failNext: Error | undefined;

  constructor(private readonly vault: VaultApi) {}

  private takeFailure(): void {
    const e = this.failNext;
    if (e) {
      this.failNext = undefined;
      throw e;
    }
  }

  private get(runId: string): RunStatus {
    const st = this.runs.get(runId);
    if (!st) throw new LaunchError(`run ${runId} not found`, 'not-found');
    return st;
  }

  async launch(req: LaunchRequest): Promise<ReadyResult> {
    this.launches.push(structuredClone(req));
    this.takeFailure();
    if (this.runs.has(req.runId)) throw new LaunchError(`run ${req.runId} already exists`, 'duplicate-run');
    this.labels.set(req.runId, req.labels ?? {});
    const { missing } = await this.vault.resolveSecrets({ workspaceId: req.workspaceId, userId: req.userId, names: req.secretNames });
    if (missing.length) throw new LaunchError(`secrets not found: ${missing.join(', ')}`, 'launch-failed', 'SecretNotFoundError');
    const ce = await this.vault.getComputeEnv(req.computeEnvId);
    const leaseExpiresAt = new Date(Date.now() + (req.leaseMs ?? 30 * 86_400_000)).toISOString();
    const file = `/tmp/broker-runs/${req.runId}/secrets.json`;
    const refs = req.secretNames.map((secretName) => ({ platform: ce.platform, computeEnvId: ce.id, secretName, remoteId: path.dirname(file) }));
    const headJobEnv = { NXF_SECRETS_FILE: file, NXF_ENABLE_SECRETS: 'true' };
    this.runs.set(req.runId, {
      runId: req.runId,
      workspaceId: req.workspaceId,
      userId: req.userId,
      computeEnvId: req.computeEnvId,
      platform: ce.platform,
      phase: this.launchDelayMs ? 'pushing' : 'ready',
      secretNames: req.secretNames,
      refs: refs.map((ref) => ({ ref, state: 'pushed' as const })),
      headJobEnv,
      startedAt: new Date().toISOString(),
      readyAt: new Date().toISOString(),
      leaseExpiresAt,
      deleteAttempts: 0,
    });
    if (this.launchDelayMs) {
      await new Promise((r) => setTimeout(r, this.launchDelayMs));
      this.runs.get(req.runId)!.phase = 'ready';
    }
    return {
      runId: req.runId,
      workflowId: `pipeline-run-${req.runId}`,
      platform: ce.platform,
      computeEnvId: ce.id,
      secretNames: req.secretNames,
      refs,
      headJobEnv,
      leaseExpiresAt,
    };
  }

  async complete(runId: string, status: 'succeeded' | 'failed' | 'cancelled'): Promise<CompleteAnswer> {
    this.takeFailure();
    const st = this.get(runId);
    this.completions.push({ runId, status });
    st.phase = 'deleted';
    st.outcome = status;
    return { runId, status, result: 'accepted' };
  }

  async cancel(runId: string): Promise<CancelAnswer> {
    this.takeFailure();
    const st = this.get(runId);
    this.cancels.push(runId);
    st.phase = 'deleted';
    st.outcome = 'cancelled';
    return { runId, result: 'accepted' };
  }

  async renew(runId: string, extendByMs: number): Promise<RenewAnswer> {
    this.takeFailure();
    const st = this.get(runId);
    this.renewals.push({ runId, extendByMs });
    st.leaseExpiresAt = new Date(Date.now() + extendByMs).toISOString();
    return { runId, leaseExpiresAt: st.leaseExpiresAt };
  }

  async state(runId: string): Promise<RunStatus> {
    this.takeFailure();
    return structuredClone(this.get(runId));
  }

  async waitClosed(runId: string): Promise<RunStatus> {
    return this.state(runId);
  }

  async locate(runId: string): Promise<RunLocation> {
    this.takeFailure();
    const st = this.get(runId);
    const l = this.labels.get(runId) ?? {};
    return { runId, workspace: l.workspace ?? st.workspaceId, user: l.user ?? st.userId };
  }

  /** Newest first, like Temporal's visibility; the page token is the index to go on from. */
  async list(f: RunListFilter): Promise<RunListPage> {
    const all = [...this.runs.values()]
      .filter((st) => (this.labels.get(st.runId)?.workspace ?? st.workspaceId) === f.workspace)
      .filter((st) => !f.phase || st.phase === f.phase)
      .filter((st) => !f.computeEnv || this.labels.get(st.runId)?.computeEnv === f.computeEnv)
      .filter((st) => !f.execution || (f.execution === 'running') === (st.phase !== 'deleted'))
      .reverse();
    const start = f.pageToken ? Number(Buffer.from(f.pageToken, 'base64url').toString()) : 0;
    const page = all.slice(start, start + f.pageSize);
    const next = start + f.pageSize < all.length ? Buffer.from(String(start + f.pageSize)).toString('base64url') : undefined;
    return {
      runs: page.map((st) => ({
        runId: st.runId,
        workflowId: `pipeline-run-${st.runId}`,
        workspace: f.workspace,
        computeEnv: this.labels.get(st.runId)?.computeEnv ?? st.computeEnvId,
        ...(st.platform ? { platform: st.platform } : {}),
        phase: st.phase,
        execution: st.phase === 'deleted' ? 'COMPLETED' : 'RUNNING',
        ...(this.labels.get(st.runId)?.user ? { user: this.labels.get(st.runId)!.user! } : {}),
        startedAt: st.startedAt,
      })),
      ...(next ? { nextPageToken: next } : {}),
    };
  }
}

// ---- identities for the suites ------------------------------------------------------------------

export interface TestIdentity {
  id: string;
  name: string;
  kind: 'user' | 'service';
  token: string;
  /** `{authorization: 'Bearer <token>'}` */
  headers: Record<string, string>;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/**
 * The suites' own caller: a service identity that is a broker administrator (it creates workspaces,
 * and so owns them, and users) and that a suite makes a member with the on-behalf right where it
 * launches for other users.
 */
export async function harnessIdentity(vault: VaultApi, name = `harness-${process.pid}-${randomBytes(3).toString('hex')}`): Promise<TestIdentity> {
  const p = await vault.access.createPrincipal('service', name, { brokerAdmin: true });
  const { token } = await vault.access.createToken({ principalId: p.id, name: 'tests', ttlMs: 86_400_000 });
  return { id: p.id, name: p.name, kind: 'service', token, headers: bearer(token) };
}

/** A token for an existing user or service (by name or id). */
export async function identityToken(vault: VaultApi, idOrName: string): Promise<TestIdentity> {
  const p = await vault.access.principal(idOrName);
  const { token } = await vault.access.createToken({ principalId: p.id, name: 'tests', ttlMs: 86_400_000 });
  return { id: p.id, name: p.name, kind: p.kind, token, headers: bearer(token) };
}

/** Give `who` a role in a workspace (names or ids); the harness's way to set up members. */
export async function grant(vault: VaultApi, workspace: string, who: string, role: Role, onBehalf = false): Promise<void> {
  const ws = await vault.getWorkspace(workspace);
  const p = await vault.access.principal(who);
  await vault.access.setMember(ws.id, p.id, role, { onBehalf });
}

/** A logger that keeps every line as text. */
export class CapturingLogger implements ApiLogger {
  readonly lines: string[] = [];
  info(message: string, fields?: Record<string, unknown>): void {
    this.lines.push(`info ${message} ${JSON.stringify(fields ?? {})}`);
  }
  warn(message: string, fields?: Record<string, unknown>): void {
    this.lines.push(`warn ${message} ${JSON.stringify(fields ?? {})}`);
  }
  error(message: string, fields?: Record<string, unknown>): void {
    this.lines.push(`error ${message} ${JSON.stringify(fields ?? {})}`);
  }
  text(): string {
    return this.lines.join('\n');
  }
}

export interface HttpAnswer {
  status: number;
  text: string;
  headers: http.IncomingHttpHeaders;
}

/** One request over real HTTP (Fastify's inject needs an ES-module-only dependency Jest cannot load). */
export function httpRequest(port: number, method: string, urlPath: string, payload?: string, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: urlPath, headers: { ...headers, connection: 'close' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

export interface TestApi {
  app: FastifyInstance;
  /** The suite's caller: a broker administrator service (see harnessIdentity). */
  harness: TestIdentity;
  /** The port the API listens on, on 127.0.0.1. */
  port: number;
  url: string;
  vault: VaultApi;
  runs: FakeRuns;
  logger: CapturingLogger;
  close(): Promise<void>;
}

/** The API on the real vault and the fake runs, listening on 127.0.0.1 on a free port. */
export async function startTestApi(opts: Partial<BuildApiServerOptions> = {}): Promise<TestApi> {
  const tv = await openTestVault();
  const runs = new FakeRuns(tv.vault);
  const logger = new CapturingLogger();
  const harness = await harnessIdentity(tv.vault);
  const app = buildApiServer({ vault: tv.vault, runs, runDirectory: runs, logger, ...opts });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as AddressInfo).port;
  return {
    app,
    harness,
    port,
    url: `http://127.0.0.1:${port}`,
    vault: tv.vault,
    runs,
    logger,
    async close() {
      await app.close();
      await tv.close();
    },
  };
}

let counter = 0;
/** A name unique within this process, valid for workspaces, users, credentials and environments. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${++counter}-${randomBytes(2).toString('hex')}`;
}

/** A secret value nobody would write by accident, to search output for. */
export function distinctiveValue(tag: string): string {
  return `SBV_${tag}_${randomBytes(12).toString('hex')}`;
}
