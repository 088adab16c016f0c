// The in-memory accumulator: pure, no SQLite. Values are hand-computed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createUsageAccumulator } from '../../../collector/usage/accumulator.js';
import { MAX_SAMPLE_VALUE_CHARS, MAX_VIOLATION_SAMPLES, serializeSample } from '../../../collector/usage/samples.js';
import { MIN, T0, clockAt } from './helpers.js';

void test('usage adds up per minute × team × signal; a new minute starts a new row', () => {
  const clock = clockAt(T0 + 5_000);
  const acc = createUsageAccumulator({ now: clock.now, maxKeys: 100 });
  acc.recordUsage('checkout', 'metrics', { itemsIn: 100, passed: 90, dropped: 6, overflowed: 4, bytes: 2048 });
  clock.t = T0 + 59_999;
  acc.recordUsage('checkout', 'metrics', { itemsIn: 10, passed: 10, bytes: 100 });
  acc.recordUsage('checkout', 'traces', { itemsIn: 3, passed: 1, dropped: 2 });
  acc.recordUsage('search', 'metrics', { itemsIn: 1 });
  clock.t = T0 + MIN;
  acc.recordUsage('checkout', 'metrics', { itemsIn: 5, passed: 5 });

  assert.equal(acc.pendingKeys(), 4);
  const batch = acc.drain();
  assert.deepEqual(batch.usage, [
    { minute: T0, team: 'checkout', signal: 'metrics', itemsIn: 110, passed: 100, dropped: 6, overflowed: 4, bytes: 2148, bytesKept: 0, adjustedCount: 0 },
    { minute: T0, team: 'checkout', signal: 'traces', itemsIn: 3, passed: 1, dropped: 2, overflowed: 0, bytes: 0, bytesKept: 0, adjustedCount: 0 },
    { minute: T0, team: 'search', signal: 'metrics', itemsIn: 1, passed: 0, dropped: 0, overflowed: 0, bytes: 0, bytesKept: 0, adjustedCount: 0 },
    { minute: T0 + MIN, team: 'checkout', signal: 'metrics', itemsIn: 5, passed: 5, dropped: 0, overflowed: 0, bytes: 0, bytesKept: 0, adjustedCount: 0 },
  ]);
  assert.equal(acc.pendingKeys(), 0);
  assert.equal(acc.drain().usage.length, 0, 'drain empties the accumulator');
});

void test('sampling usage: bytes kept and adjusted counts add up per minute × team × signal', () => {
  const clock = clockAt(T0 + 1_000);
  const acc = createUsageAccumulator({ now: clock.now, maxKeys: 100 });
  // 8 spans in, 2 kept at probability 1/4 (adjusted count 4 each), 6 dropped.
  acc.recordUsage('checkout', 'traces', { itemsIn: 8, passed: 2, dropped: 6, bytes: 800, bytesKept: 200, adjustedCount: 8 });
  // 3 more in, 1 kept by a keep rule (adjusted count 1) and 1 at probability 0.4 (adjusted 2.5).
  acc.recordUsage('checkout', 'traces', { itemsIn: 3, passed: 2, dropped: 1, bytes: 330, bytesKept: 220, adjustedCount: 3.5 });
  acc.recordUsage('checkout', 'logs', { itemsIn: 10, passed: 10, bytes: 1_000, bytesKept: 1_000, adjustedCount: 10 });
  assert.deepEqual(acc.drain().usage, [
    { minute: T0, team: 'checkout', signal: 'traces', itemsIn: 11, passed: 4, dropped: 7, overflowed: 0, bytes: 1_130, bytesKept: 420, adjustedCount: 11.5 },
    { minute: T0, team: 'checkout', signal: 'logs', itemsIn: 10, passed: 10, dropped: 0, overflowed: 0, bytes: 1_000, bytesKept: 1_000, adjustedCount: 10 },
  ]);
});

void test('the sampling probability is a gauge per minute × team × signal: the last value in a minute wins', () => {
  const clock = clockAt(T0 + 1_000);
  const acc = createUsageAccumulator({ now: clock.now, maxKeys: 100 });
  acc.recordSamplingProbability('checkout', 'traces', 1);
  clock.t = T0 + 40_000;
  acc.recordSamplingProbability('checkout', 'traces', 0.25);
  acc.recordSamplingProbability('checkout', 'logs', 0.5);
  clock.t = T0 + MIN + 5_000;
  acc.recordSamplingProbability('checkout', 'traces', 0.125);
  acc.recordSamplingProbability('checkout', 'traces', 0); // 0 is a valid probability (fully throttled but for the floor)
  assert.equal(acc.pendingKeys(), 3);
  assert.deepEqual(acc.drain().samplingProbabilities, [
    { minute: T0, team: 'checkout', signal: 'traces', probability: 0.25, at: T0 + 40_000 },
    { minute: T0, team: 'checkout', signal: 'logs', probability: 0.5, at: T0 + 40_000 },
    { minute: T0 + MIN, team: 'checkout', signal: 'traces', probability: 0, at: T0 + MIN + 5_000 },
  ]);
});

