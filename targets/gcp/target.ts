/**
 * Google Secret Manager as a run's secret target (Google Batch compute environments).
 *
 * - One secret per Nextflow secret: `projects/<project>/secrets/tower-<runId>-<NAME>`, with exactly
 *   one version holding the value, which Nextflow reads at `versions/latest`.
 * - User-managed replication pinned to the compute environment's region.
 * - Ownership labels (`secret-broker-managed`, `secret-broker-run-id`, `secret-broker-workspace`;
 *   label values are lowercase and at most 63 characters, so ids that are not are hashed) and
 *   annotations with the exact ids. Nothing without those labels is overwritten or deleted.
 * - Push is idempotent: ALREADY_EXISTS on a secret of this run means "ensure one version"; on
 *   anything else it is a NotOwnedError.
 * - Delete reads the secret, checks its labels and deletes with the etag it read, so a secret
 *   replaced in between is not deleted; NOT_FOUND counts as done.
 * - Permissions: before pushing, a project-level TestIamPermissions where the service exists
 *   (Resource Manager at Google); PERMISSION_DENIED from any call becomes a non-retryable
 *   PermissionDeniedError naming the permission and the role that grants it.
 *
 * Built on a narrow client type (SecretManagerLike) so tests can hand it an emulator-backed client.
 */
import { JWT } from 'google-auth-library';
import { createHash } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { SecretManagerServiceClient, type protos } from '@google-cloud/secret-manager';
import { readServiceAccountKey, type GoogleServiceAccountKey } from '../../credentials/google';
import type { MissingPermission, PushResult, RemoteRef } from '../../domain/run';
import type { DeleteOutcome, OwnedObject, PlainSecret, RunContext, SecretTarget, TargetDeps, VerifyResult } from '../types';
import { parseGcpConfig, type GcpConfig } from '../../platforms/gcp';
import {
  BROKER_ROLE,
  GcpSecretManagerError,
  grantText,
  grpcCode,
  READER_ROLE,
  sanitizeGcpError,
  Status,
  type CallContext,
} from './errors';
import { grpcProjectIam, IAM_POLICY_SERVICE, RESOURCE_MANAGER, type ProjectIam } from './project-iam';
import { AuthenticationFailedError, ConnectionError, InvalidInputError, NotOwnedError, PermissionDeniedError } from '../../domain/errors';
import { type ComputeEnvRecord } from '../../domain/run';

type ISecret = protos.google.cloud.secretmanager.v1.ISecret;

/** The Secret Manager calls the broker makes, and nothing more. */
export type SecretManagerLike = Pick<
  SecretManagerServiceClient,
  'createSecret' | 'getSecret' | 'addSecretVersion' | 'listSecretVersions' | 'listSecrets' | 'deleteSecret' | 'close'
>;

export const LABEL = {
  managed: 'secret-broker-managed',
  runId: 'secret-broker-run-id',
  workspace: 'secret-broker-workspace',
} as const;

export const ANNOTATION = {
  runId: 'secret-broker-run-id',
  workspaceId: 'secret-broker-workspace-id',
  computeEnvId: 'secret-broker-compute-env-id',
  secretName: 'secret-broker-secret-name',
} as const;

/** Permissions the broker needs to push, verify and delete (all in roles/secretmanager.admin). */
const PUSH_PERMISSIONS = [
  'secretmanager.secrets.create',
  'secretmanager.versions.add',
  'secretmanager.secrets.get',
  'secretmanager.versions.list',
  'secretmanager.secrets.delete',
] as const;
const CLEANUP_PERMISSIONS = ['secretmanager.secrets.get', 'secretmanager.secrets.delete', 'secretmanager.secrets.list'] as const;
/** Project roles that give a principal secretmanager.versions.access (checked for the Batch account). */
const READ_ROLES = [READER_ROLE, 'roles/secretmanager.admin', 'roles/owner'];

const LABEL_VALUE = /^[a-z0-9_-]{1,63}$/;
const SECRET_ID = /^[A-Za-z0-9_-]{1,255}$/;

