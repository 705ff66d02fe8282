/**
 * Azure credentials (Seqera Platform "Azure credentials"), validated for shape on save. Three kinds:
 *
 * - `azure-shared-key`: Blob Storage account name + key, and optionally a Batch account name + key
 *   (storage-only credentials leave the Batch pair out). Keys are the 512-bit account keys the portal
 *   shows (Batch: Keys > Primary/Secondary; Storage: Access keys > key1/key2): base64 of 64 bytes.
 *   Public: batchAccountName, storageAccountName. Secret: batchKey, storageKey.
 * - `azure-entra`: an Entra ID service principal. Subscription, tenant and client ids (GUIDs), the
 *   client secret's value, the Blob Storage account name and optionally the Batch account name.
 *   Public: subscriptionId, tenantId, clientId, batchAccountName, storageAccountName. Secret: clientSecret.
 * - `azure-managed-identity`: a user-assigned managed identity attached to a Batch pool: pool name,
 *   identity client id, optional identity resource id, Batch account name. Nothing secret.
 *
 * Each refusal names the field and the rule; no message contains a key or secret value. Live checks
 * (`verify`) are not part of validation on save.
 */
import { ValidationError } from '../domain/errors';
import type { CredentialKind, ParsedCredential } from './kinds';

export const GUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const NIL_GUID = '00000000-0000-0000-0000-000000000000';
const GUID_RULE = `must be a GUID like ${NIL_GUID}`;

/** Batch and Storage account names: 3 to 24 lower-case letters and digits (Azure naming rules). */
export const ACCOUNT_NAME_RE = /^[a-z0-9]{3,24}$/;
/** Azure Batch and Storage account keys are 512 bits: 64 bytes, 88 base64 characters ending in "==". */
const ACCOUNT_KEY_BYTES = 64;
const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;
/** Batch pool ids: letters, digits, hyphens and underscores, at most 64 characters. */
export const POOL_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
/**
 * A user-assigned identity's ARM resource id. The fixed segments are matched without regard to case,
 * as ARM does (the CLI prints `resourcegroups`). Resource groups: 1 to 90 letters, digits, _ - . ( ),
 * not ending in a period; identities: 3 to 128 letters, digits, _ and -, starting with a letter or digit.
 */
const IDENTITY_RESOURCE_ID_RE =
  /^\/subscriptions\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\/resourceGroups\/([-\w.()]{0,89}[-\w()])\/providers\/Microsoft\.ManagedIdentity\/userAssignedIdentities\/([A-Za-z0-9][\w-]{2,127})$/i;
const IDENTITY_RESOURCE_ID_SHAPE =
  '/subscriptions/<subscription GUID>/resourceGroups/<resource group>/providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name>';
const CLIENT_SECRET_MIN = 16;
const CLIENT_SECRET_MAX = 256;

/** Unknown fields are refused, naming the first one and the fields the kind has. */
export function refuseUnknownFields(kind: string, fields: Record<string, unknown>, allowed: readonly string[]): void {
  const extra = Object.keys(fields).filter((k) => !allowed.includes(k));
  if (extra.length) throw new ValidationError(extra[0]!, `is not a field of ${kind} credentials (allowed: ${allowed.join(', ')})`);
}

