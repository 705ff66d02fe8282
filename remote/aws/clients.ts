/**
 * The narrow client types the aws provider is built on (only the calls it makes, one signature each,
 * like external-secrets' SMInterface), and the factory that builds real SDK clients for them:
 * endpoint override for emulators, retries with backoff for throttling, static or assumed-role
 * credentials. The SDK's aggregated clients (SecretsManager, IAM, STS) satisfy these types; tests
 * hand in the same clients pointed at moto, or small fakes.
 */
import {
  SecretsManager,
  type CreateSecretCommandInput,
  type CreateSecretCommandOutput,
  type DeleteSecretCommandInput,
  type DeleteSecretCommandOutput,
  type DescribeSecretCommandInput,
  type DescribeSecretCommandOutput,
  type ListSecretsCommandInput,
  type ListSecretsCommandOutput,
  type PutResourcePolicyCommandInput,
  type PutResourcePolicyCommandOutput,
  type PutSecretValueCommandInput,
  type PutSecretValueCommandOutput,
} from '@aws-sdk/client-secrets-manager';
import {
  IAM,
  type GetGroupPolicyCommandInput,
  type GetGroupPolicyCommandOutput,
  type GetPolicyCommandInput,
  type GetPolicyCommandOutput,
  type GetPolicyVersionCommandInput,
  type GetPolicyVersionCommandOutput,
  type GetRoleCommandInput,
  type GetRoleCommandOutput,
  type GetRolePolicyCommandInput,
  type GetRolePolicyCommandOutput,
  type GetUserCommandInput,
  type GetUserCommandOutput,
  type GetUserPolicyCommandInput,
  type GetUserPolicyCommandOutput,
  type ListAttachedGroupPoliciesCommandInput,
  type ListAttachedGroupPoliciesCommandOutput,
  type ListAttachedRolePoliciesCommandInput,
  type ListAttachedRolePoliciesCommandOutput,
  type ListAttachedUserPoliciesCommandInput,
  type ListAttachedUserPoliciesCommandOutput,
  type ListGroupPoliciesCommandInput,
  type ListGroupPoliciesCommandOutput,
  type ListGroupsForUserCommandInput,
  type ListGroupsForUserCommandOutput,
  type ListRolePoliciesCommandInput,
  type ListRolePoliciesCommandOutput,
  type ListUserPoliciesCommandInput,
  type ListUserPoliciesCommandOutput,
  type SimulatePrincipalPolicyCommandInput,
  type SimulatePrincipalPolicyCommandOutput,
} from '@aws-sdk/client-iam';
import {
  STS,
  type AssumeRoleCommandInput,
  type AssumeRoleCommandOutput,
  type GetCallerIdentityCommandInput,
  type GetCallerIdentityCommandOutput,
} from '@aws-sdk/client-sts';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@aws-sdk/types';
import { createHash } from 'node:crypto';

/** Per-call options the SDK takes: an abort signal cancels the request in flight. */
export interface CallOptions {
  abortSignal?: AbortSignal;
}

export interface SecretsApi {
  createSecret(input: CreateSecretCommandInput, options?: CallOptions): Promise<CreateSecretCommandOutput>;
  describeSecret(input: DescribeSecretCommandInput, options?: CallOptions): Promise<DescribeSecretCommandOutput>;
  putSecretValue(input: PutSecretValueCommandInput, options?: CallOptions): Promise<PutSecretValueCommandOutput>;
  putResourcePolicy(input: PutResourcePolicyCommandInput, options?: CallOptions): Promise<PutResourcePolicyCommandOutput>;
  deleteSecret(input: DeleteSecretCommandInput, options?: CallOptions): Promise<DeleteSecretCommandOutput>;
  listSecrets(input: ListSecretsCommandInput, options?: CallOptions): Promise<ListSecretsCommandOutput>;
}

