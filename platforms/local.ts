import * as path from 'node:path';
import { ValidationError } from '../domain/errors';
import type { PlatformSpec } from './index';

// A type alias (not an interface) so it is assignable to Record<string, unknown>.
export type LocalConfig = {
  /** Absolute directory that holds one 0700 directory per run. Defaults to the broker's data dir. */
  workDir?: string;
};

export const localPlatform: PlatformSpec = {
  platform: 'local',
  credentialKind: null,
  parseConfig(config: Record<string, unknown>): LocalConfig {
    const unknownKeys = Object.keys(config).filter((k) => k !== 'workDir');
    if (unknownKeys.length) throw new ValidationError(`config.${unknownKeys[0]}`, 'is not a setting of local compute environments (allowed: workDir)');
    if (config.workDir === undefined) return {};
    if (typeof config.workDir !== 'string' || !path.isAbsolute(config.workDir)) {
      throw new ValidationError('config.workDir', 'must be an absolute path');
    }
    return { workDir: path.normalize(config.workDir) };
  },
};