/** A string field, trimmed; undefined when absent or empty. */
export function optionalString(fields: Record<string, unknown>, key: string): string | undefined {
  const v = fields[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new ValidationError(key, 'must be a string');
  const s = v.trim();
  return s === '' ? undefined : s;
}

export function requiredString(fields: Record<string, unknown>, key: string, hint = ''): string {
  const s = optionalString(fields, key);
  if (s === undefined) throw new ValidationError(key, `is required${hint ? `: ${hint}` : ''}`);
  return s;
}

function guid(fields: Record<string, unknown>, key: string, where: string): string {
  const v = requiredString(fields, key, where);
  if (/^\{.*\}$/.test(v) && GUID_RE.test(v.slice(1, -1))) throw new ValidationError(key, `${GUID_RULE}, without braces`);
  if (!GUID_RE.test(v)) throw new ValidationError(key, `${GUID_RULE} (${where})`);
  if (v === NIL_GUID) throw new ValidationError(key, `${GUID_RULE}, not the all-zero GUID (${where})`);
  return v.toLowerCase();
}

function accountName(fields: Record<string, unknown>, key: string, service: 'Batch' | 'Storage', required: boolean): string | undefined {
  const v = required ? requiredString(fields, key) : optionalString(fields, key);
  if (v === undefined) return undefined;
  if (v.includes('.') || v.includes('/')) {
    throw new ValidationError(key, `must be the ${service} account name alone, not its endpoint or URL (the part before the first dot)`);
  }
  if (!ACCOUNT_NAME_RE.test(v)) throw new ValidationError(key, `must be an Azure ${service} account name: 3 to 24 lower-case letters and digits`);
  return v;
}

/** An account key: base64 of exactly 64 bytes. The message says what it decoded to, never the key. */
function accountKey(fields: Record<string, unknown>, key: string, service: 'Batch' | 'Storage', where: string): string {
  const v = requiredString(fields, key, where);
  if (/AccountKey=|DefaultEndpointsProtocol=|SharedAccessSignature=|;/i.test(v)) {
    throw new ValidationError(key, `is a connection string; paste only the key itself (${where})`);
  }
  if (/\s/.test(v)) throw new ValidationError(key, 'contains whitespace; paste the key alone, on one line');
  const rule = `must be a ${service} account key: base64 of ${ACCOUNT_KEY_BYTES} bytes (88 characters ending in ==), as the portal shows it`;
  if (!BASE64_RE.test(v)) throw new ValidationError(key, `is not base64 (only letters, digits, + and /, then = padding); ${rule}`);
  if (v.length % 4 !== 0) throw new ValidationError(key, `is not base64: ${v.length} characters is not a multiple of 4 (truncated?); ${rule}`);
  const bytes = Buffer.from(v, 'base64');
  if (bytes.toString('base64') !== v) throw new ValidationError(key, `is not canonical base64; ${rule}`);
  if (bytes.length !== ACCOUNT_KEY_BYTES) throw new ValidationError(key, `decodes to ${bytes.length} bytes; ${rule}`);
  return v;
}

// -- shared key ---------------------------------------------------------------------------------

const SHARED_KEY_FIELDS = ['batchAccountName', 'batchKey', 'storageAccountName', 'storageKey'] as const;
const BATCH_KEY_WHERE = 'Batch account > Keys > Primary or Secondary access key';
const STORAGE_KEY_WHERE = 'Storage account > Access keys > key1 or key2';

export function parseAzureSharedKey(fields: Record<string, unknown>): ParsedCredential {
  refuseUnknownFields('azure-shared-key', fields, SHARED_KEY_FIELDS);
  const batchAccountName = accountName(fields, 'batchAccountName', 'Batch', false);
  let batchKey: string | undefined;
  if (batchAccountName !== undefined) {
    batchKey = accountKey(fields, 'batchKey', 'Batch', BATCH_KEY_WHERE);
  } else if (fields.batchKey !== undefined && fields.batchKey !== null && fields.batchKey !== '') {
    throw new ValidationError('batchKey', 'only goes with batchAccountName (leave both out for a storage-only credential)');
  }
  const storageAccountName = accountName(fields, 'storageAccountName', 'Storage', true)!;
  const storageKey = accountKey(fields, 'storageKey', 'Storage', STORAGE_KEY_WHERE);
  if (batchKey !== undefined && batchKey === storageKey) {
    throw new ValidationError('storageKey', 'is the same as batchKey; the Storage account has its own keys (Access keys > key1 or key2)');
  }

  const pub: Record<string, unknown> = {};
  const secret: Record<string, string> = {};
  if (batchAccountName !== undefined) {
    pub.batchAccountName = batchAccountName;
    secret.batchKey = batchKey!;
  }
  pub.storageAccountName = storageAccountName;
  secret.storageKey = storageKey;
  return { public: pub, secret };
}

export const azureSharedKeyCredential: CredentialKind = {
  kind: 'azure-shared-key',
  description: 'Azure access keys: Blob Storage account name + key, and Batch account name + key (leave the Batch pair out for storage only)',
  parse: parseAzureSharedKey,
};

// -- Entra service principal --------------------------------------------------------------------

const ENTRA_FIELDS = ['subscriptionId', 'tenantId', 'clientId', 'clientSecret', 'batchAccountName', 'storageAccountName'] as const;

export function parseAzureEntra(fields: Record<string, unknown>): ParsedCredential {
  refuseUnknownFields('azure-entra', fields, ENTRA_FIELDS);
  const subscriptionId = guid(fields, 'subscriptionId', 'the Subscription ID on the subscription overview');
  const tenantId = guid(fields, 'tenantId', 'the Directory (tenant) ID on the app registration overview');
  const clientId = guid(fields, 'clientId', 'the Application (client) ID on the app registration overview');
  if (clientId === tenantId) {
    throw new ValidationError('clientId', 'is the same as tenantId; the Application (client) ID is a different GUID on the app registration overview');
  }

  const clientSecret = requiredString(fields, 'clientSecret', "the Value of a client secret under the app registration's Certificates & secrets");
  if (GUID_RE.test(clientSecret)) {
    throw new ValidationError('clientSecret', 'is a GUID: that is the Secret ID; paste the Value column instead (shown once, when the secret is created)');
  }
  if (/\s/.test(clientSecret)) throw new ValidationError('clientSecret', 'contains whitespace; paste the secret value alone, on one line');
  if (/[^\x21-\x7e]/.test(clientSecret)) throw new ValidationError('clientSecret', 'must be printable ASCII (Entra client secrets are)');
  if (clientSecret.length < CLIENT_SECRET_MIN || clientSecret.length > CLIENT_SECRET_MAX) {
    throw new ValidationError(
      'clientSecret',
      `must be ${CLIENT_SECRET_MIN} to ${CLIENT_SECRET_MAX} characters (Entra client secret values are about 40); this one is ${clientSecret.length}`,
    );
  }

  const batchAccountName = accountName(fields, 'batchAccountName', 'Batch', false);
  const storageAccountName = accountName(fields, 'storageAccountName', 'Storage', true)!;

  const pub: Record<string, unknown> = { subscriptionId, tenantId, clientId };
  if (batchAccountName !== undefined) pub.batchAccountName = batchAccountName;
  pub.storageAccountName = storageAccountName;
  return { public: pub, secret: { clientSecret } };
}

export const azureEntraCredential: CredentialKind = {
  kind: 'azure-entra',
  description:
    'Azure Entra ID service principal: subscription, tenant and client ids, client secret, Blob Storage account name, and Batch account name (Batch only)',
  parse: parseAzureEntra,
};

// -- managed identity ---------------------------------------------------------------------------

const MANAGED_IDENTITY_FIELDS = ['poolName', 'identityClientId', 'identityResourceId', 'batchAccountName'] as const;

export function parseAzureManagedIdentity(fields: Record<string, unknown>): ParsedCredential {
  refuseUnknownFields('azure-managed-identity', fields, MANAGED_IDENTITY_FIELDS);
  const poolName = requiredString(fields, 'poolName', 'the id of the Batch pool the identity is attached to');
  if (!POOL_ID_RE.test(poolName)) {
    throw new ValidationError('poolName', 'must be an Azure Batch pool id: 1 to 64 letters, digits, hyphens and underscores');
  }
  const identityClientId = guid(fields, 'identityClientId', "the Client ID on the managed identity's overview");
  const identityResourceId = optionalString(fields, 'identityResourceId');
  let resourceId: string | undefined;
  if (identityResourceId !== undefined) {
    const m = IDENTITY_RESOURCE_ID_RE.exec(identityResourceId);
    if (!m) throw new ValidationError('identityResourceId', `must be a user-assigned identity's resource id: ${IDENTITY_RESOURCE_ID_SHAPE}`);
    if (m[1]!.toLowerCase() === NIL_GUID) throw new ValidationError('identityResourceId', `must name a real subscription, not the all-zero GUID: ${IDENTITY_RESOURCE_ID_SHAPE}`);
    resourceId = identityResourceId;
  }
  const batchAccountName = accountName(fields, 'batchAccountName', 'Batch', true)!;

  const pub: Record<string, unknown> = { poolName, identityClientId };
  if (resourceId !== undefined) pub.identityResourceId = resourceId;
  pub.batchAccountName = batchAccountName;
  return { public: pub, secret: {} };
}

export const azureManagedIdentityCredential: CredentialKind = {
  kind: 'azure-managed-identity',
  description:
    'Azure user-assigned managed identity on a Batch pool: pool name, identity client id, optional resource id, Batch account name; a misconfigured identity fails, the broker never falls back to access keys',
  parse: parseAzureManagedIdentity,
};
