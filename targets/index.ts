/**
 * Secret targets by platform. Add a platform: import its factory and list it here (its config
 * schema goes in platforms/index.ts).
 */
import type { SecretTarget, TargetDeps, TargetFactory } from './types';
import { createLocalTarget } from './files/local';
import { createHpcTarget } from './files/hpc';
import { createGcpTarget } from './gcp/target';
import { createAwsTarget } from './aws/target';
import { type ComputeEnvRecord } from '../domain/run';

const FACTORIES: Record<string, TargetFactory> = {
  local: createLocalTarget,
  hpc: createHpcTarget,
  gcp: createGcpTarget,
  aws: createAwsTarget,
};

export async function createTarget(ce: ComputeEnvRecord, deps: TargetDeps): Promise<SecretTarget> {
  const factory = FACTORIES[ce.platform];
  if (!factory) throw new Error(`no secret target for platform "${ce.platform}"`);
  return factory(ce, deps);
}

export type { SecretTarget, TargetDeps, RunContext, PlainSecret, DeleteOutcome, OwnedObject, VerifyResult } from './types';
export { type ComputeEnvRecord } from '../domain/run';
