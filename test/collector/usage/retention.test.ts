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
    assert.deepEqual(Object.values(again.rolledUp), [0, 0, 0, 0, 0]);
    assert.deepEqual(Object.values(again.pruned), [0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual(f.query(HOURLY), before);
  } finally {
    f.cleanup();
  }
});

/**
 * Sampling usage minute by minute: team c's traces, 8 in and 2 kept per minute (bytes kept 20,
 * adjusted count 8, plus 0.5 on odd minutes), and an effective probability recorded in every
 * minute except those with i % 3 === 2: first 1, then (i even ? 1 : 0.5) / 2^floor(i / 60)
 * later in the minute (the later value is the one kept).
 */
function fillSampling(f: Fixture, start: number, minutes: number): void {
  for (let i = 0; i < minutes; i++) {
    f.clock.t = start + i * MIN + 10_000;
    f.store.recordUsage('c', 'traces', { itemsIn: 8, passed: 2, dropped: 6, bytes: 80, bytesKept: 20, adjustedCount: 8 + (i % 2) * 0.5 });
    if (i % 3 !== 2) {
      f.store.recordSamplingProbability('c', 'traces', 1);
      f.clock.t += 20_000;
      f.store.recordSamplingProbability('c', 'traces', (i % 2 === 0 ? 1 : 0.5) / 2 ** Math.floor(i / 60));
    }
    f.store.flush();
  }
}

void test('sampling usage rolls up: bytes kept and adjusted counts add, the probability keeps a sum and a count of its minute values', async () => {
  const f = openFixture({ options: { minuteRetentionDays: 7, hourlyRetentionDays: 90 } });
  try {
    fillSampling(f, T0, 150);
    f.clock.t = T0 + 7 * DAY + 2 * HOUR;
    const result = await f.store.runMaintenance();
    assert.equal(result.rolledUp.usage_minute, 120);
    // 40 of every 60 minutes recorded a probability (i % 3 !== 2).
    assert.equal(result.rolledUp.sampling_probability_minute, 80);

    // Hand-computed per hour: bytes_kept = 60 × 20; adjusted_count = 60 × 8 + 30 odd minutes × 0.5 = 495.
    assert.deepEqual(f.query('SELECT team, signal, hour, items_in, passed, bytes, bytes_kept, adjusted_count FROM usage_hour ORDER BY hour'), [
      { team: 'c', signal: 'traces', hour: T0, items_in: 480, passed: 120, bytes: 4_800, bytes_kept: 1_200, adjusted_count: 495 },
      { team: 'c', signal: 'traces', hour: T0 + HOUR, items_in: 480, passed: 120, bytes: 4_800, bytes_kept: 1_200, adjusted_count: 495 },
    ]);
    // Hour 0: 20 even minutes at 1 and 20 odd ones at 0.5 → sum 30 over 40 minutes (mean 0.75).
    // Hour 1: the same halved → sum 15 over 40 minutes (mean 0.375).
    assert.deepEqual(f.query('SELECT team, signal, hour, probability_sum, minutes FROM sampling_probability_hour ORDER BY hour'), [
      { team: 'c', signal: 'traces', hour: T0, probability_sum: 30, minutes: 40 },
      { team: 'c', signal: 'traces', hour: T0 + HOUR, probability_sum: 15, minutes: 40 },
    ]);
    assert.deepEqual(f.query('SELECT count(*) AS n, min(minute) AS first FROM sampling_probability_minute'), [{ n: 20, first: T0 + 2 * HOUR }]);

    // The reader averages hourly and minute values alike, each minute value counting once.
    const hourly = f.store.reader.usage('c', 'traces', T0, T0 + 3 * HOUR, HOUR);
    assert.equal(hourly.resolution, 'hour');
    // Hour 2 is still minute rows: 10 even minutes at 0.25, 10 odd at 0.125 → 3.75 / 20 = 0.1875.
    assert.deepEqual(
      hourly.points.map((p) => [(p.start - T0) / HOUR, p.bytesKept, p.adjustedCount, p.probability]),
      [
        [0, 1_200, 495, 0.75],
        [1, 1_200, 495, 0.375],
        [2, 600, 30 * 8 + 15 * 0.5, 0.1875],
      ],
    );
    // One bucket (a day step) over all three hours: (30 + 15 + 3.75) / (40 + 40 + 20) = 0.4875, not the
    // mean of the hourly means (0.4375): every minute value counts once.
    const whole = f.store.reader.usage('c', 'traces', T0, T0 + 3 * HOUR, DAY);
    assert.deepEqual(
      whole.points.map((p) => [p.adjustedCount, p.probability]),
      [[495 + 495 + 247.5, 0.4875]],
    );

    // A late probability for a minute of hour 0 that recorded none (i = 11) is folded into that hour.
    f.clock.t = T0 + 11 * MIN + 1_000;
    f.store.recordSamplingProbability('c', 'traces', 1);
    f.clock.t = T0 + 7 * DAY + 2 * HOUR;
    f.store.flush();
    await f.store.runMaintenance();
    assert.deepEqual(f.query('SELECT probability_sum, minutes FROM sampling_probability_hour WHERE hour = ?', T0), [{ probability_sum: 31, minutes: 41 }]);

    // Idempotent.
    const before = f.query('SELECT * FROM sampling_probability_hour ORDER BY hour');
    const again = await f.store.runMaintenance();
    assert.equal(again.rolledUp.sampling_probability_minute, 0);
    assert.deepEqual(f.query('SELECT * FROM sampling_probability_hour ORDER BY hour'), before);
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
    fillSampling(big, T0, 150);
    fillSampling(small, T0, 150);
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
    const probabilities = 'SELECT * FROM sampling_probability_hour ORDER BY team, signal, hour';
    assert.equal(big.query(probabilities).length, 3);
    assert.deepEqual(small.query(probabilities), big.query(probabilities));
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
    f.store.recordSamplingProbability('a', 'traces', 0.5);
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
    assert.equal(result.pruned.sampling_probability_hour, 1);
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
