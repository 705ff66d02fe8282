/**
 * Compute environment settings per platform: pure validation, no SDK imports, so the vault can use
 * it. Each platform parses its config (throwing domain/errors ValidationError naming the field) and
 * says which credential kind it needs, if any. Add a platform: import its spec and list it here.
 */
import type { Platform } from '../domain/run';
import { ValidationError } from '../domain/errors';
import { localPlatform } from './local';
import { hpcPlatform } from './hpc';
import { gcpPlatform } from './gcp';
import { awsPlatform } from './aws';

export interface PlatformSpec {
  readonly platform: Platform;
  /** Credential kind the environment needs, or null. */
  readonly credentialKind: string | null;
  parseConfig(config: Record<string, unknown>): Record<string, unknown>;
}

const ALL: PlatformSpec[] = [localPlatform, hpcPlatform, gcpPlatform, awsPlatform];

const specs = new Map<string, PlatformSpec>(ALL.map((s) => [s.platform, s]));

export function platformSpec(platform: string): PlatformSpec {
  const spec = specs.get(platform);
  if (!spec) throw new ValidationError('platform', `must be one of ${platformNames().join(', ')}`);
  return spec;
}

function platformNames(): string[] {
  return [...specs.keys()].sort();
}
