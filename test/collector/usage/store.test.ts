// The store end to end on real SQLite files: record → flush → rows, the transaction per flush,
// failure atomicity, the flush timer, snapshots.
import { mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import Sqlite from 'better-sqlite3';
import { openUsageDatabase } from '../../../collector/usage/database.js';
import { UsageStoreError } from '../../../collector/usage/errors.js';
import { createBatchWriter } from '../../../collector/usage/writer.js';
import { openUsageStore } from '../../../collector/usage/store.js';
import type { FlushResult } from '../../../collector/usage/store.js';
import { MIN, T0, openFixture, tempDir } from './helpers.js';

void test('recorded usage, gauges, estimates, violations and action counts land in their tables after a flush', () => {
  const f = openFixture();
  try {
    const { store, clock } = f;
    clock.t = T0 + 1_000;
    store.recordUsage('checkout', 'metrics', { itemsIn: 1000, passed: 900, dropped: 60, overflowed: 40, bytes: 331_000 });
    store.recordTeamSeries('checkout', 1200);
    store.recordMetricSeries('checkout', 'http.server.duration', 800);
    store.recordLabelEstimate('checkout', 'http.server.duration', 'user_id', 5400.5);
    store.recordViolation({ team: 'checkout', metric: 'http.server.duration', rule: 'max_active_series', action: 'overflow', count: 40, labels: { user_id: '<redacted>' } });
    store.recordActionCounts([{ signal: 'metrics', policy: 'deny-user-id', action: 'drop', mode: 'enforce', count: 1000 }]);
    assert.deepEqual(f.query('SELECT * FROM usage_minute'), [], 'nothing written before the flush');

    const result = store.flush();
    assert.equal(result.rows, 6);
    assert.deepEqual(f.query('SELECT team, signal, minute, items_in, passed, dropped, overflowed, bytes FROM usage_minute'), [
      { team: 'checkout', signal: 'metrics', minute: T0, items_in: 1000, passed: 900, dropped: 60, overflowed: 40, bytes: 331_000 },
    ]);
    assert.deepEqual(f.query('SELECT team, minute, active, at FROM team_series_minute'), [{ team: 'checkout', minute: T0, active: 1200, at: T0 + 1_000 }]);
    assert.deepEqual(f.query('SELECT team, minute, metric, active FROM metric_series_minute'), [{ team: 'checkout', minute: T0, metric: 'http.server.duration', active: 800 }]);
    assert.deepEqual(f.query('SELECT team, metric, label, estimate, updated_at FROM label_estimates'), [
      { team: 'checkout', metric: 'http.server.duration', label: 'user_id', estimate: 5400.5, updated_at: T0 + 1_000 },
    ]);
    assert.deepEqual(f.query('SELECT team, minute, metric, rule, action, count, first_seen, last_seen, samples FROM violations'), [
      {
        team: 'checkout',
        minute: T0,
        metric: 'http.server.duration',
        rule: 'max_active_series',
        action: 'overflow',
        count: 40,
        first_seen: T0 + 1_000,
        last_seen: T0 + 1_000,
        samples: '[{"user_id":"<redacted>"}]',
      },
    ]);
    assert.deepEqual(f.query('SELECT minute, team, signal, policy, action, mode, count FROM policy_action_minute'), [
      { minute: T0, team: '', signal: 'metrics', policy: 'deny-user-id', action: 'drop', mode: 'enforce', count: 1000 },
    ]);
    assert.equal(store.stats().flushes, 1);
    assert.equal(store.stats().lastFlushAt, T0 + 1_000);
  } finally {
    f.cleanup();
  }
});

void test('flushes within one minute add into the same rows; gauges keep the latest value; samples stay capped', () => {
  const f = openFixture();
  try {
    const { store, clock } = f;
    const violation = { team: 'a', metric: 'm', rule: 'max_active_series', action: 'drop' } as const;
    clock.t = T0 + 5_000;
    store.recordUsage('a', 'traces', { itemsIn: 10, passed: 7, dropped: 3, bytes: 100 });
    store.recordTeamSeries('a', 50);
    store.recordViolation({ ...violation, count: 2, labels: { k: '1' } });
    store.recordViolation({ ...violation, labels: { k: '2' } });
    store.flush();
    clock.t = T0 + 15_000;
    store.recordUsage('a', 'traces', { itemsIn: 20, passed: 20, bytes: 300 });
    store.recordTeamSeries('a', 45);
    store.recordViolation({ ...violation, count: 5, labels: { k: '2' } });
    store.recordViolation({ ...violation, labels: { k: '3' } });
    store.recordViolation({ ...violation, labels: { k: '4' } });
    store.flush();
    clock.t = T0 + MIN + 1;
    store.recordUsage('a', 'traces', { itemsIn: 1 });
    store.flush();

    assert.deepEqual(f.query('SELECT minute, items_in, passed, dropped, bytes FROM usage_minute ORDER BY minute'), [
      { minute: T0, items_in: 30, passed: 27, dropped: 3, bytes: 400 },
      { minute: T0 + MIN, items_in: 1, passed: 0, dropped: 0, bytes: 0 },
    ]);
    assert.deepEqual(f.query('SELECT active, at FROM team_series_minute'), [{ active: 45, at: T0 + 15_000 }]);
    assert.deepEqual(f.query('SELECT count, first_seen, last_seen, samples FROM violations'), [
      { count: 2 + 1 + 5 + 1 + 1, first_seen: T0 + 5_000, last_seen: T0 + 15_000, samples: '[{"k":"1"},{"k":"2"},{"k":"3"}]' },
    ]);
  } finally {
    f.cleanup();
  }
});

void test('sampling usage lands in the usage rows (bytes kept, adjusted counts add up) and the probability gauge table', () => {
  const f = openFixture();
  try {
    const { store, clock } = f;
    clock.t = T0 + 5_000;
    // 100 spans in (10,000 bytes); 30 kept: 20 at probability 0.25 (adjusted 4 each), 10 by a keep rule (1 each).
    store.recordUsage('checkout', 'traces', { itemsIn: 100, passed: 30, dropped: 70, bytes: 10_000, bytesKept: 3_000, adjustedCount: 20 * 4 + 10 });
    store.recordSamplingProbability('checkout', 'traces', 0.5);
    store.recordSamplingProbability('checkout', 'logs', 1);
    clock.t = T0 + 20_000;
    store.recordSamplingProbability('checkout', 'traces', 0.25);
    assert.equal(store.flush().rows, 3);
    clock.t = T0 + 50_000;
    // A second flush in the same minute: 8 log records, 4 kept at probability 0.4 (adjusted 2.5 each).
    store.recordUsage('checkout', 'logs', { itemsIn: 8, passed: 4, dropped: 4, bytes: 800, bytesKept: 400, adjustedCount: 10 });
    store.recordUsage('checkout', 'traces', { itemsIn: 2, passed: 1, dropped: 1, bytes: 200, bytesKept: 100, adjustedCount: 2.5 });
    store.recordSamplingProbability('checkout', 'logs', 0.4);
    store.flush();

    assert.deepEqual(f.query('SELECT signal, minute, items_in, passed, dropped, bytes, bytes_kept, adjusted_count FROM usage_minute ORDER BY signal'), [
      { signal: 'logs', minute: T0, items_in: 8, passed: 4, dropped: 4, bytes: 800, bytes_kept: 400, adjusted_count: 10 },
      { signal: 'traces', minute: T0, items_in: 102, passed: 31, dropped: 71, bytes: 10_200, bytes_kept: 3_100, adjusted_count: 92.5 },
    ]);
    assert.deepEqual(f.query('SELECT team, signal, minute, probability, at FROM sampling_probability_minute ORDER BY signal'), [
      { team: 'checkout', signal: 'logs', minute: T0, probability: 0.4, at: T0 + 50_000 },
      { team: 'checkout', signal: 'traces', minute: T0, probability: 0.25, at: T0 + 20_000 },
    ]);
    // Usage recorded without the new fields stores 0 for them.
    store.recordUsage('checkout', 'metrics', { itemsIn: 5, passed: 5 });
    store.flush();
    assert.deepEqual(f.query("SELECT bytes_kept, adjusted_count FROM usage_minute WHERE signal = 'metrics'"), [{ bytes_kept: 0, adjusted_count: 0 }]);
  } finally {
    f.cleanup();
  }
});

void test('recording runs no SQL at all; each flush is exactly one transaction', () => {
  const f = openFixture();
  try {
    const { store, statements } = f;
    statements.length = 0;
    for (let i = 0; i < 1000; i++) {
      store.recordUsage(`team-${i % 7}`, 'metrics', { itemsIn: 3, passed: 2, dropped: 1, bytes: 64 });
      store.recordMetricSeries(`team-${i % 7}`, `metric-${i % 13}`, i);
      store.recordViolation({ team: `team-${i % 7}`, metric: 'm', rule: 'r', action: 'drop', labels: { i: String(i) } });
      store.recordSamplingProbability(`team-${i % 7}`, 'traces', 1 / (1 + (i % 4)));
    }
    store.recordActionCounts([{ signal: 'logs', policy: 'p', action: 'redact', mode: 'enforce', count: 9 }]);
    assert.equal(statements.length, 0, `no statement ran while recording: ${statements.join('; ')}`);

    store.flush();
    const begins = statements.filter((s) => s.startsWith('BEGIN'));
    const commits = statements.filter((s) => s === 'COMMIT');
    assert.deepEqual(begins, ['BEGIN IMMEDIATE']);
    assert.equal(commits.length, 1);
    assert.equal(statements[0], 'BEGIN IMMEDIATE');
    assert.equal(statements[statements.length - 1], 'COMMIT');
    // 7 usage rows + 7×13 metric gauges (i % 7 and i % 13 cover every pair) + 7 violations + 1 action line + 7 probabilities.
    assert.equal(statements.length - 2, 7 + 91 + 7 + 1 + 7);

    statements.length = 0;
    assert.deepEqual(store.flush().rows, 0);
    assert.equal(statements.length, 0, 'an empty flush opens no transaction');
  } finally {
    f.cleanup();
  }
});

void test('a failing flush writes nothing; its rows stay pending and the next flush writes exact totals', () => {
  const f = openFixture();
  try {
    const failing = f.store;
    // A trigger makes the violation insert (written after the usage and gauge rows) fail mid-transaction.
    const admin = new Sqlite(failing.path);
    admin.exec("CREATE TRIGGER refuse BEFORE INSERT ON violations BEGIN SELECT RAISE(ABORT, 'disk says no'); END");

    failing.recordUsage('a', 'logs', { itemsIn: 10, passed: 10 });
    failing.recordTeamSeries('a', 3);
    failing.recordViolation({ team: 'a', metric: 'm', rule: 'r', action: 'drop' });
    assert.throws(
      () => failing.flush(),
      (error: unknown) => error instanceof UsageStoreError && error.code === 'flush_failed' && /disk says no/.test(error.message) && error.message.includes(failing.path),
    );
    assert.deepEqual(f.query('SELECT * FROM usage_minute'), [], 'usage rows of the failed transaction were rolled back');
    assert.deepEqual(f.query('SELECT * FROM team_series_minute'), []);
    assert.equal(failing.stats().flushFailures, 1);
    assert.equal(failing.stats().pendingKeys, 3);

    failing.recordUsage('a', 'logs', { itemsIn: 5, dropped: 5 });
    admin.exec('DROP TRIGGER refuse');
    admin.close();
    assert.equal(failing.flush().rows, 3);
    assert.deepEqual(f.query('SELECT items_in, passed, dropped FROM usage_minute'), [{ items_in: 15, passed: 10, dropped: 5 }]);
    assert.deepEqual(f.query('SELECT count FROM violations'), [{ count: 1 }]);
  } finally {
    f.cleanup();
  }
});

void test('start() flushes on the interval in the background and reports failures to the observer', () => {
  const dir = tempDir();
  mock.timers.enable({ apis: ['setInterval'] });
  const flushed: FlushResult[] = [];
  const store = openUsageStore({ dataDir: dir, now: () => T0, options: { flushIntervalMs: 10_000 }, observer: { onFlush: (r) => flushed.push(r) } });
  try {
    store.start();
    store.recordUsage('a', 'logs', { itemsIn: 4 });
    mock.timers.tick(9_999);
    assert.equal(store.stats().flushes, 0);
    mock.timers.tick(1);
    assert.equal(store.stats().flushes, 1);
    assert.equal(flushed.length, 1);
    assert.equal(flushed[0].rows, 1);
    assert.equal(store.reader.usage('a', 'logs', T0, T0 + MIN).points[0].itemsIn, 4);
    mock.timers.tick(10_000);
    assert.equal(flushed.length, 1, 'nothing pending, nothing reported');
  } finally {
    store.close();
    mock.timers.reset();
    rmSync(dir, { recursive: true, force: true });
  }
});

void test('close() flushes what is pending; a closed store refuses flushes but recording stays harmless', () => {
  const f = openFixture();
  try {
    f.store.recordUsage('a', 'metrics', { itemsIn: 9 });
    f.store.close();
    f.store.recordUsage('a', 'metrics', { itemsIn: 1 });
    assert.throws(() => f.store.flush(), (e: unknown) => e instanceof UsageStoreError && e.code === 'store_closed');
    assert.deepEqual(f.query('SELECT items_in FROM usage_minute'), [{ items_in: 9 }]);
    f.reopen();
    assert.equal(f.store.reader.usage('a', 'metrics', T0, T0 + MIN).points[0].itemsIn, 9);
  } finally {
    f.cleanup();
  }
});

void test('snapshots: save, load, replace (only the latest per name is kept), survive a reopen', () => {
  const f = openFixture();
  try {
    const { clock } = f;
    assert.equal(f.store.loadSnapshot('cardinality'), undefined);
    const table = new Uint32Array([1, 2, 3, 0xffffffff]);
    clock.t = T0 + 1;
    assert.equal(f.store.saveSnapshot('cardinality', new Uint8Array(table.buffer)), T0 + 1);
    f.store.saveSnapshot('sampler', Uint8Array.of(9));
    const loaded = f.store.loadSnapshot('cardinality');
    assert.ok(loaded);
    assert.equal(loaded.takenAt, T0 + 1);
    assert.deepEqual(new Uint32Array(loaded.bytes.buffer.slice(loaded.bytes.byteOffset, loaded.bytes.byteOffset + loaded.bytes.byteLength)), table);

    // A view into the middle of a larger buffer stores just the view's bytes.
    const big = Uint8Array.of(0, 0, 7, 8, 9, 0);
    clock.t = T0 + 2;
    f.store.saveSnapshot('cardinality', big.subarray(2, 5));
    f.reopen();
    const replaced = f.store.loadSnapshot('cardinality');
    assert.deepEqual(replaced && { takenAt: replaced.takenAt, bytes: [...replaced.bytes] }, { takenAt: T0 + 2, bytes: [7, 8, 9] });
    assert.deepEqual(f.query('SELECT name, taken_at FROM snapshots ORDER BY name'), [
      { name: 'cardinality', taken_at: T0 + 2 },
      { name: 'sampler', taken_at: T0 + 1 },
    ]);
    assert.throws(() => f.store.saveSnapshot('', Uint8Array.of(1)), (e: unknown) => e instanceof UsageStoreError && e.code === 'invalid_query');
  } finally {
    f.cleanup();
  }
});

void test('the writer never lets an older gauge value replace a newer one in the same minute', () => {
  const dir = tempDir();
  try {
    const { db } = openUsageDatabase(join(dir, 'w.db'), { busyTimeoutMs: 1000, integrityCheck: 'quick' });
    const write = createBatchWriter(db);
    const empty = { usage: [], metricSeries: [], labelEstimates: [], violations: [], policyActions: [], samplingProbabilities: [] };
    write({ ...empty, teamSeries: [{ minute: T0, team: 'a', active: 20, at: T0 + 2_000 }] });
    write({ ...empty, teamSeries: [{ minute: T0, team: 'a', active: 10, at: T0 + 1_000 }] });
    assert.deepEqual(db.prepare('SELECT active, at FROM team_series_minute').all(), [{ active: 20, at: T0 + 2_000 }]);
    write({ ...empty, teamSeries: [{ minute: T0, team: 'a', active: 30, at: T0 + 3_000 }] });
    assert.deepEqual(db.prepare('SELECT active, at FROM team_series_minute').all(), [{ active: 30, at: T0 + 3_000 }]);

    // The sampling probability is a gauge too.
    const noSeries = { ...empty, teamSeries: [] };
    const probability = (p: number, at: number) => ({ ...noSeries, samplingProbabilities: [{ minute: T0, team: 'a', signal: 'traces' as const, probability: p, at }] });
    write(probability(0.25, T0 + 2_000));
    write(probability(1, T0 + 1_000));
    assert.deepEqual(db.prepare('SELECT probability, at FROM sampling_probability_minute').all(), [{ probability: 0.25, at: T0 + 2_000 }]);
    write(probability(0.5, T0 + 3_000));
    assert.deepEqual(db.prepare('SELECT probability, at FROM sampling_probability_minute').all(), [{ probability: 0.5, at: T0 + 3_000 }]);
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
