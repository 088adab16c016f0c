import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { BudgetReader } from '../../collector/usage/reader.js';
import { MIN, RULES_YAML, T0, TOKENS, startApiFixture } from './support.js';
import type { ApiFixture } from './support.js';

let api: ApiFixture;
before(async () => {
  api = await startApiFixture();
});
after(() => api.close());

const iso = (ms: number): string => new Date(ms).toISOString();

test('GET /teams: admin sees every team of the rules with its worst status and highest utilization', async () => {
  const { status, body } = await api.get('/api/v1/teams', TOKENS.admin);
  assert.equal(status, 200);
  const teams = body.teams as { name: string; status: string; utilization: number | null }[];
  assert.deepEqual(
    teams.map((t) => t.name),
    api.rules.teams.map((t) => t.name),
  );
  // checkout: 850 of 1,000 series (0.85, past 0.8) is its highest line; search: 120 of 100.
  assert.deepEqual(teams[0], { name: 'checkout', tier: 'standard', status: 'warning', utilization: 0.85, as_of: iso(T0) });
  assert.deepEqual(teams[1], { name: 'search', tier: 'standard', status: 'exceeded', utilization: 1.2, as_of: iso(T0) });
});

test('GET /teams/{team}/budget: every line hand-computed from the seeded store', async () => {
  const { status, body } = await api.get('/api/v1/teams/checkout/budget', TOKENS.checkout);
  assert.equal(status, 200);
  assert.deepEqual(body, {
    team: 'checkout',
    as_of: iso(T0),
    signals: {
      // 850 series recorded at T0 − 59 s, against 1,000; default thresholds 0.8 and 0.95; default active window 1 h.
      metrics: { limit: 1000, usage: 850, unit: 'series', utilization: 0.85, headroom: 150, status: 'warning', threshold: 0.8, as_of: iso(T0 - MIN + 1000), window: '1h', count_method: 'active_series',
        // One minute row: no growth to extrapolate.
        forecast_exhausted_at: null, forecast_method: 'linear least squares over the last 30 minute rows of active series (x: minute start); null when not growing' },
      // (900 + 600) spans passed in [T0 − 5m, T0) = 1,500 / 300 s = 5 per second, against 10.
      traces: { limit: 10, usage: 5, unit: 'spans_per_second', utilization: 0.5, headroom: 5, status: 'ok', threshold: null, as_of: iso(T0), window: '5m', count_method: 'mean_rate' },
      logs: { limit: null, usage: 0, unit: 'log_records_per_second', utilization: null, headroom: null, status: 'ok', threshold: null, as_of: iso(T0), window: '5m', count_method: 'mean_rate' },
    },
    // 50,000 + 20,000 bytes in the last 24 h against 1 MB.
    bytes: { limit: 1_000_000, usage: 70_000, unit: 'bytes_per_day', utilization: 0.07, headroom: 930_000, status: 'ok', threshold: null, as_of: iso(T0), window: '24h', count_method: 'sum' },
  });
});

test('GET /teams/{team}/usage: one point per step, zeros where nothing was recorded', async () => {
  const { status, body } = await api.get(`/api/v1/teams/checkout/usage?signal=traces&from=${T0 - 5 * MIN}&to=${iso(T0)}&step=1m`, TOKENS.checkout);
  assert.equal(status, 200);
  const zero = { items_in: 0, passed: 0, dropped: 0, overflowed: 0, bytes: 0, bytes_kept: 0, adjusted_count: 0, sampling_probability: null };
  assert.deepEqual(body, {
    team: 'checkout',
    signal: 'traces',
    from: iso(T0 - 5 * MIN),
    to: iso(T0),
    step: '1m',
    resolution: 'minute',
    points: [
      { start: iso(T0 - 5 * MIN), ...zero },
      { start: iso(T0 - 4 * MIN), ...zero },
      { start: iso(T0 - 3 * MIN), ...zero, items_in: 1200, passed: 900, dropped: 300, bytes: 50_000 },
      { start: iso(T0 - 2 * MIN), ...zero, items_in: 600, passed: 600, bytes: 20_000 },
      { start: iso(T0 - MIN), ...zero },
    ],
  });
});

