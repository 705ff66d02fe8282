/**
 * Route families for the Azure fake (test/harness/azure-fake.ts) that managed-identity checks need,
 * installed with `AzureIdentityFake.install(fake)` (which calls `fake.use(...)`):
 *
 *   Batch pools           GET .../Microsoft.Batch/batchAccounts/{a}/pools/{p}                    kind 'pool'
 *   User-assigned ids     GET .../resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/
 *                             userAssignedIdentities/{name}                                      kind 'identity'
 *                         GET /subscriptions/{s}/providers/Microsoft.ManagedIdentity/
 *                             userAssignedIdentities (paged: nextLink with $skiptoken)           kind 'identityList'
 *   Role assignments      GET /{scope}/providers/Microsoft.Authorization/roleAssignments
 *                             ?$filter=principalId eq '{id}' | atScope() | none                  kind 'roleAssignments'
 *
 * Bodies follow the REST shapes the SDKs deserialize: a pool's `identity` is
 * `{type: 'UserAssigned', userAssignedIdentities: {<resource id>: {principalId, clientId}}}` (arm-batch
 * BatchPoolIdentity), an identity's ids sit under `properties` (arm-msi flattens them), a role
 * assignment's fields sit under `properties` (arm-authorization). Every route checks the bearer token
 * and api-version first (ctx.requireBearer), so `fake.failNext(n, { kinds: ['roleAssignments'], status:
 * 403, code: 'AuthorizationFailed' })` makes ARM refuse the broker like a missing RBAC permission would.
 *
 * Identity resource ids are spelt `/resourcegroups/` in lower case, as ARM often gives them, so a
 * consumer comparing them with the pool's keys or a configured id must ignore case.
 *
 * Role-assignment listing follows the documented filter semantics: `principalId eq` returns the
 * principal's assignments at, above or below the scope; `atScope()` those at or above; no filter all
 * at, above or below. Group memberships and management groups are not modelled.
 *
 * Uncertain (not confirmed against Azure): the error code for a missing pool (ARM's generic
 * ResourceNotFound is used for pools, identities and their parents alike), and whether listing role
 * assignments for a scope whose resource does not exist is refused (here it simply lists).
 */
import { randomUUID } from 'node:crypto';
import { armError, json, type AzureFake, type FakeRouteContext } from './azure-fake';

export interface FakeIdentityInit {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  location?: string;
  /** Default: a random GUID. */
  clientId?: string;
  /** The identity's service principal object id. Default: a random GUID. */
  principalId?: string;
  tenantId?: string;
}

export interface FakeIdentity extends Required<FakeIdentityInit> {
  /** `/subscriptions/.../resourceGroups/.../providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}` */
  resourceId: string;
}

export interface FakePoolInit {
  subscriptionId: string;
  resourceGroup: string;
  accountName: string;
  name: string;
  /** Identities attached to the pool (none: identity type None). */
  identities?: FakeIdentity[];
  vmSize?: string;
}

export interface FakePool extends Required<Omit<FakePoolInit, 'identities'>> {
  identities: FakeIdentity[];
  resourceId: string;
}

export interface FakeRoleAssignmentInit {
  /** The scope: a resource id, resource group, subscription, or '/' (no trailing slash otherwise). */
  scope: string;
  /** The role definition GUID (built-in roles: the same GUID in every subscription). */
  roleDefinitionId: string;
  principalId: string;
  principalType?: 'ServicePrincipal' | 'User' | 'Group';
  /** An ABAC condition, if any. */
  condition?: string;
}

export interface FakeRoleAssignment extends Required<Omit<FakeRoleAssignmentInit, 'condition'>> {
  condition?: string;
  id: string;
  name: string;
}

const BATCH_POOL_RE = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Batch\/batchAccounts\/([^/]+)\/pools\/([^/]+)$/i;
const IDENTITY_RE = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.ManagedIdentity\/userAssignedIdentities\/([^/]+)$/i;
const IDENTITY_LIST_RE = /^\/subscriptions\/([^/]+)\/providers\/Microsoft\.ManagedIdentity\/userAssignedIdentities$/i;
const ROLE_ASSIGNMENTS_RE = /^(.*)\/providers\/Microsoft\.Authorization\/roleAssignments$/i;
const PRINCIPAL_FILTER_RE = /^principalId eq '([0-9a-f-]{36})'$/i;

/** ARM ids compare without regard to case and trailing slashes. */
function norm(scope: string): string {
  const s = scope.toLowerCase().replace(/\/+$/, '');
  return s === '' ? '/' : s;
}

/** a is b, or an ancestor of b. */
function atOrAbove(a: string, b: string): boolean {
  const x = norm(a);
  const y = norm(b);
  return x === '/' || x === y || y.startsWith(`${x}/`);
}

