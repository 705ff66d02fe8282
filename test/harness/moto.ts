/**
 * moto's standalone server (PyPI moto[server], installed by scripts/test-deps.d/30-moto.sh) on a
 * loopback port: AWS Secrets Manager, IAM and STS for the aws suites.
 */
import * as http from 'node:http';
import { IAM } from '@aws-sdk/client-iam';
import { SecretsManager } from '@aws-sdk/client-secrets-manager';
import {
  asPolicy,
  brokerListStatement,
  brokerManageStatement,
  ecsTasksTrustStatement,
  executionReadStatement,
  headJobListStatement,
  headJobPassRoleStatement,
  type PolicyDocument,
} from '../../targets/aws/policies';
import { freePort, spawnServer, waitForPort, type ServerProcess } from './process';
import { tool } from './tools';

export interface MotoServer {
  /** http://127.0.0.1:PORT, for TargetDeps.endpoints.aws. */
  endpoint: string;
  port: number;
  output(): string;
  /** Forget every resource (POST /moto-api/reset). */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

function request(url: string, method: 'GET' | 'POST'): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, timeout: 5_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

export async function startMoto(): Promise<MotoServer> {
  const bin = tool('moto_server');
  const port = await freePort();
  const server: ServerProcess = spawnServer(bin, ['-H', '127.0.0.1', '-p', String(port)], {
    // AWS managed policies (AmazonECSTaskExecutionRolePolicy ...) exist only when asked for.
    env: { ...process.env, PYTHONUNBUFFERED: '1', MOTO_IAM_LOAD_MANAGED_POLICIES: 'true' },
  });
  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitForPort(port, 60_000);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const status = await request(`${endpoint}/moto-api/data.json`, 'GET').catch(() => 0);
      if (status === 200) break;
      if (Date.now() > deadline) throw new Error(`moto_server did not answer on ${endpoint}: ${server.output().slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (err) {
    await server.stop();
    throw err;
  }
  return {
    endpoint,
    port,
    output: () => server.output(),
    async reset() {
      const status = await request(`${endpoint}/moto-api/reset`, 'POST');
      if (status !== 200) throw new Error(`moto reset answered HTTP ${status}`);
    },
    stop: () => server.stop(),
  };
}

// ---------------------------------------------------------------------------------------------
// An AWS account in moto, set up the way the platform documents it (the platform's documented IAM policies, Seqera Platform "Secrets").


/** moto's default account. */
export const MOTO_ACCOUNT = '123456789012';

/** Keys for the harness's own admin calls (moto accepts any key; these are AKIA-shaped and fake). */
const ADMIN_KEYS = { accessKeyId: 'AKIAMOTOADMIN0000001', secretAccessKey: 'motoAdminSecretKeyForTestsOnly0000000000' };

export function adminSecrets(endpoint: string, region: string): SecretsManager {
  return new SecretsManager({ region, endpoint, credentials: ADMIN_KEYS });
}

export function adminIam(endpoint: string): IAM {
  return new IAM({ region: 'us-east-1', endpoint, credentials: ADMIN_KEYS });
}

export interface RoleSpec {
  trust?: PolicyDocument;
  inline?: Record<string, PolicyDocument>;
  /** Customer managed policies to create and attach. */
  managed?: Record<string, PolicyDocument>;
}

let uniq = 0;
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${++uniq}`;
}

async function attachManaged(iam: IAM, kind: 'role' | 'user', name: string, managed: Record<string, PolicyDocument> = {}) {
  for (const [policyName, doc] of Object.entries(managed)) {
    const p = await iam.createPolicy({ PolicyName: `${name}-${policyName}`, PolicyDocument: JSON.stringify(doc) });
    if (kind === 'role') await iam.attachRolePolicy({ RoleName: name, PolicyArn: p.Policy!.Arn! });
    else await iam.attachUserPolicy({ UserName: name, PolicyArn: p.Policy!.Arn! });
  }
}

export async function createRole(iam: IAM, name: string, spec: RoleSpec): Promise<string> {
  const r = await iam.createRole({
    RoleName: name,
    AssumeRolePolicyDocument: JSON.stringify(spec.trust ?? asPolicy({ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' })),
  });
  for (const [policyName, doc] of Object.entries(spec.inline ?? {})) {
    await iam.putRolePolicy({ RoleName: name, PolicyName: policyName, PolicyDocument: JSON.stringify(doc) });
  }
  await attachManaged(iam, 'role', name, spec.managed);
  return r.Role!.Arn!;
}

export interface BrokerUser {
  arn: string;
  name: string;
  accessKeyId: string;
  secretAccessKey: string;
}

export async function createUser(iam: IAM, name: string, spec: Omit<RoleSpec, 'trust'>): Promise<BrokerUser> {
  const u = await iam.createUser({ UserName: name });
  for (const [policyName, doc] of Object.entries(spec.inline ?? {})) {
    await iam.putUserPolicy({ UserName: name, PolicyName: policyName, PolicyDocument: JSON.stringify(doc) });
  }
  await attachManaged(iam, 'user', name, spec.managed);
  const k = await iam.createAccessKey({ UserName: name });
  return { arn: u.User!.Arn!, name, accessKeyId: k.AccessKey!.AccessKeyId!, secretAccessKey: k.AccessKey!.SecretAccessKey! };
}

/** The documented policies for one compute region: what a correctly set-up account has. */
export function seedPolicies(region: string, executionRoleArn: string) {
  return {
    broker: asPolicy(brokerListStatement(), brokerManageStatement(region, MOTO_ACCOUNT, { perRunResourcePolicy: true })),
    executionRead: asPolicy(executionReadStatement(region)),
    trust: asPolicy(ecsTasksTrustStatement()),
    headJob: asPolicy(headJobListStatement()),
    headJobCustom: asPolicy(headJobListStatement(), headJobPassRoleStatement(executionRoleArn)),
  };
}

export interface AwsAccountSetup {
  broker: BrokerUser;
  executionRoleArn: string;
  headJobRoleArn: string;
}

/**
 * A broker user with access keys and the run's two roles, set up as the platform's documented IAM policies (Seqera Platform "Secrets") says; `omit` leaves
 * parts out to make a broken account.
 */
export async function setUpAccount(
  iam: IAM,
  region: string,
  omit: { executionRead?: boolean; executionTrust?: boolean; headJobList?: boolean; brokerPolicy?: boolean; passRole?: boolean } = {},
): Promise<AwsAccountSetup> {
  const execName = uniqueName('exec');
  const executionRoleArn = `arn:aws:iam::${MOTO_ACCOUNT}:role/${execName}`;
  const pol = seedPolicies(region, executionRoleArn);
  await createRole(iam, execName, {
    ...(omit.executionTrust ? {} : { trust: pol.trust }),
    inline: omit.executionRead ? {} : { 'secrets-read': pol.executionRead },
  });
  const headJobRoleArn = await createRole(iam, uniqueName('head'), {
    trust: pol.trust,
    inline: omit.headJobList ? {} : { 'head-job': omit.passRole ? pol.headJob : pol.headJobCustom },
  });
  const broker = await createUser(iam, uniqueName('broker'), { inline: omit.brokerPolicy ? {} : { 'secret-broker': pol.broker } });
  return { broker, executionRoleArn, headJobRoleArn };
}
