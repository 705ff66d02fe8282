/**
 * `aws`: AWS Secrets Manager in the compute environment's region, where Nextflow on AWS Batch reads
 * run secrets: one secret `tower-<runId>/<NAME>` per secret, a plain SecretString, tagged
 * `secret-broker:managed=true`, `secret-broker:run-id`, `secret-broker:workspace`.
 *
 *   push     CreateSecret with a ClientRequestToken derived from run id and name, so a retried push
 *            neither duplicates nor fails. If the name exists: this run's (tags match) is fine; any
 *            other secret is refused (NotOwnedError) and never overwritten.
 *   verify   IAM policy evaluation for the broker, execution and head-job roles (iam.ts).
 *   delete   DescribeSecret first: untagged or another run's secret is 'not-owned' and untouched;
 *            ours is deleted with ForceDeleteWithoutRecovery; gone is 'not-found'.
 *   listOwned ListSecrets filtered by the managed tag key and the `tower-` name prefix, paginated.
 *
 * Creates and deletes pass a process-wide rate limiter per (account or access key, region); the
 * SDK retries throttling errors with backoff. Every SDK error leaves sanitized (errors.ts).
 */
import { createHash } from 'node:crypto';
import type { DescribeSecretCommandOutput, Tag } from '@aws-sdk/client-secrets-manager';
import type { RateSlots } from '../../domain/rate';
import type { MissingPermission, PushResult, RemoteRef } from '../../domain/run';
import type { DeleteOutcome, OwnedObject, PlainSecret, RunContext, SecretTarget, TargetDeps, VerifyResult } from '../types';
import { keysFrom, sharedAwsClients, type AwsClients, type SharedAwsClients } from '../../remote/aws/clients';
import { parseAwsConfig, type AwsConfig } from '../../platforms/aws';
import { AwsServiceError, isAwsCode, sanitizeAwsError } from '../../remote/aws/errors';
import { verifyIam, type IamEvaluation } from './iam';
import { perRunResourcePolicy, type PolicyDocument } from './policies';
import { fleetWriteLimiter, writeLimiter, writesPerSecondFrom, type Limiter } from '../../remote/aws/rate-limit';
import { InvalidInputError, NotOwnedError } from '../../domain/errors';
import { type ComputeEnvRecord } from '../../domain/run';


/**
 * SDK call options carrying the activity's abort signal: a cancelled (or given-up) attempt aborts its
 * request in flight, and one not yet sent is refused, so nothing is written after the delete that
 * follows a cancellation.
 */
function abortable(run: { signal?: AbortSignal }): { abortSignal?: AbortSignal } {
  run.signal?.throwIfAborted();
  return run.signal ? { abortSignal: run.signal } : {};
}

const NAME_PREFIX = 'tower-';
export const TAG = {
  managed: 'secret-broker:managed',
  runId: 'secret-broker:run-id',
  workspace: 'secret-broker:workspace',
  computeEnv: 'secret-broker:compute-env',
} as const;

/** AWS secret names: 1-512 of letters, digits and /_+=.@- */
const AWS_NAME_RE = /^[A-Za-z0-9/_+=.@-]{1,512}$/;
/** Tag values: letters, digits, spaces and _.:/=+-@, at most 256. */
const TAG_VALUE_RE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u;
const MAX_SECRET_BYTES = 65_536;
const PUSH_CONCURRENCY = 8;
const DELETE_CONCURRENCY = 8;

export function secretName(runId: string, name: string): string {
  return `${NAME_PREFIX}${runId}/${name}`;
}

/**
 * ClientRequestToken for a run's secret: a UUID-shaped digest of run id and name (36 characters,
 * within the API's 32-64), the same on every retry of the push.
 */