export class AzureIdentityFake {
  private readonly identities = new Map<string, FakeIdentity>();
  private readonly pools = new Map<string, FakePool>();
  private readonly assignments: FakeRoleAssignment[] = [];

  private constructor(
    readonly fake: AzureFake,
    /** How many identities one page of the subscription listing holds (to exercise nextLink). */
    readonly identityPageSize: number,
  ) {}

  static install(fake: AzureFake, opts: { identityPageSize?: number } = {}): AzureIdentityFake {
    const ext = new AzureIdentityFake(fake, opts.identityPageSize ?? 50);
    fake.use((ctx) => ext.route(ctx));
    return ext;
  }

  addIdentity(init: FakeIdentityInit): FakeIdentity {
    const id: FakeIdentity = {
      location: 'westeurope',
      clientId: randomUUID(),
      principalId: randomUUID(),
      tenantId: '11111111-2222-3333-4444-555555555555',
      ...init,
      resourceId: `/subscriptions/${init.subscriptionId}/resourcegroups/${init.resourceGroup}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${init.name}`,
    };
    this.identities.set(norm(id.resourceId), id);
    return id;
  }

  removeIdentity(identity: FakeIdentity): void {
    this.identities.delete(norm(identity.resourceId));
  }

  addPool(init: FakePoolInit): FakePool {
    const pool: FakePool = {
      vmSize: 'STANDARD_D4S_V3',
      ...init,
      identities: [...(init.identities ?? [])],
      resourceId: `/subscriptions/${init.subscriptionId}/resourceGroups/${init.resourceGroup}/providers/Microsoft.Batch/batchAccounts/${init.accountName}/pools/${init.name}`,
    };
    this.pools.set(norm(pool.resourceId), pool);
    return pool;
  }

  attach(pool: FakePool, identity: FakeIdentity): void {
    if (!pool.identities.includes(identity)) pool.identities.push(identity);
  }

  detach(pool: FakePool, identity: FakeIdentity): void {
    pool.identities = pool.identities.filter((i) => i !== identity);
  }

  assignRole(init: FakeRoleAssignmentInit): FakeRoleAssignment {
    const name = randomUUID();
    const scope = init.scope === '/' ? '/' : init.scope.replace(/\/+$/, '');
    const a: FakeRoleAssignment = {
      principalType: 'ServicePrincipal',
      ...init,
      scope,
      name,
      id: `${scope === '/' ? '' : scope}/providers/Microsoft.Authorization/roleAssignments/${name}`,
    };
    this.assignments.push(a);
    return a;
  }

  removeRoleAssignment(a: FakeRoleAssignment): void {
    const i = this.assignments.indexOf(a);
    if (i >= 0) this.assignments.splice(i, 1);
  }

  /** The route installed on the fake; true when it answered. */
  route(ctx: FakeRouteContext): boolean {
    const { method, url, res, call } = ctx;
    const path = decodeURIComponent(url.pathname);
    const pool = BATCH_POOL_RE.exec(path);
    const identity = IDENTITY_RE.exec(path);
    const identityList = IDENTITY_LIST_RE.exec(path);
    const roles = ROLE_ASSIGNMENTS_RE.exec(path);
    if (!pool && !identity && !identityList && !roles) return false;
    call.kind = pool ? 'pool' : identity ? 'identity' : identityList ? 'identityList' : 'roleAssignments';
    if (pool) call.account = pool[3];
    if (!ctx.requireBearer()) return true;
    if (method !== 'GET') {
      armError(res, 405, 'MethodNotAllowed', `${method} is not supported here`);
      return true;
    }

    if (pool) {
      const [, sub, rg, account, name] = pool;
      if (!this.fake.batchAccount(sub, rg, account)) {
        armError(res, 404, 'ResourceNotFound', `The Resource 'Microsoft.Batch/batchAccounts/${account}' under resource group '${rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`);
        return true;
      }
      const p = this.pools.get(norm(path));
      if (!p) {
        armError(res, 404, 'ResourceNotFound', `The Resource 'Microsoft.Batch/batchAccounts/${account}/pools/${name}' under resource group '${rg}' was not found.`);
        return true;
      }
      ctx.finish(() => json(res, 200, this.poolBody(p), { etag: `W/"0x8DC${Date.now().toString(16).toUpperCase()}"` }));
      return true;
    }

    if (identity) {
      const [, , rg, name] = identity;
      const found = this.identities.get(norm(path));
      if (!found) {
        armError(res, 404, 'ResourceNotFound', `The Resource 'Microsoft.ManagedIdentity/userAssignedIdentities/${name}' under resource group '${rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`);
        return true;
      }
      ctx.finish(() => json(res, 200, this.identityBody(found)));
      return true;
    }

    if (identityList) {
      const sub = identityList[1].toLowerCase();
      const all = [...this.identities.values()].filter((i) => i.subscriptionId.toLowerCase() === sub);
      const skip = Number(url.searchParams.get('$skiptoken') ?? '0') || 0;
      const page = all.slice(skip, skip + this.identityPageSize);
      const next = skip + this.identityPageSize < all.length ? new URL(url.toString()) : undefined;
      next?.searchParams.set('$skiptoken', String(skip + this.identityPageSize));
      ctx.finish(() => json(res, 200, { value: page.map((i) => this.identityBody(i)), ...(next ? { nextLink: next.toString() } : {}) }));
      return true;
    }

    // Role assignments for a scope.
    const scope = roles![1] === '' ? '/' : roles![1];
    const filter = url.searchParams.get('$filter');
    let principal: string | undefined;
    let atScopeOnly = false;
    if (filter !== null && filter !== '') {
      const m = PRINCIPAL_FILTER_RE.exec(filter.trim());
      if (m) principal = m[1].toLowerCase();
      else if (filter.trim() === 'atScope()') atScopeOnly = true;
      else {
        armError(res, 400, 'UnsupportedQuery', 'The filter is not supported.');
        return true;
      }
    }
    const value = this.assignments
      .filter((a) => (principal ? a.principalId.toLowerCase() === principal : true))
      .filter((a) => atOrAbove(a.scope, scope) || (!atScopeOnly && atOrAbove(scope, a.scope)))
      .map((a) => this.assignmentBody(a));
    ctx.finish(() => json(res, 200, { value }));
    return true;
  }

