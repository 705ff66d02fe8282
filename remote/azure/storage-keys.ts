/**
 * Azure Storage account keys (key1/key2), for the rotation workflow's activities (Azure's documented key rotation procedure: two
 * keys, regenerate one at a time). Built on the real StorageManagementClient (`storageAccounts.
 * getProperties`, `listKeys`, `regenerateKey`) with any TokenCredential; a key is proven with a real
 * SharedKey-signed Blob call (@azure/storage-blob: the first page of List Containers).
 *
 * Keys are handed back to the calling activity and go nowhere else: nothing here logs, and every
 * error is one of domain/errors.ts's classes, with a message built from account, resource group
 * and subscription names, hosts, HTTP statuses and error codes (checked to be plain identifiers),
 * never a server-supplied message, a key, a token or a client secret. Management-plane errors go
 * through batch-keys.ts's sanitizeAzureError (one mapping for identity, ARM and network failures).
 *
 * TLS: production uses the public CAs. A test (or a private endpoint) passes `ca`, which becomes
 * core-rest-pipeline's `tlsOptions.ca` for both the management and the Blob client.
 */
import { StorageManagementClient, type StorageAccountListKeysResult } from '@azure/arm-storage';
import type { TokenCredential } from '@azure/identity';
import { BlobServiceClient, newPipeline, StorageSharedKeyCredential, type StoragePipelineOptions } from '@azure/storage-blob';
import { sanitizeAzureError } from './batch-keys';
import { NETWORK_CODES, RESOURCE_GROUP_RE, RESOURCE_GROUP_RULE, safeCode, storageAccountLabel, TLS_CODES, type AzureAccountRef } from './names';

import { AuthenticationFailedError, ConnectionError, InvalidInputError, PermissionDeniedError, ThrottledError } from '../../domain/errors';

export type StorageKeyName = 'key1' | 'key2';

const STORAGE_KEY_NAMES: readonly StorageKeyName[] = ['key1', 'key2'];

export type StorageAccountRef = AzureAccountRef;

export interface StorageKeysOptions {
  /** ARM endpoint; default https://management.azure.com. */
  armEndpoint?: string;
  /** Extra CA (PEM) to trust instead of the public ones: tests and private endpoints only. */
  ca?: string;
  /** Retries of throttled/5xx reads inside the SDK (default the SDK's 3). Regenerate never retries. */
  maxRetries?: number;
}

export interface StorageAccountInfo {
  accountName: string;
  /** False when the account's allowSharedKeyAccess is false (null or absent means true): nothing to rotate. */
  sharedKeyAllowed: boolean;
  /** The Blob endpoint ARM gives (properties.primaryEndpoints.blob), when it gives one. */
  blobEndpoint?: string;
}

export interface StorageKeysDescription extends StorageAccountInfo {
  /** Present only when sharedKeyAllowed. */
  key1?: string;
  key2?: string;
}

export interface StorageKeys {
  key1: string;
  key2: string;
}

/** The public Blob endpoint of an account, used when neither an override nor ARM names one. */
const DEFAULT_BLOB_ENDPOINT = 'https://{account}.blob.core.windows.net';

const ACCOUNT_NAME_RE = /^[a-z0-9]{3,24}$/;
const GUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Errors made by storageSharedKeyDisabledError (so a listKeys refusal can be told apart). */
const disabledErrors = new WeakSet<Error>();

/** The message the workflow shows for an account that has no shared keys. */
function storageSharedKeyDisabledError(a: StorageAccountRef): InvalidInputError {
  const e = new InvalidInputError(
    `${storageAccountLabel(a)} does not allow shared-key authentication (allowSharedKeyAccess is false); there is nothing to rotate`,
  );
  disabledErrors.add(e);
  return e;
}

function isStorageSharedKeyDisabled(err: unknown): boolean {
  return err instanceof Error && disabledErrors.has(err);
}

