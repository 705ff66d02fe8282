/**
 * IAM verification of the aws provider: policies read from moto's IAM (inline, attached managed at
 * the default version, groups, boundaries, trust) and evaluated locally; the simulator API path with
 * a fake; every miss named with the statement that grants it.
 */
import * as os from 'node:os';
import type { IAM } from '@aws-sdk/client-iam';
import type { SimulatePrincipalPolicyCommandInput, SimulatePrincipalPolicyCommandOutput } from '@aws-sdk/client-iam';
import type { IamApi } from '../../remote/aws/clients';
import { principalFromArn, requiredPermissions, verifyIam } from '../../targets/aws/iam';
import { asPolicy, brokerListStatement, brokerManageStatement, ecsTasksTrustStatement, executionReadStatement, headJobListStatement } from '../../targets/aws/policies';
import { createAwsTarget, type AwsSecretTarget, type AwsTargetOptions } from '../../targets/aws/target';
import type { RunContext, TargetDeps } from '../../targets/types';
import type { MissingPermission, RemoteRef } from '../../domain/run';
import {
  MOTO_ACCOUNT,
  adminIam,
  createRole,
  seedPolicies,
  setUpAccount,
  startMoto,
  uniqueName,
  type AwsAccountSetup,
  type MotoServer,
} from '../harness/moto';
import { type ComputeEnvRecord } from '../../domain/run';

const REGION = 'eu-west-1';
let moto: MotoServer;
let iam: IAM;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  moto = await startMoto();
  iam = adminIam(moto.endpoint);
});

afterAll(async () => {
  for (const c of cleanups) await c();
  iam?.destroy();
  await moto?.stop();
});

interface Setup {
  target: AwsSecretTarget;
  run: RunContext;
  refs: RemoteRef[];
  arns: string[];
  account: AwsAccountSetup;
}

/** Push two secrets with a broker of `account`, ready to verify. */
async function pushed(
  account: AwsAccountSetup,
  config: Record<string, unknown> = {},
  opts: AwsTargetOptions = {},
  credential: Record<string, unknown> = {},
): Promise<Setup> {
  const ce: ComputeEnvRecord = {
    id: uniqueName('ce'),
    workspaceId: 'ws-iam',
    name: 'aws',
    platform: 'aws',
    credentialId: 'c',
    config: { region: REGION, headJobRoleArn: account.headJobRoleArn, executionRoleArn: account.executionRoleArn, ...config },
  };
  const deps: TargetDeps = {
    localWorkDir: os.tmpdir(),
    endpoints: { aws: moto.endpoint },
    readCredential: async () => ({
      kind: 'aws',
      public: { accessKeyId: account.broker.accessKeyId, ...credential },
      secret: { secretAccessKey: account.broker.secretAccessKey },
    }),
  };
  const target = await createAwsTarget(ce, deps, { iamEvaluation: 'local', ...opts });
  const run: RunContext = { runId: uniqueName('r').replace(/-/g, ''), workspaceId: ce.workspaceId, computeEnv: ce };
  const res = await target.push(run, [
    { name: 'ALPHA', value: 'alpha-value' },
    { name: 'BETA', value: 'beta-value' },
  ]);
  cleanups.push(async () => {
    await target.delete(run, res.refs);
    await target.close();
  });
  const arns = (await target['clients'].secrets.listSecrets({ Filters: [{ Key: 'name', Values: [`tower-${run.runId}/`] }] })).SecretList!.map((s) => s.ARN!);
  return { target, run, refs: res.refs, arns: arns.sort(), account };
}

async function missingOf(s: Setup): Promise<MissingPermission[]> {
  const r = await s.target.verify(s.run, s.refs);
  return r.ok ? [] : r.missing;
}

const summary = (m: MissingPermission[]) => m.map((x) => `${x.principal.split(' arn:')[0]} ${x.permission} ${x.resource}`).sort();

