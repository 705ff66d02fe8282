/**
 * Azure naming rules and the plain-identifier filter every Azure module applies to what servers
 * send back, so that only codes (never free-form text that could echo a secret) reach a message.
 */

/** Resource groups: 1 to 90 letters, digits, -, _, ., ( or ), not ending in a period. */
export const RESOURCE_GROUP_RE = /^[-\w.()]{0,89}[-\w()]$/;
export const RESOURCE_GROUP_RULE = '1 to 90 letters, digits, -, _, ., ( or ), not ending in a period';

/** A plain identifier from a server (error codes), or undefined: nothing free-form gets through. */
export function safeCode(v: unknown): string | undefined {
  return typeof v === 'string' && /^[A-Za-z][A-Za-z0-9_.]{0,80}$/.test(v) ? v : undefined;
}

/** Node and core-rest-pipeline codes of a request that never got an answer. */
export const NETWORK_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'REQUEST_SEND_ERROR', 'UND_ERR_SOCKET']);

/** Codes of a failed TLS handshake or an untrusted certificate. */
export const TLS_CODES = /^(?:CERT_|UNABLE_TO_|SELF_SIGNED_|DEPTH_ZERO_|ERR_TLS_|ERR_SSL_)/;

/** A Batch or Storage account, as ARM addresses it. */
export interface AzureAccountRef {
  subscriptionId: string;
  resourceGroup: string;
  accountName: string;
}

export function batchAccountLabel(a: AzureAccountRef): string {
  return `Batch account ${a.accountName} (resource group ${a.resourceGroup}, subscription ${a.subscriptionId})`;
}

export function storageAccountLabel(a: AzureAccountRef): string {
  return `Storage account ${a.accountName} (resource group ${a.resourceGroup}, subscription ${a.subscriptionId})`;
}