test('GET /teams/{team}/usage defaults: metrics over the last 24 h at the automatic step', async () => {
  const { status, body } = await api.get('/api/v1/teams/checkout/usage', TOKENS.checkout);
  assert.equal(status, 200);
  assert.equal(body.signal, 'metrics');
  assert.equal(body.from, iso(T0 - 86_400_000));
  assert.equal(body.to, iso(T0));
  assert.equal(body.step, '1m');
  assert.equal((body.points as unknown[]).length, 1440);
});

test('GET /teams/{team}/cardinality: top metrics by active series, or one metric\'s labels by distinct values', async () => {
  const top = await api.get('/api/v1/teams/checkout/cardinality', TOKENS.checkout);
  assert.deepEqual(top.body, {
    team: 'checkout',
    metrics: [
      { metric: 'http_requests', active_series: 600, as_of: iso(T0 - MIN + 1000) },
      { metric: 'db_calls', active_series: 250, as_of: iso(T0 - MIN + 1000) },
    ],
  });
  const limited = await api.get('/api/v1/teams/checkout/cardinality?limit=1', TOKENS.checkout);
  assert.equal((limited.body.metrics as unknown[]).length, 1);
  const labels = await api.get('/api/v1/teams/checkout/cardinality?metric=http_requests', TOKENS.checkout);
  assert.deepEqual(labels.body, {
    team: 'checkout',
    metric: 'http_requests',
    labels: [
      { label: 'user_id', distinct_values: 400, as_of: iso(T0 - MIN + 1000) },
      { label: 'route', distinct_values: 12, as_of: iso(T0 - MIN + 1000) },
    ],
  });
});

test('GET /teams/{team}/violations: newest first, paginated by cursor, only the team\'s own rows', async () => {
  const first = await api.get('/api/v1/teams/checkout/violations?limit=1', TOKENS.checkout);
  assert.equal(first.status, 200);
  const items = first.body.items as Record<string, unknown>[];
  assert.deepEqual(
    items.map(({ id: _id, ...rest }) => rest),
    [{ minute: iso(T0 - MIN), first_seen: iso(T0 - MIN + 1000), last_seen: iso(T0 - MIN + 1000), metric: 'http_requests', rule: 'max_active_series', action: 'overflow', count: 3, samples: [] }],
  );
  assert.equal(typeof first.body.next_cursor, 'string');
  const second = await api.get(`/api/v1/teams/checkout/violations?limit=1&cursor=${String(first.body.next_cursor)}`, TOKENS.checkout);
  const rest = second.body.items as Record<string, unknown>[];
  assert.deepEqual(
    rest.map(({ id: _id, ...row }) => row),
    [{ minute: iso(T0 - 2 * MIN), first_seen: iso(T0 - 2 * MIN + 5000), last_seen: iso(T0 - 2 * MIN + 5000), metric: 'http_requests', rule: 'per_label:user_id', action: 'drop', count: 5, samples: [{ user_id: 'u1' }] }],
  );
  assert.equal(second.body.next_cursor, null);
  const since = await api.get(`/api/v1/teams/checkout/violations?since=${iso(T0 - MIN)}`, TOKENS.admin);
  assert.deepEqual(
    (since.body.items as { rule: string }[]).map((v) => v.rule),
    ['max_active_series'],
  );
});

test('GET /rules: the document and hash; a team token sees only its own team', async () => {
  const admin = await api.get('/api/v1/rules', TOKENS.admin);
  assert.equal(admin.body.hash, api.rules.hash);
  assert.deepEqual(admin.body.document, api.rules.document);
  const team = await api.get('/api/v1/rules', TOKENS.checkout);
  assert.equal(team.body.hash, api.rules.hash);
  const teams = (team.body.document as { teams: { name: string }[] }).teams;
  assert.deepEqual(
    teams.map((t) => t.name),
    ['checkout'],
  );
  assert.ok(!JSON.stringify(team.body).includes('"search"'), 'no other team name shows through');
});

