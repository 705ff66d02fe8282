/**
 * How every /v1 route is declared: method, URL, success status, body schema, which strings of the
 * body are secret, and a handler. addRoute is the one place a declared route meets Fastify, so what
 * applies to every route (authentication, authorization, an OpenAPI document from the schemas)
 * belongs here.
 */
import type { FastifyInstance } from 'fastify';
import type { z } from 'zod';
import type { ApiContext, ApiRequest } from './context';
import { parse } from './validation';

export interface RouteSpec<S extends z.ZodType = z.ZodType> {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  /** The status of a successful answer (204: no body). Unset: 200 with what the handler returns. */
  status?: 200 | 201 | 202 | 204;
  /** The JSON body the route takes. */
  body?: S;
  /** An absent or null body counts as {}. */
  bodyOptional?: boolean;
  /** Checks the body instead of `parse(body, input)`, for rules the schema cannot say. */
  parseBody?: (input: unknown) => z.output<S>;
  /** The strings of the raw body that are secret, redacted from every log line of the request. */
  sensitive?: (raw: unknown) => string[];
  /**
   * The answer. `body()` checks the body against `body` (a ValidationError on the first failing
   * field); each handler calls it at the point where the route checks its body, after or before
   * its path parameters.
   */
  handler(req: ApiRequest, body: () => z.output<S>): Promise<unknown>;
}

/** Register one declared route. */
export function addRoute<S extends z.ZodType>(app: FastifyInstance, ctx: ApiContext, spec: RouteSpec<S>): void {
  const { body: schema, bodyOptional, parseBody, sensitive, status } = spec;
  const checkBody = (req: ApiRequest): z.output<S> => {
    if (!schema) throw new Error(`${spec.method} ${spec.url} declares no body`);
    const input = bodyOptional ? (req.body ?? {}) : req.body;
    return parseBody ? parseBody(input) : parse(schema, input);
  };
  app.route<{ Params: Record<string, string>; Body: unknown }>({
    method: spec.method,
    url: spec.url,
    handler: async (req, reply) => {
      if (sensitive) ctx.markSensitive(req, sensitive(req.body));
      const answer = await spec.handler(req, () => checkBody(req));
      return status === undefined ? answer : reply.code(status).send(answer);
    },
  });
}
