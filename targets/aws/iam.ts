/**
 * IAM verification: does every identity of the run have exactly what the run needs?
 *
 *   broker          CreateSecret, DescribeSecret, DeleteSecret, TagResource (+ PutResourcePolicy with
 *                   the per-run policy) on each pushed secret ARN; ListSecrets on *
 *   execution role  GetSecretValue on each pushed secret ARN (through the per-run resource policy
 *                   when there is one); trusted by ecs-tasks.amazonaws.com
 *   head-job role   ListSecrets on *; with a custom role also iam:GetRole and iam:PassRole on the
 *                   execution role, and trusted by ecs-tasks.amazonaws.com
 *
 * Two evaluators. On the real service (no endpoint override) IAM's own SimulatePrincipalPolicy is
 * asked first: it sees everything IAM sees. Where it is missing (emulators: moto does not implement
 * it), not allowed, or failing, the identity's policies are read (inline, attached managed at their
 * default version, the groups of a user, the permissions boundary) and evaluated in-process with
 * @cloud-copilot/iam-simulate. Trust policies are always evaluated in-process: the simulator API
 * does not evaluate them. Every miss comes back as a MissingPermission quoting the statement that
 * would grant it, from the policies Seqera Platform documents for secrets (targets/aws/policies.ts).
 *
 * Limits of the local evaluation: organization SCPs and RCPs, session policies and VPC endpoint
 * policies cannot be read and are taken as allowing; conditions see only aws:PrincipalArn,
 * aws:PrincipalAccount, aws:RequestedRegion (and aws:SourceAccount for trust), so a condition on any
 * other key does not match (an Allow with it counts as missing, a Deny with it as not applying).
 */
import { runSimulation, type Simulation } from '@cloud-copilot/iam-simulate';
import type { MissingPermission } from '../../domain/run';
import type { IamApi } from '../../remote/aws/clients';
import { isAwsCode, sanitizeAwsError } from '../../remote/aws/errors';
import {
  ECS_TASKS_SERVICE,
  SM,
  brokerIamReadStatement,
  brokerListStatement,
  brokerManageStatement,
  ecsTasksTrustStatement,
  executionReadStatement,
  headJobListStatement,
  headJobPassRoleStatement,
  partitionOf,
  type PolicyDocument,
  type Statement,
} from './policies';

export type IamEvaluation = 'auto' | 'service' | 'local';

export interface IamCheckInput {
  region: string;
  /** The broker's own identity, as STS GetCallerIdentity reports it. */
  callerArn: string;
  callerAccount: string;
  executionRoleArn: string;
  headJobRoleArn: string;
  customRole: boolean;
  /** Exact ARNs of the pushed secrets. */
  secretArns: string[];
  /** The per-run resource policy on those secrets, if one was attached. */
  resourcePolicy?: PolicyDocument;
}

export interface IamCheckOptions {
  /** 'auto': the simulator API on the real service, local evaluation against an endpoint override. */
  mode: IamEvaluation;
  /** True when the clients point at an emulator (an endpoint override is set). */
  emulated: boolean;
  /**
   * The client for SimulatePrincipalPolicy, if not `iam`: one with few retries, so an endpoint
   * that lacks it (a 5xx or 501) costs a moment before local evaluation, not a full backoff.
   */
  simulator?: Pick<IamApi, 'simulatePrincipalPolicy'>;
  /**
   * Policies read by earlier checks with the same identity, reused for POLICY_CACHE_MS (IAM reads are
   * slow and rate-limited per account). A check that finds something missing reads them again.
   */
  policyCache?: PolicyCache;
  /** How long a cached principal's policies serve; default POLICY_CACHE_MS, 0 reads them every time. */
  policyCacheMs?: number;
}

/** One thing the run needs: a principal allowed an action on a resource. */
export interface Need {
  principal: PrincipalRef;
  action: string;
  resource: string;
  statement: Statement;
  resourcePolicy?: PolicyDocument;
}

