/** Named activity option presets: one place for timeouts and retry policy. Pure data. */
import type { ActivityOptions } from '@temporalio/workflow';
import { NON_RETRYABLE_ERROR_TYPES } from '../domain/errors';

const NON_RETRYABLE = NON_RETRYABLE_ERROR_TYPES;

/** Vault reads and planning: fast, a few retries. */
export const vaultRead = {
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 5, nonRetryableErrorTypes: NON_RETRYABLE },
} as const satisfies ActivityOptions;

/** Pushing to a secret manager: heartbeats progress; throttling and connection errors retry. */
export const cloudWrite = {
  startToCloseTimeout: '5m',
  heartbeatTimeout: '1m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 8, nonRetryableErrorTypes: NON_RETRYABLE },
} as const satisfies ActivityOptions;

/** Permission checks: read-only, a few retries. */
export const iamVerify = {
  startToCloseTimeout: '2m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '15s', maximumAttempts: 5, nonRetryableErrorTypes: NON_RETRYABLE },
} as const satisfies ActivityOptions;

/**
 * One round of deletion. The workflow repeats rounds without limit (recording the last error between
 * them), so this preset only retries briefly and has nothing non-retryable: an operator may fix a
 * permission or bring a host back, and the next round succeeds.
 */
export const cleanup = {
  startToCloseTimeout: '2m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 3 },
} as const satisfies ActivityOptions;

/** Wait between deletion rounds: doubles from 2 s up to 10 minutes. */
export function cleanupBackoffMs(round: number): number {
  return Math.min(2_000 * 2 ** Math.max(0, round - 1), 10 * 60_000);
}
