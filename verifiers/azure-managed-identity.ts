/**
 * Live verification of an `azure-managed-identity` credential (Seqera Platform "Azure credentials"): a user-assigned managed
 * identity attached to an Azure Batch pool, which Nextflow on the pool's nodes uses instead of keys.
 * The broker checks, with its own management credential (any TokenCredential, normally the
 * `azure-entra` one), that
 *
 *   1. the identity exists: `userAssignedIdentities.get` on identityResourceId when given (and its
 *      client id is identityClientId), otherwise `listBySubscription` finds the client id;
 *   2. the pool carries it: `pool.get` and `identity.userAssignedIdentities` names it;
 *   3. it holds the roles Nextflow needs (REQUIRED_ROLES): `roleAssignments.listForScope` on the Batch
 *      account and on the work-dir storage account, filtered by the identity's principal id.
 *
 * Each misconfiguration is its own error class with a stable `code` (IdentityNotFound,
 * IdentityNotAttached, IdentityRoleMissing) and a message naming the pool, the identity client id,
 * the missing role and the fix. Failures of the broker's own calls (token refused, 403 on a list, a
 * network failure) are sanitized by sanitizeAzureError like every other Azure call, so they stay
 * distinct from the three misconfigurations.
 *
 * No fallback to access keys, by construction: verifyManagedIdentity takes no key and refuses a ref
 * carrying any field beyond ManagedIdentityRef's (so a caller spreading a shared-key credential into
 * it fails before any call). The Batch client is narrowed to `poolOperations.get` at creation, so
 * nothing in this module can reach `getKeys`/`regenerateKey`; no storage client is built at all. A
 * misconfigured identity throws; there is no other path.
 *
 * Messages are built from the caller's names and ids and from server-supplied values only after they
 * match a GUID or Azure-name pattern: never a token, a secret or a free-form server message.
 */
import { AuthorizationManagementClient, type RoleAssignment } from '@azure/arm-authorization';
import type { BatchManagementClient } from '@azure/arm-batch';
import { ManagedServiceIdentityClient, type Identity } from '@azure/arm-msi';
import type { TokenCredential } from '@azure/identity';
import { ACCOUNT_NAME_RE, GUID_RE, POOL_ID_RE } from '../credentials/azure';
import { createBatchManagementClient, sanitizeAzureError, type BatchAccountRef } from '../remote/azure/batch-keys';
import { RESOURCE_GROUP_RE, RESOURCE_GROUP_RULE } from '../remote/azure/names';
import { InvalidInputError, PermissionDeniedError } from '../domain/errors';

// -- required roles -----------------------------------------------------------------------------

export interface BuiltInRole {
  name: string;
  /** The role definition GUID; built-in roles have the same one in every subscription and cloud. */
  id: string;
}

