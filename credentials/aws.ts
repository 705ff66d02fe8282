/**
 * AWS credentials: an IAM access key (id + secret access key), optionally a role to assume with it
 * (role ARN and external id), as the platform stores them. Checked for shape on save; `verify`
 * (verifyAwsCredential in remote/aws/identity.ts) proves them live with STS GetCallerIdentity.
 * Messages name the field and the rule, never the key material.
 *
 * Public fields: accessKeyId, roleArn, externalId (AWS: "the external ID is not a secret").
 * Secret fields: secretAccessKey, sessionToken (only with temporary ASIA keys).
 */
import { ValidationError } from '../domain/errors';
import type { CredentialKind, ParsedCredential } from './kinds';

const FIELDS = ['accessKeyId', 'secretAccessKey', 'sessionToken', 'roleArn', 'externalId'];

const ACCESS_KEY_ID_RE = /^(AKIA|ASIA)[A-Z0-9]{16}$/;
const SECRET_ACCESS_KEY_RE = /^[A-Za-z0-9/+=]{40}$/;
const ROLE_ARN_RE = /^arn:aws(?:-cn|-us-gov|-iso|-iso-b)?:iam::\d{12}:role\/(?:[\w+=,.@-]+\/)*[\w+=,.@-]{1,64}$/;
/** sts:AssumeRole ExternalId: 2 to 1224 of these characters. */
const EXTERNAL_ID_RE = /^[\w+=,.@:/-]{2,1224}$/;
const SESSION_TOKEN_RE = /^[A-Za-z0-9/+=]{16,4096}$/;

function str(fields: Record<string, unknown>, key: string): string | undefined {
  const v = fields[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new ValidationError(key, 'must be a string');
  return v.trim();
}

export function parseAwsCredential(fields: Record<string, unknown>): ParsedCredential {
  const unknown = Object.keys(fields).filter((k) => !FIELDS.includes(k));
  if (unknown.length) throw new ValidationError(unknown[0]!, `is not a field of aws credentials (allowed: ${FIELDS.join(', ')})`);

  const accessKeyId = str(fields, 'accessKeyId');
  if (!accessKeyId) throw new ValidationError('accessKeyId', 'is required');
  if (!ACCESS_KEY_ID_RE.test(accessKeyId)) {
    throw new ValidationError('accessKeyId', 'must be an AWS access key id: AKIA or ASIA followed by 16 upper-case letters or digits');
  }
  const secretAccessKey = str(fields, 'secretAccessKey');
  if (!secretAccessKey) throw new ValidationError('secretAccessKey', 'is required');
  if (!SECRET_ACCESS_KEY_RE.test(secretAccessKey)) {
    throw new ValidationError('secretAccessKey', 'must be an AWS secret access key: 40 characters of letters, digits, / + =');
  }
  const sessionToken = str(fields, 'sessionToken');
  if (accessKeyId.startsWith('ASIA') && !sessionToken) {
    throw new ValidationError('sessionToken', 'is required with a temporary (ASIA...) access key id');
  }
  if (sessionToken && !accessKeyId.startsWith('ASIA')) {
    throw new ValidationError('sessionToken', 'only goes with a temporary (ASIA...) access key id');
  }
  if (sessionToken && !SESSION_TOKEN_RE.test(sessionToken)) {
    throw new ValidationError('sessionToken', 'must be an AWS session token (letters, digits, / + =)');
  }
  const roleArn = str(fields, 'roleArn');
  if (roleArn && !ROLE_ARN_RE.test(roleArn)) throw new ValidationError('roleArn', 'must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)');
  const externalId = str(fields, 'externalId');
  if (externalId && !roleArn) throw new ValidationError('externalId', 'only goes with roleArn (it is passed when assuming that role)');
  if (externalId && !EXTERNAL_ID_RE.test(externalId)) {
    throw new ValidationError('externalId', 'must be 2 to 1224 letters, digits or _+=,.@:/-');
  }

  const pub: Record<string, unknown> = { accessKeyId };
  if (roleArn) pub.roleArn = roleArn;
  if (externalId) pub.externalId = externalId;
  const secret: Record<string, string> = { secretAccessKey };
  if (sessionToken) secret.sessionToken = sessionToken;
  return { public: pub, secret };
}

export const awsCredential: CredentialKind = {
  kind: 'aws',
  description: 'AWS access key (id + secret access key), optionally assuming a role (role ARN, external id)',
  parse: parseAwsCredential,
};

