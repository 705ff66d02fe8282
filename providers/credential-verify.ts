/**
 * Live verification of a stored credential: for each kind, the calls that prove it works, made with
 * the real clients, and a report of checks that passed, failed or could not run (and why). Nothing
 * secret is in a report: checks carry names, account ids, ARNs, slots and sanitized error messages.
 *
 *   aws                     STS GetCallerIdentity (after AssumeRole when a role is set)
 *   container-registry      a registry v2 login (`/v2/`, Basic or the Bearer token flow)
 *   azure-shared-key        Storage: SharedKey List Containers; Batch: SharedKey GET /applications
 *                           (the Batch endpoint is read through ARM, so it needs a management credential)
 *   azure-entra             a token for Azure Resource Manager from Entra ID
 *   azure-managed-identity  the identity exists, is attached to the pool and holds its roles; never a key
 *   ssh                     an SSH login (pinned host key, public-key auth, an SFTP session) to the
 *                           host of an hpc compute environment given with the request
 *   google                  not verified here: a service-account key is proven by the gcp compute
 *                           environment that uses it (its launch verify step)
 */
import { ClientSecretCredential } from '@azure/identity';
import { ValidationError } from '../domain/errors';
import type { VaultApi } from '../store/types';
import { verifyAwsCredential } from './aws/credentials';
import { batchAccountEndpoint, sanitizeAzureError, verifyBatchKey } from './azure/batch-keys';
import { verifyManagedIdentity } from './azure/managed-identity';
import { RESOURCE_GROUP_RE, RESOURCE_GROUP_RULE } from './azure/names';
import { blobEndpointFor, verifyStorageKey } from './azure/storage-keys';
import { parseHpcConfig } from './hpc/config';
import { loadPrivateKey, withSession } from './hpc/ssh-session';
import { verifyRegistryCredential } from './registry/verify';
import { azureManagementFor } from './rotation/azure';
import type { RotatorDeps } from './rotation/types';

export interface VerifyCredentialOptions {
  /** Azure: an azure-entra credential (id) for management reads (Batch endpoint, managed identity). */
  managementCredentialId?: string;
  /** Azure: the resource group of the Batch account. */
  resourceGroup?: string;
  /** azure-managed-identity: the Nextflow work directory's storage account, whose role is checked too. */
  storageAccountName?: string;
  /** ssh: an hpc compute environment (id) whose host, user and pinned host key the login uses. */
  computeEnvId?: string;
}

export interface CredentialCheck {
  check: string;
  status: 'passed' | 'failed' | 'skipped';
  /** What was proven (an ARN, a slot, a principal id), why it failed, or why it did not run. */
  detail: string;
}

export interface VerifyReport {
  credentialId: string;
  kind: string;
  /** True when at least one check ran and none failed. */
  ok: boolean;
  checks: CredentialCheck[];
}

export type VerifyDeps = Omit<RotatorDeps, 'vault'>;

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Runs a check; a thrown provider error becomes a failed check (its message is already sanitized). */
async function run(checks: CredentialCheck[], check: string, fn: () => Promise<string>): Promise<void> {
  try {
    checks.push({ check, status: 'passed', detail: await fn() });
  } catch (err) {
    // Named error codes (IdentityNotFound ...) are identifiers the providers set, never server text.
    const code = (err as { code?: unknown }).code;
    const tag = typeof code === 'string' && /^[A-Z][A-Za-z]{2,40}$/.test(code) ? ` (${code})` : '';
    checks.push({ check, status: 'failed', detail: `${(err as Error).name ?? 'Error'}${tag}: ${message(err)}` });
  }
}

