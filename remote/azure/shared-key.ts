/**
 * Azure Batch data-plane SharedKey signing ("Authenticate requests to the Azure Batch service"):
 *
 *   StringToSign = VERB \n Content-Encoding \n Content-Language \n Content-Length \n Content-MD5 \n
 *                  Content-Type \n Date \n If-Modified-Since \n If-Match \n If-None-Match \n
 *                  If-Unmodified-Since \n Range \n
 *                  CanonicalizedHeaders      every ocp-* header, lower-cased name, sorted: "name:value\n"
 *                  CanonicalizedResource     "/" + account + URL path, then for every query parameter,
 *                                            lower-cased name, sorted: "\nname:decoded value"
 *   Authorization: SharedKey <account>:<base64 HMAC-SHA256(base64-decoded key, UTF-8 StringToSign)>
 *
 * Content-Length is empty when zero (no body). The key is used here and nowhere else: nothing in this
 * module logs, and errors name the field, never the key.
 */
import { createHmac } from 'node:crypto';
import { InvalidInputError } from '../../domain/errors';

export interface SharedKeyRequest {
  method: string;
  /** Full request URL; its path and query parameters are signed. */
  url: string | URL;
  /** Header names in any case. */
  headers: Record<string, string | undefined>;
}

const STANDARD_HEADERS = [
  'content-encoding',
  'content-language',
  'content-length',
  'content-md5',
  'content-type',
  'date',
  'if-modified-since',
  'if-match',
  'if-none-match',
  'if-unmodified-since',
  'range',
] as const;

function lowerHeaders(headers: Record<string, string | undefined>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) out.set(k.toLowerCase(), String(v));
  return out;
}

/** The exact string the signature covers (exported for tests and for the fake's cross-check). */
export function batchStringToSign(account: string, req: SharedKeyRequest): string {
  const url = typeof req.url === 'string' ? new URL(req.url) : req.url;
  const headers = lowerHeaders(req.headers);
  const lines = [req.method.toUpperCase()];
  for (const name of STANDARD_HEADERS) {
    const value = headers.get(name) ?? '';
    lines.push(name === 'content-length' && value === '0' ? '' : value);
  }
  let s = lines.join('\n') + '\n';
  const ocp = [...headers.entries()].filter(([k]) => k.startsWith('ocp-')).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [k, v] of ocp) s += `${k}:${v.trim()}\n`;
  s += `/${account}${url.pathname}`;
  const params = new Map<string, string[]>();
  for (const [k, v] of url.searchParams) {
    const key = k.toLowerCase();
    params.set(key, [...(params.get(key) ?? []), v]);
  }
  for (const key of [...params.keys()].sort()) s += `\n${key}:${(params.get(key) ?? []).join(',')}`;
  return s;
}

/** Decodes a Batch account key, refusing anything that is not base64 (the message never shows it). */
export function decodeBatchKey(key: string): Buffer {
  const trimmed = key.trim();
  if (!trimmed || !/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed) || trimmed.length % 4 !== 0) {
    throw new InvalidInputError('Batch account key: not a base64 string');
  }
  return Buffer.from(trimmed, 'base64');
}

export function batchSignature(account: string, key: string, req: SharedKeyRequest): string {
  return createHmac('sha256', decodeBatchKey(key)).update(batchStringToSign(account, req), 'utf8').digest('base64');
}

/** The Authorization header value for the request. */
export function batchAuthorization(account: string, key: string, req: SharedKeyRequest): string {
  return `SharedKey ${account}:${batchSignature(account, key, req)}`;
}
