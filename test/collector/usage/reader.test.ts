// BudgetReader over real rows: budget status and thresholds, top metrics and labels, violation
// pagination, usage series across the minute and hourly tiers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MetricBudget, TeamBudgets } from '../../../rules/compiled.js';
import { UsageStoreError } from '../../../collector/usage/errors.js';
import { chooseStep, decodeCursor, encodeCursor, evaluateBudget } from '../../../collector/usage/reader.js';
import { DAY, HOUR, MIN, T0, openFixture } from './helpers.js';

function metricBudget(overrides: Partial<MetricBudget> = {}): MetricBudget {
  return {
    maxActiveSeries: 1000,
    defaultMaxSeriesPerMetric: undefined,
    perMetric: [],
    perLabel: [],
    exemptMetrics: undefined,
    activeWindowMs: HOUR,
    warningThresholds: [0.8, 0.95],
    action: 'drop',
    mode: 'enforce',
    ...overrides,
  };
}

function budgets(overrides: Partial<TeamBudgets> = {}): TeamBudgets {
  return { metrics: metricBudget(), maxSpansPerSecond: undefined, maxLogRecordsPerSecond: undefined, maxBytesPerDay: undefined, ...overrides };
}

const isQueryError = (code: string) => (e: unknown) => e instanceof UsageStoreError && e.code === code;

void test('evaluateBudget: ok below the lowest threshold, warning from it, exceeded at the limit', () => {
  const t = [0.8, 0.95];
  assert.deepEqual(evaluateBudget(1000, 799, t), { limit: 1000, utilization: 0.799, headroom: 201, status: 'ok', threshold: null });
  assert.deepEqual(evaluateBudget(1000, 800, t), { limit: 1000, utilization: 0.8, headroom: 200, status: 'warning', threshold: 0.8 });
  assert.deepEqual(evaluateBudget(1000, 950, t), { limit: 1000, utilization: 0.95, headroom: 50, status: 'warning', threshold: 0.95 });
  assert.deepEqual(evaluateBudget(1000, 1000, t), { limit: 1000, utilization: 1, headroom: 0, status: 'exceeded', threshold: 0.95 });
  assert.deepEqual(evaluateBudget(1000, 1500, t), { limit: 1000, utilization: 1.5, headroom: 0, status: 'exceeded', threshold: 0.95 });
  assert.deepEqual(evaluateBudget(1000, 600, [0.5]), { limit: 1000, utilization: 0.6, headroom: 400, status: 'warning', threshold: 0.5 });
  assert.deepEqual(evaluateBudget(undefined, 5, t), { limit: null, utilization: null, headroom: null, status: 'ok', threshold: null });
});