export function clientRequestToken(runId: string, name: string): string {
  const h = createHash('sha256').update(`secret-broker\0${runId}\0${name}`).digest('hex');
  const variant = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function ownershipTags(run: RunContext): Tag[] {
  return [
    { Key: TAG.managed, Value: 'true' },
    { Key: TAG.runId, Value: run.runId },
    { Key: TAG.workspace, Value: run.workspaceId },
    { Key: TAG.computeEnv, Value: run.computeEnv.id },
  ];
}

function tagMap(tags: Tag[] | undefined): Map<string, string> {
  return new Map((tags ?? []).filter((t) => t.Key).map((t) => [t.Key!, t.Value ?? '']));
}

/** The broker's mark, for this run (and workspace). */
function ownedByRun(tags: Tag[] | undefined, run: Pick<RunContext, 'runId' | 'workspaceId'>): boolean {
  const m = tagMap(tags);
  return m.get(TAG.managed) === 'true' && m.get(TAG.runId) === run.runId && m.get(TAG.workspace) === run.workspaceId;
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failed: unknown;
  const worker = async () => {
    while (failed === undefined && next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i]!, i);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed !== undefined) throw failed;
  return out;
}

export interface AwsTargetOptions {
  /** Creates (and deletes) per second per account and region in this process; default 50. */
  writesPerSecond?: number;
  /** ListSecrets page size (1-100); default 100. */
  listPageSize?: number;
  /** How IAM is verified: see iam.ts. Default 'auto'. */
  iamEvaluation?: IamEvaluation;
  /**
   * How long policies read for one run's IAM check serve the next runs' checks with the same key
   * (default 30 s; 0 reads them every time). A grant added since is seen at once (a check that finds
   * something missing reads again); a grant removed is seen once the time has passed.
   */
  policyCacheMs?: number;
  /** SDK attempts per call (throttling and transient errors); default 10. */
  maxAttempts?: number;
}

export class AwsSecretTarget implements SecretTarget {
  readonly platform = 'aws' as const;
  private readonly createLimiter: Limiter;
  private readonly deleteLimiter: Limiter;

  constructor(
    readonly ce: ComputeEnvRecord,
    readonly config: AwsConfig,
    private readonly clients: AwsClients,
    /** Rate-limit key: the account of the assumed role, or the access key id. */
    rateKey: string,
    /** Strings no error may carry (the secret access key, session token). */
    private readonly credentialSecrets: string[],
    private readonly opts: AwsTargetOptions & { emulated: boolean },
    /** What activities with the same key share: who it is, the policies read lately. */
    private readonly shared: Pick<SharedAwsClients, 'identity' | 'policies'> = { policies: new Map() },
    /** Give the clients back (shared clients stay for the next activity); default: destroy them. */
    private readonly release: () => void = () => clients.destroy(),
    /** Slots shared by every worker process (the vault's PostgreSQL); absent: this process's own. */
    rateSlots?: RateSlots,
  ) {
    const rate = writesPerSecondFrom(opts.writesPerSecond);
    const limiter = (cls: 'create' | 'delete') => (rateSlots ? fleetWriteLimiter(rateSlots, rateKey, config.region, cls, rate) : writeLimiter(rateKey, config.region, cls, rate));
    this.createLimiter = limiter('create');
    this.deleteLimiter = limiter('delete');
  }

  private fail(err: unknown, operation: string, target?: string, values: string[] = []): Error {
    return sanitizeAwsError(err, { service: 'secretsmanager', operation, target, sensitive: [...values, ...this.credentialSecrets] });
  }

  private refFor(run: RunContext, name: string): RemoteRef {
    return { platform: 'aws', computeEnvId: run.computeEnv.id, secretName: name, remoteId: secretName(run.runId, name), location: this.config.region };
  }

