/**
 * The broker's sign-in for Azure management calls: an `azure-entra` credential (read from the vault by
 * the caller) turned into an @azure/identity ClientSecretCredential, against the public cloud or the
 * endpoints given (sovereign clouds, private endpoints, a local authority and CA in tests).
 */
import { ClientSecretCredential, type TokenCredential } from '@azure/identity';
import { ValidationError } from '../../domain/errors';

/** Where the broker reaches Azure: the public cloud unless overridden (tests, private clouds). */
export interface AzureEndpoints {
  /** Entra ID authority; default https://login.microsoftonline.com. */
  authorityHost?: string;
  /** ARM endpoint; default https://management.azure.com. */
  armEndpoint?: string;
  /** Extra CA (PEM) to trust: tests and private endpoints only. */
  ca?: string;
  /** Blob endpoint for storage verification; default https://<account>.blob.core.windows.net. `{account}` is replaced. */
  blobEndpoint?: string;
}

export interface AzureManagement {
  credential: TokenCredential;
  subscriptionId: string;
  /** Options for the arm-* and data-plane helpers (endpoint and CA overrides). */
  opts: { armEndpoint?: string; ca?: string; maxRetries?: number };
}

/** A decrypted vault credential, as the vault's readCredential returns it. */
export interface CredentialRecord {
  kind: string;
  public: Record<string, unknown>;
  secret: Record<string, string>;
}

/** Management access from an azure-entra credential; a credential of another kind is refused. */
export function azureManagementFrom(c: CredentialRecord, az: AzureEndpoints = {}): AzureManagement {
  if (c.kind !== 'azure-entra') throw new ValidationError('managementCredentialId', `must be an azure-entra credential; this one is ${c.kind}`);
  const subscriptionId = String(c.public.subscriptionId);
  const credential = new ClientSecretCredential(String(c.public.tenantId), String(c.public.clientId), c.secret.clientSecret ?? '', {
    ...(az.authorityHost ? { authorityHost: az.authorityHost, disableInstanceDiscovery: true } : {}),
    ...(az.ca ? { tlsOptions: { ca: az.ca } } : {}),
  });
  // maxRetries 0: a regenerate whose answer is lost must not be sent again by the SDK (it would
  // regenerate twice); the workflow retries the whole step, which checks state first.
  return { credential, subscriptionId, opts: { ...(az.armEndpoint ? { armEndpoint: az.armEndpoint } : {}), ...(az.ca ? { ca: az.ca } : {}), maxRetries: 0 } };
}
