/** aws: STS GetCallerIdentity (after AssumeRole when a role is set). */
import { verifyAwsCredential } from '../remote/aws/identity';
import type { CheckContext } from '.';

export async function checkAws({ cred, deps, run }: CheckContext): Promise<void> {
  await run('sts:GetCallerIdentity', async () => {
    const who = await verifyAwsCredential({ public: cred.public, secret: cred.secret }, deps.aws?.endpoint ? { aws: deps.aws.endpoint } : {}, deps.aws?.region);
    return `acts as ${who.arn} (account ${who.account})`;
  });
}
