/** container-registry: a registry v2 login (`/v2/`, Basic or the Bearer token flow). */
import { verifyRegistryCredential } from '../remote/registry/login';
import type { CheckContext } from '.';

export async function checkRegistry({ cred, deps, run }: CheckContext): Promise<void> {
  const { public: pub, secret: sec } = cred;
  const ca = deps.azure?.ca;
  await run('registry v2 login', async () => {
    const r = await verifyRegistryCredential(String(pub.registryServer), String(pub.userName), sec.password ?? '', ca ? { ca } : {});
    return `logged in to ${String(pub.registryServer)} as ${String(pub.userName)} (${r.scheme})`;
  });
}