export interface IamApi {
  getRole(input: GetRoleCommandInput): Promise<GetRoleCommandOutput>;
  listRolePolicies(input: ListRolePoliciesCommandInput): Promise<ListRolePoliciesCommandOutput>;
  getRolePolicy(input: GetRolePolicyCommandInput): Promise<GetRolePolicyCommandOutput>;
  listAttachedRolePolicies(input: ListAttachedRolePoliciesCommandInput): Promise<ListAttachedRolePoliciesCommandOutput>;
  getUser(input: GetUserCommandInput): Promise<GetUserCommandOutput>;
  listUserPolicies(input: ListUserPoliciesCommandInput): Promise<ListUserPoliciesCommandOutput>;
  getUserPolicy(input: GetUserPolicyCommandInput): Promise<GetUserPolicyCommandOutput>;
  listAttachedUserPolicies(input: ListAttachedUserPoliciesCommandInput): Promise<ListAttachedUserPoliciesCommandOutput>;
  listGroupsForUser(input: ListGroupsForUserCommandInput): Promise<ListGroupsForUserCommandOutput>;
  listGroupPolicies(input: ListGroupPoliciesCommandInput): Promise<ListGroupPoliciesCommandOutput>;
  getGroupPolicy(input: GetGroupPolicyCommandInput): Promise<GetGroupPolicyCommandOutput>;
  listAttachedGroupPolicies(input: ListAttachedGroupPoliciesCommandInput): Promise<ListAttachedGroupPoliciesCommandOutput>;
  getPolicy(input: GetPolicyCommandInput): Promise<GetPolicyCommandOutput>;
  getPolicyVersion(input: GetPolicyVersionCommandInput): Promise<GetPolicyVersionCommandOutput>;
  simulatePrincipalPolicy(input: SimulatePrincipalPolicyCommandInput): Promise<SimulatePrincipalPolicyCommandOutput>;
}

export interface StsApi {
  getCallerIdentity(input: GetCallerIdentityCommandInput): Promise<GetCallerIdentityCommandOutput>;
  assumeRole(input: AssumeRoleCommandInput): Promise<AssumeRoleCommandOutput>;
}

export interface AwsClients {
  secrets: SecretsApi;
  iam: IamApi;
  /** IAM with few retries, for SimulatePrincipalPolicy (absent on emulators: fall back fast). */
  iamSimulator: Pick<IamApi, 'simulatePrincipalPolicy'>;
  sts: StsApi;
  /** Release sockets. */
  destroy(): void;
}

/** The stored credential's fields (credentials/aws.ts): public and secret parts. */
export interface AwsCredentialFields {
  public: Record<string, unknown>;
  secret: Record<string, string>;
}

export interface AwsKeys {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  roleArn?: string;
  externalId?: string;
}

export function keysFrom(cred: AwsCredentialFields): AwsKeys {
  const accessKeyId = cred.public.accessKeyId;
  const secretAccessKey = cred.secret.secretAccessKey;
  if (typeof accessKeyId !== 'string' || typeof secretAccessKey !== 'string') {
    throw new TypeError('the aws credential lacks accessKeyId or secretAccessKey');
  }
  const keys: AwsKeys = { accessKeyId, secretAccessKey };
  if (cred.secret.sessionToken) keys.sessionToken = cred.secret.sessionToken;
  if (typeof cred.public.roleArn === 'string' && cred.public.roleArn) keys.roleArn = cred.public.roleArn;
  if (typeof cred.public.externalId === 'string' && cred.public.externalId) keys.externalId = cred.public.externalId;
  return keys;
}

/** Throttling retries: the SDK's standard strategy (exponential backoff with jitter), more attempts. */
const DEFAULT_MAX_ATTEMPTS = 10;

export interface ClientOptions {
  region: string;
  /** Emulator URL (moto); unset means the real service. */
  endpoint?: string;
  maxAttempts?: number;
  /** 'standard' (default) or 'adaptive' (adds the SDK's own client-side rate limiter per client). */
  retryMode?: 'standard' | 'adaptive';
}

const ROLE_SESSION_NAME = 'secret-broker';
const REFRESH_BEFORE_EXPIRY_MS = 5 * 60 * 1000;

/**
 * Credentials the SDK calls on each request: the stored key itself, or, with a role ARN, the
 * temporary credentials of that role (STS AssumeRole with the external id), cached until five
 * minutes before they expire.
 */