describe('IAM verification against moto (local evaluation)', () => {
  test('an account set up as the platform documents passes', async () => {
    const s = await pushed(await setUpAccount(iam, REGION));
    expect(await s.target.verify(s.run, s.refs)).toEqual({ ok: true });
  });

  test('execution role without GetSecretValue: that action is named for each secret, with the statement that grants it', async () => {
    const s = await pushed(await setUpAccount(iam, REGION, { executionRead: true }));
    const missing = await missingOf(s);
    expect(summary(missing)).toEqual(s.arns.map((a) => `execution role secretsmanager:GetSecretValue ${a}`).sort());
    for (const m of missing) {
      expect(m.principal).toBe(`execution role ${s.account.executionRoleArn}`);
      expect(JSON.parse(m.grant)).toEqual(executionReadStatement(REGION));
      expect(m.grant).toContain(`arn:aws:secretsmanager:${REGION}:*:secret:tower-*`);
    }
  });

  test('execution role not trusted by ecs-tasks.amazonaws.com: the trust is named with the trust statement', async () => {
    const s = await pushed(await setUpAccount(iam, REGION, { executionTrust: true }));
    const missing = await missingOf(s);
    expect(missing).toHaveLength(1);
    expect(missing[0]).toMatchObject({
      principal: `execution role ${s.account.executionRoleArn}`,
      permission: 'trust ecs-tasks.amazonaws.com (sts:AssumeRole)',
      resource: s.account.executionRoleArn,
    });
    expect(missing[0]!.grant).toContain(JSON.stringify(ecsTasksTrustStatement()));
  });

  test('head job without ListSecrets is named', async () => {
    const s = await pushed(await setUpAccount(iam, REGION, { headJobList: true }));
    expect(summary(await missingOf(s))).toEqual(['head-job role secretsmanager:ListSecrets *']);
  });

  test('custom head-job role needs GetRole and PassRole on the execution role', async () => {
    const account = await setUpAccount(iam, REGION, { passRole: true });
    const plain = await pushed(account);
    expect(await missingOf(plain)).toEqual([]);
    const custom = await pushed(account, { customRole: true });
    const missing = await missingOf(custom);
    expect(summary(missing)).toEqual([
      `head-job role iam:GetRole ${account.executionRoleArn}`,
      `head-job role iam:PassRole ${account.executionRoleArn}`,
    ]);
    expect(missing[0]!.grant).toContain('AllowNextflowHeadJobToPassRoles');
  });

  test('a broker without its policy is told every action it lacks', async () => {
    const s = await pushed(await setUpAccount(iam, REGION, { brokerPolicy: true }));
    const missing = await missingOf(s);
    const expected = [
      'broker secretsmanager:ListSecrets *',
      ...s.arns.flatMap((a) =>
        ['CreateSecret', 'DescribeSecret', 'DeleteSecret', 'TagResource'].map((op) => `broker secretsmanager:${op} ${a}`),
      ),
    ].sort();
    expect(summary(missing)).toEqual(expected);
    expect(missing.find((m) => m.permission === 'secretsmanager:DeleteSecret')!.grant).toBe(
      JSON.stringify(brokerManageStatement(REGION, MOTO_ACCOUNT)),
    );
  });

  test('an explicit Deny is reported as such, naming the denying statement', async () => {
    const account = await setUpAccount(iam, REGION);
    const role = account.executionRoleArn.split('/').pop()!;
    await iam.putRolePolicy({
      RoleName: role,
      PolicyName: 'deny-secrets',
      PolicyDocument: JSON.stringify(asPolicy({ Sid: 'NoSecrets', Effect: 'Deny', Action: 'secretsmanager:GetSecretValue', Resource: '*' })),
    });
    const missing = await missingOf(await pushed(account));
    expect(missing).toHaveLength(2);
    expect(missing[0]!.grant).toMatch(/^Explicitly denied by .*deny-secrets \(Sid NoSecrets\)/);
  });

  test('a grant made after a check is seen by the next check at once (policies read for an earlier run are read again)', async () => {
    const s = await pushed(await setUpAccount(iam, REGION, { executionRead: true }));
    expect(await missingOf(s)).toHaveLength(2);
    await iam.putRolePolicy({
      RoleName: s.account.executionRoleArn.split('/').pop()!,
      PolicyName: 'read-run-secrets',
      PolicyDocument: JSON.stringify(asPolicy(executionReadStatement(REGION))),
    });
    expect(await missingOf(s)).toEqual([]);
  });

  test('attached managed policies are read at their default version, and AWS managed policies are read too', async () => {
    const execName = uniqueName('exec-managed');
    const execArn = `arn:aws:iam::${MOTO_ACCOUNT}:role/${execName}`;
    const pol = seedPolicies(REGION, execArn);
    await createRole(iam, execName, { trust: pol.trust, managed: { read: pol.executionRead } });
    await iam.attachRolePolicy({ RoleName: execName, PolicyArn: 'arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy' });
    const base = await setUpAccount(iam, REGION);
    const account = { ...base, executionRoleArn: execArn };
    const s = await pushed(account);
    expect(await missingOf(s)).toEqual([]);

    // A new default version without the grant: now it is missing (the old version is not used).
    const attached = await iam.listAttachedRolePolicies({ RoleName: execName });
    const mine = attached.AttachedPolicies!.find((p) => p.PolicyName === `${execName}-read`)!;
    await iam.createPolicyVersion({
      PolicyArn: mine.PolicyArn!,
      PolicyDocument: JSON.stringify(asPolicy({ Effect: 'Allow', Action: 'secretsmanager:DescribeSecret', Resource: '*' })),
      SetAsDefault: true,
    });
    // Within the cache window the worker still uses what it read for the last check (a removed grant
    // is seen once the window has passed); a check that reads afresh sees the new version.
    expect(await missingOf(s)).toEqual([]);
    const fresh = await pushed(account, {}, { policyCacheMs: 0 });
    expect(summary(await missingOf(fresh))).toEqual(fresh.arns.map((a) => `execution role secretsmanager:GetSecretValue ${a}`).sort());
  });

  test("a broker user's group policies count", async () => {
    const base = await setUpAccount(iam, REGION, { brokerPolicy: true });
    const group = uniqueName('brokers');
    await iam.createGroup({ GroupName: group });
    await iam.putGroupPolicy({ GroupName: group, PolicyName: 'broker', PolicyDocument: JSON.stringify(seedPolicies(REGION, base.executionRoleArn).broker) });
    await iam.addUserToGroup({ GroupName: group, UserName: base.broker.name });
    expect(await missingOf(await pushed(base))).toEqual([]);
  });

  test('a permissions boundary without GetSecretValue takes it away', async () => {
    const account = await setUpAccount(iam, REGION);
    const boundary = await iam.createPolicy({
      PolicyName: uniqueName('boundary'),
      PolicyDocument: JSON.stringify(asPolicy({ Effect: 'Allow', Action: 'secretsmanager:DescribeSecret', Resource: '*' })),
    });
    await iam.putRolePermissionsBoundary({ RoleName: account.executionRoleArn.split('/').pop()!, PermissionsBoundary: boundary.Policy!.Arn! });
    const s = await pushed(account);
    expect(summary(await missingOf(s))).toEqual(s.arns.map((a) => `execution role secretsmanager:GetSecretValue ${a}`).sort());
  });

  test('a role that does not exist is named', async () => {
    const base = await setUpAccount(iam, REGION);
    const ghost = `arn:aws:iam::${MOTO_ACCOUNT}:role/${uniqueName('ghost')}`;
    const missing = await missingOf(await pushed({ ...base, executionRoleArn: ghost }));
    expect(missing.map((m) => [m.principal, m.permission])).toEqual([[`execution role ${ghost}`, 'exists']]);
  });

  test('a broker that assumes a role is verified as that role', async () => {
    const base = await setUpAccount(iam, REGION, { brokerPolicy: true });
    const roleName = uniqueName('broker-role');
    const roleArn = await createRole(iam, roleName, {
      trust: asPolicy({ Effect: 'Allow', Principal: { AWS: base.broker.arn }, Action: 'sts:AssumeRole' }),
      inline: { broker: seedPolicies(REGION, base.executionRoleArn).broker },
    });
    // The user itself has nothing; the role has the broker policy.
    const s = await pushed(base, {}, {}, { roleArn, externalId: 'ext-1234' });
    expect(await missingOf(s)).toEqual([]);
    const noPolicyRole = await createRole(iam, uniqueName('broker-role-empty'), {
      trust: asPolicy({ Effect: 'Allow', Principal: { AWS: base.broker.arn }, Action: 'sts:AssumeRole' }),
    });
    const s2 = await pushed(base, {}, {}, { roleArn: noPolicyRole });
    const missing = await missingOf(s2);
    expect(missing.length).toBeGreaterThan(0);
    expect(missing.every((m) => m.principal === `broker ${noPolicyRole}`)).toBe(true);
  });

  test("'service' mode against moto (no SimulatePrincipalPolicy) falls back to local evaluation", async () => {
    const s = await pushed(await setUpAccount(iam, REGION, { executionRead: true }), {}, { iamEvaluation: 'service' });
    expect(summary(await missingOf(s))).toEqual(s.arns.map((a) => `execution role secretsmanager:GetSecretValue ${a}`).sort());
  });

  test('a pushed secret that vanished before verification is named', async () => {
    const s = await pushed(await setUpAccount(iam, REGION));
    await s.target.delete(s.run, [s.refs[0]!]);
    const missing = await missingOf(s);
    expect(missing.map((m) => [m.permission, m.resource])).toEqual([['secret present', s.refs[0]!.remoteId]]);
  });
});

