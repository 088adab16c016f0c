// Budget exceptions over the API: admin writes, team reads, validation, the audit row written in
// the same transaction as the change, expiry by the clock alone, and the forecast on …/budget.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Sqlite from 'better-sqlite3';
import { MIN, T0, TOKENS, startApiFixture } from './support.js';

const HOUR = 60 * MIN;
const PATH = '/api/v1/teams/checkout/exceptions';
const body = (overrides: Record<string, unknown> = {}) => ({ max_active_series: 2000, reason: 'launch week', expires_at: new Date(T0 + HOUR).toISOString(), ...overrides });

test('admin puts, lists and deletes an exception; each change is audited with the token name', async () => {
  const api = await startApiFixture();
  try {
    const put = await api.request('PUT', `${PATH}/launch`, TOKENS.admin, body());
    assert.equal(put.status, 200);
    assert.equal(put.body.created, true);
    assert.deepEqual(put.body.exception, {
      team: 'checkout',
      id: 'launch',
      signal: 'metrics',
      max_active_series: 2000,
      reason: 'launch week',
      expires_at: '2025-01-15T11:00:00.000Z',
      created_at: '2025-01-15T10:00:00.000Z',
      updated_at: '2025-01-15T10:00:00.000Z',
      updated_by: 'ops',
    });
    // The team sees its own exceptions; another team does not see them exist.
    const listed = await api.get(PATH, TOKENS.checkout);
    assert.equal(listed.status, 200);
    assert.deepEqual((listed.body.exceptions as unknown[]).length, 1);
    assert.equal((await api.get(PATH, TOKENS.search)).status, 404);
    // The budget shows the raised limit.
    const budget = await api.get('/api/v1/teams/checkout/budget', TOKENS.checkout);
    assert.equal((budget.body.signals as { metrics: { limit: number } }).metrics.limit, 2000);
    assert.equal(api.store.activeLimitOverride('checkout', T0), 2000);

    api.clock.t = T0 + MIN;
    const replaced = await api.request('PUT', `${PATH}/launch`, TOKENS.admin, body({ max_active_series: 3000, reason: 'more' }));
    assert.equal(replaced.body.created, false);
    assert.equal(api.store.activeLimitOverride('checkout', T0 + MIN), 3000);

    const deleted = await api.request('DELETE', `${PATH}/launch`, TOKENS.admin);
    assert.equal(deleted.status, 200);
    assert.equal((deleted.body.ended as { max_active_series: number }).max_active_series, 3000);
    assert.equal(api.store.activeLimitOverride('checkout', T0 + MIN), undefined);
    assert.deepEqual((await api.get(PATH, TOKENS.admin)).body.exceptions, []);
    const again = await api.request('DELETE', `${PATH}/launch`, TOKENS.admin);
    assert.equal(again.status, 404);
    assert.equal(again.body.code, 'resource_not_found');

    const audit = api.store.exceptions.audit('checkout');
    assert.deepEqual(
      audit.map((a) => [a.action, a.actor, a.at, a.oldValue?.maxActiveSeries ?? null, a.newValue?.maxActiveSeries ?? null, a.reason]),
      [
        ['put', 'ops', T0, null, 2000, 'launch week'],
        ['put', 'ops', T0 + MIN, 2000, 3000, 'more'],
        ['delete', 'ops', T0 + MIN, 3000, null, null],
      ],
    );
  } finally {
    await api.close();
  }
});

test('team tokens get 403 on PUT and DELETE, even for their own team', async () => {
  const api = await startApiFixture();
  try {
    for (const method of ['PUT', 'DELETE']) {
      const response = await api.request(method, `${PATH}/x`, TOKENS.checkout, method === 'PUT' ? body() : undefined);
      assert.equal(response.status, 403, method);
      assert.equal(response.body.code, 'forbidden');
    }
    assert.deepEqual(api.store.exceptions.audit('checkout'), []);
  } finally {
    await api.close();
  }
});

test('validation: 400 for a missing or blank reason, a past or missing expiry, a bad limit, unknown fields, a bad id', async () => {
  const api = await startApiFixture();
  try {
    const cases: [string, unknown, string][] = [
      ['launch', { max_active_series: 2000, expires_at: new Date(T0 + HOUR).toISOString() }, 'invalid_body'],
      ['launch', body({ reason: '' }), 'invalid_body'],
      ['launch', body({ reason: '   ' }), 'invalid_body'],
      ['launch', body({ expires_at: new Date(T0 - MIN).toISOString() }), 'invalid_body'],
      ['launch', body({ expires_at: new Date(T0).toISOString() }), 'invalid_body'],
      ['launch', body({ expires_at: T0 + HOUR }), 'invalid_body'],
      ['launch', { max_active_series: 2000, reason: 'r' }, 'invalid_body'],
      ['launch', body({ max_active_series: -1 }), 'invalid_body'],
      ['launch', body({ max_active_series: 1.5 }), 'invalid_body'],
      ['launch', body({ max_active_series: '2000' }), 'invalid_body'],
      ['launch', body({ signal: 'traces' }), 'invalid_body'],
      ['launch', body({ team: 'search' }), 'invalid_body'],
      ['bad%20id', body(), 'invalid_query'],
    ];
    for (const [id, payload, code] of cases) {
      const response = await api.request('PUT', `${PATH}/${id}`, TOKENS.admin, payload);
      assert.equal(response.status, 400, JSON.stringify(payload));
      assert.equal(response.body.code, code, JSON.stringify(payload));
    }
    const missing = await api.request('PUT', '/api/v1/teams/nope/exceptions/launch', TOKENS.admin, body());
    assert.equal(missing.status, 404);
    assert.deepEqual(api.store.exceptions.audit('checkout'), []);
    assert.equal(api.store.activeLimitOverride('checkout', T0), undefined);
  } finally {
    await api.close();
  }
});

