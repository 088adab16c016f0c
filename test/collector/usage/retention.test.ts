// Rollup of minute rows into hourly rows and pruning, with an injected clock and real files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DAY, HOUR, MIN, T0, openFixture } from './helpers.js';
import type { Fixture } from './helpers.js';

/** Records usage and gauges minute by minute over `minutes` minutes from `start`, flushing each minute. */
function fill(f: Fixture, start: number, minutes: number): void {
  for (let i = 0; i < minutes; i++) {
    f.clock.t = start + i * MIN + 30_000;
    f.store.recordUsage('a', 'metrics', { itemsIn: i + 1, passed: i, dropped: 1, bytes: 10 });
    f.store.recordUsage('b', 'logs', { itemsIn: 2, passed: 2 });
    f.store.recordTeamSeries('a', 100 + (i % 17));
    f.store.recordMetricSeries('a', 'm1', 50 + (i % 5));
    f.store.recordActionCounts([{ signal: 'metrics', policy: 'p', action: 'drop', mode: 'enforce', count: 3 }]);
    f.store.flush();
  }
}

const HOURLY = `SELECT team, signal, hour, items_in, passed, dropped, overflowed, bytes FROM usage_hour ORDER BY team, signal, hour`;

void test('minute rows past the minute retention roll up into hourly sums and maxima, then are deleted', async () => {
  const f = openFixture({ options: { minuteRetentionDays: 7, hourlyRetentionDays: 90 } });
  try {
    // 2 h 30 min of data starting at T0 (an hour boundary).
    fill(f, T0, 150);
    // Seven days after T0 + 2 h: the first two hours are older than the retention, the last 30 minutes are not.
    f.clock.t = T0 + 7 * DAY + 2 * HOUR;
    const result = await f.store.runMaintenance();
    assert.equal(result.interrupted, false);
    // Per source table: 120 minutes rolled (a + b for usage).
    assert.equal(result.rolledUp.usage_minute, 240);
    assert.equal(result.rolledUp.team_series_minute, 120);
    assert.equal(result.rolledUp.metric_series_minute, 120);
    assert.equal(result.rolledUp.policy_action_minute, 120);

    // Hand-computed: hour 0 holds minutes i = 0..59, hour 1 holds i = 60..119.
    // items_in = Σ(i+1) = 1830 and 5430; passed = Σ i = 1770 and 5370.
    assert.deepEqual(f.query(HOURLY), [
      { team: 'a', signal: 'metrics', hour: T0, items_in: 1830, passed: 1770, dropped: 60, overflowed: 0, bytes: 600 },
      { team: 'a', signal: 'metrics', hour: T0 + HOUR, items_in: 5430, passed: 5370, dropped: 60, overflowed: 0, bytes: 600 },
      { team: 'b', signal: 'logs', hour: T0, items_in: 120, passed: 120, dropped: 0, overflowed: 0, bytes: 0 },
      { team: 'b', signal: 'logs', hour: T0 + HOUR, items_in: 120, passed: 120, dropped: 0, overflowed: 0, bytes: 0 },
    ]);
    assert.deepEqual(f.query('SELECT hour, active_max FROM team_series_hour ORDER BY hour'), [
      { hour: T0, active_max: 116 },
      { hour: T0 + HOUR, active_max: 116 },
    ]);
    assert.deepEqual(f.query('SELECT hour, active_max FROM metric_series_hour ORDER BY hour'), [
      { hour: T0, active_max: 54 },
      { hour: T0 + HOUR, active_max: 54 },
    ]);
    assert.deepEqual(f.query('SELECT hour, count FROM policy_action_hour ORDER BY hour'), [
      { hour: T0, count: 180 },
      { hour: T0 + HOUR, count: 180 },
    ]);
    // The 30 most recent minutes stay as minute rows.
    assert.deepEqual(f.query('SELECT count(*) AS n, min(minute) AS first FROM usage_minute'), [{ n: 60, first: T0 + 2 * HOUR }]);

    // Totals are preserved across the two tiers.
    const total = (sql: string): number => (f.query<{ n: number }>(sql)[0].n);
    assert.equal(total('SELECT sum(items_in) AS n FROM usage_minute') + total('SELECT sum(items_in) AS n FROM usage_hour'), 150 * 151 / 2 + 300);

    // Idempotent: a second run finds nothing to do and changes nothing.
    const before = f.query(HOURLY);
    const again = await f.store.runMaintenance();
    assert.deepEqual(Object.values(again.rolledUp), [0, 0, 0, 0]);
    assert.deepEqual(Object.values(again.pruned), [0, 0, 0, 0, 0, 0]);
    assert.deepEqual(f.query(HOURLY), before);
  } finally {
    f.cleanup();
  }
});

