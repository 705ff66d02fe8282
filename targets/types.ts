import type { RateSlots } from '../domain/rate';
import type { ComputeEnvRecord, MissingPermission, Platform, PushResult, RemoteRef } from '../domain/run';

/** Who a run belongs to: enough to tag, name and check ownership. */
export interface RunContext {
  runId: string;
  workspaceId: string;
  computeEnv: ComputeEnvRecord;
  /**
   * Aborts when the activity is cancelled or its attempt given up: targets pass it into every
   * provider call (and check it between steps), so an abandoned attempt writes nothing more.
   */
  signal?: AbortSignal;
}

export interface PlainSecret {
  name: string;
  value: string;
}

export type VerifyResult = { ok: true } | { ok: false; missing: MissingPermission[] };

export type DeleteOutcome = 'deleted' | 'not-found' | 'not-owned';

/** Something the broker created and still finds in a compute environment (for the sweep). */
export interface OwnedObject {
  remoteId: string;
  runId: string;
  workspaceId: string;
}

/**
 * One compute environment's secret manager, in the shape of external-secrets' SecretsClient.
 * Every method is idempotent: a retried push neither duplicates nor fails, a delete of something
 * already gone reports 'not-found', and nothing without the broker's ownership mark is touched.
 */
export interface SecretTarget {
  readonly platform: Platform;
  /** Deterministic refs for the given names; no I/O. */
  plan(run: RunContext, names: string[]): RemoteRef[];
  /** Place the secrets; returns their refs and the head job's environment (never values). */
  push(run: RunContext, secrets: PlainSecret[], progress?: (done: number) => void): Promise<PushResult>;
  /** Prove the run's identities can read what was pushed and the broker can delete it. */
  verify(run: RunContext, refs: RemoteRef[]): Promise<VerifyResult>;
  /** Delete exactly these refs; one outcome per ref, in order. */
  delete(run: RunContext, refs: RemoteRef[]): Promise<DeleteOutcome[]>;
  /** Everything carrying the broker's ownership mark in this compute environment. */
  listOwned(): Promise<OwnedObject[]>;
  /** Release connections. */
  close(): Promise<void>;
}

/** Dependencies a target factory may use to reach credentials. */
export interface TargetDeps {
  /** Where `local` compute environments without a workDir keep run directories. */
  localWorkDir: string;
  /**
   * Endpoint overrides, so the same code talks to the cloud or to an emulator on loopback
   * (BROKER_AWS_ENDPOINT, BROKER_GCP_ENDPOINT ... in worker config). Unset means the real service.
   */
  endpoints?: {
    aws?: string;
    gcp?: { apiEndpoint: string; port: number; insecure?: boolean };
  };
  /**
   * Rate slots shared by every worker process of the broker (the vault's PostgreSQL), so a cloud
   * account's write quota holds for the fleet; absent, limits are per process.
   */
  rateSlots?: RateSlots;
  /** Decrypted credential secret fields (private keys, passphrases ...) plus public fields. */
  readCredential(credentialId: string): Promise<{ kind: string; public: Record<string, unknown>; secret: Record<string, string> }>;
}

export type TargetFactory = (ce: ComputeEnvRecord, deps: TargetDeps) => Promise<SecretTarget> | SecretTarget;
