/**
 * Azure Batch account shared keys, for the rotation workflow's activities (Azure's documented key rotation procedure: two keys,
 * regenerate one at a time). Built on the real BatchManagementClient (`batchAccountOperations.get`,
 * `getKeys`, `regenerateKey`) with any TokenCredential.
 *
 * Keys are handed back to the calling activity and go nowhere else: nothing here logs, and every
 * error is one of domain/errors.ts's classes, with a message built from account, resource group
 * and subscription names, HTTP statuses and error codes (checked to be plain identifiers), never a
 * server-supplied message, a key, a token or a client secret.
 *
 * TLS: production uses the public CAs. A test (or a private endpoint) passes `ca`, which becomes
 * core-rest-pipeline's `tlsOptions.ca` for the management client and the `ca` of the node:https data
 * plane call; a spawned worker can use NODE_EXTRA_CA_CERTS instead.
 */
import * as https from 'node:https';
import { BatchManagementClient } from '@azure/arm-batch';
import type { TokenCredential } from '@azure/identity';
import { NETWORK_CODES, RESOURCE_GROUP_RE, RESOURCE_GROUP_RULE, safeCode, TLS_CODES, batchAccountLabel, type AzureAccountRef } from './names';
import { batchAuthorization, decodeBatchKey } from './shared-key';
import { AuthenticationFailedError, ConnectionError, InvalidInputError, PermissionDeniedError, ThrottledError } from '../../domain/errors';

export type BatchKeyName = 'Primary' | 'Secondary';

export type BatchAccountRef = AzureAccountRef;

export interface BatchKeysOptions {
  /** ARM endpoint; default https://management.azure.com. */
  armEndpoint?: string;
  /** Extra CA (PEM) to trust instead of the public ones: tests and private endpoints only. */
  ca?: string;
  /** Retries of throttled/5xx calls inside the SDK (default the SDK's 3). */
  maxRetries?: number;
}

export interface BatchKeysDescription {
  accountName: string;
  /** False when the account's allowedAuthenticationModes lacks SharedKey: nothing to rotate. */
  sharedKeyAllowed: boolean;
  /** The data-plane endpoint (host, as ARM gives it), when ARM gives one. */
  accountEndpoint?: string;
  /** Present only when sharedKeyAllowed. */
  primary?: string;
  secondary?: string;
}

export interface BatchKeys {
  primary: string;
  secondary: string;
}

/** The Batch data-plane REST version the verify call uses. */
const BATCH_DATA_PLANE_API_VERSION = '2024-07-01.20.0';

const KEY_NAMES: readonly BatchKeyName[] = ['Primary', 'Secondary'];

const where = batchAccountLabel;

/** The message the workflow shows for an account that has no shared keys. */
function sharedKeyDisabledError(a: BatchAccountRef): InvalidInputError {
  return new InvalidInputError(
    `account ${a.accountName} does not allow shared-key authentication; there is nothing to rotate (its allowedAuthenticationModes lacks SharedKey; resource group ${a.resourceGroup}, subscription ${a.subscriptionId})`,
  );
}

function validateRef(a: BatchAccountRef): void {
  const guid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
  if (!guid.test(a.subscriptionId)) throw new InvalidInputError('subscriptionId: must be a GUID');
  if (!RESOURCE_GROUP_RE.test(a.resourceGroup)) throw new InvalidInputError(`resourceGroup: ${RESOURCE_GROUP_RULE}`);
  if (!/^[a-z0-9]{3,24}$/.test(a.accountName)) throw new InvalidInputError('accountName: 3 to 24 lower-case letters and digits');
}


const SHARED_KEY_DISABLED_CODES = new Set(['OperationNotAllowed', 'SharedKeyAuthenticationNotAllowed', 'KeyBasedAuthenticationNotPermitted']);