void test('small batches (each its own transaction) give the same hourly rows as one big one', async () => {
  const big = openFixture();
  const small = openFixture({ options: { maintenanceBatchRows: 7 } });
  try {
    fill(big, T0, 150);
    fill(small, T0, 150);
    big.clock.t = small.clock.t = T0 + 8 * DAY;
    small.statements.length = 0;
    const a = await big.store.runMaintenance();
    const b = await small.store.runMaintenance();
    assert.deepEqual(b.rolledUp, a.rolledUp);
    assert.ok(b.batches > 40 && a.batches < b.batches, `batches: ${a.batches} vs ${b.batches}`);
    // Every batch commits on its own: no transaction spans more than 7 rows of minute data (+ one crowded minute).
    assert.equal(small.statements.filter((s) => s === 'BEGIN IMMEDIATE').length, b.batches);
    assert.deepEqual(small.query(HOURLY), big.query(HOURLY));
    assert.deepEqual(small.query('SELECT * FROM team_series_hour ORDER BY hour'), big.query('SELECT * FROM team_series_hour ORDER BY hour'));
    assert.deepEqual(small.query('SELECT count(*) AS n FROM usage_minute'), [{ n: 0 }]);
  } finally {
    big.cleanup();
    small.cleanup();
  }
});

void test('a late minute row for an hour already rolled up is added into that hour', async () => {
  const f = openFixture({ options: { minuteRetentionDays: 1, hourlyRetentionDays: 30 } });
  try {
    fill(f, T0, 60);
    f.clock.t = T0 + 2 * DAY;
    await f.store.runMaintenance();
    assert.deepEqual(f.query("SELECT items_in FROM usage_hour WHERE team = 'a'"), [{ items_in: 1830 }]);
    // A flush that failed for a long time finally lands with an old minute (restore keeps its minute).
    f.clock.t = T0 + 10 * MIN;
    f.store.recordUsage('a', 'metrics', { itemsIn: 70 });
    f.store.recordTeamSeries('a', 999);
    f.clock.t = T0 + 2 * DAY;
    f.store.flush();
    await f.store.runMaintenance();
    assert.deepEqual(f.query("SELECT items_in FROM usage_hour WHERE team = 'a'"), [{ items_in: 1900 }]);
    assert.deepEqual(f.query('SELECT active_max FROM team_series_hour'), [{ active_max: 999 }]);
  } finally {
    f.cleanup();
  }
});

void test('hourly rows, violations and stale label estimates are pruned after their retention', async () => {
  const f = openFixture({ options: { minuteRetentionDays: 2, hourlyRetentionDays: 10, maintenanceBatchRows: 3 } });
  try {
    fill(f, T0, 5);
    f.store.recordViolation({ team: 'a', metric: 'm', rule: 'r', action: 'drop' });
    f.store.recordLabelEstimate('a', 'm', 'old_label', 10);
    f.store.flush();
    f.clock.t = T0 + 3 * DAY;
    f.store.recordViolation({ team: 'a', metric: 'm', rule: 'r', action: 'drop' });
    f.store.recordLabelEstimate('a', 'm', 'fresh_label', 20);
    f.store.flush();

    // Day 3: minute rows of day 0 roll up; the label unseen for > 2 days goes; violations stay (10 days).
    let result = await f.store.runMaintenance();
    assert.equal(result.rolledUp.usage_minute, 10);
    assert.equal(result.pruned.label_estimates, 1);
    assert.deepEqual(f.query('SELECT label FROM label_estimates'), [{ label: 'fresh_label' }]);
    assert.deepEqual(f.query('SELECT count(*) AS n FROM violations'), [{ n: 2 }]);
    assert.deepEqual(f.query('SELECT count(*) AS n FROM usage_hour'), [{ n: 2 }]);

    // Day 11: the hourly rows and the violation of day 0 are older than 10 days.
    f.clock.t = T0 + 11 * DAY;
    result = await f.store.runMaintenance();
    assert.equal(result.pruned.usage_hour, 2);
    assert.equal(result.pruned.team_series_hour, 1);
    assert.equal(result.pruned.metric_series_hour, 1);
    assert.equal(result.pruned.policy_action_hour, 1);
    assert.equal(result.pruned.violations, 1);
    assert.deepEqual(f.query('SELECT minute FROM violations'), [{ minute: T0 + 3 * DAY }]);
    assert.deepEqual(f.query('SELECT count(*) AS n FROM usage_hour'), [{ n: 0 }]);
  } finally {
    f.cleanup();
  }
});

void test('maintenance yields to the event loop between batches', async () => {
  const f = openFixture({ options: { maintenanceBatchRows: 5 } });
  try {
    fill(f, T0, 60);
    f.clock.t = T0 + 8 * DAY;
    let ticks = 0;
    const interval = setInterval(() => ticks++, 0);
    const run = f.store.runMaintenance();
    assert.equal(f.store.runMaintenance(), run, 'a second caller shares the run in progress');
    const result = await run;
    clearInterval(interval);
    assert.ok(result.batches > 20);
    assert.ok(ticks > 0, 'timers ran while maintenance was in progress');
  } finally {
    f.cleanup();
  }
});
