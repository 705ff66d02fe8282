/**
 * Named activity option presets: one place for timeouts and retry policy. Pure data.
 *
 * Every activity heartbeats every 2 s while it runs (activities/heartbeat.ts), so every preset has a
 * short heartbeat timeout: a worker that dies mid-activity is noticed within HEARTBEAT_TIMEOUT and the
 * attempt runs again on a live worker, instead of after a start-to-close timeout of minutes.
 */
import type { ActivityOptions, LocalActivityOptions } from '@temporalio/workflow';
import { NON_RETRYABLE_ERROR_TYPES } from '../domain/errors';

const NON_RETRYABLE = NON_RETRYABLE_ERROR_TYPES;

/** Silence for this long means the worker running the activity is gone. */
export const HEARTBEAT_TIMEOUT = '10s';

/** Vault reads and planning: fast, a few retries. */
export const vaultRead = {
  startToCloseTimeout: '30s',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 5, nonRetryableErrorTypes: NON_RETRYABLE },
} as const satisfies ActivityOptions;

/** Vault reads and planning as a local activity: inside the workflow task, no task-queue trip. */
export const localVaultRead = {
  startToCloseTimeout: '30s',
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '5s', maximumAttempts: 5, nonRetryableErrorTypes: NON_RETRYABLE },
} as const satisfies LocalActivityOptions;

/** Pushing to a secret manager: heartbeats progress; throttling and connection errors retry. */
export const cloudWrite = {
  startToCloseTimeout: '5m',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 8, nonRetryableErrorTypes: NON_RETRYABLE },
} as const satisfies ActivityOptions;

/** Permission checks: read-only, a few retries. */
export const iamVerify = {
  startToCloseTimeout: '2m',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '15s', maximumAttempts: 5, nonRetryableErrorTypes: NON_RETRYABLE },
} as const satisfies ActivityOptions;

/**
 * One round of deletion is one attempt. The workflow repeats rounds without limit, recording each
 * failure (a refusal, an unreachable host, a worker lost mid-delete) in the run's status before the
 * next, so nothing is non-retryable: an operator may fix a permission or bring a host back, and the
 * next round succeeds. A lost worker costs the heartbeat timeout plus the first backoff (2 s).
 */
export const cleanup = {
  startToCloseTimeout: '2m',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { maximumAttempts: 1 },
} as const satisfies ActivityOptions;

/** Wait between deletion rounds: doubles from 2 s up to 10 minutes. */
export function cleanupBackoffMs(round: number): number {
  return Math.min(2_000 * 2 ** Math.max(0, round - 1), 10 * 60_000);
}