  plan(run: RunContext, names: string[]): RemoteRef[] {
    for (const name of names) {
      const remote = secretName(run.runId, name);
      if (!AWS_NAME_RE.test(remote)) {
        throw new InvalidInputError(`"${remote}" is not a valid AWS secret name (1-512 letters, digits and /_+=.@-)`);
      }
    }
    for (const [field, v] of [
      ['run id', run.runId],
      ['workspace id', run.workspaceId],
      ['compute environment id', run.computeEnv.id],
    ] as const) {
      if (!TAG_VALUE_RE.test(v)) throw new InvalidInputError(`the ${field} cannot be an AWS tag value (letters, digits, spaces and _.:/=+-@, at most 256)`);
    }
    return names.map((n) => this.refFor(run, n));
  }

  private resourcePolicy(): PolicyDocument | undefined {
    if (!this.config.perRunResourcePolicy) return undefined;
    return perRunResourcePolicy([this.config.executionRoleArn, this.config.headJobRoleArn]);
  }

  async push(run: RunContext, secrets: PlainSecret[], progress?: (done: number) => void): Promise<PushResult> {
    const refs = this.plan(
      run,
      secrets.map((s) => s.name),
    );
    for (const s of secrets) {
      if (Buffer.byteLength(s.value, 'utf8') > MAX_SECRET_BYTES) {
        throw new InvalidInputError(`secret ${s.name} is larger than the ${MAX_SECRET_BYTES} bytes AWS Secrets Manager stores`);
      }
      if (s.value.length === 0) throw new InvalidInputError(`secret ${s.name} is empty; AWS Secrets Manager needs at least one character`);
    }
    const policy = this.resourcePolicy();
    let done = 0;
    await mapLimit(secrets, PUSH_CONCURRENCY, async (s, i) => {
      const arn = await this.pushOne(run, s, refs[i]!.remoteId);
      if (policy) {
        await this.createLimiter.acquire();
        try {
          await this.clients.secrets.putResourcePolicy({ SecretId: arn, ResourcePolicy: JSON.stringify(policy), BlockPublicPolicy: true }, abortable(run));
        } catch (err) {
          throw this.fail(err, 'PutResourcePolicy', refs[i]!.remoteId, [s.value]);
        }
      }
      progress?.(++done);
    });
    return {
      refs,
      headJobEnv: { AWS_REGION: this.config.region, AWS_DEFAULT_REGION: this.config.region, TOWER_WORKFLOW_ID: run.runId, NXF_ENABLE_SECRETS: 'true' },
    };
  }

  /** Create one secret, idempotently; returns its ARN. */
  private async pushOne(run: RunContext, s: PlainSecret, name: string): Promise<string> {
    const token = clientRequestToken(run.runId, s.name);
    await this.createLimiter.acquire();
    try {
      const out = await this.clients.secrets.createSecret(
        {
          Name: name,
          SecretString: s.value,
          ClientRequestToken: token,
          Description: `Pipeline secret ${s.name} of run ${run.runId}; created by secret-broker, deleted when the run ends`,
          Tags: ownershipTags(run),
        },
        abortable(run),
      );
      if (!out.ARN) throw new Error('CreateSecret returned no ARN');
      return out.ARN;
    } catch (err) {
      if (!isAwsCode(err, 'ResourceExistsException')) throw this.fail(err, 'CreateSecret', name, [s.value]);
    }
    // The name is taken: ours from an earlier attempt of this push, or someone else's.
    const existing = await this.describe(name, [s.value], run.signal);
    if (!existing) throw this.fail(new Error('the secret vanished while it was being created'), 'CreateSecret', name, [s.value]);
    if (!ownedByRun(existing.Tags, run)) {
      throw new NotOwnedError(
        `AWS secret ${name} in ${this.config.region} exists and does not carry this run's secret-broker tags; refusing to overwrite it`,
      );
    }
    if (existing.DeletedDate) {
      // Ours, but scheduled for deletion by someone: not usable until it is gone; retry later.
      throw this.fail(new Error('the secret is scheduled for deletion'), 'CreateSecret', name);
    }
    const current = Object.entries(existing.VersionIdsToStages ?? {}).find(([, stages]) => stages?.includes('AWSCURRENT'))?.[0];
    if (current !== token) {
      // Ours, with a value this push did not write (or none): set ours, idempotently by the token.
      await this.createLimiter.acquire();
      try {
        await this.clients.secrets.putSecretValue({ SecretId: existing.ARN ?? name, SecretString: s.value, ClientRequestToken: token }, abortable(run));
      } catch (err) {
        throw this.fail(err, 'PutSecretValue', name, [s.value]);
      }
    }
    if (!existing.ARN) throw this.fail(new Error('DescribeSecret returned no ARN'), 'DescribeSecret', name);
    return existing.ARN;
  }

