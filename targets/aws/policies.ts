/**
 * The IAM policy statements a run needs, as Seqera Platform documents them on its "Secrets" page
 * (the Batch head job's and compute jobs' permissions), with the placeholders filled in. Verification quotes them in every MissingPermission, docs/aws.md shows
 * them, and the per-run resource policy is built here too.
 */

export interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Principal?: unknown;
  Action: string | string[];
  Resource?: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: Statement[];
}

export const ECS_TASKS_SERVICE = 'ecs-tasks.amazonaws.com';

export const SM = {
  CreateSecret: 'secretsmanager:CreateSecret',
  DescribeSecret: 'secretsmanager:DescribeSecret',
  DeleteSecret: 'secretsmanager:DeleteSecret',
  TagResource: 'secretsmanager:TagResource',
  ListSecrets: 'secretsmanager:ListSecrets',
  GetSecretValue: 'secretsmanager:GetSecretValue',
  PutResourcePolicy: 'secretsmanager:PutResourcePolicy',
} as const;

/** arn:aws:secretsmanager:<region>:<account>:secret:tower-* (account may be "*"). */
function towerSecretsArn(region: string, account: string, partition = 'aws'): string {
  return `arn:${partition}:secretsmanager:${region}:${account}:secret:tower-*`;
}

/** The partition of an ARN ("aws", "aws-cn", "aws-us-gov"). */
export function partitionOf(arn: string): string {
  return arn.split(':')[1] || 'aws';
}

/** Broker identity: ListSecrets everywhere (without it the sweep cannot find what to delete). */
export function brokerListStatement(): Statement {
  return { Sid: 'AllowSecretBrokerListSecrets', Effect: 'Allow', Action: SM.ListSecrets, Resource: '*' };
}

/**
 * Broker identity: create, describe (ownership check) and delete `tower-*` secrets. CreateSecret with
 * tags also needs TagResource (AWS CreateSecret reference); the per-run resource policy needs
 * PutResourcePolicy.
 */
export function brokerManageStatement(region: string, account: string, opts: { perRunResourcePolicy?: boolean; partition?: string } = {}): Statement {
  const actions: string[] = [SM.CreateSecret, SM.DescribeSecret, SM.DeleteSecret, SM.TagResource];
  if (opts.perRunResourcePolicy) actions.push(SM.PutResourcePolicy);
  return { Sid: 'AllowSecretBrokerManageTowerSecrets', Effect: 'Allow', Action: actions, Resource: towerSecretsArn(region, account, opts.partition) };
}

/** Batch execution role (the ECS agent): read `tower-*` secrets in the compute region (the platform's documented IAM policies, Seqera Platform "Secrets"). */
export function executionReadStatement(region: string, partition = 'aws'): Statement {
  return { Sid: 'AllowECSAgentToRetrieveSecrets', Effect: 'Allow', Action: SM.GetSecretValue, Resource: towerSecretsArn(region, '*', partition) };
}

/** Trust relationship for the execution role and a custom head-job role (the platform's documented IAM policies, Seqera Platform "Secrets"). */
export function ecsTasksTrustStatement(): Statement {
  return { Sid: 'AllowECSTaskAssumption', Effect: 'Allow', Principal: { Service: ECS_TASKS_SERVICE }, Action: 'sts:AssumeRole' };
}

/** Nextflow head job: list secrets (the platform's documented IAM policies (Seqera Platform "Secrets"), EC2 instance role and custom role). */
export function headJobListStatement(): Statement {
  return { Sid: 'AllowNextflowHeadJobToAccessSecrets', Effect: 'Allow', Action: SM.ListSecrets, Resource: '*' };
}

/** Nextflow head job with a custom role: get and pass the execution role (the platform's documented IAM policies, Seqera Platform "Secrets"). */
export function headJobPassRoleStatement(executionRoleArn: string): Statement {
  return { Sid: 'AllowNextflowHeadJobToPassRoles', Effect: 'Allow', Action: ['iam:GetRole', 'iam:PassRole'], Resource: executionRoleArn };
}

/** IAM reads the broker makes to evaluate policies locally (or the simulator API on real AWS). */
const IAM_READ_ACTIONS = [
  'iam:GetRole',
  'iam:ListRolePolicies',
  'iam:GetRolePolicy',
  'iam:ListAttachedRolePolicies',
  'iam:GetUser',
  'iam:ListUserPolicies',
  'iam:GetUserPolicy',
  'iam:ListAttachedUserPolicies',
  'iam:ListGroupsForUser',
  'iam:ListGroupPolicies',
  'iam:GetGroupPolicy',
  'iam:ListAttachedGroupPolicies',
  'iam:GetPolicy',
  'iam:GetPolicyVersion',
  'iam:SimulatePrincipalPolicy',
];

/** Broker identity: read the policies of the run's roles and of itself, to verify them. */
export function brokerIamReadStatement(resources: string[]): Statement {
  return { Sid: 'AllowSecretBrokerToVerifyIam', Effect: 'Allow', Action: IAM_READ_ACTIONS, Resource: resources };
}

/**
 * Beyond the platform: a resource policy on one run's secret so that only that run's execution and
 * head-job roles may read it, whatever their identity policies allow on `tower-*`.
 */
export function perRunResourcePolicy(readerRoleArns: string[]): PolicyDocument {
  const readers = [...new Set(readerRoleArns)];
  return {
    Version: '2012-10-17',
    Statement: [
      { Sid: 'AllowThisRunToRead', Effect: 'Allow', Principal: { AWS: readers }, Action: SM.GetSecretValue, Resource: '*' },
      {
        Sid: 'DenyEveryoneElseToRead',
        Effect: 'Deny',
        Principal: '*',
        Action: SM.GetSecretValue,
        Resource: '*',
        Condition: { StringNotEquals: { 'aws:PrincipalArn': readers } },
      },
    ],
  };
}

export function asPolicy(...statements: Statement[]): PolicyDocument {
  return { Version: '2012-10-17', Statement: statements };
}
