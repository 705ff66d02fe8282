/**
 * AWS Batch compute environment settings, as the platform documents them: the region the secrets
 * live in, the role the Nextflow head job runs under, the Batch execution role the ECS agent uses to
 * read secrets, whether the head job uses a custom role (then it must be able to pass the execution
 * role), and, beyond the platform, a per-run resource policy on every pushed secret. Pure validation:
 * no SDK imports, so the vault can use it.
 */
import { ValidationError } from '../domain/errors';
import type { PlatformSpec } from './index';

// A type alias (not an interface) so it is assignable to Record<string, unknown>.
export type AwsConfig = {
  /** Region of the compute environment; secrets are created there. */
  region: string;
  /** Role of the Nextflow head job: the custom role, or the EC2 instance role. */
  headJobRoleArn: string;
  /** Batch execution role: the ECS agent reads secret values with it. */
  executionRoleArn: string;
  /** The head job runs under a custom role: it needs iam:GetRole and iam:PassRole on the execution role. */
  customRole?: boolean;
  /**
   * Attach a resource policy to each pushed secret so that only this run's execution and head-job
   * roles can read it (least privilege per run, instead of every role allowed `tower-*`).
   */
  perRunResourcePolicy?: boolean;
};

const KEYS = ['region', 'headJobRoleArn', 'executionRoleArn', 'customRole', 'perRunResourcePolicy'] as const;

/** us-east-1, eu-central-2, us-gov-west-1, cn-northwest-1, ap-southeast-7, il-central-1 ... */
const REGION_RE = /^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$/;
/** arn:aws:iam::123456789012:role/name or with a path: role/path/name. */
const ROLE_ARN_RE = /^arn:aws(?:-cn|-us-gov|-iso|-iso-b)?:iam::\d{12}:role\/(?:[\w+=,.@-]+\/)*[\w+=,.@-]{1,64}$/;

function roleArn(config: Record<string, unknown>, key: 'headJobRoleArn' | 'executionRoleArn'): string {
  const v = config[key];
  if (typeof v !== 'string' || !v) throw new ValidationError(`config.${key}`, 'is required: an IAM role ARN (arn:aws:iam::<account>:role/<name>)');
  if (!ROLE_ARN_RE.test(v)) throw new ValidationError(`config.${key}`, 'must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)');
  return v;
}

function flag(config: Record<string, unknown>, key: 'customRole' | 'perRunResourcePolicy'): boolean | undefined {
  const v = config[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw new ValidationError(`config.${key}`, 'must be true or false');
  return v;
}

export function parseAwsConfig(config: Record<string, unknown>): AwsConfig {
  const unknownKeys = Object.keys(config).filter((k) => !(KEYS as readonly string[]).includes(k));
  if (unknownKeys.length) {
    throw new ValidationError(`config.${unknownKeys[0]}`, `is not a setting of aws compute environments (allowed: ${KEYS.join(', ')})`);
  }
  const region = config.region;
  if (typeof region !== 'string' || !REGION_RE.test(region)) {
    throw new ValidationError('config.region', 'must be an AWS region code such as eu-west-1');
  }
  const out: AwsConfig = {
    region,
    headJobRoleArn: roleArn(config, 'headJobRoleArn'),
    executionRoleArn: roleArn(config, 'executionRoleArn'),
  };
  const customRole = flag(config, 'customRole');
  if (customRole !== undefined) out.customRole = customRole;
  const perRun = flag(config, 'perRunResourcePolicy');
  if (perRun !== undefined) out.perRunResourcePolicy = perRun;
  return out;
}

export const awsPlatform: PlatformSpec = {
  platform: 'aws',
  credentialKind: 'aws',
  parseConfig: parseAwsConfig,
};