/**
 * A label value for an id: the id itself when it is already a valid label value (lowercase letters,
 * digits, - and _, at most 63), otherwise `h-` and 40 hex digits of its SHA-256. The exact id is
 * kept in an annotation.
 */
export function labelValue(id: string): string {
  return LABEL_VALUE.test(id) ? id : 'h-' + createHash('sha256').update(id).digest('hex').slice(0, 40);
}

function secretId(runId: string, name: string): string {
  return `tower-${runId}-${name}`;
}

export interface GcpTargetOptions {
  /**
   * Project-level permission checks. 'auto' (default): Resource Manager against Google, none
   * against an emulator (the Secret Manager emulator has no IAM service). An address: the
   * blackwell-systems IAM emulator's gRPC port (tests). false: none.
   */
  projectIam?: 'auto' | false | { address: string };
  /** Page size for listOwned (default 100). */
  listPageSize?: number;
}

export interface GcpTargetParams {
  computeEnvId: string;
  project: string;
  config: GcpConfig;
  clientEmail: string;
  client: SecretManagerLike;
  projectIam?: ProjectIam;
  /** Sent as x-emulator-principal on every call (emulators only). */
  emulatorPrincipal?: string;
  listPageSize?: number;
}

export class GcpSecretTarget implements SecretTarget {
  readonly platform = 'gcp' as const;
  private readonly project: string;
  private readonly location: string;
  private readonly principal: string;
  private readonly callOptions: { otherArgs?: { headers: Record<string, string> } };

  constructor(private readonly p: GcpTargetParams) {
    this.project = p.project;
    this.location = p.config.location;
    this.principal = `serviceAccount:${p.clientEmail}`;
    this.callOptions = p.emulatorPrincipal ? { otherArgs: { headers: { 'x-emulator-principal': p.emulatorPrincipal } } } : {};
  }

  private get parent(): string {
    return `projects/${this.project}`;
  }

  plan(run: RunContext, names: string[]): RemoteRef[] {
    return names.map((secretName) => {
      const id = secretId(run.runId, secretName);
      if (!SECRET_ID.test(id)) {
        throw new InvalidInputError(
          `secret id for run ${JSON.stringify(run.runId)} and name ${secretName} is not a valid Google secret id (letters, digits, - and _, at most 255 characters)`,
        );
      }
      return {
        platform: 'gcp',
        computeEnvId: run.computeEnv.id,
        secretName,
        remoteId: `${this.parent}/secrets/${id}`,
        location: `${this.parent} (${this.location})`,
      };
    });
  }

  async push(run: RunContext, secrets: PlainSecret[], progress?: (done: number) => void): Promise<PushResult> {
    const refs = this.plan(
      run,
      secrets.map((s) => s.name),
    );
    await this.preflight([...PUSH_PERMISSIONS]);
    for (let i = 0; i < secrets.length; i++) {
      await this.pushOne(run, refs[i], secrets[i].value);
      progress?.(i + 1);
    }
    return { refs, headJobEnv: { GOOGLE_CLOUD_PROJECT: this.project } };
  }

  async verify(run: RunContext, refs: RemoteRef[]): Promise<VerifyResult> {
    const missing: MissingPermission[] = [];
    for (const ref of refs) {
      try {
        const secret = await this.getSecret(ref.remoteId);
        if (!this.owns(secret, run)) {
          missing.push({
            principal: `broker ${this.principal}`,
            permission: 'ownership labels',
            resource: ref.remoteId,
            grant: `the secret lacks the broker's labels for run ${run.runId}; it was changed after the push`,
          });
        }
      } catch (err) {
        if (err instanceof PermissionDeniedError) missing.push(...err.missing);
        else if (grpcCode(err) === Status.NOT_FOUND) {
          missing.push({ principal: `broker ${this.principal}`, permission: 'secret present', resource: ref.remoteId, grant: 'the secret was deleted after the push' });
        } else throw err;
      }
    }
    if (this.p.projectIam) {
      const granted = await this.projectIamCall(() => this.p.projectIam!.testPermissions(this.project, [...CLEANUP_PERMISSIONS]));
      if (granted) missing.push(...this.missingFor(CLEANUP_PERMISSIONS, granted));
      const sa = this.p.config.batchServiceAccount;
      if (sa) {
        const bindings = await this.projectIamCall(() => this.p.projectIam!.getPolicy(this.project));
        const member = `serviceAccount:${sa}`;
        if (bindings && !bindings.some((b) => READ_ROLES.includes(b.role) && b.members.includes(member))) {
          missing.push({
            principal: `Batch service account ${sa}`,
            permission: 'secretmanager.versions.access',
            resource: `${this.parent}/secrets/${secretId(run.runId, '*')}`,
            role: READER_ROLE, grant: grantText(READER_ROLE, this.project, member),
          });
        }
      }
    }
    return missing.length ? { ok: false, missing } : { ok: true };
  }