  private poolBody(p: FakePool): unknown {
    const now = new Date().toISOString();
    const identity =
      p.identities.length === 0
        ? { type: 'None' }
        : { type: 'UserAssigned', userAssignedIdentities: Object.fromEntries(p.identities.map((i) => [i.resourceId, { principalId: i.principalId, clientId: i.clientId }])) };
    return {
      id: p.resourceId,
      name: p.name,
      type: 'Microsoft.Batch/batchAccounts/pools',
      etag: 'W/"0x8DC000000000000"',
      identity,
      properties: {
        lastModified: now,
        creationTime: now,
        provisioningState: 'Succeeded',
        provisioningStateTransitionTime: now,
        allocationState: 'Steady',
        allocationStateTransitionTime: now,
        vmSize: p.vmSize,
        interNodeCommunication: 'Disabled',
        taskSlotsPerNode: 1,
        taskSchedulingPolicy: { nodeFillType: 'Spread' },
        deploymentConfiguration: {
          virtualMachineConfiguration: {
            imageReference: { publisher: 'microsoft-dsvm', offer: 'ubuntu-hpc', sku: '2204', version: 'latest' },
            nodeAgentSkuId: 'batch.node.ubuntu 22.04',
          },
        },
        scaleSettings: { fixedScale: { targetDedicatedNodes: 0, targetLowPriorityNodes: 0, resizeTimeout: 'PT15M' } },
        currentDedicatedNodes: 0,
        currentLowPriorityNodes: 0,
        resizeOperationStatus: { targetDedicatedNodes: 0, nodeDeallocationOption: 'Requeue', resizeTimeout: 'PT15M', startTime: now },
      },
    };
  }

  private identityBody(i: FakeIdentity): unknown {
    return {
      id: i.resourceId,
      name: i.name,
      type: 'Microsoft.ManagedIdentity/userAssignedIdentities',
      location: i.location,
      tags: {},
      properties: { isolationScope: 'None', tenantId: i.tenantId, principalId: i.principalId, clientId: i.clientId },
    };
  }

  private assignmentBody(a: FakeRoleAssignment): unknown {
    const sub = /^\/subscriptions\/([^/]+)/i.exec(a.scope)?.[1];
    const now = new Date().toISOString();
    return {
      id: a.id,
      name: a.name,
      type: 'Microsoft.Authorization/roleAssignments',
      properties: {
        roleDefinitionId: `${sub ? `/subscriptions/${sub}` : ''}/providers/Microsoft.Authorization/roleDefinitions/${a.roleDefinitionId}`,
        principalId: a.principalId,
        principalType: a.principalType,
        scope: a.scope,
        condition: a.condition ?? null,
        conditionVersion: a.condition ? '2.0' : null,
        createdOn: now,
        updatedOn: now,
        createdBy: null,
        updatedBy: null,
        delegatedManagedIdentityResourceId: null,
        description: null,
      },
    };
  }
}