export interface PrincipalRef {
  /** "broker", "execution role", "head-job role". */
  label: string;
  kind: 'user' | 'role' | 'root' | 'unsupported';
  /** User or role name (for IAM reads). */
  name: string;
  /** The ARN the caller reported or the config names. */
  arn: string;
  account: string;
}

type Decision = { result: 'allowed' } | { result: 'implicit' } | { result: 'explicit'; by: string[] } | { result: 'error'; detail: string };

/** Who a GetCallerIdentity ARN is, for reading its policies. */
export function principalFromArn(label: string, arn: string): PrincipalRef {
  const parts = arn.split(':');
  const account = parts[4] ?? '';
  const resource = parts.slice(5).join(':');
  if (resource === 'root') return { label, kind: 'root', name: 'root', arn, account };
  if (parts[2] === 'iam' && resource.startsWith('user/')) return { label, kind: 'user', name: resource.split('/').pop()!, arn, account };
  if (parts[2] === 'iam' && resource.startsWith('role/')) return { label, kind: 'role', name: resource.split('/').pop()!, arn, account };
  if (parts[2] === 'sts' && resource.startsWith('assumed-role/')) {
    const role = resource.split('/')[1] ?? '';
    return { label, kind: 'role', name: role, arn: `arn:${parts[1]}:iam::${account}:role/${role}`, account };
  }
  return { label, kind: 'unsupported', name: resource, arn, account };
}

/** Everything the run needs, principal by principal. */
export function requiredPermissions(input: IamCheckInput): Need[] {
  const partition = partitionOf(input.executionRoleArn);
  const broker = principalFromArn('broker', input.callerArn);
  const exec = principalFromArn('execution role', input.executionRoleArn);
  const head = principalFromArn('head-job role', input.headJobRoleArn);
  const manage = brokerManageStatement(input.region, input.callerAccount, { perRunResourcePolicy: !!input.resourcePolicy, partition });
  const needs: Need[] = [];
  const brokerActions: string[] = [SM.CreateSecret, SM.DescribeSecret, SM.DeleteSecret, SM.TagResource];
  if (input.resourcePolicy) brokerActions.push(SM.PutResourcePolicy);
  for (const arn of input.secretArns) {
    for (const action of brokerActions) needs.push({ principal: broker, action, resource: arn, statement: manage });
  }
  needs.push({ principal: broker, action: SM.ListSecrets, resource: '*', statement: brokerListStatement() });
  for (const arn of input.secretArns) {
    needs.push({
      principal: exec,
      action: SM.GetSecretValue,
      resource: arn,
      statement: executionReadStatement(input.region, partition),
      ...(input.resourcePolicy ? { resourcePolicy: input.resourcePolicy } : {}),
    });
  }
  needs.push({ principal: head, action: SM.ListSecrets, resource: '*', statement: headJobListStatement() });
  if (input.customRole) {
    for (const action of ['iam:GetRole', 'iam:PassRole']) {
      needs.push({ principal: head, action, resource: input.executionRoleArn, statement: headJobPassRoleStatement(input.executionRoleArn) });
    }
  }
  return needs;
}

// ---------------------------------------------------------------------------------------------
// Reading policies

interface LoadedPolicies {
  identity: { name: string; policy: unknown }[];
  boundary?: { name: string; policy: unknown }[];
  /** Role only: the trust policy. */
  trust?: unknown;
  /** The ARN IAM reports (with the path). */
  arn: string;
}

/** A principal whose policies could not be read: why, as MissingPermissions. */
class Unreadable extends Error {
  constructor(readonly missing: MissingPermission[]) {
    super('unreadable');
  }
}

function parsePolicyDocument(doc: string | undefined): unknown {
  if (!doc) return undefined;
  const text = doc.trimStart().startsWith('{') ? doc : decodeURIComponent(doc);
  return JSON.parse(text);
}

async function paged<T>(fetch: (marker?: string) => Promise<{ items: T[]; marker?: string; truncated?: boolean }>): Promise<T[]> {
  const out: T[] = [];
  let marker: string | undefined;
  for (let i = 0; i < 1000; i++) {
    const page = await fetch(marker);
    out.push(...page.items);
    if (!page.truncated || !page.marker) break;
    marker = page.marker;
  }
  return out;
}

