/**
 * Settings of a `gcp` compute environment (Google Batch): the project that holds the run's secrets,
 * the region they are pinned to, and the Batch service account that must read them. Pure validation
 * (no SDK import), so the vault can use it.
 */
import { ValidationError } from '../domain/errors';
import type { PlatformSpec } from './index';

// A type alias (not an interface) so it is assignable to Record<string, unknown>.
export type GcpConfig = {
  /** Project id; unset means the project of the service-account key (its project_id). */
  project?: string;
  /** Region the secrets are replicated to (user-managed replication): the Batch region. */
  location: string;
  /** Service account the Batch jobs (the Nextflow head job) run as; needs secretAccessor. */
  batchServiceAccount?: string;
};

const KEYS = ['project', 'location', 'region', 'batchServiceAccount'];
/** Project ids: 6-30 characters, lowercase letters, digits, hyphens; optionally domain-scoped. */
const PROJECT_ID = /^(?:[a-z][a-z0-9.-]{0,61}[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
/** Region names: us-central1, europe-west4, northamerica-northeast2 ... */
const REGION = /^[a-z]+(?:-[a-z]+)+[0-9]{1,2}$/;
const SA_EMAIL = /^[a-z0-9][a-z0-9.-]{0,62}@[a-z0-9][a-z0-9.-]{1,253}$/;

function optionalString(config: Record<string, unknown>, key: string): string | undefined {
  const v = config[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new ValidationError(`config.${key}`, 'must be a string');
  return v.trim();
}

export function parseGcpConfig(config: Record<string, unknown>): GcpConfig {
  const unknownKeys = Object.keys(config).filter((k) => !KEYS.includes(k));
  if (unknownKeys.length) {
    throw new ValidationError(`config.${unknownKeys[0]}`, `is not a setting of gcp compute environments (allowed: project, location (or region), batchServiceAccount)`);
  }
  const project = optionalString(config, 'project');
  if (project !== undefined && !PROJECT_ID.test(project)) {
    throw new ValidationError('config.project', 'must be a Google Cloud project id (6-30 lowercase letters, digits and hyphens, starting with a letter); leave it out to use the project of the service-account key');
  }
  const location = optionalString(config, 'location');
  const region = optionalString(config, 'region');
  if (location !== undefined && region !== undefined && location !== region) {
    throw new ValidationError('config.region', 'differs from config.location; give one of them');
  }
  const where = location ?? region;
  if (where === undefined) throw new ValidationError('config.location', 'is required: the Google Batch region the secrets are replicated to, e.g. europe-west4');
  if (!REGION.test(where)) {
    throw new ValidationError(`config.${location !== undefined ? 'location' : 'region'}`, 'must be a Google Cloud region such as us-central1 or europe-west4 (secrets are pinned to one region, not a multi-region)');
  }
  const batchServiceAccount = optionalString(config, 'batchServiceAccount');
  if (batchServiceAccount !== undefined && !SA_EMAIL.test(batchServiceAccount)) {
    throw new ValidationError('config.batchServiceAccount', 'must be a service account email, e.g. 123456789-compute@developer.gserviceaccount.com');
  }
  const out: GcpConfig = { location: where };
  if (project !== undefined) out.project = project;
  if (batchServiceAccount !== undefined) out.batchServiceAccount = batchServiceAccount;
  return out;
}

export const gcpPlatform: PlatformSpec = {
  platform: 'gcp',
  credentialKind: 'google',
  parseConfig: parseGcpConfig,
};