export async function verifyCredential(vault: VaultApi, credentialId: string, deps: VerifyDeps, opts: VerifyCredentialOptions = {}): Promise<VerifyReport> {
  const cred = await vault.readCredential(credentialId);
  if (opts.resourceGroup !== undefined && !RESOURCE_GROUP_RE.test(opts.resourceGroup)) {
    throw new ValidationError('resourceGroup', `must be ${RESOURCE_GROUP_RULE}`);
  }
  if (opts.managementCredentialId !== undefined) {
    const m = await vault.getCredential(opts.managementCredentialId);
    if (m.kind !== 'azure-entra') throw new ValidationError('managementCredentialId', `must be an azure-entra credential; "${m.name}" is ${m.kind}`);
  }
  const checks: CredentialCheck[] = [];
  const pub = cred.public;
  const sec = cred.secret;
  const az = deps.azure ?? {};
  const skip = (check: string, detail: string) => checks.push({ check, status: 'skipped', detail });

  switch (cred.kind) {
    case 'aws':
      await run(checks, 'sts:GetCallerIdentity', async () => {
        const who = await verifyAwsCredential({ public: pub, secret: sec }, deps.aws?.endpoint ? { aws: deps.aws.endpoint } : {}, deps.aws?.region);
        return `acts as ${who.arn} (account ${who.account})`;
      });
      break;

    case 'container-registry':
      await run(checks, 'registry v2 login', async () => {
        const r = await verifyRegistryCredential(String(pub.registryServer), String(pub.userName), sec.password ?? '', az.ca ? { ca: az.ca } : {});
        return `logged in to ${String(pub.registryServer)} as ${String(pub.userName)} (${r.scheme})`;
      });
      break;

    case 'azure-shared-key': {
      const storage = String(pub.storageAccountName);
      await run(checks, 'storage SharedKey', async () => {
        await verifyStorageKey(blobEndpointFor(storage, az.blobEndpoint), storage, sec.storageKey ?? '', az.ca ? { ca: az.ca } : {});
        return `listed containers of ${storage}`;
      });
      if (typeof pub.batchAccountName === 'string') {
        const batch = pub.batchAccountName;
        if (!opts.managementCredentialId || !opts.resourceGroup) {
          skip('batch SharedKey', `give a management credential and the resource group of ${batch}: the Batch endpoint is read through Azure Resource Manager`);
        } else {
          await run(checks, 'batch SharedKey', async () => {
            const mgmt = await azureManagementFor(opts.managementCredentialId!, { ...deps, vault });
            const endpoint = await batchAccountEndpoint(mgmt.credential, { subscriptionId: mgmt.subscriptionId, resourceGroup: opts.resourceGroup!, accountName: batch }, mgmt.opts);
            await verifyBatchKey(endpoint, batch, sec.batchKey ?? '', az.ca ? { ca: az.ca } : {});
            return `signed GET /applications on ${batch}`;
          });
        }
      }
      break;
    }

    case 'azure-entra':
      await run(checks, 'entra token', async () => {
        const c = new ClientSecretCredential(String(pub.tenantId), String(pub.clientId), sec.clientSecret ?? '', {
          ...(az.authorityHost ? { authorityHost: az.authorityHost, disableInstanceDiscovery: true } : {}),
          ...(az.ca ? { tlsOptions: { ca: az.ca } } : {}),
          retryOptions: { maxRetries: 1 },
        });
        try {
          await c.getToken(`${(az.armEndpoint ?? 'https://management.azure.com').replace(/\/+$/, '')}/.default`);
        } catch (err) {
          throw sanitizeAzureError(err, 'token');
        }
        return `Entra ID issued a management token to client ${String(pub.clientId)} in tenant ${String(pub.tenantId)}`;
      });
      break;

    case 'azure-managed-identity':
      if (!opts.managementCredentialId || !opts.resourceGroup) {
        skip('managed identity', 'give a management credential and the resource group of the Batch account: the pool, identity and role assignments are read through Azure Resource Manager');
        break;
      }
      await run(checks, 'managed identity', async () => {
        const mgmt = await azureManagementFor(opts.managementCredentialId!, { ...deps, vault });
        const facts = await verifyManagedIdentity(
          mgmt.credential,
          {
            subscriptionId: mgmt.subscriptionId,
            resourceGroup: opts.resourceGroup!,
            batchAccountName: String(pub.batchAccountName),
            poolName: String(pub.poolName),
            identityClientId: String(pub.identityClientId),
            ...(typeof pub.identityResourceId === 'string' ? { identityResourceId: pub.identityResourceId } : {}),
            ...(opts.storageAccountName ? { storageAccountName: opts.storageAccountName } : {}),
          },
          { ...(mgmt.opts.armEndpoint ? { armEndpoint: mgmt.opts.armEndpoint } : {}), ...(mgmt.opts.ca ? { ca: mgmt.opts.ca } : {}) },
        );
        return `identity ${facts.identityClientId} (principal ${facts.principalId}) is attached to pool ${facts.poolName} and holds ${facts.roles.length} required role(s)${facts.skipped.length ? `; not checked: ${facts.skipped.join(', ')}` : ''}`;
      });
      break;

    case 'ssh': {
      if (!opts.computeEnvId) {
        skip('ssh login', 'give an hpc compute environment: its host, user and pinned host key are what the key is tried against');
        break;
      }
      const ce = await vault.getComputeEnv(opts.computeEnvId);
      if (ce.platform !== 'hpc') throw new ValidationError('computeEnvId', `must be an hpc compute environment; "${ce.name}" is ${ce.platform}`);
      const cfg = parseHpcConfig(ce.config);
      await run(checks, 'ssh login', async () => {
        const key = loadPrivateKey(sec.privateKey, sec.passphrase);
        await withSession({ host: cfg.host, port: cfg.port, user: cfg.user, hostKeyFingerprint: cfg.hostKeyFingerprint, ...(cfg.maxConnections ? { maxConnections: cfg.maxConnections } : {}) }, key, async () => undefined);
        return `logged in to ${cfg.host}:${cfg.port} as ${cfg.user} (host key ${cfg.hostKeyFingerprint})`;
      });
      break;
    }
    case 'google':
      skip('google token', 'a service-account key is proven by the gcp compute environment that uses it (its launch verify step)');
      break;
    default:
      skip('live check', `no live check for ${cred.kind} credentials`);
  }
  return { credentialId, kind: cred.kind, ok: checks.some((c) => c.status === 'passed') && !checks.some((c) => c.status === 'failed'), checks };
}