  async delete(run: RunContext, refs: RemoteRef[]): Promise<DeleteOutcome[]> {
    const out: DeleteOutcome[] = [];
    for (const ref of refs) out.push(await this.deleteOne(run, ref));
    return out;
  }

  async listOwned(): Promise<OwnedObject[]> {
    const owned: OwnedObject[] = [];
    const seen = new Set<string>();
    let pageToken: string | undefined;
    const ctx = this.ctx('list secrets', this.parent, 'secretmanager.secrets.list');
    do {
      let page: ISecret[];
      let next: { pageToken?: string | null } | null | undefined;
      try {
        [page, next] = await this.p.client.listSecrets(
          { parent: this.parent, filter: `labels.${LABEL.managed}=true`, pageSize: this.p.listPageSize ?? 100, pageToken: pageToken ?? '' },
          { ...this.callOptions, autoPaginate: false },
        );
      } catch (err) {
        throw sanitizeGcpError(err, ctx);
      }
      for (const s of page) {
        // The filter is applied again here: emulators ignore it.
        if (s.labels?.[LABEL.managed] !== 'true' || !s.name) continue;
        const runId = s.annotations?.[ANNOTATION.runId] ?? s.labels?.[LABEL.runId];
        const workspaceId = s.annotations?.[ANNOTATION.workspaceId] ?? s.labels?.[LABEL.workspace];
        if (!runId || !workspaceId || labelValue(runId) !== s.labels?.[LABEL.runId]) continue;
        // Pages may overlap when secrets come and go between calls.
        if (seen.has(s.name)) continue;
        seen.add(s.name);
        owned.push({ remoteId: s.name, runId, workspaceId });
      }
      pageToken = next?.pageToken || undefined;
    } while (pageToken);
    return owned;
  }

  async close(): Promise<void> {
    this.p.projectIam?.close();
    await this.p.client.close();
  }

  // --- internals ---------------------------------------------------------------------------------

  private ctx(op: string, resource: string, permission: string): CallContext {
    return { op, resource, permission, principal: this.principal, project: this.project };
  }

  private labels(run: RunContext): Record<string, string> {
    return { [LABEL.managed]: 'true', [LABEL.runId]: labelValue(run.runId), [LABEL.workspace]: labelValue(run.workspaceId) };
  }

  private owns(secret: ISecret, run: RunContext): boolean {
    const l = secret.labels ?? {};
    if (l[LABEL.managed] !== 'true' || l[LABEL.runId] !== labelValue(run.runId)) return false;
    const exact = secret.annotations?.[ANNOTATION.runId];
    return exact === undefined || exact === run.runId;
  }

  private async getSecret(name: string): Promise<ISecret> {
    try {
      const [secret] = await this.p.client.getSecret({ name }, this.callOptions);
      return secret;
    } catch (err) {
      if (grpcCode(err) === Status.NOT_FOUND) throw err; // callers decide what absence means
      throw sanitizeGcpError(err, this.ctx('get secret', name, 'secretmanager.secrets.get'));
    }
  }