void test('teamBudgetStatus reads the latest active-series snapshot, span and log rates and bytes per day', () => {
  const f = openFixture();
  try {
    const { store, clock } = f;
    // Five whole minutes of traffic, then a partial sixth minute that the rate must ignore.
    for (let i = 0; i < 5; i++) {
      clock.t = T0 + i * MIN + 1_000;
      store.recordUsage('checkout', 'traces', { itemsIn: 700, passed: 600, dropped: 100, bytes: 1_000 });
      store.recordUsage('checkout', 'logs', { itemsIn: 30, passed: 30, bytes: 500 });
      store.recordTeamSeries('checkout', 700 + i * 50); // 700 … 900
    }
    clock.t = T0 + 5 * MIN + 1_000;
    store.recordUsage('checkout', 'traces', { itemsIn: 99_999, passed: 99_999 });
    store.flush();
    clock.t = T0 + 5 * MIN + 30_000;

    const status = store.reader.teamBudgetStatus(
      'checkout',
      budgets({ maxSpansPerSecond: 12, maxLogRecordsPerSecond: 1, maxBytesPerDay: 10_000 }),
    );
    assert.equal(status.team, 'checkout');
    assert.equal(status.asOf, T0 + 5 * MIN + 30_000);
    assert.deepEqual(status.metrics, {
      limit: 1000,
      usage: 900,
      unit: 'series',
      utilization: 0.9,
      headroom: 100,
      status: 'warning',
      threshold: 0.8,
      asOf: T0 + 4 * MIN + 1_000,
      windowMs: HOUR,
      countMethod: 'active_series',
      // 700 … 900 at one minute apart: exactly 50 series a minute, so 1,000 two minutes after the last row.
      forecast: { exhaustedAt: T0 + 6 * MIN, method: 'linear least squares over the last 30 minute rows of active series (x: minute start); null when not growing' },
    });
    // 5 × 600 spans passed in the 5-minute window = 10 spans/s against 12.
    assert.deepEqual(status.traces, {
      limit: 12,
      usage: 10,
      unit: 'spans_per_second',
      utilization: 10 / 12,
      headroom: 2,
      status: 'warning',
      threshold: 0.8,
      asOf: T0 + 5 * MIN,
      windowMs: 5 * MIN,
      countMethod: 'mean_rate',
    });
    // 5 × 30 log records / 300 s = 0.5/s against 1.
    assert.equal(status.logs.usage, 0.5);
    assert.equal(status.logs.status, 'ok');
    // Bytes over the last 24 h (whole minutes): 5 × (1000 + 500) = 7500 of 10000.
    assert.deepEqual(
      { usage: status.bytes.usage, utilization: status.bytes.utilization, status: status.bytes.status, windowMs: status.bytes.windowMs, countMethod: status.bytes.countMethod },
      { usage: 7_500, utilization: 0.75, status: 'ok', windowMs: DAY, countMethod: 'sum' },
    );

    // Thresholds passed in override the team's; a team without limits is always ok.
    assert.equal(store.reader.teamBudgetStatus('checkout', budgets(), { thresholds: [0.95] }).metrics.status, 'ok');
    assert.equal(store.reader.teamBudgetStatus('checkout', budgets({ metrics: metricBudget({ maxActiveSeries: 900 }) })).metrics.status, 'exceeded');
    const unlimited = store.reader.teamBudgetStatus('checkout', undefined);
    assert.deepEqual([unlimited.metrics.limit, unlimited.metrics.status, unlimited.metrics.usage, unlimited.metrics.windowMs], [null, 'ok', 900, null]);
    // A team never seen: zero usage, no snapshot time.
    const unknown = store.reader.teamBudgetStatus('nobody', budgets());
    assert.deepEqual([unknown.metrics.usage, unknown.metrics.asOf, unknown.metrics.status], [0, null, 'ok']);
    assert.throws(() => store.reader.teamBudgetStatus('checkout', budgets(), { thresholds: [80] }), isQueryError('invalid_query'));
    assert.throws(() => store.reader.teamBudgetStatus('checkout', budgets(), { rateWindowMs: 90_000 }), isQueryError('invalid_query'));
  } finally {
    f.cleanup();
  }
});

void test('topMetrics ranks the latest snapshot by active series; topLabels ranks by distinct estimate', () => {
  const f = openFixture();
  try {
    const { store, clock } = f;
    clock.t = T0 + 1_000;
    store.recordMetricSeries('a', 'old.only', 10_000); // only in an older minute: expired since
    store.recordMetricSeries('a', 'm.http', 5);
    store.flush();
    clock.t = T0 + MIN + 1_000;
    store.recordMetricSeries('a', 'm.http', 300);
    store.recordMetricSeries('a', 'm.db', 300);
    store.recordMetricSeries('a', 'm.queue', 20);
    store.recordMetricSeries('b', 'm.other', 1_000_000);
    store.recordLabelEstimate('a', 'm.http', 'route', 40);
    store.recordLabelEstimate('a', 'm.http', 'user_id', 51_234.7);
    store.recordLabelEstimate('a', 'm.http', 'method', 5);
    store.recordLabelEstimate('a', 'm.db', 'table', 99);
    store.flush();

    assert.deepEqual(store.reader.topMetrics('a', 2), [
      { metric: 'm.db', active: 300, at: T0 + MIN + 1_000 },
      { metric: 'm.http', active: 300, at: T0 + MIN + 1_000 },
    ]);
    assert.deepEqual(
      store.reader.topMetrics('a', 10).map((m) => m.metric),
      ['m.db', 'm.http', 'm.queue'],
    );
    assert.deepEqual(store.reader.topMetrics('nobody', 10), []);
    assert.deepEqual(store.reader.topLabels('a', 'm.http', 2), [
      { label: 'user_id', estimate: 51_234.7, updatedAt: T0 + MIN + 1_000 },
      { label: 'route', estimate: 40, updatedAt: T0 + MIN + 1_000 },
    ]);
    assert.throws(() => store.reader.topMetrics('a', 0), isQueryError('invalid_query'));
    assert.throws(() => store.reader.topLabels('a', 'm', 1.5), isQueryError('invalid_query'));
  } finally {
    f.cleanup();
  }
});

