/** ssh: an SSH login (pinned host key, public-key auth, an SFTP session) to an hpc compute environment's host. */
import { ValidationError } from '../domain/errors';
import { parseHpcConfig } from '../platforms/hpc';
import { loadPrivateKey, withSession } from '../remote/ssh/session';
import type { CheckContext } from '.';

export async function checkSsh({ vault, cred, opts, run, skip }: CheckContext): Promise<void> {
  if (!opts.computeEnvId) {
    skip('ssh login', 'give an hpc compute environment: its host, user and pinned host key are what the key is tried against');
    return;
  }
  const ce = await vault.getComputeEnv(opts.computeEnvId);
  if (ce.platform !== 'hpc') throw new ValidationError('computeEnvId', `must be an hpc compute environment; "${ce.name}" is ${ce.platform}`);
  const cfg = parseHpcConfig(ce.config);
  const sec = cred.secret;
  await run('ssh login', async () => {
    const key = loadPrivateKey(sec.privateKey, sec.passphrase);
    await withSession({ host: cfg.host, port: cfg.port, user: cfg.user, hostKeyFingerprint: cfg.hostKeyFingerprint, ...(cfg.maxConnections ? { maxConnections: cfg.maxConnections } : {}) }, key, async () => undefined);
    return `logged in to ${cfg.host}:${cfg.port} as ${cfg.user} (host key ${cfg.hostKeyFingerprint})`;
  });
}
