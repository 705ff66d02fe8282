/** Every credential kind the broker knows, by name. Add a kind: import it and list it here. */
import { ValidationError } from '../domain/errors';
import type { CredentialKind } from './kinds';
import { sshCredential } from './ssh';
import { googleCredential } from './google';
import { awsCredential } from './aws';
import { azureSharedKeyCredential, azureEntraCredential, azureManagedIdentityCredential } from './azure';
import { containerRegistryCredential } from './registry';

export type { CredentialKind, ParsedCredential } from './kinds';

const ALL: CredentialKind[] = [
  sshCredential,
  googleCredential,
  awsCredential,
  azureSharedKeyCredential,
  azureEntraCredential,
  azureManagedIdentityCredential,
  containerRegistryCredential,
];

const kinds = new Map(ALL.map((k) => [k.kind, k]));

export function credentialKind(name: string): CredentialKind {
  const kind = kinds.get(name);
  if (!kind) {
    const known = credentialKindNames();
    throw new ValidationError('kind', known.length ? `must be one of ${known.join(', ')}` : 'no credential kinds are available yet');
  }
  return kind;
}

function credentialKindNames(): string[] {
  return [...kinds.keys()].sort();
}
