/**
 * What every route group gets from buildApiServer: the vault, the services, the logger, log
 * redaction, and the optional services behind getters that answer 503 where this process lacks them.
 */
import type { FastifyRequest } from 'fastify';
import type { VaultApi } from '../store/types';
import type { PipelineRunsApi, RunDirectoryApi } from '../services/types';
import type { AccessControl } from './auth';
import type { RouteSpec } from './route';
import type { RotationsApi } from '../services/rotations';
import type { VaultKeyRotationsApi } from '../services/vault-key';
import type { VerifyDeps } from '../verifiers';
import { UnavailableError } from './errors';
import type { ApiLogger } from './server';

/** A request as the routes see it: path parameters as strings, the body not yet checked. */
export type ApiRequest = FastifyRequest<{ Params: Record<string, string>; Body: unknown }>;

export interface ApiContext {
  vault: VaultApi;
  runs: PipelineRunsApi;
  log: ApiLogger;
  /** Remember which strings of this request are secret, for log redaction. */
  markSensitive(req: FastifyRequest, strings: string[]): void;
  /** Credential rotations and their schedules; throws UnavailableError (503) without them. */
  rotations(): RotationsApi;
  /** Vault master key rotations and their schedule; throws UnavailableError (503) without them. */
  vaultKeyRotations(): VaultKeyRotationsApi;
  /** Where live credential checks reach the clouds. */
  verifyDeps: VerifyDeps;
  /** Authentication, authorization and the audit record (api/auth.ts). */
  access: AccessControl;
  /** Every declared route, for the OpenAPI document. */
  routes: RouteSpec[];
  /** Runs as Temporal's visibility sees them; throws UnavailableError (503) without it. */
  runDirectory(): RunDirectoryApi;
  /** The Temporal Web UI link of a workflow, when the UI's address is known. */
  webUiLink(workflowId: string): string | undefined;
}

/** A getter for an optional service: the service, or UnavailableError saying `<what> are not available`. */
export function availableOr503<T>(service: T | undefined, what: string): () => T {
  return () => {
    if (!service) throw new UnavailableError(`${what} are not available from this API process`);
    return service;
  };
}
