/**
 * Container registry credentials (Seqera Platform "Azure container registry credentials"): a user name (an Azure Container Registry token name, or
 * any registry user), its password, and the registry server (a host name with an optional port, as
 * `docker login` takes it: `myregistry.azurecr.io`, `127.0.0.1:5000`). Validated for shape on save;
 * the registry HTTP API v2 uses them with HTTP Basic authentication. Each refusal names the field and
 * the rule; no message contains the password.
 *
 * Public fields: userName, registryServer (lower-cased), and optionally tokenPasswordSlot. Secret
 * fields: password.
 *
 * tokenPasswordSlot ('password1' | 'password2') says which of an Azure Container Registry token's two
 * passwords the stored password is. ACR shows a password's value only once, when it is generated, so
 * the ACR token rotation (rotators/acr-token.ts) cannot find the slot by comparing values
 * as the other rotations do: it reads this marker, and writes it together with each password it
 * generates. A member storing a password from the portal or `az acr token credential generate` sets
 * it to the password they generated. Not secret: it names a slot, not a value.
 */
import { ValidationError } from '../domain/errors';
import { optionalString, refuseUnknownFields, requiredString } from './azure';
import type { CredentialKind, ParsedCredential } from './kinds';

const FIELDS = ['userName', 'password', 'registryServer', 'tokenPasswordSlot'] as const;
/** The two passwords of an Azure Container Registry token, as ACR names them. */
export const TOKEN_PASSWORD_SLOTS = ['password1', 'password2'] as const;
export type TokenPasswordSlot = (typeof TOKEN_PASSWORD_SLOTS)[number];
const MAX_USER_NAME = 256;
const MAX_PASSWORD = 4_096;
const MAX_HOST = 253;
const LABEL_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const IPV4_RE = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const EXAMPLE = 'e.g. myregistry.azurecr.io or 127.0.0.1:5000';

/** A registry server: host name or IPv4 address, optional :port; no scheme, credentials or path. */
export function parseRegistryServer(input: string): string {
  const refuse = (rule: string) => new ValidationError('registryServer', rule);
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(input);
  if (scheme) throw refuse(`must not have a scheme: drop "${scheme[1]!.toLowerCase()}://" and give the host name alone, ${EXAMPLE}`);
  if (/\s/.test(input)) throw refuse(`must be a host name without spaces, ${EXAMPLE}`);
  if (input.includes('@')) throw refuse(`must not carry a user name: give the host name alone (the user goes in userName), ${EXAMPLE}`);
  if (/[/?#]/.test(input)) throw refuse(`must not have a path: give the host name alone (the login server, not an image or URL), ${EXAMPLE}`);

  const m = /^([^:]+)(?::([^:]*))?$/.exec(input);
  if (!m) throw refuse(`must be a host name with an optional :port, ${EXAMPLE}`);
  const host = m[1]!.toLowerCase().replace(/\.$/, '');
  const port = m[2];
  if (port !== undefined) {
    if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) throw refuse('has a port that is not a number from 1 to 65535');
  }
  const isIpv4Like = /^[\d.]+$/.test(host);
  if (isIpv4Like ? !IPV4_RE.test(host) : host.length > MAX_HOST || !host.split('.').every((l) => LABEL_RE.test(l))) {
    throw refuse(`must be a host name (letters, digits and hyphens in dot-separated labels) or an IPv4 address, with an optional :port, ${EXAMPLE}`);
  }
  return port === undefined ? host : `${host}:${Number(port)}`;
}

export function parseContainerRegistry(fields: Record<string, unknown>): ParsedCredential {
  refuseUnknownFields('container-registry', fields, FIELDS);

  const userName = requiredString(fields, 'userName', 'the registry token name (or the registry user)');
  if (userName.length > MAX_USER_NAME) throw new ValidationError('userName', `is longer than ${MAX_USER_NAME} characters`);
  if (userName.includes(':')) throw new ValidationError('userName', 'must not contain ":" (HTTP Basic authentication cannot carry it)');
  if (/[\s\x00-\x1f\x7f]/.test(userName)) throw new ValidationError('userName', 'must not contain spaces or control characters');

  const password = requiredString(fields, 'password', 'the registry token password (password1 or password2)');
  if (password.length > MAX_PASSWORD) throw new ValidationError('password', `is longer than ${MAX_PASSWORD} characters`);
  if (/[\x00-\x1f\x7f]/.test(password)) throw new ValidationError('password', 'must be one line without control characters');

  const registryServer = parseRegistryServer(requiredString(fields, 'registryServer', `the registry's login server, ${EXAMPLE}`));

  const slot = optionalString(fields, 'tokenPasswordSlot')?.toLowerCase();
  if (slot !== undefined && !(TOKEN_PASSWORD_SLOTS as readonly string[]).includes(slot)) {
    throw new ValidationError('tokenPasswordSlot', 'must be password1 or password2: which of the Azure Container Registry token\'s passwords the stored password is');
  }

  return { public: { userName, registryServer, ...(slot ? { tokenPasswordSlot: slot } : {}) }, secret: { password } };
}

export const containerRegistryCredential: CredentialKind = {
  kind: 'container-registry',
  description:
    'Container registry user name (Azure Container Registry token name), password and registry server (host[:port], no scheme); optionally tokenPasswordSlot (password1 or password2) for ACR token rotation',
  parse: parseContainerRegistry,
};
