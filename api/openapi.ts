/**
 * The OpenAPI 3.1 document of the API, built from the routes as declared (api/route.ts): their
 * paths, parameters, the zod schemas that check their queries and bodies (api/validation.ts), and
 * the schemas of their answers (api/schemas.ts). Served at GET /openapi.json, without a token.
 */
import { z } from 'zod';
import { packageVersion } from './version';
import type { RouteSpec } from './route';
import { errorBody } from './schemas';
import { paramJsonSchema } from './validation';

type Json = Record<string, unknown>;

const ERROR_STATUSES: Record<string, string> = {
  '400': 'a parameter, the query or the body breaks a rule (`field` and `rule` name it); invalid JSON',
  '401': 'no usable token: none, malformed, unknown, revoked or expired; an OIDC token that does not verify',
  '403': 'the caller sees the thing but its role does not allow this (the message names the role needed)',
  '404': 'no such record, or one the caller may not see (the same answer either way)',
  '409': 'the name exists already; the record is in use; a run id launched before; a run that already ended (`outcome` says how)',
  '413': 'the body is over 128 KiB',
  '415': 'the body is not JSON',
  '429': 'too many failed authentications from this address (Retry-After says when to try again)',
  '500': 'the vault\u2019s master key does not open it, or an unexpected error (details in the server log)',
  '503': 'Temporal cannot be reached (Retry-After says when to try again), a service this API process was started without, or the OIDC issuer cannot be reached',
};

/** Replace zod's registry references with component references; drop per-schema $schema/$id. */
function tidy(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(tidy);
  if (v && typeof v === 'object') {
    const out: Json = {};
    for (const [k, x] of Object.entries(v as Json)) {
      if (k === '$schema' || k === '$id') continue;
      if (k === '$ref' && typeof x === 'string') {
        out[k] = x.replace(/^#\/components\/schemas\/__shared#\/\$defs\//, '#/components/schemas/');
        continue;
      }
      out[k] = tidy(x);
    }
    return out;
  }
  return v;
}

/** Convert every schema of `registry` at once; shared named schemas become components. */
function convert(entries: [string, z.ZodType][], io: 'input' | 'output'): Record<string, Json> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of entries) registry.add(schema, { id });
  const out = z.toJSONSchema(registry, { uri: (id) => `#/components/schemas/${id}`, io, unrepresentable: 'any' }) as { schemas: Record<string, Json> };
  const { __shared, ...schemas } = out.schemas;
  const shared = ((__shared as Json | undefined)?.$defs ?? {}) as Record<string, Json>;
  return tidy({ ...shared, ...schemas }) as Record<string, Json>;
}

const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });

export function buildOpenApiDocument(routes: RouteSpec[]): Json {
  const inputs: [string, z.ZodType][] = [];
  const outputs: [string, z.ZodType][] = [['Error', errorBody]];
  for (const r of routes) {
    if (r.body) inputs.push([`${r.operationId}Body`, r.body]);
    if (r.response) outputs.push([`${r.operationId}Answer`, r.response]);
  }
  const components = { ...convert(inputs, 'input'), ...convert(outputs, 'output') };

  const paths: Record<string, Record<string, Json>> = {};
  for (const r of routes) {
    const path = r.url.replace(/:([A-Za-z]+)/g, '{$1}');
    const parameters: Json[] = Object.entries(r.params ?? {}).map(([name, rule]) => ({ name, in: 'path', required: true, schema: paramJsonSchema(rule) }));
    if (r.query && r.query instanceof z.ZodObject) {
      for (const [name, field] of Object.entries(r.query.shape as Record<string, z.ZodType>)) {
        parameters.push({ name, in: 'query', required: false, schema: tidy(z.toJSONSchema(field, { io: 'input', unrepresentable: 'any' })) });
      }
    }
    const status = String(r.status ?? 200);
    const responses: Json = {
      [status]:
        status === '204'
          ? { description: 'done (no body)' }
          : { description: 'success', content: { 'application/json': { schema: r.response ? ref(`${r.operationId}Answer`) : {} } } },
    };
    for (const [code, description] of Object.entries(ERROR_STATUSES)) responses[code] = { description, content: { 'application/json': { schema: ref('Error') } } };
    if (!r.operationId.startsWith('launch')) delete responses['422'];
    if (r.operationId === 'launchRun') responses['422'] = { description: 'the launch failed: missing secrets or permissions, named in `error` (and `missing`)', content: { 'application/json': { schema: ref('Error') } } };
    const op: Json = {
      operationId: r.operationId,
      summary: r.summary,
      tags: [r.tag],
      ...(parameters.length ? { parameters } : {}),
      ...(r.body
        ? { requestBody: { required: !r.bodyOptional, content: { 'application/json': { schema: ref(`${r.operationId}Body`) } } } }
        : {}),
      responses,
    };
    (paths[path] ??= {})[r.method.toLowerCase()] = op;
  }
  const payloads = {
    type: 'object',
    required: ['payloads'],
    properties: { payloads: { type: 'array', items: { type: 'object', properties: { metadata: { type: 'object', additionalProperties: { type: 'string' } }, data: { type: 'string' } } } } },
  };
  for (const op of ['encode', 'decode']) {
    paths[`/codec/${op}`] = {
      post: {
        operationId: `codec${op === 'encode' ? 'Encode' : 'Decode'}`,
        summary: `The Temporal Web UI's remote codec: ${op} payloads (names and references; never a value)`,
        tags: ['codec'],
        description: 'From loopback without a token in the embedded default; otherwise a token of a broker administrator or of an identity with a role in a workspace.',
        requestBody: { required: true, content: { 'application/json': { schema: payloads } } },
        responses: {
          '200': { description: 'the payloads', content: { 'application/json': { schema: payloads } } },
          '400': { description: 'not a list of payloads, or a payload this broker cannot decode' },
          '401': { description: ERROR_STATUSES['401'], content: { 'application/json': { schema: ref('Error') } } },
          '403': { description: ERROR_STATUSES['403'], content: { 'application/json': { schema: ref('Error') } } },
        },
      },
    };
  }
  paths['/healthz'] = { get: { operationId: 'health', summary: 'Liveness', tags: ['meta'], security: [], responses: { '200': { description: 'ok' } } } };
  paths['/openapi.json'] = { get: { operationId: 'openapi', summary: 'This document', tags: ['meta'], security: [], responses: { '200': { description: 'the OpenAPI document' } } } };

  return {
    openapi: '3.1.0',
    info: {
      title: 'secret-broker API',
      version: packageVersion(),
      description:
        'Pipeline secrets into a compute environment for exactly the life of one Nextflow run. Every /v1 route needs `Authorization: Bearer <token>` ' +
        '(a broker API token, `sbt_...`, or an OIDC access token). Errors have one shape (`Error`). Lists are paginated: `?limit=` (1 to 1000, default 100) ' +
        'and `?cursor=` from the previous answer\u2019s `nextCursor`. See docs/access.md for who may call what.',
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    security: [{ bearer: [] }],
    paths,
    components: {
      schemas: components,
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'a broker API token (sbt_...) or an OIDC access token (a JWT of the configured issuer)' } },
    },
  };
}