function validateRef(a: StorageAccountRef): void {
  if (!GUID_RE.test(a.subscriptionId)) throw new InvalidInputError('subscriptionId: must be a GUID');
  if (!RESOURCE_GROUP_RE.test(a.resourceGroup)) throw new InvalidInputError(`resourceGroup: ${RESOURCE_GROUP_RULE}`);
  if (!ACCOUNT_NAME_RE.test(a.accountName)) throw new InvalidInputError('accountName: 3 to 24 lower-case letters and digits');
}


const OURS = [AuthenticationFailedError, InvalidInputError, PermissionDeniedError, ConnectionError, ThrottledError];
/** Codes Azure Storage uses when shared keys are off (data plane; the management plane's is uncertain). */
const SHARED_KEY_DISABLED_CODES = new Set(['KeyBasedAuthenticationNotPermitted', 'SharedKeyAuthenticationNotAllowed']);

interface ErrorFacts {
  name?: unknown;
  code?: unknown;
  statusCode?: unknown;
}

/**
 * Maps any SDK, identity or network error of a management call to a sanitized provider error that
 * names the Storage account. Not-found and shared-key refusals are told apart here; everything else
 * is sanitizeAzureError's mapping, re-pointed at the account.
 */
export function sanitizeStorageError(err: unknown, op: string, account?: StorageAccountRef): Error {
  if (OURS.some((C) => err instanceof C)) return err as Error;
  const e = (err ?? {}) as ErrorFacts;
  const target = account ? storageAccountLabel(account) : 'Azure';
  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  const code = safeCode(e.code);
  if (status === 404) return new InvalidInputError(`${op}: ${target} not found (HTTP 404${code ? ` ${code}` : ''})`);
  if (status === 409 && account && code && SHARED_KEY_DISABLED_CODES.has(code)) return storageSharedKeyDisabledError(account);
  const clean = sanitizeAzureError(err, op);
  // sanitizeAzureError names no account ("<op> on Azure: ..."): put the account in its place.
  const generic = `${op} on Azure`;
  if (target === 'Azure' || !clean.message.startsWith(generic)) return clean;
  const Ctor = clean.constructor as new (message: string) => Error;
  return new Ctor(`${op} on ${target}${clean.message.slice(generic.length)}`);
}

export function createStorageManagementClient(credential: TokenCredential, subscriptionId: string, opts: StorageKeysOptions = {}): StorageManagementClient {
  return new StorageManagementClient(credential, subscriptionId, {
    ...(opts.armEndpoint ? { endpoint: opts.armEndpoint } : {}),
    ...(opts.ca ? { tlsOptions: { ca: opts.ca } } : {}),
    ...(opts.maxRetries !== undefined ? { retryOptions: { maxRetries: opts.maxRetries } } : {}),
  });
}

function checkKeys(account: StorageAccountRef, op: string, result: StorageAccountListKeysResult): StorageKeys {
  const find = (name: StorageKeyName) => result.keys?.find((k) => typeof k.keyName === 'string' && k.keyName.toLowerCase() === name)?.value;
  const key1 = find('key1');
  const key2 = find('key2');
  if (typeof key1 !== 'string' || typeof key2 !== 'string' || !key1 || !key2) {
    throw new ConnectionError(`${op} on ${storageAccountLabel(account)}: Azure's answer did not carry both keys`);
  }
  return { key1, key2 };
}

async function accountInfo(client: StorageManagementClient, account: StorageAccountRef): Promise<StorageAccountInfo> {
  try {
    const acct = await client.storageAccounts.getProperties(account.resourceGroup, account.accountName);
    const blob = acct.primaryEndpoints?.blob;
    return {
      accountName: account.accountName,
      // "The default value is null, which is equivalent to true."
      sharedKeyAllowed: acct.allowSharedKeyAccess !== false,
      ...(typeof blob === 'string' && blob ? { blobEndpoint: blob } : {}),
    };
  } catch (err) {
    throw sanitizeStorageError(err, 'get', account);
  }
}