/** How long a principal's policies, read for one run's check, serve the next runs' checks. */
const POLICY_CACHE_MS = 30_000;

/** Policies read lately, by principal, kept across checks (one per AWS identity in a worker). */
export type PolicyCache = Map<string, { at: number; value: Promise<unknown> }>;

class PolicyReader {
  private readonly cache = new Map<string, Promise<LoadedPolicies>>();
  private readonly managed = new Map<string, Promise<unknown>>();
  /** Keys served from the shared cache in this check (re-read if the check finds something missing). */
  readonly reused = new Set<string>();

  constructor(
    private readonly iam: IamApi,
    private readonly brokerLabel: string,
    private readonly shared?: PolicyCache,
    private readonly sharedMs = POLICY_CACHE_MS,
  ) {}

  load(p: PrincipalRef): Promise<LoadedPolicies> {
    const key = `${p.account}:${p.kind}:${p.name}`;
    let hit = this.cache.get(key);
    if (!hit) {
      const earlier = this.shared?.get(key);
      if (earlier && Date.now() - earlier.at < this.sharedMs) {
        this.reused.add(key);
        hit = earlier.value as Promise<LoadedPolicies>;
      } else {
        hit = p.kind === 'user' ? this.loadUser(p) : this.loadRole(p);
        const entry = { at: Date.now(), value: hit };
        this.shared?.set(key, entry);
        // A failed read is not kept: the next check reads again.
        hit.catch(() => {
          if (this.shared?.get(key) === entry) this.shared.delete(key);
        });
      }
      this.cache.set(key, hit);
    }
    return hit;
  }