void test('gauges keep the last value per minute; label estimates keep the latest', () => {
  const clock = clockAt(T0 + 1_000);
  const acc = createUsageAccumulator({ now: clock.now, maxKeys: 100 });
  acc.recordTeamSeries('checkout', 500);
  acc.recordMetricSeries('checkout', 'http.server.duration', 300);
  acc.recordLabelEstimate('checkout', 'http.server.duration', 'route', 40);
  clock.t = T0 + 2_000;
  acc.recordTeamSeries('checkout', 480);
  acc.recordMetricSeries('checkout', 'http.server.duration', 310);
  acc.recordLabelEstimate('checkout', 'http.server.duration', 'route', 41.5);
  const batch = acc.drain();
  assert.deepEqual(batch.teamSeries, [{ minute: T0, team: 'checkout', active: 480, at: T0 + 2_000 }]);
  assert.deepEqual(batch.metricSeries, [{ minute: T0, team: 'checkout', metric: 'http.server.duration', active: 310, at: T0 + 2_000 }]);
  assert.deepEqual(batch.labelEstimates, [{ team: 'checkout', metric: 'http.server.duration', label: 'route', estimate: 41.5, at: T0 + 2_000 }]);
});

void test('violations sum counts, track first and last sight, and keep a few distinct bounded samples', () => {
  const clock = clockAt(T0 + 10_000);
  const acc = createUsageAccumulator({ now: clock.now, maxKeys: 100 });
  const base = { team: 'checkout', metric: 'http.server.duration', rule: 'max_active_series', action: 'drop' } as const;
  acc.recordViolation({ ...base, labels: { route: '/a', user_id: '<redacted>' } });
  clock.t = T0 + 20_000;
  acc.recordViolation({ ...base, count: 4, labels: { user_id: '<redacted>', route: '/a' } }); // same set, other key order
  for (let i = 0; i < 10; i++) acc.recordViolation({ ...base, labels: { route: `/r${i}` } });
  acc.recordViolation({ ...base, labels: { route: 'x'.repeat(1000) } });
  const [row] = acc.drain().violations;
  assert.equal(row.count, 1 + 4 + 10 + 1);
  assert.equal(row.firstSeen, T0 + 10_000);
  assert.equal(row.lastSeen, T0 + 20_000);
  assert.equal(row.samples.length, MAX_VIOLATION_SAMPLES);
  assert.deepEqual(row.samples.map((s) => JSON.parse(s) as unknown), [{ route: '/a', user_id: '<redacted>' }, { route: '/r0' }, { route: '/r1' }]);

  const long = JSON.parse(serializeSample({ v: 'y'.repeat(1000) }) ?? 'null') as { v: string };
  assert.equal(long.v, `${'y'.repeat(MAX_SAMPLE_VALUE_CHARS)}…`, 'long values are trimmed');
  const huge = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`key_${String(i).padStart(2, '0')}`, 'v'.repeat(100)]));
  assert.equal(serializeSample(huge), undefined, 'a sample still over the byte cap after trimming is dropped');
});

void test('attribute policy action counts add up per minute; an unknown team is stored as ""', () => {
  const clock = clockAt(T0);
  const acc = createUsageAccumulator({ now: clock.now, maxKeys: 100 });
  const line = { signal: 'logs', policy: 'pii', action: 'redact', mode: 'enforce', count: 3 } as const;
  acc.recordActionCounts([line, { ...line, count: 2 }, { ...line, team: 'checkout', count: 7 }]);
  assert.deepEqual(acc.drain().policyActions, [
    { minute: T0, team: '', signal: 'logs', policy: 'pii', action: 'redact', mode: 'enforce', count: 5 },
    { minute: T0, team: 'checkout', signal: 'logs', policy: 'pii', action: 'redact', mode: 'enforce', count: 7 },
  ]);
});