const IDENTITY_ERRORS = new Set(['AuthenticationError', 'AuthenticationRequiredError', 'CredentialUnavailableError', 'AggregateAuthenticationError']);
const REFUSAL_AAD_CODES = new Set(['invalid_client', 'unauthorized_client', 'invalid_request', 'invalid_grant', 'invalid_scope', 'unsupported_grant_type', 'invalid_resource', 'access_denied', 'consent_required', 'interaction_required']);
const TRANSIENT_AAD_CODES = new Set(['server_error', 'temporarily_unavailable', 'network_error', 'endpoints_resolution_error', 'openid_config_error']);

interface ErrorFacts {
  name?: unknown;
  code?: unknown;
  statusCode?: unknown;
  errorResponse?: { error?: unknown };
  errors?: unknown;
  cause?: unknown;
}

/** Maps any SDK, identity or network error to a sanitized provider error. */
export function sanitizeAzureError(err: unknown, op: string, account?: BatchAccountRef): Error {
  if (err instanceof AuthenticationFailedError || err instanceof InvalidInputError || err instanceof PermissionDeniedError || err instanceof ConnectionError || err instanceof ThrottledError) return err;
  const e = (err ?? {}) as ErrorFacts;
  const target = account ? where(account) : 'Azure';
  const name = typeof e.name === 'string' ? e.name : '';
  // @azure/identity: the token request was refused or could not be made.
  if (IDENTITY_ERRORS.has(name)) {
    // MSAL puts the OAuth error code first ("invalid_client: Error(s): ..."); only that identifier is kept.
    const msg = typeof (err as { message?: unknown }).message === 'string' ? (err as { message: string }).message : '';
    const aadCode = safeCode(e.errorResponse?.error) ?? /^([a-z_]{3,40}):/.exec(msg)?.[1];
    const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
    const inner = e.cause as ErrorFacts | undefined;
    const innerCode = safeCode(inner?.code);
    if ((status !== undefined && status >= 500) || (aadCode && TRANSIENT_AAD_CODES.has(aadCode))) {
      return new ConnectionError(`${op} on ${target}: the token endpoint failed (${aadCode ?? `HTTP ${status}`})`);
    }
    if (innerCode && (NETWORK_CODES.has(innerCode) || TLS_CODES.test(innerCode))) return new ConnectionError(`${op} on ${target}: cannot reach the token endpoint (${innerCode})`);
    if ((aadCode && REFUSAL_AAD_CODES.has(aadCode)) || name === 'CredentialUnavailableError' || (status !== undefined && status < 500)) {
      return new AuthenticationFailedError(`${op} on ${target}: Entra ID refused the broker's credential${aadCode ? ` (${aadCode})` : ''}${status ? `, HTTP ${status}` : ''}`);
    }
    // No recognizable refusal: an answer that is not Entra's (a proxy, an outage page). Retry.
    return new ConnectionError(`${op} on ${target}: the token request failed${aadCode ? ` (${aadCode})` : ''}`);
  }
  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  const code = safeCode(e.code);
  if (status === undefined) {
    if (code && TLS_CODES.test(code)) return new ConnectionError(`${op} on ${target}: TLS failure (${code})`);
    if (code && NETWORK_CODES.has(code)) return new ConnectionError(`${op} on ${target}: connection failed (${code})`);
    if (name === 'AbortError') return new ConnectionError(`${op} on ${target}: timed out`);
    if (name === 'RestError') return new ConnectionError(`${op} on ${target}: request failed${code ? ` (${code})` : ''}`);
    // Not a network failure: the SDK refused its input (serializer validation) or a bug. Retrying
    // would not help; the message keeps only the error's class name.
    return new InvalidInputError(`${op} on ${target}: the request could not be made (${safeCode(name) ?? 'Error'})`);
  }
  const tag = `HTTP ${status}${code ? ` ${code}` : ''}`;
  if (status === 401) return new AuthenticationFailedError(`${op} on ${target}: Azure refused the broker's token (${tag})`);
  if (status === 403) return new PermissionDeniedError(`${op} on ${target}: the broker's identity is not allowed to do this (${tag})`);
  if (status === 404) return new InvalidInputError(`${op}: ${target} not found (${tag})`);
  if (status === 429) return new ThrottledError(`${op} on ${target}: throttled (${tag})`);
  if (status === 409 && account && code && SHARED_KEY_DISABLED_CODES.has(code)) return sharedKeyDisabledError(account);
  if (status >= 500 || status === 408) return new ConnectionError(`${op} on ${target}: Azure answered ${tag}`);
  return new InvalidInputError(`${op} on ${target}: Azure refused the request (${tag})`);
}

