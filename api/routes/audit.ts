/**
 * The audit trail: broker administrators read every record; a workspace's admins and owners read
 * that workspace's. Oldest first, filterable by workspace, identity, time, action and outcome;
 * `verify` (broker administrators) walks the hash chain.
 */
import type { FastifyInstance } from 'fastify';
import { decideWorkspace } from '../../domain/access';
import { notFound } from '../../domain/errors';
import type { ApiContext } from '../context';
import { ForbiddenError } from '../errors';
import { addRoute } from '../route';
import { auditRecord, auditVerification, page } from '../schemas';
import { DEFAULT_PAGE_SIZE, decodeCursor, encodeCursor, querySchemas } from '../validation';

export function registerAuditRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { vault } = ctx;
  addRoute(app, ctx, {
    operationId: 'listAudit',
    summary: 'Audit records the caller may read, oldest first',
    tag: 'audit',
    method: 'GET',
    url: '/v1/audit',
    query: querySchemas.audit,
    response: page('records', auditRecord),
    access: { kind: 'authenticated' },
    handler: async (req, _b, query) => {
      const q = query();
      const { principal: p } = ctx.access.caller(req);
      let workspaceIds: string[] | undefined;
      if (q.workspace !== undefined) {
        const ws = await vault.getWorkspace(q.workspace);
        const d = decideWorkspace(p, await vault.access.membership(ws.id, p.id), 'audit');
        if (!d.allow) {
          if (d.answer === 'hidden') throw notFound('workspace', q.workspace);
          throw new ForbiddenError(`forbidden: this needs ${d.needs}`);
        }
        workspaceIds = [ws.id];
      } else if (!p.brokerAdmin) {
        workspaceIds = (await vault.access.membershipsOf(p.id)).filter((m) => decideWorkspace(p, m, 'audit').allow).map((m) => m.workspaceId);
        if (!workspaceIds.length) throw new ForbiddenError('forbidden: this needs the admin role in a workspace, or broker administration');
      }
      const actorId = q.identity === undefined ? undefined : (await vault.access.principal(q.identity)).id;
      const limit = q.limit ?? DEFAULT_PAGE_SIZE;
      const afterSeq = q.cursor === undefined ? undefined : Number(decodeCursor(q.cursor));
      const rows = await vault.audit.list({
        limit: limit + 1,
        ...(workspaceIds ? { workspaceIds } : {}),
        ...(actorId ? { actorId } : {}),
        ...(q.since ? { since: q.since } : {}),
        ...(q.until ? { until: q.until } : {}),
        ...(q.action ? { action: q.action } : {}),
        ...(q.outcome ? { outcome: q.outcome } : {}),
        ...(afterSeq !== undefined && Number.isInteger(afterSeq) ? { afterSeq } : {}),
      });
      const records = rows.slice(0, limit);
      return { records, ...(rows.length > limit ? { nextCursor: encodeCursor(String(records.at(-1)!.seq)) } : {}) };
    },
  });
  addRoute(app, ctx, {
    operationId: 'verifyAudit',
    summary: 'Walk the audit hash chain: the first record that does not match, or the head hash',
    tag: 'audit',
    method: 'GET',
    url: '/v1/audit/verify',
    response: auditVerification,
    access: { kind: 'broker' },
    handler: async () => vault.audit.verify(),
  });
}
