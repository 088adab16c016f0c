import { test } from 'node:test';
import assert from 'node:assert/strict';
import { API_PREFIX, openApiDocument } from '../../api/openapi.js';
import { API_ROUTES } from '../../api/routes.js';
import { TOKENS, startApiFixture } from './support.js';

interface Parameter {
  name: string;
  in: 'path' | 'query';
  required: boolean;
  schema: Record<string, unknown>;
}
interface Operation {
  operationId: string;
  requestBody?: { required: boolean; content: Record<string, { schema: Record<string, unknown> }> };
  parameters: Parameter[];
  responses: Record<string, unknown>;
  security?: unknown[];
}
interface Document {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, Operation>>;
  components: { securitySchemes: Record<string, unknown>; schemas: Record<string, unknown> };
  security: unknown[];
}

/** Field names of a route's query schema, read from the toolkit structure the validator uses. */
function queryFields(route: (typeof API_ROUTES)[number]): string[] {
  const { structure } = route.query;
  assert.equal(structure.kind, 'object', route.path);
  return structure.kind === 'object' ? Object.keys(structure.fields) : [];
}

test('served at /api/v1/openapi.json without a token: OpenAPI 3.1.0, every route, bearer security', async () => {
  const api = await startApiFixture();
  try {
    const { status, body } = await api.get('/api/v1/openapi.json');
    assert.equal(status, 200);
    const doc = body as unknown as Document;
    assert.equal(doc.openapi, '3.1.0');
    assert.equal(doc.info.version, '0.0.0-test');
    assert.deepEqual(doc.security, [{ bearer: [] }]);
    assert.deepEqual(doc.components.securitySchemes.bearer, { type: 'http', scheme: 'bearer' });
    for (const route of API_ROUTES) {
      const operation = doc.paths[`${API_PREFIX}${route.path}`]?.[route.method];
      assert.ok(operation, `${route.method} ${route.path} is documented`);
      assert.equal(operation.operationId, route.operationId);
      assert.ok(operation.responses['200'] && operation.responses['401'], route.path);
    }
    assert.deepEqual(doc.paths[`${API_PREFIX}/openapi.json`].get.security, [], 'the document itself needs no token');
    // A token is accepted there too, and changes nothing.
    assert.deepEqual((await api.get('/api/v1/openapi.json', TOKENS.checkout)).body, body);
  } finally {
    await api.close();
  }
});

test('parameters come from the schemas that validate the queries, and every path parameter is declared', () => {
  const doc = openApiDocument(API_ROUTES, '1.0.0') as unknown as Document;
  const operationIds = new Set<string>();
  for (const route of API_ROUTES) {
    const operation = doc.paths[`${API_PREFIX}${route.path}`][route.method];
    assert.ok(!operationIds.has(operation.operationId), `operationId ${operation.operationId} is unique`);
    operationIds.add(operation.operationId);
    const pathParams = [...route.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
    assert.deepEqual(
      operation.parameters.filter((p) => p.in === 'path').map((p) => [p.name, p.required]),
      pathParams.map((name) => [name, true]),
      route.path,
    );
    assert.deepEqual(
      operation.parameters.filter((p) => p.in === 'query').map((p) => p.name),
      queryFields(route),
      route.path,
    );
    if (pathParams.includes('team')) assert.ok(operation.responses['404'], `${route.path} documents 404`);
    if (route.access === 'admin') assert.ok(operation.responses['403'], `${route.path} documents 403`);
  }
  const violations = doc.paths[`${API_PREFIX}/teams/{team}/violations`].get.parameters;
  assert.deepEqual(
    violations.find((p) => p.name === 'limit'),
    { name: 'limit', in: 'query', required: false, description: 'Page size, 1 to 500.', schema: { type: 'integer', minimum: 1, maximum: 500, default: 50 } },
  );
  const usage = doc.paths[`${API_PREFIX}/teams/{team}/usage`].get.parameters;
  assert.deepEqual(usage.find((p) => p.name === 'signal')?.schema, { enum: ['metrics', 'traces', 'logs'], default: 'metrics' });
  assert.deepEqual(doc.paths[`${API_PREFIX}/rules/validate`].post.requestBody, {
    required: true,
    content: {
      'application/json': {
        schema: {
          description: 'A rules document to lint.',
          type: 'object',
          properties: { rules: { type: 'string', description: "The rules file's text (YAML), as `tollgate lint` reads it." } },
          required: ['rules'],
          additionalProperties: false,
        },
      },
    },
  });
  for (const route of API_ROUTES.filter((r) => r.body === undefined)) {
    assert.equal(doc.paths[`${API_PREFIX}${route.path}`][route.method].requestBody, undefined, route.path);
  }
  assert.doesNotThrow(() => JSON.parse(JSON.stringify(doc)));
});