describe('IAM verification through SimulatePrincipalPolicy (fake IAM)', () => {
  const region = 'us-west-2';
  const execArn = 'arn:aws:iam::111122223333:role/batch-exec';
  const headArn = 'arn:aws:iam::111122223333:role/head';
  const secretArn = 'arn:aws:secretsmanager:us-west-2:111122223333:secret:tower-r1/A-abcdef';
  const trust = encodeURIComponent(JSON.stringify(asPolicy(ecsTasksTrustStatement())));

  function fakeIam(decide: (source: string, action: string, resource: string) => string, calls: string[]): IamApi {
    const notUsed = async () => {
      throw new Error('policy reads must not be needed when the simulator answers');
    };
    return {
      async simulatePrincipalPolicy(input: SimulatePrincipalPolicyCommandInput): Promise<SimulatePrincipalPolicyCommandOutput> {
        calls.push(`simulate ${input.PolicySourceArn} ${input.ActionNames!.join(',')}`);
        return {
          $metadata: {},
          IsTruncated: false,
          EvaluationResults: input.ActionNames!.flatMap((a) =>
            (input.ResourceArns ?? ['*']).map((r) => ({
              EvalActionName: a,
              EvalResourceName: r,
              EvalDecision: decide(input.PolicySourceArn!, a, r) as 'allowed',
              MatchedStatements: [{ SourcePolicyId: 'deny-all' }],
            })),
          ),
        };
      },
      async getRole(input) {
        calls.push(`getRole ${input.RoleName}`);
        const arn = input.RoleName === 'batch-exec' ? execArn : headArn;
        return { $metadata: {}, Role: { Arn: arn, AssumeRolePolicyDocument: trust, RoleName: input.RoleName, Path: '/', RoleId: 'x', CreateDate: new Date() } };
      },
      async listRolePolicies() {
        return { $metadata: {}, PolicyNames: [] };
      },
      async listAttachedRolePolicies() {
        return { $metadata: {}, AttachedPolicies: [] };
      },
      getRolePolicy: notUsed,
      getUser: notUsed,
      listUserPolicies: notUsed,
      getUserPolicy: notUsed,
      listAttachedUserPolicies: notUsed,
      listGroupsForUser: notUsed,
      listGroupPolicies: notUsed,
      getGroupPolicy: notUsed,
      listAttachedGroupPolicies: notUsed,
      getPolicy: notUsed,
      getPolicyVersion: notUsed,
    } as IamApi;
  }

  const input = {
    region,
    callerArn: 'arn:aws:sts::111122223333:assumed-role/broker/secret-broker',
    callerAccount: '111122223333',
    executionRoleArn: execArn,
    headJobRoleArn: headArn,
    customRole: false,
    secretArns: [secretArn],
  };

  test('the simulator decides identity permissions; trust is still evaluated locally', async () => {
    const calls: string[] = [];
    const iamFake = fakeIam((source, action) => (source === execArn && action === 'secretsmanager:GetSecretValue' ? 'explicitDeny' : 'allowed'), calls);
    const missing = await verifyIam(iamFake, input, { mode: 'auto', emulated: false });
    expect(missing).toHaveLength(1);
    expect(missing[0]).toMatchObject({ principal: `execution role ${execArn}`, permission: 'secretsmanager:GetSecretValue', resource: secretArn });
    expect(missing[0]!.grant).toMatch(/^Explicitly denied by deny-all/);
    // The broker's assumed-role session is simulated as its role.
    expect(calls).toContain('simulate arn:aws:iam::111122223333:role/broker secretsmanager:ListSecrets');
    expect(calls.some((c) => c.startsWith('getRole batch-exec'))).toBe(true); // for the trust policy
  });

  test('against an emulator (auto) the simulator is not asked', async () => {
    const calls: string[] = [];
    const iamFake = fakeIam(() => 'allowed', calls);
    await verifyIam(iamFake, input, { mode: 'auto', emulated: true }).catch(() => undefined);
    expect(calls.filter((c) => c.startsWith('simulate'))).toEqual([]);
  });

  test('a broker that may not read IAM is told which read it lacks, with the statement that grants it', async () => {
    const denied = async () => {
      throw Object.assign(new Error('User: arn:aws:sts::111122223333:assumed-role/broker/secret-broker is not authorized to perform: iam:GetRole'), {
        name: 'AccessDenied',
      });
    };
    const calls: string[] = [];
    const iamFake = { ...fakeIam(() => 'allowed', calls), getRole: denied } as IamApi;
    const missing = await verifyIam(iamFake, input, { mode: 'local', emulated: true });
    const forExec = missing.filter((m) => m.resource === execArn);
    expect(forExec).toHaveLength(1);
    expect(forExec[0]).toMatchObject({ principal: `broker ${input.callerArn}`, permission: 'iam:GetRole' });
    expect(forExec[0]!.grant).toContain('"Sid":"AllowSecretBrokerToVerifyIam"');
    expect(forExec[0]!.grant).toContain('iam:SimulatePrincipalPolicy');
    // Every principal whose policies could not be read is named, none silently passes.
    expect(new Set(missing.map((m) => m.permission))).toEqual(new Set(['iam:GetRole']));
    expect(new Set(missing.map((m) => m.resource))).toEqual(new Set([execArn, headArn, 'arn:aws:iam::111122223333:role/broker']));
  });

  test('the needs are exactly what the run uses', () => {
    const needs = requiredPermissions({ ...input, customRole: true }).map((n) => `${n.principal.label}|${n.action}|${n.resource}`);
    expect(needs.sort()).toEqual(
      [
        `broker|secretsmanager:CreateSecret|${secretArn}`,
        `broker|secretsmanager:DescribeSecret|${secretArn}`,
        `broker|secretsmanager:DeleteSecret|${secretArn}`,
        `broker|secretsmanager:TagResource|${secretArn}`,
        'broker|secretsmanager:ListSecrets|*',
        `execution role|secretsmanager:GetSecretValue|${secretArn}`,
        'head-job role|secretsmanager:ListSecrets|*',
        `head-job role|iam:GetRole|${execArn}`,
        `head-job role|iam:PassRole|${execArn}`,
      ].sort(),
    );
    expect(JSON.stringify(requiredPermissions(input).find((n) => n.principal.label === 'head-job role')!.statement)).toBe(
      JSON.stringify(headJobListStatement()),
    );
    expect(requiredPermissions(input).find((n) => n.action === 'secretsmanager:ListSecrets')!.statement).toEqual(brokerListStatement());
  });

  test.each([
    { reason: 'IAM user', arn: 'arn:aws:iam::123456789012:user/path/broker', kind: 'user', name: 'broker' },
    { reason: 'assumed role', arn: 'arn:aws:sts::123456789012:assumed-role/r1/sess', kind: 'role', name: 'r1' },
    { reason: 'role', arn: 'arn:aws:iam::123456789012:role/svc/r2', kind: 'role', name: 'r2' },
    { reason: 'root', arn: 'arn:aws:iam::123456789012:root', kind: 'root', name: 'root' },
    { reason: 'federated user', arn: 'arn:aws:sts::123456789012:federated-user/bob', kind: 'unsupported', name: 'federated-user/bob' },
  ])('principalFromArn: $reason', ({ arn, kind, name }) => {
    expect(principalFromArn('broker', arn)).toMatchObject({ kind, name, account: '123456789012' });
  });
});