void test('violations page newest first with a cursor that stays stable while new violations arrive', () => {
  const f = openFixture();
  try {
    const { store, clock } = f;
    // 7 violations over 4 minutes (two or more per minute), plus another team's.
    const plan = [0, 0, 1, 1, 2, 3, 3];
    plan.forEach((minute, i) => {
      clock.t = T0 + minute * MIN + i * 1_000;
      store.recordViolation({ team: 'a', metric: `m${i}`, rule: 'max_active_series', action: 'drop', count: i + 1, labels: { n: String(i) } });
      store.flush();
    });
    store.recordViolation({ team: 'b', metric: 'x', rule: 'r', action: 'drop' });
    store.flush();

    const first = store.reader.violations('a', { limit: 3 });
    assert.deepEqual(first.items.map((v) => v.metric), ['m6', 'm5', 'm4']);
    assert.deepEqual(first.items[0], {
      id: first.items[0].id,
      minute: T0 + 3 * MIN,
      firstSeen: T0 + 3 * MIN + 6_000,
      lastSeen: T0 + 3 * MIN + 6_000,
      team: 'a',
      metric: 'm6',
      rule: 'max_active_series',
      action: 'drop',
      count: 7,
      samples: [{ n: '6' }],
    });
    assert.ok(first.nextCursor);

    // New violations arrive between page requests: the next page continues where the first ended.
    clock.t = T0 + 4 * MIN;
    store.recordViolation({ team: 'a', metric: 'late', rule: 'r', action: 'drop' });
    store.flush();
    const second = store.reader.violations('a', { limit: 3, cursor: first.nextCursor });
    assert.deepEqual(second.items.map((v) => v.metric), ['m3', 'm2', 'm1']);
    const third = store.reader.violations('a', { limit: 3, cursor: second.nextCursor ?? undefined });
    assert.deepEqual(third.items.map((v) => v.metric), ['m0']);
    assert.equal(third.nextCursor, null);

    // An exact fit ends without a dangling cursor; `since` filters by minute.
    assert.equal(store.reader.violations('a', { limit: 8 }).nextCursor, null);
    assert.deepEqual(
      store.reader.violations('a', { since: T0 + 2 * MIN + 59_000 }).items.map((v) => v.metric),
      ['late', 'm6', 'm5', 'm4'],
    );
    assert.throws(() => store.reader.violations('a', { cursor: 'not-a-cursor' }), isQueryError('invalid_cursor'));
    assert.throws(() => store.reader.violations('a', { cursor: encodeCursor(1, 2).slice(0, -2) }), isQueryError('invalid_cursor'));
    assert.throws(() => store.reader.violations('a', { limit: 501 }), isQueryError('invalid_query'));
    assert.deepEqual(decodeCursor(encodeCursor(T0, 42)), { minute: T0, id: 42 });
  } finally {
    f.cleanup();
  }
});

