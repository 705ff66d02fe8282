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
import { ValidationError } from '../domain/errors';
import { RESOURCE_GROUP_RE, RESOURCE_GROUP_RULE } from '../remote/azure/names';
import type { AzureEndpoints } from '../remote/azure/management';
import type { VaultApi } from '../store/types';

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

/** Where live checks reach the clouds: the public ones unless overridden (tests, private clouds). */
export interface VerifyDeps {
  azure?: AzureEndpoints;
  aws?: { endpoint?: string; region?: string };
}

/** What a kind's checks get: the decrypted credential, where to reach the clouds, and the report. */
export interface CheckContext {
  vault: VaultApi;
  cred: { kind: string; public: Record<string, unknown>; secret: Record<string, string> };
  deps: VerifyDeps;
  opts: VerifyCredentialOptions;
  /** Runs a check; a thrown provider error becomes a failed check (its message is already sanitized). */
  run(check: string, fn: () => Promise<string>): Promise<void>;
  /** Records a check that could not run, and why. */
  skip(check: string, detail: string): void;
}

type Checks = (ctx: CheckContext) => Promise<void>;

/** Each kind's checks, loaded when a credential of that kind is verified (they bring its SDK). */
const CHECKS: Record<string, () => Promise<Checks>> = {
  aws: () => import('./aws').then((m) => m.checkAws),
  'container-registry': () => import('./registry').then((m) => m.checkRegistry),
  'azure-shared-key': () => import('./azure').then((m) => m.checkSharedKey),
  'azure-entra': () => import('./azure').then((m) => m.checkEntra),
  'azure-managed-identity': () => import('./azure').then((m) => m.checkManagedIdentity),
  ssh: () => import('./ssh').then((m) => m.checkSsh),
  google: async () => async (ctx) => ctx.skip('google token', 'a service-account key is proven by the gcp compute environment that uses it (its launch verify step)'),
};

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
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
  const ctx: CheckContext = {
    vault,
    cred,
    deps,
    opts,
    async run(check, fn) {
      try {
        checks.push({ check, status: 'passed', detail: await fn() });
      } catch (err) {
        // Named error codes (IdentityNotFound ...) are identifiers the providers set, never server text.
        const code = (err as { code?: unknown }).code;
        const tag = typeof code === 'string' && /^[A-Z][A-Za-z]{2,40}$/.test(code) ? ` (${code})` : '';
        checks.push({ check, status: 'failed', detail: `${(err as Error).name ?? 'Error'}${tag}: ${message(err)}` });
      }
    },
    skip: (check, detail) => void checks.push({ check, status: 'skipped', detail }),
  };
  const load = CHECKS[cred.kind];
  if (load) await (await load())(ctx);
  else ctx.skip('live check', `no live check for ${cred.kind} credentials`);
  return { credentialId, kind: cred.kind, ok: checks.some((c) => c.status === 'passed') && !checks.some((c) => c.status === 'failed'), checks };
}