test('invalid queries: 400 with a stable code and a message naming the parameter', async () => {
  const cases: [string, string, RegExp][] = [
    ['/api/v1/teams/checkout/violations?bogus=1', 'invalid_query', /unknown query parameter "bogus"/],
    ['/api/v1/teams/checkout/violations?limt=5', 'invalid_query', /did you mean "limit"/],
    ['/api/v1/teams/checkout/violations?limit=0', 'invalid_query', /limit: must be an integer from 1 to 500/],
    ['/api/v1/teams/checkout/violations?limit=1&limit=2', 'invalid_query', /limit: must be an integer/],
    ['/api/v1/teams/checkout/violations?cursor=not-a-cursor', 'invalid_cursor', /cursor/],
    ['/api/v1/teams/checkout/usage?signal=metric', 'invalid_query', /did you mean "metrics"/],
    ['/api/v1/teams/checkout/usage?from=yesterday', 'invalid_query', /from: must be epoch milliseconds or an RFC 3339 time/],
    [`/api/v1/teams/checkout/usage?from=${T0}&to=${T0 - MIN}`, 'invalid_query', /must be after from/],
    ['/api/v1/teams/checkout/budget?x=1', 'invalid_query', /unknown query parameter "x"/],
    ['/api/v1/teams?team=checkout', 'invalid_query', /unknown query parameter "team"/],
  ];
  for (const [path, code, message] of cases) {
    const response = await api.get(path, TOKENS.checkout);
    assert.equal(response.status, 400, path);
    assert.equal(response.body.code, code, path);
    assert.match(String(response.body.message), message, path);
  }
});

test('an internal failure answers 500 {code, message} without a stack or the cause', async () => {
  const failing: BudgetReader = {
    ...api.store.reader,
    teamBudgetStatus() {
      throw new Error('SQLITE_IOERR: disk I/O error at /secret/path');
    },
  };
  const broken = await startApiFixture({ reader: failing });
  try {
    const response = await broken.get('/api/v1/teams/checkout/budget', TOKENS.checkout);
    assert.equal(response.status, 500);
    assert.deepEqual(response.body, { code: 'internal', message: 'an internal error occurred' });
  } finally {
    await broken.close();
  }
});

test('POST /rules/validate: a valid document gets its hash, an invalid one every finding with line and column', async () => {
  const valid = await api.request('POST', '/api/v1/rules/validate', TOKENS.checkout, { rules: RULES_YAML });
  assert.equal(valid.status, 200);
  assert.deepEqual(valid.body, { valid: true, hash: api.rules.hash, findings: [] });
  const invalid = await api.request('POST', '/api/v1/rules/validate', TOKENS.checkout, { rules: 'version: 1\nteams:\n  - { name: a, tier: gold }\nmode: enforced\n' });
  assert.equal(invalid.status, 200);
  assert.equal(invalid.body.valid, false);
  assert.equal(invalid.body.hash, null);
  const findings = invalid.body.findings as { line: number; column: number; path: string; message: string; severity: string }[];
  assert.deepEqual(
    findings.map((f) => [f.line, f.path, f.severity]),
    [
      [3, 'teams[0].tier', 'error'],
      [4, 'mode', 'error'],
    ],
  );
});

test('POST /rules/validate: unknown fields, malformed JSON, another content type and bodies over 1 MiB are refused', async () => {
  const cases: [unknown, string | undefined, number, string, RegExp][] = [
    [{ rules: 'version: 1\n', extra: true }, undefined, 400, 'invalid_body', /unknown field "extra"/],
    [{}, undefined, 400, 'invalid_body', /rules: is required/],
    [{ rules: 1 }, undefined, 400, 'invalid_body', /rules: must be a string/],
    ['{"rules": ', undefined, 400, 'invalid_body', /not readable as UTF-8 JSON/],
    ['version: 1\n', 'application/yaml', 400, 'invalid_body', /must be a mapping/],
    [{ rules: `# ${'x'.repeat(1024 * 1024)}\nversion: 1\n` }, undefined, 413, 'request_too_large', /up to 1048576 bytes/],
  ];
  for (const [body, contentType, status, code, message] of cases) {
    const response = await api.request('POST', '/api/v1/rules/validate', TOKENS.checkout, body, contentType);
    assert.equal(response.status, status, String(message));
    assert.deepEqual(Object.keys(response.body).sort(), ['code', 'message']);
    assert.equal(response.body.code, code, String(message));
    assert.match(String(response.body.message), message);
  }
  const noBody = await api.request('POST', '/api/v1/rules/validate', TOKENS.checkout);
  assert.equal(noBody.status, 400);
  assert.equal(noBody.body.code, 'invalid_body');
});