void test('at the key cap new keys are refused and counted, existing keys keep counting', () => {
  const acc = createUsageAccumulator({ now: clockAt().now, maxKeys: 3 });
  acc.recordUsage('a', 'logs', { itemsIn: 1 });
  acc.recordUsage('b', 'logs', { itemsIn: 1 });
  acc.recordTeamSeries('a', 10);
  acc.recordUsage('c', 'logs', { itemsIn: 1 }); // refused
  acc.recordMetricSeries('a', 'm', 1); // refused
  acc.recordViolation({ team: 'a', metric: 'm', rule: 'r', action: 'drop' }); // refused
  acc.recordActionCounts([{ signal: 'logs', policy: 'p', action: 'drop', mode: 'audit', count: 2 }]); // refused
  acc.recordSamplingProbability('a', 'traces', 0.5); // refused
  acc.recordUsage('a', 'logs', { itemsIn: 5 }); // existing key: counted
  acc.recordTeamSeries('a', 11); // existing key: updated
  assert.equal(acc.pendingKeys(), 3);
  assert.deepEqual(acc.refused(), { usage: 1, team_series: 0, metric_series: 1, label_estimate: 0, violation: 1, policy_action: 1, sampling_probability: 1 });
  const batch = acc.drain();
  assert.deepEqual(
    batch.usage.map((r) => [r.team, r.itemsIn]),
    [
      ['a', 6],
      ['b', 1],
    ],
  );
  assert.equal(batch.teamSeries[0].active, 11);
  // After a drain there is room again; the refusal counters are cumulative.
  acc.recordUsage('c', 'logs', { itemsIn: 1 });
  assert.equal(acc.drain().usage.length, 1);
  assert.equal(acc.refused().usage, 1);
});

void test('values that are not finite, non-negative numbers are refused and counted, never stored', () => {
  const acc = createUsageAccumulator({ now: clockAt().now, maxKeys: 100 });
  acc.recordUsage('a', 'logs', { itemsIn: Number.NaN });
  acc.recordUsage('a', 'logs', { passed: -1 });
  acc.recordTeamSeries('a', Number.POSITIVE_INFINITY);
  acc.recordLabelEstimate('a', 'm', 'l', Number.NaN);
  acc.recordViolation({ team: 'a', metric: 'm', rule: 'r', action: 'drop', count: Number.NaN });
  acc.recordActionCounts([{ signal: 'logs', policy: 'p', action: 'drop', mode: 'audit', count: -3 }]);
  acc.recordUsage('a', 'traces', { bytesKept: -1 });
  acc.recordUsage('a', 'traces', { adjustedCount: Number.NaN });
  acc.recordUsage('a', 'traces', { adjustedCount: Number.POSITIVE_INFINITY });
  acc.recordSamplingProbability('a', 'traces', 1.5);
  acc.recordSamplingProbability('a', 'traces', -0.1);
  acc.recordSamplingProbability('a', 'logs', Number.NaN);
  assert.equal(acc.invalid(), 12);
  assert.equal(acc.pendingKeys(), 0);
});

void test('restore puts a failed batch back: sums add to what came since, newer gauge values win', () => {
  const clock = clockAt(T0 + 1_000);
  const acc = createUsageAccumulator({ now: clock.now, maxKeys: 100 });
  acc.recordUsage('a', 'logs', { itemsIn: 10 });
  acc.recordTeamSeries('a', 100);
  acc.recordViolation({ team: 'a', metric: 'm', rule: 'r', action: 'drop', count: 2, labels: { k: '1' } });
  acc.recordUsage('a', 'traces', { itemsIn: 4, passed: 1, bytesKept: 100, adjustedCount: 4 });
  acc.recordSamplingProbability('a', 'traces', 0.25);
  const failed = acc.drain();

  clock.t = T0 + 2_000;
  acc.recordUsage('a', 'logs', { itemsIn: 5 });
  acc.recordTeamSeries('a', 120);
  acc.recordViolation({ team: 'a', metric: 'm', rule: 'r', action: 'drop', count: 1, labels: { k: '2' } });
  acc.recordUsage('a', 'traces', { itemsIn: 2, passed: 1, bytesKept: 50, adjustedCount: 0.5 });
  acc.recordSamplingProbability('a', 'traces', 0.5);
  acc.restore(failed);

  const batch = acc.drain();
  assert.equal(batch.usage[0].itemsIn, 15);
  assert.deepEqual(
    batch.usage.filter((r) => r.signal === 'traces').map((r) => [r.itemsIn, r.bytesKept, r.adjustedCount]),
    [[6, 150, 4.5]],
  );
  assert.deepEqual(batch.samplingProbabilities, [{ minute: T0, team: 'a', signal: 'traces', probability: 0.5, at: T0 + 2_000 }], 'the newer probability wins');
  assert.deepEqual(batch.teamSeries, [{ minute: T0, team: 'a', active: 120, at: T0 + 2_000 }]);
  assert.equal(batch.violations[0].count, 3);
  assert.equal(batch.violations[0].firstSeen, T0 + 1_000);
  assert.equal(batch.violations[0].lastSeen, T0 + 2_000);
  assert.deepEqual(batch.violations[0].samples, ['{"k":"2"}', '{"k":"1"}']);
  assert.equal(failed.usage[0].itemsIn, 10, 'the failed batch itself is not modified');
});