void test('usage serves dense minute points, and hourly points once the range reaches past the minute retention', async () => {
  const f = openFixture({ options: { minuteRetentionDays: 1, hourlyRetentionDays: 30 } });
  try {
    const { store, clock } = f;
    // Day 0: one item per minute for 3 hours (10:00–13:00); day 2: 3 items in two minutes.
    for (let i = 0; i < 180; i++) {
      clock.t = T0 + i * MIN + 5_000;
      store.recordUsage('a', 'metrics', { itemsIn: 1, passed: 1, bytes: 8 });
    }
    store.flush();
    clock.t = T0 + 2 * DAY + 5 * MIN;
    store.recordUsage('a', 'metrics', { itemsIn: 2, dropped: 2 });
    clock.t = T0 + 2 * DAY + 7 * MIN;
    store.recordUsage('a', 'metrics', { itemsIn: 1, passed: 1 });
    store.flush();
    await store.runMaintenance(); // day 0 → hourly rows

    // Recent range: minute resolution, step rounded up to whole minutes, zeros filled in.
    const recent = store.reader.usage('a', 'metrics', T0 + 2 * DAY + 4 * MIN, T0 + 2 * DAY + 8 * MIN, 90_000);
    assert.equal(recent.resolution, 'minute');
    assert.equal(recent.stepMs, 2 * MIN);
    assert.deepEqual(
      recent.points.map((p) => [(p.start - T0 - 2 * DAY) / MIN, p.itemsIn, p.passed, p.dropped]),
      [
        [4, 2, 0, 2],
        [6, 1, 1, 0],
      ],
    );
    // Old range: hourly resolution even when a minute step is asked; totals come from hourly rows.
    const old = store.reader.usage('a', 'metrics', T0 - HOUR, T0 + 4 * HOUR, MIN);
    assert.equal(old.resolution, 'hour');
    assert.equal(old.stepMs, HOUR);
    assert.deepEqual(
      old.points.map((p) => [(p.start - T0) / HOUR, p.itemsIn, p.bytes]),
      [
        [-1, 0, 0],
        [0, 60, 480],
        [1, 60, 480],
        [2, 60, 480],
        [3, 0, 0],
      ],
    );
    // A range spanning both tiers adds them without double counting; the default step fits 1,440 points.
    const all = store.reader.usage('a', 'metrics', T0, T0 + 3 * DAY);
    assert.equal(all.stepMs, HOUR);
    assert.equal(all.points.reduce((n, p) => n + p.itemsIn, 0), 183);
    assert.equal(all.points.length, 72);

    assert.throws(() => store.reader.usage('a', 'metrics', T0, T0), isQueryError('invalid_query'));
    // Too many points at minute resolution (ten days of minutes) is refused rather than served.
    assert.throws(() => store.reader.usage('a', 'metrics', T0 + 2 * DAY, T0 + 12 * DAY, MIN), isQueryError('invalid_query'));
  } finally {
    f.cleanup();
  }
});

void test('usage points carry bytes kept, the sum of adjusted counts and the mean effective probability (null where none was recorded)', () => {
  const f = openFixture();
  try {
    const { store, clock } = f;
    // Minute 0: 10 spans in, 4 kept (2 at p = 0.25 → 8, 2 by a keep rule → 2); the probability falls from 0.5 to 0.25.
    clock.t = T0 + 10_000;
    store.recordUsage('checkout', 'traces', { itemsIn: 10, passed: 4, dropped: 6, bytes: 100, bytesKept: 40, adjustedCount: 10 });
    store.recordSamplingProbability('checkout', 'traces', 0.5);
    clock.t = T0 + 50_000;
    store.recordSamplingProbability('checkout', 'traces', 0.25);
    // Minute 1: nothing. Minute 2: 6 in, 3 kept at p = 0.4 (2.5 each).
    clock.t = T0 + 2 * MIN + 1_000;
    store.recordUsage('checkout', 'traces', { itemsIn: 6, passed: 3, dropped: 3, bytes: 60, bytesKept: 30, adjustedCount: 7.5 });
    store.recordSamplingProbability('checkout', 'traces', 0.5);
    // Minute 3: a probability without traffic.
    clock.t = T0 + 3 * MIN + 1_000;
    store.recordSamplingProbability('checkout', 'traces', 1);
    store.recordUsage('checkout', 'logs', { itemsIn: 2, passed: 2, bytes: 20, bytesKept: 20, adjustedCount: 2 });
    store.flush();

    const perMinute = store.reader.usage('checkout', 'traces', T0, T0 + 4 * MIN, MIN);
    assert.deepEqual(perMinute.points, [
      { start: T0, itemsIn: 10, passed: 4, dropped: 6, overflowed: 0, bytes: 100, bytesKept: 40, adjustedCount: 10, probability: 0.25 },
      { start: T0 + MIN, itemsIn: 0, passed: 0, dropped: 0, overflowed: 0, bytes: 0, bytesKept: 0, adjustedCount: 0, probability: null },
      { start: T0 + 2 * MIN, itemsIn: 6, passed: 3, dropped: 3, overflowed: 0, bytes: 60, bytesKept: 30, adjustedCount: 7.5, probability: 0.5 },
      { start: T0 + 3 * MIN, itemsIn: 0, passed: 0, dropped: 0, overflowed: 0, bytes: 0, bytesKept: 0, adjustedCount: 0, probability: 1 },
    ]);
    // Two-minute steps: sums add; the probability is the mean of the minute values present (minute 1 had none).
    const coarse = store.reader.usage('checkout', 'traces', T0, T0 + 4 * MIN, 2 * MIN);
    assert.deepEqual(
      coarse.points.map((p) => [p.passed, p.bytesKept, p.adjustedCount, p.probability]),
      [
        [4, 40, 10, 0.25],
        [3, 30, 7.5, (0.5 + 1) / 2],
      ],
    );
    // Logs of the same team and another team's traces: no probability recorded.
    assert.deepEqual(
      store.reader.usage('checkout', 'logs', T0, T0 + 4 * MIN, 4 * MIN).points.map((p) => [p.bytesKept, p.adjustedCount, p.probability]),
      [[20, 2, null]],
    );
    assert.deepEqual(store.reader.usage('search', 'traces', T0, T0 + MIN).points.map((p) => p.probability), [null]);
  } finally {
    f.cleanup();
  }
});