  /** DescribeSecret, or undefined when there is no such secret. */
  private async describe(name: string, values: string[] = [], signal?: AbortSignal): Promise<DescribeSecretCommandOutput | undefined> {
    try {
      return await this.clients.secrets.describeSecret({ SecretId: name }, abortable({ signal }));
    } catch (err) {
      if (isAwsCode(err, 'ResourceNotFoundException')) return undefined;
      throw this.fail(err, 'DescribeSecret', name, values);
    }
  }

  /** Who the broker is with this key: read once per key (shared by the worker's activities). */
  private callerIdentity(): Promise<{ arn: string; account: string }> {
    const shared = this.shared;
    shared.identity ??= (async () => {
      try {
        const who = await this.clients.sts.getCallerIdentity({});
        if (!who.Arn || !who.Account) throw new Error('GetCallerIdentity returned no ARN');
        return { arn: who.Arn, account: who.Account };
      } catch (err) {
        shared.identity = undefined;
        throw sanitizeAwsError(err, { service: 'sts', operation: 'GetCallerIdentity', sensitive: this.credentialSecrets });
      }
    })();
    return shared.identity;
  }

  async verify(run: RunContext, refs: RemoteRef[]): Promise<VerifyResult> {
    const missing: MissingPermission[] = [];
    const arns: string[] = [];
    for (const ref of refs) {
      const d = await this.describe(ref.remoteId, [], run.signal);
      if (!d?.ARN || d.DeletedDate) {
        missing.push({
          principal: 'broker',
          permission: 'secret present',
          resource: ref.remoteId,
          grant: `the pushed secret ${ref.remoteId} is not in ${this.config.region}; push again`,
        });
        continue;
      }
      if (!ownedByRun(d.Tags, run)) {
        missing.push({
          principal: 'broker',
          permission: 'ownership tags',
          resource: ref.remoteId,
          grant: `the secret ${ref.remoteId} does not carry this run's secret-broker tags`,
        });
        continue;
      }
      arns.push(d.ARN);
    }
    const who = await this.callerIdentity();
    const policy = this.resourcePolicy();
    const iamMissing = await verifyIam(
      this.clients.iam,
      {
        region: this.config.region,
        callerArn: who.arn,
        callerAccount: who.account,
        executionRoleArn: this.config.executionRoleArn,
        headJobRoleArn: this.config.headJobRoleArn,
        customRole: !!this.config.customRole,
        secretArns: arns,
        ...(policy ? { resourcePolicy: policy } : {}),
      },
      { mode: this.opts.iamEvaluation ?? 'auto', emulated: this.opts.emulated, simulator: this.clients.iamSimulator, policyCache: this.shared.policies, policyCacheMs: this.opts.policyCacheMs },
    ).catch((err) => {
      throw sanitizeAwsError(err, { service: 'iam', operation: 'verify', sensitive: this.credentialSecrets });
    });
    missing.push(...iamMissing);
    return missing.length ? { ok: false, missing } : { ok: true };
  }