/** The account's shared-key state and Blob endpoint, without reading keys. */
export async function getStorageAccount(credential: TokenCredential, account: StorageAccountRef, opts: StorageKeysOptions = {}): Promise<StorageAccountInfo> {
  validateRef(account);
  return accountInfo(createStorageManagementClient(credential, account.subscriptionId, opts), account);
}

/**
 * The account's shared-key state and, when shared keys are allowed, both keys. An account with
 * allowSharedKeyAccess false answers { sharedKeyAllowed: false } without asking for keys.
 */
export async function describeStorageKeys(credential: TokenCredential, account: StorageAccountRef, opts: StorageKeysOptions = {}): Promise<StorageKeysDescription> {
  validateRef(account);
  const client = createStorageManagementClient(credential, account.subscriptionId, opts);
  const info = await accountInfo(client, account);
  if (!info.sharedKeyAllowed) return info;
  try {
    const keys = await client.storageAccounts.listKeys(account.resourceGroup, account.accountName);
    return { ...info, ...checkKeys(account, 'listKeys', keys) };
  } catch (err) {
    const clean = sanitizeStorageError(err, 'listKeys', account);
    // Shared keys turned off between the two calls.
    if (isStorageSharedKeyDisabled(clean)) return { ...info, sharedKeyAllowed: false };
    throw clean;
  }
}

/**
 * Regenerates one key and returns both (from the answer, or read again when the answer lacks them).
 * The regenerate call is never retried by the SDK: a retry after a lost answer would regenerate a
 * second time; the caller retries the whole step, which reads the state first. Refuses
 * (InvalidInputError) when shared keys are off, without regenerating.
 */
export async function regenerateStorageKey(credential: TokenCredential, account: StorageAccountRef, keyName: StorageKeyName, opts: StorageKeysOptions = {}): Promise<StorageKeys> {
  validateRef(account);
  if (!STORAGE_KEY_NAMES.includes(keyName)) throw new InvalidInputError('keyName: must be key1 or key2');
  const client = createStorageManagementClient(credential, account.subscriptionId, opts);
  const info = await accountInfo(client, account);
  if (!info.sharedKeyAllowed) throw storageSharedKeyDisabledError(account);
  const once = createStorageManagementClient(credential, account.subscriptionId, { ...opts, maxRetries: 0 });
  let answer: StorageAccountListKeysResult;
  try {
    answer = await once.storageAccounts.regenerateKey(account.resourceGroup, account.accountName, { keyName });
  } catch (err) {
    throw sanitizeStorageError(err, `regenerateKey ${keyName}`, account);
  }
  try {
    return checkKeys(account, `regenerateKey ${keyName}`, answer);
  } catch {
    try {
      return checkKeys(account, 'listKeys', await client.storageAccounts.listKeys(account.resourceGroup, account.accountName));
    } catch (err) {
      throw sanitizeStorageError(err, 'listKeys', account);
    }
  }
}

/**
 * The Blob endpoint to verify against: `template` (with `{account}` replaced) when given, else the
 * one ARM names, else the public one.
 */