void test('chooseStep picks the smallest step giving at most 1,440 points, never below the tier', () => {
  assert.equal(chooseStep(HOUR, 60_000, undefined), MIN);
  assert.equal(chooseStep(DAY, 60_000, undefined), MIN);
  assert.equal(chooseStep(DAY + 1, 60_000, undefined), 5 * MIN);
  assert.equal(chooseStep(30 * DAY, 60_000, undefined), HOUR);
  assert.equal(chooseStep(DAY, HOUR, undefined), HOUR);
  assert.equal(chooseStep(DAY, HOUR, 90 * MIN), 2 * HOUR);
});

void test('"the last N days" with an N-day minute retention keeps minute steps; only a range starting an hour or more before the rollup is hourly', async () => {
  const f = openFixture({ options: { minuteRetentionDays: 1, hourlyRetentionDays: 30 } });
  try {
    const { store, clock } = f;
    // One item a minute from T0 to T0 + 1 d + 10 min.
    for (let i = 0; i <= 24 * 60 + 10; i++) {
      clock.t = T0 + i * MIN + 5_000;
      store.recordUsage('a', 'metrics', { itemsIn: 1, passed: 1 });
    }
    store.flush();
    // Now: T0 + 1 d + 10 min 30 s; the rollup takes the minutes before T0 + 10 min 30 s (T0 … T0 + 10 min).
    clock.t = T0 + DAY + 10 * MIN + 30_000;
    await store.runMaintenance();
    assert.deepEqual(f.query('SELECT hour, items_in FROM usage_hour'), [{ hour: T0, items_in: 11 }]);

    // The dashboard's "last day": whole minutes, so it starts 30 s before the horizon.
    const to = T0 + DAY + 10 * MIN;
    const lastDay = store.reader.usage('a', 'metrics', to - DAY, to, 5 * MIN);
    assert.equal(lastDay.resolution, 'minute');
    assert.equal(lastDay.stepMs, 5 * MIN);
    assert.equal(lastDay.points.length, 288);
    // Minutes T0 + 11 min … T0 + 1 d + 9 min; T0 + 10 min, rolled up into the hour before the first bucket, is left out.
    assert.equal(lastDay.points.reduce((n, p) => n + p.itemsIn, 0), 24 * 60 - 1);
    assert.equal(lastDay.points[1].itemsIn, 5);

    // Starting before the hour the rollup has reached: hourly.
    const longer = store.reader.usage('a', 'metrics', T0 - MIN, to, 5 * MIN);
    assert.equal(longer.resolution, 'hour');
    assert.equal(longer.stepMs, HOUR);
    assert.equal(longer.points.reduce((n, p) => n + p.itemsIn, 0), 24 * 60 + 10);
  } finally {
    f.cleanup();
  }
});