  async delete(run: RunContext, refs: RemoteRef[]): Promise<DeleteOutcome[]> {
    // A secret is deleted where it was pushed: after a region change this environment cannot reach it,
    // and saying "not found" would end the run with the secret left behind.
    const elsewhere = refs.find((r) => r.location !== undefined && r.location !== this.config.region);
    if (elsewhere) {
      throw new AwsServiceError(
        `run ${run.runId} pushed its secrets to region ${elsewhere.location}, but this compute environment now uses ${this.config.region}; ` +
          'point it back (secret-broker compute-envs update) until the run is deleted',
      );
    }
    return mapLimit(refs, DELETE_CONCURRENCY, async (ref) => {
      const existing = await this.describe(ref.remoteId, [], run.signal);
      if (!existing) return 'not-found';
      if (!ownedByRun(existing.Tags, run)) return 'not-owned';
      await this.deleteLimiter.acquire();
      try {
        // The exact ARN: a secret re-created under the same name since is a different ARN.
        await this.clients.secrets.deleteSecret({ SecretId: existing.ARN ?? ref.remoteId, ForceDeleteWithoutRecovery: true }, abortable(run));
        return 'deleted';
      } catch (err) {
        if (isAwsCode(err, 'ResourceNotFoundException')) return 'not-found';
        throw this.fail(err, 'DeleteSecret', ref.remoteId);
      }
    });
  }

  async listOwned(): Promise<OwnedObject[]> {
    const out: OwnedObject[] = [];
    let NextToken: string | undefined;
    const MaxResults = Math.min(100, Math.max(1, this.opts.listPageSize ?? 100));
    for (let page = 0; page < 100_000; page++) {
      let r;
      try {
        r = await this.clients.secrets.listSecrets({
          Filters: [
            { Key: 'tag-key', Values: [TAG.managed] },
            { Key: 'name', Values: [NAME_PREFIX] },
          ],
          MaxResults,
          ...(NextToken ? { NextToken } : {}),
        });
      } catch (err) {
        throw this.fail(err, 'ListSecrets');
      }
      for (const s of r.SecretList ?? []) {
        if (!s.Name?.startsWith(NAME_PREFIX)) continue;
        const tags = tagMap(s.Tags);
        const runId = tags.get(TAG.runId);
        const workspaceId = tags.get(TAG.workspace);
        if (tags.get(TAG.managed) !== 'true' || !runId || !workspaceId) continue;
        if (tags.has(TAG.computeEnv) && tags.get(TAG.computeEnv) !== this.ce.id) continue; // another environment in this region
        out.push({ remoteId: s.Name, runId, workspaceId });
      }
      NextToken = r.NextToken;
      if (!NextToken) break;
    }
    return out;
  }

  async close(): Promise<void> {
    this.release();
  }
}

/** Build an aws target from a compute environment record and its credential (from the vault). */
export async function createAwsTarget(ce: ComputeEnvRecord, deps: TargetDeps, opts: AwsTargetOptions = {}): Promise<AwsSecretTarget> {
  const config = parseAwsConfig(ce.config);
  if (!ce.credentialId) throw new InvalidInputError(`aws compute environment ${ce.name} has no credential`);
  const cred = await deps.readCredential(ce.credentialId);
  if (cred.kind !== 'aws') throw new InvalidInputError(`aws compute environment ${ce.name} needs an aws credential, not ${cred.kind}`);
  const keys = keysFrom(cred);
  const endpoint = deps.endpoints?.aws;
  const { entry, release } = sharedAwsClients(keys, { region: config.region, ...(endpoint ? { endpoint } : {}), ...(opts.maxAttempts ? { maxAttempts: opts.maxAttempts } : {}) });
  const rateKey = keys.roleArn ? `account:${keys.roleArn.split(':')[4]}` : `key:${keys.accessKeyId}`;
  const sensitive = [keys.secretAccessKey, ...(keys.sessionToken ? [keys.sessionToken] : [])];
  const writesPerSecond = opts.writesPerSecond ?? deps.awsWritesPerSecond;
  return new AwsSecretTarget(ce, config, entry.clients, rateKey, sensitive, { ...opts, ...(writesPerSecond !== undefined ? { writesPerSecond } : {}), emulated: !!endpoint }, entry, release, deps.rateSlots);
}