  private async pushOne(run: RunContext, ref: RemoteRef, value: string): Promise<void> {
    const id = ref.remoteId.slice(`${this.parent}/secrets/`.length);
    let created = false;
    try {
      run.signal?.throwIfAborted(); // a cancelled attempt creates nothing more (close() cuts calls in flight)
      await this.p.client.createSecret(
        {
          parent: this.parent,
          secretId: id,
          secret: {
            replication: { userManaged: { replicas: [{ location: this.location }] } },
            labels: this.labels(run),
            annotations: {
              [ANNOTATION.runId]: run.runId,
              [ANNOTATION.workspaceId]: run.workspaceId,
              [ANNOTATION.computeEnvId]: run.computeEnv.id,
              [ANNOTATION.secretName]: ref.secretName,
            },
          },
        },
        this.callOptions,
      );
      created = true;
    } catch (err) {
      if (grpcCode(err) !== Status.ALREADY_EXISTS) throw sanitizeGcpError(err, this.ctx('create secret', ref.remoteId, 'secretmanager.secrets.create'));
      let existing: ISecret;
      try {
        existing = await this.getSecret(ref.remoteId);
      } catch (e) {
        // Deleted between the two calls: a retry of the push creates it.
        throw grpcCode(e) === Status.NOT_FOUND ? new ConnectionError(`create secret ${ref.remoteId}: it vanished while being created; retrying`) : e;
      }
      if (!this.owns(existing, run)) {
        throw new NotOwnedError(
          `secret ${ref.remoteId} already exists without the broker's labels for run ${run.runId}; the broker never overwrites a secret it did not create (delete or rename it)`,
        );
      }
    }
    if (!created && (await this.hasEnabledVersion(ref.remoteId))) return;
    try {
      run.signal?.throwIfAborted();
      await this.p.client.addSecretVersion({ parent: ref.remoteId, payload: { data: Buffer.from(value, 'utf8') } }, this.callOptions);
    } catch (err) {
      throw sanitizeGcpError(err, this.ctx('add version to', ref.remoteId, 'secretmanager.versions.add'));
    }
  }

  private async hasEnabledVersion(name: string): Promise<boolean> {
    try {
      const [versions] = await this.p.client.listSecretVersions(
        { parent: name, filter: 'state:ENABLED', pageSize: 10 },
        { ...this.callOptions, autoPaginate: false },
      );
      return versions.some((v) => v.state === 'ENABLED' || v.state === 1);
    } catch (err) {
      throw sanitizeGcpError(err, this.ctx('list versions of', name, 'secretmanager.versions.list'));
    }
  }

  private async deleteOne(run: RunContext, ref: RemoteRef): Promise<DeleteOutcome> {
    if (ref.platform !== 'gcp') return 'not-owned';
    if (!ref.remoteId.startsWith(`${this.parent}/secrets/`)) {
      // Pushed to another project (the environment's project changed since): unreachable from here,
      // and never to be reported as deleted.
      throw new GcpSecretManagerError(`run ${run.runId} pushed ${ref.remoteId}, outside ${this.parent} that this compute environment now uses; point it back (secret-broker compute-envs update) until the run is deleted`);
    }
    // An etag mismatch means the secret changed between the read and the delete: read it again.
    for (let attempt = 1; ; attempt++) {
      let secret: ISecret;
      try {
        secret = await this.getSecret(ref.remoteId);
      } catch (err) {
        if (grpcCode(err) === Status.NOT_FOUND) return 'not-found';
        throw err;
      }
      if (!this.owns(secret, run)) return 'not-owned';
      try {
        run.signal?.throwIfAborted();
        await this.p.client.deleteSecret({ name: ref.remoteId, etag: secret.etag ?? '' }, this.callOptions);
        return 'deleted';
      } catch (err) {
        const code = grpcCode(err);
        if (code === Status.NOT_FOUND) return 'not-found';
        if ((code === Status.ABORTED || code === Status.FAILED_PRECONDITION) && attempt < 3) continue;
        throw sanitizeGcpError(err, this.ctx('delete secret', ref.remoteId, 'secretmanager.secrets.delete'));
      }
    }
  }

  /** Project-level TestIamPermissions before writing anything; skipped where no IAM service exists. */
  private async preflight(permissions: string[]): Promise<void> {
    if (!this.p.projectIam) return;
    const granted = await this.projectIamCall(() => this.p.projectIam!.testPermissions(this.project, permissions));
    if (!granted) return;
    const missing = this.missingFor(permissions, granted);
    if (missing.length) throw new PermissionDeniedError(missing);
  }