export function createBatchManagementClient(credential: TokenCredential, subscriptionId: string, opts: BatchKeysOptions = {}): BatchManagementClient {
  return new BatchManagementClient(credential, subscriptionId, {
    ...(opts.armEndpoint ? { endpoint: opts.armEndpoint } : {}),
    ...(opts.ca ? { tlsOptions: { ca: opts.ca } } : {}),
    ...(opts.maxRetries !== undefined ? { retryOptions: { maxRetries: opts.maxRetries } } : {}),
  });
}

function checkKeys(account: BatchAccountRef, primary: unknown, secondary: unknown): BatchKeys {
  if (typeof primary !== 'string' || typeof secondary !== 'string' || !primary || !secondary) {
    throw new ConnectionError(`listKeys on ${where(account)}: Azure's answer did not carry both keys`);
  }
  return { primary, secondary };
}

/**
 * The account's shared-key state and, when shared keys are allowed, both keys. An account with
 * SharedKey off answers { sharedKeyAllowed: false } without asking for keys.
 */
export async function describeBatchKeys(credential: TokenCredential, account: BatchAccountRef, opts: BatchKeysOptions = {}): Promise<BatchKeysDescription> {
  validateRef(account);
  const client = createBatchManagementClient(credential, account.subscriptionId, opts);
  let modes: string[] | undefined;
  let accountEndpoint: string | undefined;
  try {
    const acct = await client.batchAccountOperations.get(account.resourceGroup, account.accountName);
    modes = acct.allowedAuthenticationModes;
    accountEndpoint = acct.accountEndpoint;
  } catch (err) {
    throw sanitizeAzureError(err, 'get', account);
  }
  // Accounts created before the property existed do not report it; listKeys then decides.
  if (modes && !modes.includes('SharedKey')) return { accountName: account.accountName, sharedKeyAllowed: false, accountEndpoint };
  try {
    const keys = await client.batchAccountOperations.getKeys(account.resourceGroup, account.accountName);
    return { accountName: account.accountName, sharedKeyAllowed: true, accountEndpoint, ...checkKeys(account, keys.primary, keys.secondary) };
  } catch (err) {
    const clean = sanitizeAzureError(err, 'listKeys', account);
    if (clean instanceof InvalidInputError && clean.message.includes('does not allow shared-key')) {
      return { accountName: account.accountName, sharedKeyAllowed: false, accountEndpoint };
    }
    throw clean;
  }
}

/** The account's data-plane endpoint (host, as ARM gives it), read without asking for keys. */
export async function batchAccountEndpoint(credential: TokenCredential, account: BatchAccountRef, opts: BatchKeysOptions = {}): Promise<string> {
  validateRef(account);
  const client = createBatchManagementClient(credential, account.subscriptionId, opts);
  let endpoint: string | undefined;
  try {
    endpoint = (await client.batchAccountOperations.get(account.resourceGroup, account.accountName)).accountEndpoint;
  } catch (err) {
    throw sanitizeAzureError(err, 'get', account);
  }
  if (!endpoint) throw new InvalidInputError(`${where(account)}: Azure did not give the account's endpoint`);
  return endpoint;
}