  /** Run an IAM read; AccessDenied and NoSuchEntity become Unreadable with what to fix. */
  private async read<T>(p: PrincipalRef, action: string, resource: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (isAwsCode(err, 'AccessDenied', 'AccessDeniedException')) {
        throw new Unreadable([
          {
            principal: this.brokerLabel,
            permission: action,
            resource,
            grant: `To verify the ${p.label}'s permissions the broker reads its policies. Attach to the broker identity: ${JSON.stringify(
              brokerIamReadStatement([resource, `arn:${partitionOf(resource)}:iam::*:policy/*`]),
            )}`,
          },
        ]);
      }
      if (isAwsCode(err, 'NoSuchEntity', 'NoSuchEntityException')) {
        throw new Unreadable([
          {
            principal: `${p.label} ${p.arn}`,
            permission: 'exists',
            resource: p.arn,
            grant: `IAM has no ${p.kind} named "${p.name}" in account ${p.account}: create it, or correct the compute environment setting.`,
          },
        ]);
      }
      throw sanitizeAwsError(err, { service: 'iam', operation: action.replace(/^iam:/, ''), target: resource });
    }
  }

  private async managedPolicy(p: PrincipalRef, policyArn: string): Promise<unknown> {
    let hit = this.managed.get(policyArn);
    if (!hit) {
      hit = (async () => {
        const pol = await this.read(p, 'iam:GetPolicy', policyArn, () => this.iam.getPolicy({ PolicyArn: policyArn }));
        const versionId = pol.Policy?.DefaultVersionId;
        if (!versionId) return undefined;
        const v = await this.read(p, 'iam:GetPolicyVersion', policyArn, () => this.iam.getPolicyVersion({ PolicyArn: policyArn, VersionId: versionId }));
        return parsePolicyDocument(v.PolicyVersion?.Document);
      })();
      this.managed.set(policyArn, hit);
    }
    return hit;
  }

  private async attached(p: PrincipalRef, list: { PolicyArn?: string; PolicyName?: string }[]): Promise<{ name: string; policy: unknown }[]> {
    const out: { name: string; policy: unknown }[] = [];
    for (const a of list) {
      if (!a.PolicyArn) continue;
      const policy = await this.managedPolicy(p, a.PolicyArn);
      if (policy) out.push({ name: a.PolicyArn, policy });
    }
    return out;
  }

  private async loadRole(p: PrincipalRef): Promise<LoadedPolicies> {
    const RoleName = p.name;
    const role = await this.read(p, 'iam:GetRole', p.arn, () => this.iam.getRole({ RoleName }));
    const arn = role.Role?.Arn ?? p.arn;
    const inlineNames = await paged(async (Marker) => {
      const r = await this.read(p, 'iam:ListRolePolicies', arn, () => this.iam.listRolePolicies({ RoleName, ...(Marker ? { Marker } : {}) }));
      return { items: r.PolicyNames ?? [], marker: r.Marker, truncated: r.IsTruncated };
    });
    const identity: { name: string; policy: unknown }[] = [];
    for (const PolicyName of inlineNames) {
      const r = await this.read(p, 'iam:GetRolePolicy', arn, () => this.iam.getRolePolicy({ RoleName, PolicyName }));
      identity.push({ name: `${RoleName}/${PolicyName}`, policy: parsePolicyDocument(r.PolicyDocument) });
    }
    const attachedList = await paged(async (Marker) => {
      const r = await this.read(p, 'iam:ListAttachedRolePolicies', arn, () =>
        this.iam.listAttachedRolePolicies({ RoleName, ...(Marker ? { Marker } : {}) }),
      );
      return { items: r.AttachedPolicies ?? [], marker: r.Marker, truncated: r.IsTruncated };
    });
    identity.push(...(await this.attached(p, attachedList)));
    const boundaryArn = role.Role?.PermissionsBoundary?.PermissionsBoundaryArn;
    const boundary = boundaryArn ? await this.attached(p, [{ PolicyArn: boundaryArn }]) : undefined;
    return { identity, arn, trust: parsePolicyDocument(role.Role?.AssumeRolePolicyDocument), ...(boundary ? { boundary } : {}) };
  }

  private async loadUser(p: PrincipalRef): Promise<LoadedPolicies> {
    const UserName = p.name;
    const user = await this.read(p, 'iam:GetUser', p.arn, () => this.iam.getUser({ UserName }));
    const arn = user.User?.Arn ?? p.arn;
    const identity: { name: string; policy: unknown }[] = [];
    const inlineNames = await paged(async (Marker) => {
      const r = await this.read(p, 'iam:ListUserPolicies', arn, () => this.iam.listUserPolicies({ UserName, ...(Marker ? { Marker } : {}) }));
      return { items: r.PolicyNames ?? [], marker: r.Marker, truncated: r.IsTruncated };
    });
    for (const PolicyName of inlineNames) {
      const r = await this.read(p, 'iam:GetUserPolicy', arn, () => this.iam.getUserPolicy({ UserName, PolicyName }));
      identity.push({ name: `${UserName}/${PolicyName}`, policy: parsePolicyDocument(r.PolicyDocument) });
    }
    const attachedList = await paged(async (Marker) => {
      const r = await this.read(p, 'iam:ListAttachedUserPolicies', arn, () =>
        this.iam.listAttachedUserPolicies({ UserName, ...(Marker ? { Marker } : {}) }),
      );
      return { items: r.AttachedPolicies ?? [], marker: r.Marker, truncated: r.IsTruncated };
    });
    identity.push(...(await this.attached(p, attachedList)));
    const groups = await paged(async (Marker) => {
      const r = await this.read(p, 'iam:ListGroupsForUser', arn, () => this.iam.listGroupsForUser({ UserName, ...(Marker ? { Marker } : {}) }));
      return { items: r.Groups ?? [], marker: r.Marker, truncated: r.IsTruncated };
    });
    for (const g of groups) {
      const GroupName = g.GroupName;
      if (!GroupName) continue;
      const groupArn = g.Arn ?? GroupName;
      const names = await paged(async (Marker) => {
        const r = await this.read(p, 'iam:ListGroupPolicies', groupArn, () => this.iam.listGroupPolicies({ GroupName, ...(Marker ? { Marker } : {}) }));
        return { items: r.PolicyNames ?? [], marker: r.Marker, truncated: r.IsTruncated };
      });
      for (const PolicyName of names) {
        const r = await this.read(p, 'iam:GetGroupPolicy', groupArn, () => this.iam.getGroupPolicy({ GroupName, PolicyName }));
        identity.push({ name: `group ${GroupName}/${PolicyName}`, policy: parsePolicyDocument(r.PolicyDocument) });
      }
      const att = await paged(async (Marker) => {
        const r = await this.read(p, 'iam:ListAttachedGroupPolicies', groupArn, () =>
          this.iam.listAttachedGroupPolicies({ GroupName, ...(Marker ? { Marker } : {}) }),
        );
        return { items: r.AttachedPolicies ?? [], marker: r.Marker, truncated: r.IsTruncated };
      });
      identity.push(...(await this.attached(p, att)));
    }
    const boundaryArn = user.User?.PermissionsBoundary?.PermissionsBoundaryArn;
    const boundary = boundaryArn ? await this.attached(p, [{ PolicyArn: boundaryArn }]) : undefined;
    return { identity, arn, ...(boundary ? { boundary } : {}) };
  }
}

// ---------------------------------------------------------------------------------------------
// Evaluating

type AnalyzedStatement = { policyId?: string; statement?: { Sid?: string; sid?: () => string | undefined } };

function policyIdOf(s: AnalyzedStatement): string {
  const st = s.statement;
  const sid = typeof st?.sid === 'function' ? st.sid() : st?.Sid;
  return `${s.policyId ?? 'resource policy'}${sid ? ` (Sid ${sid})` : ''}`;
}

function denyingStatements(analysis: unknown): string[] {
  const out: string[] = [];
  const walk = (node: unknown, depth: number) => {
    if (!node || typeof node !== 'object' || depth > 6) return;
    const n = node as Record<string, unknown>;
    if (Array.isArray(n.denyStatements)) {
      for (const d of n.denyStatements as AnalyzedStatement[]) out.push(policyIdOf(d));
    }
    for (const v of Object.values(n)) if (v && typeof v === 'object') walk(v, depth + 1);
  };
  walk(analysis, 0);
  return [...new Set(out)];
}

async function simulateLocally(
  principalArn: string,
  action: string,
  resource: string,
  resourceAccount: string,
  policies: { identity: { name: string; policy: unknown }[]; boundary?: { name: string; policy: unknown }[] },
  context: Record<string, string>,
  resourcePolicy?: unknown,
): Promise<Decision> {
  const sim: Simulation = {
    request: { principal: principalArn, action, resource: { resource, accountId: resourceAccount }, contextVariables: context },
    identityPolicies: policies.identity,
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    ...(policies.boundary ? { permissionBoundaryPolicies: policies.boundary } : {}),
    ...(resourcePolicy ? { resourcePolicy } : {}),
  };
  const r = await runSimulation(sim, {});
  if (r.resultType === 'error') {
    const errs = r.errors;
    const details = Object.entries({ ...(errs.identityPolicyErrors ?? {}), ...(errs.permissionBoundaryErrors ?? {}) })
      .flatMap(([name, list]) => list.map((e) => `${name} ${e.path}: ${e.message}`))
      .concat((errs.resourcePolicyErrors ?? []).map((e) => `resource policy ${e.path}: ${e.message}`));
    return { result: 'error', detail: details.length ? details.slice(0, 3).join('; ') : errs.message };
  }
  const overall = r.overallResult;
  if (overall === 'Allowed') return { result: 'allowed' };
  if (overall === 'ExplicitlyDenied') {
    const by = r.resultType === 'single' ? denyingStatements(r.result.analysis) : r.results.flatMap((x) => denyingStatements(x.analysis));
    return { result: 'explicit', by };
  }
  return { result: 'implicit' };
}

function missingFor(need: Need, decision: Decision): MissingPermission {
  const principal = `${need.principal.label} ${need.principal.arn}`;
  const statement = JSON.stringify(need.statement);
  let grant: string;
  if (decision.result === 'explicit') {
    const by = decision.by.length ? ` by ${decision.by.join(', ')}` : '';
    grant = `Explicitly denied${by}: remove or narrow that Deny, and make sure this statement applies: ${statement}`;
  } else if (decision.result === 'error') {
    grant = `The policies could not be evaluated (${decision.detail}); fix them, and make sure this statement applies: ${statement}`;
  } else {
    grant = statement;
  }
  return { principal, permission: need.action, resource: need.resource, grant };
}

function contextFor(principalArn: string, account: string, action: string, region: string): Record<string, string> {
  const ctx: Record<string, string> = { 'aws:PrincipalArn': principalArn, 'aws:PrincipalAccount': account };
  if (!action.startsWith('iam:')) ctx['aws:RequestedRegion'] = region;
  return ctx;
}

function accountOfResource(resource: string, fallback: string): string {
  const acct = resource.split(':')[4];
  return acct && /^\d{12}$/.test(acct) ? acct : fallback;
}

/** The simulator API: decisions per action and resource, or undefined when it cannot be used. */
async function simulateWithService(iam: Pick<IamApi, 'simulatePrincipalPolicy'>, policySourceArn: string, needs: Need[]): Promise<Map<string, Decision> | undefined> {
  const out = new Map<string, Decision>();
  // One call per (action, resource policy): the resources of that action together.
  const groups = new Map<string, Need[]>();
  for (const n of needs) {
    const key = `${n.action}|${n.resourcePolicy ? 'rp' : ''}`;
    groups.set(key, [...(groups.get(key) ?? []), n]);
  }
  try {
    for (const group of groups.values()) {
      const first = group[0]!;
      const ResourceArns = [...new Set(group.map((n) => n.resource))];
      let Marker: string | undefined;
      for (let page = 0; page < 100; page++) {
        const r = await iam.simulatePrincipalPolicy({
          PolicySourceArn: policySourceArn,
          ActionNames: [first.action],
          ResourceArns,
          ...(first.resourcePolicy ? { ResourcePolicy: JSON.stringify(first.resourcePolicy) } : {}),
          ...(Marker ? { Marker } : {}),
        });
        for (const ev of r.EvaluationResults ?? []) {
          const action = ev.EvalActionName ?? first.action;
          const perResource = ev.ResourceSpecificResults?.length
            ? ev.ResourceSpecificResults.map((x) => ({ resource: x.EvalResourceName, decision: x.EvalResourceDecision, statements: x.MatchedStatements }))
            : [{ resource: ev.EvalResourceName, decision: ev.EvalDecision, statements: ev.MatchedStatements }];
          for (const pr of perResource) {
            const decision: Decision =
              pr.decision === 'allowed'
                ? { result: 'allowed' }
                : pr.decision === 'explicitDeny'
                  ? { result: 'explicit', by: (pr.statements ?? []).map((s) => s.SourcePolicyId ?? 'a policy') }
                  : { result: 'implicit' };
            const resources = pr.resource && pr.resource !== '*' ? [pr.resource] : ResourceArns;
            for (const res of resources) out.set(`${action}|${res}`, decision);
          }
        }
        if (!r.IsTruncated || !r.Marker) break;
        Marker = r.Marker;
      }
    }
  } catch {
    // Not implemented (emulators), not allowed, or failing: the caller evaluates locally instead.
    return undefined;
  }
  // Every need must have an answer, or the service's answer is not complete enough to trust.
  if (needs.some((n) => !out.has(`${n.action}|${n.resource}`))) return undefined;
  return out;
}

/**
 * Check everything the run needs; [] when all is in place. Throws (sanitized) only for failures
 * that are not about permissions (network, throttling ...), so the activity retries.
 */
export async function verifyIam(iam: IamApi, input: IamCheckInput, opts: IamCheckOptions): Promise<MissingPermission[]> {
  const cache = opts.policyCache;
  const reader = () => new PolicyReader(iam, `broker ${input.callerArn}`, cache, opts.policyCacheMs);
  const first = await verifyOnce(iam, input, opts, reader());
  if (first.missing.length === 0 || !cache || first.reused.size === 0) return first.missing;
  // Something is missing by policies read for an earlier run: read them again, so a grant made since counts.
  for (const key of first.reused) cache.delete(key);
  return (await verifyOnce(iam, input, opts, reader())).missing;
}

async function verifyOnce(iam: IamApi, input: IamCheckInput, opts: IamCheckOptions, reader: PolicyReader): Promise<{ missing: MissingPermission[]; reused: Set<string> }> {
  const needs = requiredPermissions(input);
  const missing: MissingPermission[] = [];
  let serviceUsable = opts.mode === 'service' || (opts.mode === 'auto' && !opts.emulated);

  const byPrincipal = new Map<string, Need[]>();
  for (const n of needs) byPrincipal.set(n.principal.arn, [...(byPrincipal.get(n.principal.arn) ?? []), n]);

  for (const [, group] of byPrincipal) {
    const p = group[0]!.principal;
    if (p.kind === 'root') continue; // the account root may do anything its account allows
    if (p.kind === 'unsupported') {
      missing.push({
        principal: `${p.label} ${p.arn}`,
        permission: 'verifiable identity',
        resource: p.arn,
        grant: 'The broker can verify IAM users and roles (also assumed). Give the broker an IAM user access key, or a role to assume.',
      });
      continue;
    }
    let decisions = serviceUsable ? await simulateWithService(opts.simulator ?? iam, p.arn, group) : undefined;
    // Not there, not allowed or failing: once is enough to know, evaluate the rest locally.
    if (!decisions) serviceUsable = false;
    if (!decisions) {
      let policies: LoadedPolicies;
      try {
        policies = await reader.load(p);
      } catch (err) {
        if (err instanceof Unreadable) {
          missing.push(...err.missing);
          continue;
        }
        throw err;
      }
      decisions = new Map();
      for (const n of group) {
        const ctx = contextFor(policies.arn, p.account, n.action, input.region);
        const d = await simulateLocally(policies.arn, n.action, n.resource, accountOfResource(n.resource, p.account), policies, ctx, n.resourcePolicy);
        decisions.set(`${n.action}|${n.resource}`, d);
      }
    }
    for (const n of group) {
      const d = decisions.get(`${n.action}|${n.resource}`) ?? { result: 'implicit' };
      if (d.result !== 'allowed') missing.push(missingFor(n, d));
    }
  }

  // Trust: the execution role (and a custom head-job role) must be assumable by ECS tasks.
  const trustees = [principalFromArn('execution role', input.executionRoleArn)];
  if (input.customRole) trustees.push(principalFromArn('head-job role', input.headJobRoleArn));
  for (const role of trustees) {
    const need: Need = { principal: role, action: 'sts:AssumeRole', resource: role.arn, statement: ecsTasksTrustStatement() };
    let policies: LoadedPolicies;
    try {
      policies = await reader.load(role);
    } catch (err) {
      if (err instanceof Unreadable) {
        for (const m of err.missing) if (!missing.some((x) => x.principal === m.principal && x.permission === m.permission && x.resource === m.resource)) missing.push(m);
        continue;
      }
      throw err;
    }
    const trustMissing = (d: Decision): MissingPermission => {
      const m = missingFor(need, d);
      return {
        principal: `${role.label} ${policies.arn}`,
        permission: `trust ${ECS_TASKS_SERVICE} (sts:AssumeRole)`,
        resource: policies.arn,
        grant: `Add to the role's trust policy: ${m.grant}`,
      };
    };
    if (!policies.trust) {
      missing.push(trustMissing({ result: 'implicit' }));
      continue;
    }
    const d = await simulateLocally(
      ECS_TASKS_SERVICE,
      'sts:AssumeRole',
      policies.arn,
      role.account,
      { identity: [] },
      { 'aws:SourceAccount': role.account },
      policies.trust,
    );
    if (d.result !== 'allowed') missing.push(trustMissing(d));
  }
  return { missing, reused: reader.reused };
}
