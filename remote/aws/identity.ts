/**
 * Live check of a stored aws credential: STS GetCallerIdentity with the access key (after assuming
 * the role, when one is set). The CLI and API call it when a member asks to verify a credential.
 */
import { createAwsClients, keysFrom, type AwsCredentialFields } from './clients';
import { sanitizeAwsError } from './errors';

export interface AwsIdentity {
  account: string;
  /** The identity the broker acts as: a user, or the assumed role's session. */
  arn: string;
  userId: string;
}

/**
 * Who the credential is, or a sanitized error: AuthenticationFailedError (unknown, expired or
 * mis-signed key), PermissionDeniedError (the role cannot be assumed with it), ConnectionError ...
 */
export async function verifyAwsCredential(
  cred: AwsCredentialFields,
  endpoints: { aws?: string } = {},
  region = 'us-east-1',
): Promise<AwsIdentity> {
  const keys = keysFrom(cred);
  const endpoint = endpoints?.aws;
  const clients = createAwsClients(keys, { region, maxAttempts: 3, ...(endpoint ? { endpoint } : {}) });
  try {
    const who = await clients.sts.getCallerIdentity({});
    return { account: who.Account ?? '', arn: who.Arn ?? '', userId: who.UserId ?? '' };
  } catch (err) {
    throw sanitizeAwsError(err, {
      service: 'sts',
      operation: keys.roleArn ? 'AssumeRole+GetCallerIdentity' : 'GetCallerIdentity',
      sensitive: [keys.secretAccessKey, ...(keys.sessionToken ? [keys.sessionToken] : [])],
    });
  } finally {
    clients.destroy();
  }
}
