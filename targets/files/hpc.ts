/**
 * `hpc`: the Nextflow secrets file on a cluster's shared storage, written over SSH/SFTP as the
 * compute environment's user (docs/hpc.md). One SSH connection per call, through the per-host gate.
 * The work directory must exist: the broker never creates it (an unmounted shared file system must
 * not become a directory on the login node's local disk).
 */
import type { ParsedKey } from 'ssh2';
import type { TargetDeps } from '../types';
import { parseHpcConfig, type HpcConfig } from '../../platforms/hpc';
import { RemoteFileError } from '../../remote/ssh/errors';
import { loadPrivateKey, withSession, type SessionSet, type SshEndpoint } from '../../remote/ssh/session';
import { InvalidInputError } from '../../domain/errors';
import { type ComputeEnvRecord } from '../../domain/run';
import { SftpFs } from './sftp-fs';
import { SecretsFileTarget } from './target';

export class HpcTarget extends SecretsFileTarget {
  constructor(
    readonly ce: ComputeEnvRecord,
    readonly config: HpcConfig,
    loadKey: () => Promise<ParsedKey>,
  ) {
    const { host, port, user, hostKeyFingerprint, maxConnections, workDir } = config;
    const endpoint: SshEndpoint = { host, port, user, hostKeyFingerprint, maxConnections };
    const location = port === 22 ? `${user}@${host}` : `${user}@${host}:${port}`;
    const live: SessionSet = new Set();
    let key: ParsedKey | undefined;
    super({
      platform: 'hpc',
      workDir,
      location,
      principal: `head job (SSH user ${user})`,
      owner: user,
      createWorkDir: false,
      workDirHint: `create it on the shared file system, owned by ${user}, mode 0700`,
      // A ref recorded on another host cannot be reached from here: an error (retried, visible),
      // never a silent "deleted".
      refusesElsewhere: (run, recordedAt) =>
        new RemoteFileError(
          `run ${run.runId} wrote its secrets on ${recordedAt}, but this compute environment now points at ${location}; ` +
            'point it back (secret-broker compute-envs update) until the run is deleted',
        ),
      withFs: async (fn) => {
        key ??= await loadKey();
        return withSession(endpoint, key, (s) => fn(new SftpFs(s, endpoint, workDir)), live);
      },
      close: async () => {
        for (const c of live) c.destroy();
      },
    });
  }
}

export async function createHpcTarget(ce: ComputeEnvRecord, deps: TargetDeps): Promise<HpcTarget> {
  const config = parseHpcConfig(ce.config);
  const credentialId = ce.credentialId;
  if (!credentialId) throw new InvalidInputError(`hpc compute environment ${ce.name} has no SSH credential`);
  // The key is read and decrypted on first use: plan() needs neither.
  const loadKey = async () => {
    const cred = await deps.readCredential(credentialId);
    if (cred.kind !== 'ssh') throw new InvalidInputError(`hpc compute environment ${ce.name} needs an ssh credential, not ${cred.kind}`);
    return loadPrivateKey(cred.secret.privateKey, cred.secret.passphrase);
  };
  return new HpcTarget(ce, config, loadKey);
}
