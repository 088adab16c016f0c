// POST /api/v1/check on the API fixture (seeded store: checkout 850 of 1,000 active series,
// search 120 of 100): current usage comes from the store, and a team token sees only its own
// team's findings and metrics, with the verdict recomputed over them.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRules } from '../../rules/load.js';
import { RULES_YAML, startApiFixture, TOKENS } from '../api/support.js';
import type { ApiFixture } from '../api/support.js';
import { metricsRequest } from './support.js';

interface Report {
  passed: boolean;
  findings: { rule_id: string; team: string | null; level: string; message: string }[];
  metrics: { team: string; name: string }[];
}

describe('POST /api/v1/check', () => {
  let api: ApiFixture;
  before(async () => {
    api = await startApiFixture();
  });
  after(() => api.close());

  const body = {
    otlp: [JSON.parse(metricsRequest({ 'service.name': 'checkout' }, { 'cart.items': [{}] })) as object, JSON.parse(metricsRequest({ 'service.name': 'search' }, { 'search.queries': [{}] })) as object],
  };

  test('admin: every team, usage from the store', async () => {
    const response = await api.request('POST', '/api/v1/check', TOKENS.admin, body);
    assert.equal(response.status, 200, JSON.stringify(response.body));
    const report = response.body as unknown as Report;
    const projected = report.findings.filter((f) => f.rule_id === 'budget/projected-active-series');
    assert.deepEqual(projected.map((f) => [f.team, f.level]).sort(), [['checkout', 'warning'], ['search', 'error']]);
    assert.match(projected.find((f) => f.team === 'search')!.message, /121 active series \(120 active now \+ 1 in this sample\), over its budget of 100/);
    assert.match(projected.find((f) => f.team === 'checkout')!.message, /851 active series \(850 active now \+ 1 in this sample\)/);
    assert.equal(report.passed, false);
  });

  test('a team token sees its own team only, and the verdict is its own', async () => {
    const response = await api.request('POST', '/api/v1/check', TOKENS.checkout, body);
    assert.equal(response.status, 200);
    const report = response.body as unknown as Report;
    assert.deepEqual([...new Set(report.findings.map((f) => f.team))], ['checkout']);
    assert.deepEqual(report.metrics.map((m) => m.name), ['cart.items']);
    assert.equal(report.passed, true, 'the checkout warning alone does not fail at fail_on error');
    const strict = await api.request('POST', '/api/v1/check', TOKENS.checkout, { ...body, fail_on: 'warning' });
    assert.equal((strict.body as unknown as Report).passed, false);
  });

  test('a body that is not a sample is invalid_body with the key path', async () => {
    const bad = await api.request('POST', '/api/v1/check', TOKENS.admin, { otlp: 'nope' });
    assert.equal(bad.status, 400);
    assert.match(String(bad.body.message), /otlp: must be an array of OTLP\/JSON request objects/);
    const unknown = await api.request('POST', '/api/v1/check', TOKENS.admin, { ...body, colour: 'red' });
    assert.equal(unknown.status, 400);
    const malformed = await api.request('POST', '/api/v1/check', TOKENS.admin, { otlp: [{ resourceMetrics: 'x' }] });
    assert.equal(malformed.status, 400);
    assert.match(String(malformed.body.message), /not an OTLP\/JSON metrics request/);
  });
});

describe('POST /api/v1/check with an enforced reject policy', () => {
  let api: ApiFixture;
  before(async () => {
    const rules = parseRules(`${RULES_YAML}attribute_policies:\n  - name: no-cards\n    signals: [metrics]\n    values: [credit_card]\n    action: reject\n`, 'rules.yaml');
    api = await startApiFixture({ rules: () => rules });
  });
  after(() => api.close());

  test('a sample whose every point the policy rejects is checked (not an empty body), with the reject finding', async () => {
    const otlp = [JSON.parse(metricsRequest({ 'service.name': 'checkout' }, { payments: [{ card: '4111111111111111' }] })) as object];
    const response = await api.request('POST', '/api/v1/check', TOKENS.admin, { otlp });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    const report = response.body as unknown as Report;
    assert.deepEqual(report.findings.map((f) => [f.rule_id, f.level]), [['attribute-policy/no-cards', 'error']]);
    assert.equal(report.passed, false);
    assert.ok(!JSON.stringify(report).includes('4111111111111111'), 'the card number is not in the answer');
  });
});
