/**
 * The OpenAPI 3.1 document of the budget API, generated from the route table and the same query
 * schemas that validate requests (OpenAPI 3.1 schemas are JSON Schema 2020-12, so the rules
 * file's JSON Schema generator converts them).
 */
import { toJsonSchema } from '../rules/json-schema.js';
import type { JsonObject, JsonValue } from '../rules/json-annotations.js';
import type { ApiRoute } from './routes.js';

export const API_PREFIX = '/api/v1';

const ERROR_REF = { $ref: '#/components/schemas/Error' };

function errorResponse(description: string): JsonObject {
  return { description, content: { 'application/json': { schema: ERROR_REF } } };
}

/** Query parameters of a route: one per property of its (object) query schema. */
function queryParameters(route: ApiRoute): JsonObject[] {
  const schema = toJsonSchema(route.query, { title: route.operationId, description: '' });
  const properties = (schema.properties ?? {}) as Readonly<Record<string, JsonObject>>;
  const required = new Set((schema.required ?? []) as readonly string[]);
  return Object.entries(properties).map(([name, property]) => {
    const { description, ...rest } = property;
    return { name, in: 'query', required: required.has(name), ...(description === undefined ? {} : { description }), schema: rest };
  });
}

const PATH_PARAMETERS: Readonly<Record<string, string>> = {
  team: 'A team name from the rules; a team token may only name its own team (any other answers 404).',
  id: "A budget exception's id, chosen by the admin: 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit.",
};

function pathParameters(path: string): JsonObject[] {
  return [...path.matchAll(/\{([^}]+)\}/g)].map(([, name]) => ({
    name,
    in: 'path',
    required: true,
    description: PATH_PARAMETERS[name] ?? '',
    schema: { type: 'string' },
  }));
}

/** The JSON request body, from the same schema that validates it. */
function requestBody(route: ApiRoute): JsonObject {
  if (route.body === undefined) return {};
  const { $schema: _dialect, title: _title, $defs: _defs, ...schema } = toJsonSchema(route.body, { title: route.operationId, description: route.body.description });
  return { requestBody: { required: true, content: { 'application/json': { schema } } } };
}

function operation(route: ApiRoute): JsonObject {
  const responses: Record<string, JsonValue> = {
    '200': { description: 'OK', content: { 'application/json': { schema: { type: 'object' } } } },
    '400': errorResponse('Invalid query parameters or body (`invalid_query`, `invalid_body`, `invalid_cursor`); unknown parameters and fields are rejected.'),
    '401': errorResponse('No token or an unknown token (`unauthorized`).'),
    '429': errorResponse('Too many requests with this token (`rate_limited`); the Retry-After header says when to retry.'),
  };
  if (route.body !== undefined) responses['413'] = errorResponse('The body is over 1 MiB (`request_too_large`).');
  if (route.access === 'admin') responses['403'] = errorResponse('The token is not an admin token (`forbidden`).');
  if (route.path.includes('{team}')) responses['404'] = errorResponse('No such team visible to this token (`resource_not_found`).');
  return {
    operationId: route.operationId,
    summary: route.summary,
    parameters: [...pathParameters(route.path), ...queryParameters(route)],
    ...requestBody(route),
    responses,
    ...(route.access === 'admin' ? { 'x-tollgate-access': 'admin' } : {}),
  };
}

export function openApiDocument(routes: readonly ApiRoute[], version: string): JsonObject {
  const paths: Record<string, Record<string, JsonObject>> = {};
  for (const route of routes) {
    paths[`${API_PREFIX}${route.path}`] = { ...paths[`${API_PREFIX}${route.path}`], [route.method]: operation(route) };
  }
  paths[`${API_PREFIX}/openapi.json`] = {
    get: { operationId: 'getOpenApi', summary: 'This document (no token needed).', security: [], responses: { '200': { description: 'The OpenAPI document.' } } },
  };
  return {
    openapi: '3.1.0',
    info: { title: 'Tollgate budget API', version, description: 'Budgets, usage, cardinality and violations per team. Bearer tokens come from `api.tokens` (docs/config.md).' },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Error: {
          type: 'object',
          properties: { code: { type: 'string', description: 'A stable code from docs/errors.md.' }, message: { type: 'string' } },
          required: ['code', 'message'],
          additionalProperties: false,
        },
      },
    },
  };
}
