/**
 * How every /v1 route is declared: its operation id and summary (the OpenAPI document and the audit
 * trail name it so), method, URL, path parameters and their rules, query, body and answer schemas,
 * which strings of the body are secret, who may call it (`access`), and a handler. addRoute is the
 * one place a declared route meets Fastify, and it applies, in this order, to every route:
 *
 *   1. authentication (an onRequest hook, before the body is even read): 401 without a usable token;
 *   2. the path parameters' rules, the query's, then the body's: 400 naming the field and the rule;
 *   3. authorization (api/auth.ts, from `access`): 404 for what the caller may not see, 403 for what
 *      it sees but may not do;
 *   4. the handler;
 *   5. the audit record of every state-changing call and every refusal (api/auth.ts, before the
 *      answer leaves).
 *
 * The OpenAPI document (api/openapi.ts) is built from the same declarations and schemas.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { WorkspaceAction } from '../domain/access';
import type { AuditEntry } from '../store/types';
import type { ApiContext, ApiRequest } from './context';
import { checkParam, parse, parseQuery } from './validation';

/** Who may call a route; api/auth.ts applies it (docs/access.md has the table). */
export type Access =
  /** Any authenticated identity; the answer holds only what the caller may see. */
  | { kind: 'authenticated' }
  /** Broker administrators. */
  | { kind: 'broker' }
  /** A role in the path's :workspace that grants `action`. */
  | { kind: 'workspace'; action: WorkspaceAction }
  /** The path's :user is the caller (a user secret belongs to its user alone). */
  | { kind: 'ownUser' }
  /** The path's :runId, by the rules for runs of its workspace. */
  | { kind: 'run'; action: 'read' | 'control' }
  /** A launch: the body's workspace, and the user whose secrets the run gets. */
  | { kind: 'launch' }
  /** The path's :workflowId: a rotation of a credential of a workspace where the caller is admin. */
  | { kind: 'rotation' }
  /** Changing the path's :member of :workspace (to the body's role). */
  | { kind: 'member' }
  /** The path's token :id: the caller's own token, or any for a broker administrator. */
  | { kind: 'token' }
  /** The identity named by the body's or the query's user/service: the caller itself, anyone for a broker administrator. */
  | { kind: 'principalChoice' };

/** A path parameter: a record's name or id, a secret name, a run id, or a pattern of its own. */
export type ParamRule = 'ref' | 'secretName' | 'runId' | 'tokenId' | { pattern: RegExp; rule: string };

export interface RouteSpec<S extends z.ZodType = z.ZodType, Q extends z.ZodType = z.ZodType> {
  /** The operation's name in the OpenAPI document and in audit records. */
  operationId: string;
  summary: string;
  /** The OpenAPI tag: the resource group. */
  tag: string;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  /** The status of a successful answer (204: no body). Unset: 200 with what the handler returns. */
  status?: 200 | 201 | 202 | 204;
  /** Every :param of the URL, with its rule. */
  params?: Record<string, ParamRule>;
  /** The query string the route takes (list routes: limit, cursor, filters). Others ignore queries. */
  query?: Q;
  /** The JSON body the route takes. */
  body?: S;
  /** An absent or null body counts as {}. */
  bodyOptional?: boolean;
  /** Checks the body instead of `parse(body, input)`, for rules the schema cannot say. */
  parseBody?: (input: unknown) => z.output<S>;
  /** The strings of the raw body that are secret, redacted from every log line of the request. */
  sensitive?: (raw: unknown) => string[];
  /** The answer's schema (the OpenAPI document's; a test checks real answers against it). */
  response?: z.ZodType;
  access: Access;
  /** Names from the checked body for the audit record (never a value). */
  auditDetail?: (body: z.output<S>) => AuditEntry['detail'];
  /**
   * The answer. `body()` is the checked body (checked before authorization); `query()` the checked
   * query.
   */
  handler(req: ApiRequest, body: () => z.output<S>, query: () => z.output<Q>): Promise<unknown>;
}

/** Register one declared route. */
export function addRoute<S extends z.ZodType, Q extends z.ZodType = z.ZodType>(app: FastifyInstance, ctx: ApiContext, spec: RouteSpec<S, Q>): void {
  const { body: schema, bodyOptional, parseBody, sensitive, status } = spec;
  const declared = [...spec.url.matchAll(/:([A-Za-z]+)/g)].map((m) => m[1]!);
  const missing = declared.filter((p) => !spec.params?.[p]);
  if (missing.length) throw new Error(`${spec.method} ${spec.url} declares no rule for :${missing.join(', :')}`);
  ctx.routes.push(spec as unknown as RouteSpec);
  const checkBody = (req: ApiRequest): z.output<S> => {
    if (!schema) throw new Error(`${spec.method} ${spec.url} declares no body`);
    const input = bodyOptional ? (req.body ?? {}) : req.body;
    return parseBody ? parseBody(input) : parse(schema, input);
  };
  app.route<{ Params: Record<string, string>; Body: unknown; Querystring: unknown }>({
    method: spec.method,
    url: spec.url,
    onRequest: async (req) => {
      ctx.access.noteRoute(req, spec as unknown as RouteSpec);
      await ctx.access.authenticate(req);
    },
    handler: async (req, reply) => {
      if (sensitive) ctx.markSensitive(req, sensitive(req.body));
      for (const [name, rule] of Object.entries(spec.params ?? {})) checkParam(rule, name, req.params[name] ?? '');
      let query: z.output<Q> | undefined;
      if (spec.query) query = parseQuery(spec.query, req.query);
      let parsed: { value: z.output<S> } | undefined;
      const body = (): z.output<S> => (parsed ??= { value: checkBody(req) }).value;
      if (schema) {
        body();
        ctx.access.noteBody(req, spec.auditDetail ? (spec.auditDetail(parsed!.value) ?? {}) : {});
      }
      await ctx.access.authorize(req, spec.access, schema ? parsed!.value : undefined, query);
      const answer = await spec.handler(req, body, () => query as z.output<Q>);
      return status === undefined ? answer : reply.code(status).send(answer);
    },
  });
}