/** The built-in roles this module knows, by their role definition ids (Azure's built-in roles list). */
export const BUILT_IN_ROLES = {
  storageBlobDataContributor: { name: 'Storage Blob Data Contributor', id: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe' },
  storageBlobDataOwner: { name: 'Storage Blob Data Owner', id: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b' },
  batchDataContributor: { name: 'Azure Batch Data Contributor', id: '6aaa78f1-f7de-44ca-8722-c64a23943cae' },
  batchJobSubmitter: { name: 'Azure Batch Job Submitter', id: '48e5e92e-a480-4e71-aa9c-2778f4c13781' },
  batchAccountContributor: { name: 'Azure Batch Account Contributor', id: '29fe4964-1e60-436b-bd3a-77fd4c178b3c' },
} as const satisfies Record<string, BuiltInRole>;

export type RoleTarget = 'storage' | 'batch';

export interface RoleRequirement {
  target: RoleTarget;
  /** The role to assign when missing (named in the message and the az command). */
  role: BuiltInRole;
  /** Built-in roles that satisfy the requirement, the recommended one first. */
  satisfiedBy: readonly BuiltInRole[];
  /** What Nextflow does with it. */
  why: string;
}

/**
 * What the pool's identity needs, decided from what Nextflow does with it (Seqera Platform "Azure credentials": Nextflow
 * authenticates with the identity after the first task):
 *
 * - storage: read and write the work directory's blobs. Blob access is a data action, so only the
 *   Storage Blob Data roles count: Contributor (recommended) or Owner. Reader cannot write; Owner and
 *   Contributor of the account grant no data actions (only listKeys, i.e. keys: not accepted).
 * - batch: the head job submits jobs and tasks to the pool: the `Microsoft.Batch/batchAccounts/jobs/*`
 *   data actions, which Azure Batch Data Contributor (recommended, as Nextflow's docs name it), Job
 *   Submitter and Account Contributor hold. Plain Owner/Contributor have no data actions.
 *
 * Custom roles and roles held through a group are not recognized (see verifyManagedIdentity).
 */
export const REQUIRED_ROLES: Readonly<Record<RoleTarget, RoleRequirement>> = {
  storage: {
    target: 'storage',
    role: BUILT_IN_ROLES.storageBlobDataContributor,
    satisfiedBy: [BUILT_IN_ROLES.storageBlobDataContributor, BUILT_IN_ROLES.storageBlobDataOwner],
    why: "read and write the Nextflow work directory's blobs",
  },
  batch: {
    target: 'batch',
    role: BUILT_IN_ROLES.batchDataContributor,
    satisfiedBy: [BUILT_IN_ROLES.batchDataContributor, BUILT_IN_ROLES.batchJobSubmitter, BUILT_IN_ROLES.batchAccountContributor],
    why: 'submit jobs and tasks to the pool',
  },
};

// -- errors -------------------------------------------------------------------------------------

/** No user-assigned identity with that client id (or at that resource id, or with that pairing). */
export class IdentityNotFoundError extends InvalidInputError {
  readonly code = 'IdentityNotFound' as const;
  constructor(
    message: string,
    readonly identityClientId: string,
  ) {
    super(message);
  }
}

/** The identity exists but the pool's identity.userAssignedIdentities does not name it. */
export class IdentityNotAttachedError extends InvalidInputError {
  readonly code = 'IdentityNotAttached' as const;
  constructor(
    message: string,
    readonly identityClientId: string,
    readonly poolName: string,
  ) {
    super(message);
  }
}

export interface MissingRole {
  requirement: RoleRequirement;
  /** The ARM scope the role must be assigned at (or above). */
  scope: string;
  /** The `az role assignment create` command that fixes it. */
  fix: string;
}

/** The identity is attached but lacks a role it needs. */
export class IdentityRoleMissingError extends PermissionDeniedError {
  readonly code = 'IdentityRoleMissing' as const;
  constructor(
    message: string,
    readonly identityClientId: string,
    readonly poolName: string,
    /** Each role the identity lacks, where, and the command that assigns it. */
    readonly roles: readonly MissingRole[],
  ) {
    super(message);
    this.missing.push(
      ...roles.map((r) => ({ principal: `managed identity ${identityClientId}`, permission: r.requirement.role.name, resource: r.scope, grant: r.fix, role: r.requirement.role.name })),
    );
  }
}

// -- inputs and results -------------------------------------------------------------------------

/** What a verification needs: the credential's public fields plus where the Batch account lives. */
export interface ManagedIdentityRef {
  subscriptionId: string;
  resourceGroup: string;
  batchAccountName: string;
  poolName: string;
  identityClientId: string;
  identityResourceId?: string;
  /** The Nextflow work directory's storage account; when absent the storage role is not checked. */
  storageAccountName?: string;
  /** Its resource group, when not resourceGroup. */
  storageResourceGroup?: string;
}

const REF_FIELDS: ReadonlySet<string> = new Set([
  'subscriptionId',
  'resourceGroup',
  'batchAccountName',
  'poolName',
  'identityClientId',
  'identityResourceId',
  'storageAccountName',
  'storageResourceGroup',
] satisfies (keyof ManagedIdentityRef)[]);

export interface ManagedIdentityOptions {
  /** ARM endpoint; default https://management.azure.com. */
  armEndpoint?: string;
  /** Extra CA (PEM) to trust instead of the public ones: tests and private endpoints only. */
  ca?: string;
  /** Retries of throttled/5xx calls inside the SDKs (default the SDKs' 3). */
  maxRetries?: number;
  /**
   * Check the Batch role (default true). False for a worker-only pool whose identity never submits
   * tasks (a separate head pool does).
   */
  requireBatchRole?: boolean;
}

export interface FoundRole {
  target: RoleTarget;
  role: BuiltInRole;
  /** The scope of the assignment that satisfied it (the checked resource or an ancestor). */
  scope: string;
  /** The assignment carries an ABAC condition, which this check does not evaluate. */
  conditional: boolean;
}

export interface ManagedIdentityFacts {
  identityClientId: string;
  /** As ARM gives it (ARM may spell `resourcegroups` in lower case). */
  identityResourceId: string;
  principalId: string;
  poolName: string;
  batchAccountName: string;
  /** One entry per satisfied requirement. */
  roles: FoundRole[];
  /** Requirements not checked (no storage account given, or requireBatchRole false). */
  skipped: RoleTarget[];
}

// -- validation ---------------------------------------------------------------------------------

/** A user-assigned identity's resource id; fixed segments matched without regard to case, as ARM does. */
const IDENTITY_RESOURCE_ID_RE =
  /^\/subscriptions\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\/resourceGroups\/([-\w.()]{0,89}[-\w()])\/providers\/Microsoft\.ManagedIdentity\/userAssignedIdentities\/([A-Za-z0-9][\w-]{2,127})$/i;
const IDENTITY_NAME_RE = /^[A-Za-z0-9][\w-]{2,127}$/;

interface ParsedIdentityId {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
}

function parseIdentityResourceId(id: string): ParsedIdentityId | undefined {
  const m = IDENTITY_RESOURCE_ID_RE.exec(id);
  return m ? { subscriptionId: m[1]!, resourceGroup: m[2]!, name: m[3]! } : undefined;
}

function validateRef(ref: ManagedIdentityRef): void {
  if (ref === null || typeof ref !== 'object') throw new InvalidInputError('ref: must be an object');
  // A key or secret has no field here: refuse anything extra, naming the field, never its value.
  const extra = Object.keys(ref).filter((k) => !REF_FIELDS.has(k));
  if (extra.length) throw new InvalidInputError(`${extra[0]}: not a field of a managed-identity verification (it takes no key or secret; allowed: ${[...REF_FIELDS].join(', ')})`);
  const str = (k: keyof ManagedIdentityRef): string => {
    const v = ref[k];
    if (typeof v !== 'string') throw new InvalidInputError(`${k}: must be a string`);
    return v;
  };
  if (!GUID_RE.test(str('subscriptionId'))) throw new InvalidInputError('subscriptionId: must be a GUID');
  if (!RESOURCE_GROUP_RE.test(str('resourceGroup'))) throw new InvalidInputError(`resourceGroup: ${RESOURCE_GROUP_RULE}`);
  if (!ACCOUNT_NAME_RE.test(str('batchAccountName'))) throw new InvalidInputError('batchAccountName: 3 to 24 lower-case letters and digits');
  if (!POOL_ID_RE.test(str('poolName'))) throw new InvalidInputError('poolName: 1 to 64 letters, digits, hyphens and underscores');
  if (!GUID_RE.test(str('identityClientId'))) throw new InvalidInputError("identityClientId: must be a GUID (the Client ID on the managed identity's overview)");
  if (ref.identityResourceId !== undefined && !parseIdentityResourceId(str('identityResourceId'))) {
    throw new InvalidInputError('identityResourceId: must be /subscriptions/<GUID>/resourceGroups/<group>/providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name>');
  }
  if (ref.storageAccountName !== undefined && !ACCOUNT_NAME_RE.test(str('storageAccountName'))) throw new InvalidInputError('storageAccountName: 3 to 24 lower-case letters and digits');
  if (ref.storageResourceGroup !== undefined && !RESOURCE_GROUP_RE.test(str('storageResourceGroup'))) throw new InvalidInputError(`storageResourceGroup: ${RESOURCE_GROUP_RULE}`);
}

// -- helpers ------------------------------------------------------------------------------------

function sameId(a: string | undefined, b: string | undefined): boolean {
  return !!a && !!b && a.toLowerCase().replace(/\/+$/, '') === b.toLowerCase().replace(/\/+$/, '');
}

/** a is b or one of its ancestors (ARM ids, compared without case). */
function coversScope(a: string, b: string): boolean {
  const x = a.toLowerCase().replace(/\/+$/, '');
  const y = b.toLowerCase().replace(/\/+$/, '');
  return x === '' || x === y || y.startsWith(`${x}/`);
}

function statusOf(err: unknown): { status?: number; code?: string } {
  const e = (err ?? {}) as { statusCode?: unknown; code?: unknown; name?: unknown };
  if (e.name !== 'RestError') return {};
  const code = typeof e.code === 'string' && /^[A-Za-z][A-Za-z0-9_.]{0,80}$/.test(e.code) ? e.code : undefined;
  return { status: typeof e.statusCode === 'number' ? e.statusCode : undefined, code };
}

function clientOptions(opts: ManagedIdentityOptions) {
  return {
    ...(opts.armEndpoint ? { endpoint: opts.armEndpoint } : {}),
    ...(opts.ca ? { tlsOptions: { ca: opts.ca } } : {}),
    ...(opts.maxRetries !== undefined ? { retryOptions: { maxRetries: opts.maxRetries } } : {}),
  };
}

/** Only pool reads: the key operations of the Batch client are out of reach of this module. */
type PoolReader = Pick<BatchManagementClient['poolOperations'], 'get'>;

function poolReader(credential: TokenCredential, subscriptionId: string, opts: ManagedIdentityOptions): PoolReader {
  const { poolOperations } = createBatchManagementClient(credential, subscriptionId, opts);
  return { get: (rg, account, pool, o) => poolOperations.get(rg, account, pool, o) };
}

function poolLabel(ref: ManagedIdentityRef): string {
  return `Batch pool ${ref.poolName} (Batch account ${ref.batchAccountName}, resource group ${ref.resourceGroup}, subscription ${ref.subscriptionId})`;
}

// -- the three checks ---------------------------------------------------------------------------

interface ResolvedIdentity {
  resourceId: string;
  principalId: string;
}

async function resolveIdentity(credential: TokenCredential, ref: ManagedIdentityRef, opts: ManagedIdentityOptions): Promise<ResolvedIdentity> {
  const clientId = ref.identityClientId.toLowerCase();
  const accept = (found: Identity, where: string): ResolvedIdentity => {
    if (typeof found.principalId !== 'string' || !GUID_RE.test(found.principalId) || typeof found.id !== 'string') {
      throw new InvalidInputError(`get managed identity ${ref.identityClientId}: Azure's answer for ${where} did not carry a principal id`);
    }
    return { resourceId: found.id, principalId: found.principalId.toLowerCase() };
  };

  if (ref.identityResourceId !== undefined) {
    const id = parseIdentityResourceId(ref.identityResourceId)!;
    const client = new ManagedServiceIdentityClient(credential, id.subscriptionId, clientOptions(opts));
    let found: Identity;
    try {
      found = await client.userAssignedIdentities.get(id.resourceGroup, id.name);
    } catch (err) {
      const { status, code } = statusOf(err);
      if (status === 404) {
        throw new IdentityNotFoundError(
          `managed identity ${ref.identityClientId} not found: no user-assigned identity exists at identityResourceId ${ref.identityResourceId} (HTTP 404${code ? ` ${code}` : ''}). ` +
            `Copy the Resource ID from the identity's Properties page (az identity show -g <group> -n <name> --query id) or leave identityResourceId out; Batch pool ${ref.poolName} cannot use an identity that does not exist.`,
          ref.identityClientId,
        );
      }
      throw sanitizeAzureError(err, `get managed identity ${id.name} (resource group ${id.resourceGroup}, subscription ${id.subscriptionId})`);
    }
    const actual = typeof found.clientId === 'string' && GUID_RE.test(found.clientId) ? found.clientId.toLowerCase() : undefined;
    if (actual !== clientId) {
      throw new IdentityNotFoundError(
        `managed identity ${ref.identityClientId} not found at identityResourceId ${ref.identityResourceId}: that identity's client id is ${actual ?? 'not reported'}. ` +
          `identityClientId and identityResourceId must name the same identity (az identity show --ids <resource id> --query clientId); fix one of them before Batch pool ${ref.poolName} can use it.`,
        ref.identityClientId,
      );
    }
    return accept(found, ref.identityResourceId);
  }

  const client = new ManagedServiceIdentityClient(credential, ref.subscriptionId, clientOptions(opts));
  try {
    for await (const found of client.userAssignedIdentities.listBySubscription()) {
      if (typeof found.clientId === 'string' && found.clientId.toLowerCase() === clientId) return accept(found, `client id ${ref.identityClientId}`);
    }
  } catch (err) {
    throw sanitizeAzureError(err, `list managed identities (subscription ${ref.subscriptionId})`);
  }
  throw new IdentityNotFoundError(
    `managed identity ${ref.identityClientId} not found: no user-assigned identity in subscription ${ref.subscriptionId} has that client id. ` +
      `Check the Client ID on the identity's overview page (az identity list --query "[?clientId=='${ref.identityClientId}']"); ` +
      `if the identity lives in another subscription, give its identityResourceId. Batch pool ${ref.poolName} cannot use it until then.`,
    ref.identityClientId,
  );
}

async function checkAttached(credential: TokenCredential, ref: ManagedIdentityRef, identity: ResolvedIdentity, opts: ManagedIdentityOptions): Promise<void> {
  const account: BatchAccountRef = { subscriptionId: ref.subscriptionId, resourceGroup: ref.resourceGroup, accountName: ref.batchAccountName };
  let attached: Record<string, { clientId?: string }> = {};
  try {
    const pool = await poolReader(credential, ref.subscriptionId, opts).get(ref.resourceGroup, ref.batchAccountName, ref.poolName);
    attached = pool.identity?.type === 'UserAssigned' ? (pool.identity.userAssignedIdentities ?? {}) : {};
  } catch (err) {
    const { status, code } = statusOf(err);
    if (status === 404) throw new InvalidInputError(`${poolLabel(ref)} not found (HTTP 404${code ? ` ${code}` : ''}): check poolName and batchAccountName`);
    throw sanitizeAzureError(err, `get pool ${ref.poolName}`, account);
  }
  const clientId = ref.identityClientId.toLowerCase();
  const ok = Object.entries(attached).some(([rid, v]) => sameId(rid, identity.resourceId) || (typeof v?.clientId === 'string' && v.clientId.toLowerCase() === clientId));
  if (ok) return;
  const names = Object.keys(attached)
    .map((rid) => rid.split('/').pop() ?? '')
    .filter((n) => IDENTITY_NAME_RE.test(n));
  const has = names.length ? `it carries ${names.join(', ')}` : Object.keys(attached).length ? 'it carries other identities' : 'it has no user-assigned identity';
  throw new IdentityNotAttachedError(
    `managed identity ${ref.identityClientId} is not attached to ${poolLabel(ref)}: ${has}. ` +
      `Add the identity (resource ID ${identity.resourceId}) to the pool's user-assigned identities (Azure portal: Batch account > Pools > ${ref.poolName} > Identity, ` +
      `or the pool's identity.userAssignedIdentities in ARM), then verify again; nodes can only use identities their pool carries.`,
    ref.identityClientId,
    ref.poolName,
  );
}

interface ScopeCheck {
  requirement: RoleRequirement;
  scope: string;
  label: string;
}

async function checkRoles(
  credential: TokenCredential,
  ref: ManagedIdentityRef,
  identity: ResolvedIdentity,
  opts: ManagedIdentityOptions,
): Promise<{ roles: FoundRole[]; skipped: RoleTarget[] }> {
  const checks: ScopeCheck[] = [];
  const skipped: RoleTarget[] = [];
  if (opts.requireBatchRole === false) skipped.push('batch');
  else {
    checks.push({
      requirement: REQUIRED_ROLES.batch,
      scope: `/subscriptions/${ref.subscriptionId}/resourceGroups/${ref.resourceGroup}/providers/Microsoft.Batch/batchAccounts/${ref.batchAccountName}`,
      label: `Batch account ${ref.batchAccountName}`,
    });
  }
  if (ref.storageAccountName === undefined) skipped.push('storage');
  else {
    checks.push({
      requirement: REQUIRED_ROLES.storage,
      scope: `/subscriptions/${ref.subscriptionId}/resourceGroups/${ref.storageResourceGroup ?? ref.resourceGroup}/providers/Microsoft.Storage/storageAccounts/${ref.storageAccountName}`,
      label: `storage account ${ref.storageAccountName}`,
    });
  }

  const client = new AuthorizationManagementClient(credential, ref.subscriptionId, clientOptions(opts));
  const roles: FoundRole[] = [];
  const missing: Array<MissingRole & { label: string; narrower: boolean }> = [];
  for (const c of checks) {
    const assignments: RoleAssignment[] = [];
    try {
      // principalId is a GUID (checked in resolveIdentity): nothing else reaches the filter. The
      // scope goes in without its leading slash: the SDK's path is "/{scope}/providers/...".
      for await (const a of client.roleAssignments.listForScope(c.scope.slice(1), { filter: `principalId eq '${identity.principalId}'` })) assignments.push(a);
    } catch (err) {
      const { status, code } = statusOf(err);
      if (status === 404) throw new InvalidInputError(`list role assignments on ${c.label}: not found (HTTP 404${code ? ` ${code}` : ''}); check the account name and its resource group`);
      throw sanitizeAzureError(err, `list role assignments on ${c.label} (resource group ${c.scope.split('/')[4]}, subscription ${ref.subscriptionId})`);
    }
    const accepted = new Map(c.requirement.satisfiedBy.map((r) => [r.id, r]));
    let narrower = false;
    let hit: FoundRole | undefined;
    for (const a of assignments) {
      if (typeof a.principalId === 'string' && a.principalId.toLowerCase() !== identity.principalId) continue;
      const roleId = (a.roleDefinitionId ?? '').split('/').pop()?.toLowerCase() ?? '';
      const role = accepted.get(roleId);
      if (!role || typeof a.scope !== 'string') continue;
      // "principalId eq" also lists assignments below the scope (a single container): too narrow.
      if (!coversScope(a.scope, c.scope)) {
        narrower = true;
        continue;
      }
      const found: FoundRole = { target: c.requirement.target, role, scope: a.scope, conditional: typeof a.condition === 'string' && a.condition !== '' };
      // Prefer an unconditional assignment, then the recommended role.
      const rank = (f: FoundRole) => (f.conditional ? 2 : 0) + (f.role === c.requirement.role ? 0 : 1);
      if (!hit || rank(found) < rank(hit)) hit = found;
    }
    if (hit) roles.push(hit);
    else {
      const fix = `az role assignment create --assignee-object-id ${identity.principalId} --assignee-principal-type ServicePrincipal --role "${c.requirement.role.name}" --scope ${c.scope}`;
      missing.push({ requirement: c.requirement, scope: c.scope, fix, label: c.label, narrower });
    }
  }

  if (missing.length) {
    const parts = missing.map((m) => {
      const others = m.requirement.satisfiedBy.filter((r) => r !== m.requirement.role).map((r) => r.name);
      return (
        `role "${m.requirement.role.name}" on ${m.label}${others.length ? ` (or ${others.join(', ')})` : ''}, to ${m.requirement.why}` +
        `${m.narrower ? '; an assignment below the account (e.g. one container) was found but does not cover it' : ''}. Fix: ${m.fix}`
      );
    });
    throw new IdentityRoleMissingError(
      `managed identity ${ref.identityClientId} (principal ${identity.principalId}) on Batch pool ${ref.poolName} lacks ${parts.join('; and ')}. ` +
        'Roles held through a group or a custom role are not recognized by this check; assign the built-in role to the identity itself.',
      ref.identityClientId,
      ref.poolName,
      missing.map(({ requirement, scope, fix }) => ({ requirement, scope, fix })),
    );
  }
  return { roles, skipped };
}

// -- entry point --------------------------------------------------------------------------------

/**
 * Verifies that the managed identity exists, is attached to the pool and holds the roles in
 * REQUIRED_ROLES. Resolves with what it found; throws IdentityNotFoundError, IdentityNotAttachedError
 * or IdentityRoleMissingError (in that order of checking) for a misconfiguration, or a sanitized
 * provider error when the broker's own calls fail. Takes no key and never asks for one: a
 * misconfigured identity is an error, never a reason to use access keys.
 *
 * The broker's credential needs read access to the identity (or to list identities in the
 * subscription), to the pool, and `Microsoft.Authorization/roleAssignments/read` on both accounts.
 */
export async function verifyManagedIdentity(credential: TokenCredential, ref: ManagedIdentityRef, opts: ManagedIdentityOptions = {}): Promise<ManagedIdentityFacts> {
  validateRef(ref);
  const identity = await resolveIdentity(credential, ref, opts);
  await checkAttached(credential, ref, identity, opts);
  const { roles, skipped } = await checkRoles(credential, ref, identity, opts);
  return {
    identityClientId: ref.identityClientId.toLowerCase(),
    identityResourceId: identity.resourceId,
    principalId: identity.principalId,
    poolName: ref.poolName,
    batchAccountName: ref.batchAccountName,
    roles,
    skipped,
  };
}
