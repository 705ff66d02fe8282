/**
 * Google credentials: a service-account JSON key, as the Cloud console downloads it. Validated on
 * save: JSON, type "service_account", a project_id, a client_email and a private_key that
 * node:crypto parses. The project of a gcp compute environment defaults to the key's project_id.
 * Each refusal names the field and says what is wrong; no message contains key material.
 *
 * Fields: serviceAccountKey, the key file's text (or the parsed object).
 * Public fields: projectId, clientEmail, privateKeyId.
 * Secret fields: serviceAccountKey (the JSON, re-serialized).
 */
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { ValidationError } from '../domain/errors';
import type { CredentialKind, ParsedCredential } from './kinds';

const FIELD = 'serviceAccountKey';
const MAX_KEY_CHARS = 16_384;
const PROJECT_ID = /^(?:[a-z][a-z0-9.-]{0,61}[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
const EMAIL = /^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,}$/;
const KEY_ID = /^[0-9a-f]{1,128}$/i;
const KNOWN_TYPES = ['service_account', 'authorized_user', 'external_account', 'impersonated_service_account'];
const PASTE_WHOLE = 'paste the whole JSON key file of a service account (IAM > Service accounts > Keys > Add key > JSON)';

/** What the gcp provider needs from a stored key. */
export interface GoogleServiceAccountKey {
  projectId: string;
  clientEmail: string;
  privateKey: string;
  privateKeyId?: string;
}

const refuse = (sub: string, rule: string) => new ValidationError(sub ? `${FIELD}.${sub}` : FIELD, rule);

function requiredString(obj: Record<string, unknown>, key: string): string {
  const v = obj[key];
  if (v === undefined || v === null || v === '') throw refuse(key, `is required: ${PASTE_WHOLE}`);
  if (typeof v !== 'string') throw refuse(key, 'must be a string');
  return v;
}

/**
 * Parse and check a service-account key, from the text a member pasted or the secret field the vault
 * returns. Throws ValidationError naming the field (serviceAccountKey or serviceAccountKey.<json
 * field>) and the rule.
 */
function parseServiceAccountKey(input: unknown): { key: GoogleServiceAccountKey; json: Record<string, unknown> } {
  let obj: unknown = input;
  if (typeof input === 'string') {
    if (input.length > MAX_KEY_CHARS) throw refuse('', `is longer than ${MAX_KEY_CHARS} characters; a service-account key file is about 2,300`);
    const text = input.trim();
    if (text.startsWith('-----BEGIN')) throw refuse('', `is a bare private key; ${PASTE_WHOLE}`);
    try {
      obj = JSON.parse(text);
    } catch {
      throw refuse('', `is not JSON (it does not parse); ${PASTE_WHOLE}`);
    }
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw refuse('', `must be a JSON object; ${PASTE_WHOLE}`);
  const json = obj as Record<string, unknown>;
  if (JSON.stringify(json).length > MAX_KEY_CHARS) throw refuse('', `is longer than ${MAX_KEY_CHARS} characters; a service-account key file is about 2,300`);

  const type = json.type;
  if (type !== 'service_account') {
    const got = typeof type === 'string' && KNOWN_TYPES.includes(type) ? ` (this is an "${type}" credential)` : '';
    throw refuse('type', `must be "service_account"${got}; ${PASTE_WHOLE}`);
  }
  const projectId = requiredString(json, 'project_id');
  if (!PROJECT_ID.test(projectId)) throw refuse('project_id', 'is not a Google Cloud project id (6-30 lowercase letters, digits and hyphens)');
  const clientEmail = requiredString(json, 'client_email');
  if (!EMAIL.test(clientEmail)) throw refuse('client_email', 'is not an email address (a service account email such as broker@PROJECT.iam.gserviceaccount.com)');
  const privateKey = requiredString(json, 'private_key');
  if (!/-----BEGIN (?:RSA )?PRIVATE KEY-----/.test(privateKey)) {
    throw refuse('private_key', `is not a PEM private key (no -----BEGIN PRIVATE KEY----- line); ${PASTE_WHOLE}`);
  }
  if (!/-----END (?:RSA )?PRIVATE KEY-----/.test(privateKey)) {
    throw refuse('private_key', `is truncated: the -----END PRIVATE KEY----- line is missing; ${PASTE_WHOLE}`);
  }
  let keyObject: KeyObject;
  try {
    keyObject = createPrivateKey({ key: privateKey, format: 'pem' });
  } catch {
    throw refuse('private_key', `is damaged: it does not parse as a private key; ${PASTE_WHOLE}`);
  }
  const keyType = keyObject.asymmetricKeyType;
  if (keyType !== 'rsa') throw refuse('private_key', `must be an RSA key (Google service-account keys are RSA); this one is ${keyType ?? 'of unknown type'}`);
  // A key damaged in the middle can still parse: prove it signs what its own public half verifies,
  // as Google will check the token it signs.
  let usable = false;
  try {
    const probe = Buffer.from('secret-broker key check');
    usable = verify('sha256', probe, createPublicKey(keyObject), sign('sha256', probe, keyObject));
  } catch {
    usable = false;
  }
  if (!usable) throw refuse('private_key', `is damaged: it parses but cannot sign with its own public key; ${PASTE_WHOLE}`);

  const key: GoogleServiceAccountKey = { projectId, clientEmail, privateKey };
  const pkid = json.private_key_id;
  if (pkid !== undefined && pkid !== null && pkid !== '') {
    if (typeof pkid !== 'string' || !KEY_ID.test(pkid)) throw refuse('private_key_id', 'must be the hexadecimal key id from the key file');
    key.privateKeyId = pkid;
  }
  return { key, json };
}

/** The key the gcp provider reads back from the vault's secret fields. */
export function readServiceAccountKey(secret: Record<string, string>): GoogleServiceAccountKey {
  const text = secret[FIELD];
  if (typeof text !== 'string') throw refuse('', 'is missing from the stored credential');
  return parseServiceAccountKey(text).key;
}

export const googleCredential = {
  kind: 'google' as const,
  description: 'Google Cloud service-account JSON key, for Google Batch compute environments (needs roles/secretmanager.admin in the project)',
  parse(fields: Record<string, unknown>): ParsedCredential {
    const extra = Object.keys(fields).filter((k) => k !== FIELD);
    if (extra.length) throw new ValidationError(extra[0], `is not a field of google credentials (allowed: ${FIELD})`);
    const raw = fields[FIELD];
    if (raw === undefined || raw === null || raw === '') throw refuse('', `is required: ${PASTE_WHOLE}`);
    if (typeof raw !== 'string' && (typeof raw !== 'object' || Array.isArray(raw))) throw refuse('', `must be the key file's JSON text; ${PASTE_WHOLE}`);
    const { key, json } = parseServiceAccountKey(raw);
    const pub: Record<string, unknown> = { projectId: key.projectId, clientEmail: key.clientEmail };
    if (key.privateKeyId) pub.privateKeyId = key.privateKeyId;
    return { public: pub, secret: { [FIELD]: JSON.stringify(json) } };
  },
} satisfies CredentialKind;