test('the exception and its audit row are one transaction: a failing audit insert leaves no exception', async () => {
  const api = await startApiFixture();
  try {
    // Another connection makes every audit insert fail.
    const other = new Sqlite(api.store.path);
    other.exec("CREATE TRIGGER audit_down BEFORE INSERT ON exception_audit BEGIN SELECT RAISE(ABORT, 'audit down'); END");
    const failed = await api.request('PUT', `${PATH}/launch`, TOKENS.admin, body());
    assert.equal(failed.status, 500);
    assert.deepEqual(failed.body, { code: 'internal', message: failed.body.message });
    assert.equal(other.prepare('SELECT count(*) FROM exceptions').pluck().get(), 0);
    assert.equal(other.prepare('SELECT count(*) FROM exception_audit').pluck().get(), 0);
    assert.equal(api.store.activeLimitOverride('checkout', T0), undefined);
    assert.deepEqual((await api.get(PATH, TOKENS.admin)).body.exceptions, []);

    other.exec('DROP TRIGGER audit_down');
    assert.equal((await api.request('PUT', `${PATH}/launch`, TOKENS.admin, body())).status, 200);
    assert.equal(other.prepare('SELECT count(*) FROM exceptions').pluck().get(), 1);
    const row = other.prepare('SELECT actor, action, team, id, old_value, new_value, reason FROM exception_audit').get() as Record<string, unknown>;
    assert.deepEqual({ ...row, new_value: JSON.parse(String(row.new_value)) as unknown }, {
      actor: 'ops',
      action: 'put',
      team: 'checkout',
      id: 'launch',
      old_value: null,
      new_value: { team: 'checkout', id: 'launch', signal: 'metrics', maxActiveSeries: 2000, reason: 'launch week', expiresAt: T0 + HOUR, createdAt: T0, updatedAt: T0, actor: 'ops' },
      reason: 'launch week',
    });
    other.close();
  } finally {
    await api.close();
  }
});

test('an exception stops applying at its expiry without anything running', async () => {
  const api = await startApiFixture();
  try {
    assert.equal((await api.request('PUT', `${PATH}/short`, TOKENS.admin, body({ expires_at: new Date(T0 + 5 * MIN).toISOString() }))).status, 200);
    api.clock.t = T0 + 5 * MIN - 1;
    assert.equal(api.store.activeLimitOverride('checkout', api.clock.t), 2000);
    assert.equal(((await api.get(PATH, TOKENS.checkout)).body.exceptions as unknown[]).length, 1);
    api.clock.t = T0 + 5 * MIN;
    assert.equal(api.store.activeLimitOverride('checkout', api.clock.t), undefined);
    assert.deepEqual((await api.get(PATH, TOKENS.checkout)).body.exceptions, []);
    const budget = await api.get('/api/v1/teams/checkout/budget', TOKENS.checkout);
    assert.equal((budget.body.signals as { metrics: { limit: number } }).metrics.limit, 1000);
  } finally {
    await api.close();
  }
});

test('forecast on …/budget: least squares over the minute rows of team series, hand-computed', async () => {
  const api = await startApiFixture();
  try {
    // search (limit 100) is already over: seed a fresh team state for checkout (limit 1000) instead.
    // Minute rows at T0+1m..T0+4m with 850 (seeded at T0−1m), 870, 880, 900, 910:
    // x in minutes from T0−1m: 0,2,3,4,5 (T0 itself has no row); fit by hand:
    // mean x = 14/5 = 2.8, mean y = 4410/5 = 882; Sxy = Σ(x−2.8)(y−882) = (−2.8)(−32)+(−0.8)(−12)+(0.2)(−2)+(1.2)(18)+(2.2)(28)
    //   = 89.6 + 9.6 − 0.4 + 21.6 + 61.6 = 182; Sxx = 7.84+0.64+0.04+1.44+4.84 = 14.8; slope = 182/14.8 series per minute.
    // Reaches 1000 at x = 2.8 + (1000 − 882) / (182/14.8) = 2.8 + 118·14.8/182 minutes.
    const values: [number, number][] = [[1, 870], [2, 880], [3, 900], [4, 910]];
    for (const [minute, active] of values) {
      api.clock.t = T0 + minute * MIN + 1_000;
      api.store.recordTeamSeries('checkout', active);
    }
    api.store.flush();
    api.clock.t = T0 + 5 * MIN;
    const budget = await api.get('/api/v1/teams/checkout/budget', TOKENS.checkout);
    const metrics = (budget.body.signals as { metrics: Record<string, unknown> }).metrics;
    const expected = T0 - MIN + Math.round((2.8 + (118 * 14.8) / 182) * MIN);
    assert.equal(metrics.forecast_exhausted_at, new Date(expected).toISOString());
    assert.match(String(metrics.forecast_method), /least squares over the last 30 minute rows/);

    // Not growing: a falling series has no exhaustion time.
    api.clock.t = T0 + 5 * MIN + 1_000;
    api.store.recordTeamSeries('checkout', 100);
    api.store.flush();
    api.clock.t = T0 + 6 * MIN;
    const falling = await api.get('/api/v1/teams/checkout/budget', TOKENS.checkout);
    assert.equal((falling.body.signals as { metrics: Record<string, unknown> }).metrics.forecast_exhausted_at, null);
    // Already over the limit: exhausted as of the data (search has 120 of 100).
    const search = await api.get('/api/v1/teams/search/budget', TOKENS.search);
    assert.equal((search.body.signals as { metrics: Record<string, unknown> }).metrics.forecast_exhausted_at, new Date(T0 - MIN).toISOString());
  } finally {
    await api.close();
  }
});