  private missingFor(permissions: readonly string[], granted: string[]): MissingPermission[] {
    return permissions
      .filter((p) => !granted.includes(p))
      .map((permission) => ({
        principal: `broker ${this.principal}`,
        permission,
        resource: this.parent,
        role: BROKER_ROLE, grant: grantText(BROKER_ROLE, this.project, this.principal),
      }));
  }

  /**
   * Run a project IAM call. Undefined when the check cannot be made here (the service is absent,
   * disabled, or refuses this caller): the permission-denied answers of the real calls still apply.
   */
  private async projectIamCall<T>(fn: () => Promise<T>): Promise<T | undefined> {
    try {
      return await fn();
    } catch (err) {
      const code = grpcCode(err);
      if (code === Status.UNIMPLEMENTED || code === Status.PERMISSION_DENIED || code === Status.NOT_FOUND || code === Status.FAILED_PRECONDITION) return undefined;
      throw sanitizeGcpError(err, this.ctx('test IAM permissions on', this.parent, 'resourcemanager.projects.testIamPermissions'));
    }
  }
}

/** Build the target for a gcp compute environment from its config and its google credential. */
export async function createGcpTarget(ce: ComputeEnvRecord, deps: TargetDeps, options: GcpTargetOptions = {}): Promise<SecretTarget> {
  const config = parseGcpConfig(ce.config);
  if (!ce.credentialId) throw new AuthenticationFailedError(`compute environment ${ce.name} has no credential; gcp compute environments need a google credential`);
  const cred = await deps.readCredential(ce.credentialId);
  if (cred.kind !== 'google') throw new AuthenticationFailedError(`compute environment ${ce.name}: credential is of kind ${cred.kind}, a google service-account key is needed`);
  let key: GoogleServiceAccountKey;
  try {
    key = readServiceAccountKey(cred.secret);
  } catch {
    throw new AuthenticationFailedError(`compute environment ${ce.name}: the stored google credential is not a usable service-account key; store it again`);
  }
  const project = config.project ?? key.projectId;
  const endpoint = deps.endpoints?.gcp;
  // An explicit JWT client: the `credentials` option is deprecated and warns on every client.
  const authClient = new JWT({ email: key.clientEmail, key: key.privateKey, scopes: ['https://www.googleapis.com/auth/cloud-platform'] });
  const client = new SecretManagerServiceClient({
    authClient,
    projectId: project,
    ...(endpoint
      ? { apiEndpoint: endpoint.apiEndpoint, port: endpoint.port, ...(endpoint.insecure ? { sslCreds: grpc.credentials.createInsecure() } : {}) }
      : {}),
  });
  const emulatorPrincipal = endpoint ? `serviceAccount:${key.clientEmail}` : undefined;

  let projectIam: ProjectIam | undefined;
  const mode = options.projectIam ?? 'auto';
  if (typeof mode === 'object') {
    projectIam = grpcProjectIam({
      address: mode.address,
      service: IAM_POLICY_SERVICE,
      credentials: grpc.credentials.createInsecure(),
      metadata: { 'x-emulator-principal': `serviceAccount:${key.clientEmail}` },
    });
  } else if (mode === 'auto' && !endpoint) {
    const auth = await client.auth.getClient();
    projectIam = grpcProjectIam({
      address: RESOURCE_MANAGER.address,
      service: RESOURCE_MANAGER.service,
      credentials: grpc.credentials.combineChannelCredentials(
        grpc.credentials.createSsl(),
        grpc.credentials.createFromGoogleCredential(auth as unknown as Parameters<typeof grpc.credentials.createFromGoogleCredential>[0]),
      ),
    });
  }
  return new GcpSecretTarget({
    computeEnvId: ce.id,
    project,
    config,
    clientEmail: key.clientEmail,
    client,
    projectIam,
    emulatorPrincipal,
    listPageSize: options.listPageSize,
  });
}