function credentialProvider(keys: AwsKeys, opts: ClientOptions): { provider: AwsCredentialIdentityProvider; destroy(): void } {
  const base: AwsCredentialIdentity = {
    accessKeyId: keys.accessKeyId,
    secretAccessKey: keys.secretAccessKey,
    ...(keys.sessionToken ? { sessionToken: keys.sessionToken } : {}),
  };
  if (!keys.roleArn) return { provider: async () => base, destroy() {} };
  const roleArn = keys.roleArn;
  const sts = new STS({ ...sdkConfig(opts), credentials: base });
  let cached: AwsCredentialIdentity | undefined;
  let pending: Promise<AwsCredentialIdentity> | undefined;
  const provider = async () => {
    if (cached && (!cached.expiration || cached.expiration.getTime() - Date.now() > REFRESH_BEFORE_EXPIRY_MS)) return cached;
    pending ??= (async () => {
      try {
        const out = await sts.assumeRole({
          RoleArn: roleArn,
          RoleSessionName: ROLE_SESSION_NAME,
          DurationSeconds: 3600,
          ...(keys.externalId ? { ExternalId: keys.externalId } : {}),
        });
        const c = out.Credentials;
        if (!c?.AccessKeyId || !c.SecretAccessKey) throw new Error('AssumeRole returned no credentials');
        cached = {
          accessKeyId: c.AccessKeyId,
          secretAccessKey: c.SecretAccessKey,
          ...(c.SessionToken ? { sessionToken: c.SessionToken } : {}),
          ...(c.Expiration ? { expiration: c.Expiration } : {}),
        };
        return cached;
      } finally {
        pending = undefined;
      }
    })();
    return pending;
  };
  return { provider, destroy: () => sts.destroy() };
}

function sdkConfig(opts: ClientOptions) {
  return {
    region: opts.region,
    maxAttempts: opts.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    retryMode: opts.retryMode ?? 'standard',
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
  };
}

/** Real SDK clients for one compute environment. */
export function createAwsClients(keys: AwsKeys, opts: ClientOptions): AwsClients {
  const creds = credentialProvider(keys, opts);
  const cfg = { ...sdkConfig(opts), credentials: creds.provider };
  const secrets = new SecretsManager(cfg);
  const iam = new IAM(cfg);
  const iamSimulator = new IAM({ ...cfg, maxAttempts: 2 });
  const sts = new STS(cfg);
  return {
    secrets,
    iam,
    iamSimulator,
    sts,
    destroy() {
      secrets.destroy();
      iam.destroy();
      iamSimulator.destroy();
      sts.destroy();
      creds.destroy();
    },
  };
}

/** What a worker keeps per AWS identity and endpoint across activities: clients and who they are. */
export interface SharedAwsClients {
  clients: AwsClients;
  /** The caller identity, read once (STS GetCallerIdentity). */
  identity?: Promise<{ arn: string; account: string }>;
  /** Policy documents read for IAM checks, by principal, with when they were read. */
  policies: Map<string, { at: number; value: Promise<unknown> }>;
}

/** How long unused shared clients are kept before they are destroyed. */
const SHARED_IDLE_MS = 5 * 60_000;
const shared = new Map<string, SharedAwsClients & { users: number; idleTimer?: NodeJS.Timeout }>();

/**
 * SDK clients shared by every activity of this worker that acts with the same key in the same region
 * (a new client per activity costs a connection and its TLS handshake, and re-reads who it is).
 * Release them when done; they are destroyed after five idle minutes. Keyed by a hash of the key.
 */
export function sharedAwsClients(keys: AwsKeys, opts: ClientOptions): { entry: SharedAwsClients; release(): void } {
  const id = createHash('sha256').update(JSON.stringify([keys, opts])).digest('hex');
  let e = shared.get(id);
  if (!e) {
    e = { clients: createAwsClients(keys, opts), policies: new Map(), users: 0 };
    shared.set(id, e);
  }
  const entry = e;
  if (entry.idleTimer) clearTimeout(entry.idleTimer);
  entry.idleTimer = undefined;
  entry.users++;
  let released = false;
  return {
    entry,
    release() {
      if (released) return;
      released = true;
      if (--entry.users > 0) return;
      entry.idleTimer = setTimeout(() => {
        if (entry.users > 0) return;
        shared.delete(id);
        entry.clients.destroy();
      }, SHARED_IDLE_MS);
      entry.idleTimer.unref();
    },
  };
}
