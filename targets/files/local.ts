/**
 * `local`: the Nextflow secrets file on this host, the embedded default. The head job runs as the
 * broker's own user, so the owner check is this process's uid. A missing work directory is created.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import type { TargetDeps } from '../types';
import type { LocalConfig } from '../../platforms/local';
import { type ComputeEnvRecord } from '../../domain/run';
import { LocalFs } from './local-fs';
import { SecretsFileTarget } from './target';

export class LocalTarget extends SecretsFileTarget {
  constructor(workDir: string) {
    const fs = new LocalFs();
    super({
      platform: 'local',
      workDir: path.resolve(workDir),
      location: os.hostname(),
      principal: 'head job',
      createWorkDir: true,
      workDirHint: "point the compute environment's workDir at a directory, or at a path that does not exist yet",
      withFs: (fn) => fn(fs),
    });
  }
}

export function createLocalTarget(ce: ComputeEnvRecord, deps: TargetDeps): LocalTarget {
  const config = ce.config as LocalConfig;
  return new LocalTarget(config.workDir ?? deps.localWorkDir);
}