/** Regenerates one key and returns both. Refuses (InvalidInputError) when shared keys are off. */
export async function regenerateBatchKey(credential: TokenCredential, account: BatchAccountRef, keyName: BatchKeyName, opts: BatchKeysOptions = {}): Promise<BatchKeys> {
  validateRef(account);
  if (!KEY_NAMES.includes(keyName)) throw new InvalidInputError(`keyName: must be Primary or Secondary`);
  const client = createBatchManagementClient(credential, account.subscriptionId, opts);
  try {
    const acct = await client.batchAccountOperations.get(account.resourceGroup, account.accountName);
    if (acct.allowedAuthenticationModes && !acct.allowedAuthenticationModes.includes('SharedKey')) throw sharedKeyDisabledError(account);
  } catch (err) {
    throw sanitizeAzureError(err, 'get', account);
  }
  try {
    const keys = await client.batchAccountOperations.regenerateKey(account.resourceGroup, account.accountName, { keyName });
    return checkKeys(account, keys.primary, keys.secondary);
  } catch (err) {
    throw sanitizeAzureError(err, `regenerateKeys ${keyName}`, account);
  }
}

export interface VerifyBatchKeyOptions {
  ca?: string;
  timeoutMs?: number;
}

/**
 * Proves a key works: a SharedKey-signed `GET {endpoint}/applications` on the Batch data plane.
 * Resolves on 200; AuthenticationFailedError when the key is refused (403/401); ConnectionError when
 * the endpoint cannot be reached or is busy.
 */
export async function verifyBatchKey(endpoint: string, accountName: string, key: string, opts: VerifyBatchKeyOptions = {}): Promise<void> {
  if (!/^[a-z0-9]{3,24}$/.test(accountName)) throw new InvalidInputError('accountName: 3 to 24 lower-case letters and digits');
  decodeBatchKey(key);
  let base: URL;
  try {
    base = new URL(/^https?:\/\//i.test(endpoint) ? endpoint : `https://${endpoint}`);
  } catch {
    throw new InvalidInputError('endpoint: not a URL or host name');
  }
  if (base.protocol !== 'https:') throw new InvalidInputError('endpoint: must use https');
  const url = new URL(`${base.origin}${base.pathname.replace(/\/+$/, '')}/applications`);
  url.searchParams.set('api-version', BATCH_DATA_PLANE_API_VERSION);
  url.searchParams.set('maxresults', '1');
  const headers: Record<string, string> = {
    'ocp-date': new Date().toUTCString(),
    accept: 'application/json',
  };
  headers.authorization = batchAuthorization(accountName, key, { method: 'GET', url, headers });
  const target = `Batch account ${accountName} at ${base.host}`;
  const status = await new Promise<number>((resolve, reject) => {
    const req = https.request(url, { method: 'GET', headers, ...(opts.ca ? { ca: opts.ca } : {}), timeout: opts.timeoutMs ?? 30_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', (e) => reject(e));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (e) => reject(e));
    req.end();
  }).catch((err: unknown) => {
    throw new ConnectionError(`verify on ${target}: ${describeNetwork(err)}`);
  });
  if (status === 200) return;
  if (status === 401 || status === 403) throw new AuthenticationFailedError(`verify on ${target}: the data plane refused the shared key (HTTP ${status})`);
  if (status === 404) throw new InvalidInputError(`verify on ${target}: not found (HTTP 404)`);
  if (status === 429) throw new ThrottledError(`verify on ${target}: throttled (HTTP 429)`);
  if (status >= 500 || status === 408) throw new ConnectionError(`verify on ${target}: HTTP ${status}`);
  throw new InvalidInputError(`verify on ${target}: the data plane refused the request (HTTP ${status})`);
}

function describeNetwork(err: unknown): string {
  const code = safeCode((err as ErrorFacts | undefined)?.code);
  if (code && TLS_CODES.test(code)) return `TLS failure (${code})`;
  return code ? `connection failed (${code})` : 'connection failed';
}