export function blobEndpointFor(accountName: string, template?: string, fromArm?: string): string {
  if (template) return template.split('{account}').join(accountName);
  if (fromArm && /^https:\/\//i.test(fromArm)) return fromArm;
  return DEFAULT_BLOB_ENDPOINT.split('{account}').join(accountName);
}

export interface VerifyStorageKeyOptions {
  ca?: string;
  timeoutMs?: number;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * Proves a key works: a SharedKey-signed List Containers (first page, at most one container) on the
 * account's Blob endpoint. Resolves on success; AuthenticationFailedError when the key is refused;
 * InvalidInputError when the account refuses shared keys altogether or does not exist there;
 * ConnectionError when the endpoint cannot be reached or is busy. Plain http is accepted for a
 * loopback emulator only.
 */
export async function verifyStorageKey(endpoint: string, accountName: string, key: string, opts: VerifyStorageKeyOptions = {}): Promise<void> {
  if (!ACCOUNT_NAME_RE.test(accountName)) throw new InvalidInputError('accountName: 3 to 24 lower-case letters and digits');
  if (!key || !/^[A-Za-z0-9+/]+={0,2}$/.test(key) || key.length % 4 !== 0) throw new InvalidInputError('Storage account key: not a base64 string');
  let base: URL;
  try {
    base = new URL(/^https?:\/\//i.test(endpoint) ? endpoint : `https://${endpoint}`);
  } catch {
    throw new InvalidInputError('blobEndpoint: not a URL or host name');
  }
  if (base.protocol !== 'https:' && !(base.protocol === 'http:' && LOOPBACK_HOSTS.has(base.hostname))) {
    throw new InvalidInputError('blobEndpoint: must use https (plain http only for a loopback emulator)');
  }
  if (base.search || base.hash || base.username || base.password) throw new InvalidInputError('blobEndpoint: must not carry a query, fragment or user info');
  const target = `Storage account ${accountName} at ${base.host}`;
  const timeout = opts.timeoutMs ?? 30_000;
  // tlsOptions is not in StoragePipelineOptions' type, but the Blob client hands every pipeline
  // option to core-rest-pipeline's createPipelineFromOptions, which installs the TLS policy.
  const pipelineOptions: StoragePipelineOptions & { tlsOptions?: { ca: string } } = {
    retryOptions: { maxTries: 1, tryTimeoutInMs: timeout },
    ...(opts.ca ? { tlsOptions: { ca: opts.ca } } : {}),
  };
  const client = new BlobServiceClient(`${base.origin}${base.pathname.replace(/\/+$/, '')}`, newPipeline(new StorageSharedKeyCredential(accountName, key), pipelineOptions));
  try {
    await client.listContainers().byPage({ maxPageSize: 1 }).next();
  } catch (err) {
    throw sanitizeBlobError(err, target, accountName);
  }
}

function sanitizeBlobError(err: unknown, target: string, accountName: string): Error {
  const e = (err ?? {}) as ErrorFacts;
  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  const code = safeCode(e.code);
  const name = typeof e.name === 'string' ? e.name : '';
  if (status === undefined) {
    if (code && TLS_CODES.test(code)) return new ConnectionError(`verify on ${target}: TLS failure (${code})`);
    if (code && NETWORK_CODES.has(code)) return new ConnectionError(`verify on ${target}: connection failed (${code})`);
    if (name === 'AbortError' || name === 'TimeoutError') return new ConnectionError(`verify on ${target}: timed out`);
    if (name === 'RestError') return new ConnectionError(`verify on ${target}: request failed${code ? ` (${code})` : ''}`);
    return new InvalidInputError(`verify on ${target}: the request could not be made (${safeCode(name) ?? 'Error'})`);
  }
  const tag = `HTTP ${status}${code ? ` ${code}` : ''}`;
  if ((status === 403 || status === 401) && code && SHARED_KEY_DISABLED_CODES.has(code)) {
    return new InvalidInputError(`verify on ${target}: account ${accountName} does not allow shared-key authentication (${tag})`);
  }
  if (status === 401 || status === 403) {
    // Azure answers AuthenticationFailed for a wrong key; AuthorizationFailure is also what a
    // firewall or network rule answers (and what Azurite answers for a wrong key).
    const hint = code === 'AuthorizationFailure' ? ': the key is wrong, or the account\'s network rules keep the broker out' : '';
    return new AuthenticationFailedError(`verify on ${target}: the Blob service refused the shared key (${tag})${hint}`);
  }
  if (status === 404) return new InvalidInputError(`verify on ${target}: not found (${tag})`);
  if (status === 429) return new ThrottledError(`verify on ${target}: throttled (${tag})`);
  if (status === 503 && code === 'ServerBusy') return new ThrottledError(`verify on ${target}: throttled (${tag})`);
  if (status >= 500 || status === 408) return new ConnectionError(`verify on ${target}: ${tag}`);
  return new InvalidInputError(`verify on ${target}: the Blob service refused the request (${tag})`);
}
