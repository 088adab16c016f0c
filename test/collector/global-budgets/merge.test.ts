import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hashBytes } from '../../../collector/otlp/hash.js';
import { HyperLogLog } from '../../../collector/processors/cardinality/hll.js';
import { GlobalUsage, teamStateOf } from '../../../collector/global-budgets/merge.js';
import { sketchFromHll } from '../../../collector/global-budgets/sketch.js';
import { GLOBAL_SKETCH_PRECISION } from '../../../collector/global-budgets/usage-report.js';
import type { MetricUsage, UsageReport } from '../../../collector/global-budgets/usage-report.js';

const word = new Uint8Array(8);
const wordView = new DataView(word.buffer);
/** The series id of series `i` of metric `metric`, as two 32-bit halves. */
function seriesId(metric: number, i: number): [number, number] {
  wordView.setUint32(0, i, true);
  wordView.setUint32(4, metric, true);
  return [hashBytes(word, 0, 8, 11), hashBytes(word, 0, 8, 0x6a09e667)];
}
function metric(name: string, index: number, from: number, to: number, precision = GLOBAL_SKETCH_PRECISION): MetricUsage {
  const sketch = new HyperLogLog({ precision });
  for (let i = from; i < to; i++) sketch.add(...seriesId(index, i));
  return { name, activeSeries: to - from, sketch: sketchFromHll(sketch) };
}
/** HLL estimates (linear counting at these sizes) are within a percent or so, not exact. */
function assertNear(actual: number | undefined, expected: number, what = ''): void {
  assert.ok(actual !== undefined && Math.abs(actual - expected) <= Math.max(1, expected * 0.02), `${what} ${actual} is not within 2 % of ${expected}`);
}
function report(instance: string, seq: number, metrics: MetricUsage[], extra: Partial<UsageReport> = {}): UsageReport {
  return {
    instance, startedAtMs: 1000, seq, generatedAtMs: 0, intervalMs: 5000, team: 'checkout', chunk: 0, chunks: 1,
    itemsIn: 0, itemsKept: 0, itemsDropped: 0, activeSeries: metrics.reduce((n, m) => n + m.activeSeries, 0), metrics, ...extra,
  };
}

test('a series seen by two sidecars counts once: overlapping thirds of one team', () => {
  const usage = new GlobalUsage({ precision: GLOBAL_SKETCH_PRECISION, reportTtlMs: 30_000 });
  // Three sidecars, each 6,000 of 12,000 series in two metrics; every series is seen by at least one.
  const ranges: [number, number][] = [[0, 6000], [4000, 10_000], [8000, 12_000 + 2000]];
  ranges.forEach(([from, to], s) => {
    assert.equal(usage.ingest(report(`sidecar-${s}`, 0, [metric('a', 1, from, Math.min(to, 12_000)), metric('b', 2, from % 12_000, Math.min(to, 12_000))]), 0), 'applied');
  });
  const team = usage.teamUsage('checkout')!;
  // Truth: metric a has series 0..11999, metric b too (different ids): 24,000 distinct.
  assert.ok(Math.abs(team.activeSeries / 24_000 - 1) < 0.02, `estimate ${team.activeSeries}`);
  assert.ok(team.summedLocalSeries > 24_000, 'the plain sum double-counts the overlaps');
  assert.deepEqual(team.metrics.map((m) => m.name).sort(), ['a', 'b']);
  for (const m of team.metrics) assert.ok(Math.abs(m.activeSeries / 12_000 - 1) < 0.02, `${m.name}: ${m.activeSeries}`);
  assert.equal(team.basis.length, 3);
  assert.equal(usage.sidecarCount(), 3);
});

test('rounds: newer replaces, older is stale, a chunk again is a duplicate, counters count once', () => {
  const usage = new GlobalUsage({ precision: GLOBAL_SKETCH_PRECISION, reportTtlMs: 30_000 });
  const counts = { itemsIn: 10, itemsKept: 8, itemsDropped: 2 };
  assert.equal(usage.ingest(report('s1', 5, [metric('a', 1, 0, 100)], { chunks: 2, ...counts }), 0), 'applied');
  assert.equal(usage.ingest(report('s1', 5, [metric('b', 2, 0, 50)], { chunk: 1, chunks: 2 }), 0), 'applied');
  assert.equal(usage.ingest(report('s1', 5, [metric('a', 1, 0, 100)], { chunks: 2, ...counts }), 0), 'duplicate');
  assert.equal(usage.ingest(report('s1', 4, [metric('a', 1, 0, 999)], counts), 0), 'stale');
  assert.equal(usage.ingest(report('s1', 6, [], { startedAtMs: 999 }), 0), 'stale', 'a round of an earlier process life');
  assert.deepEqual(Object.fromEntries(usage.drainCounters()), { checkout: counts });
  assert.deepEqual(usage.drainCounters().size, 0);
  assertNear(usage.teamUsage('checkout')!.activeSeries, 150);
  // The next round has only metric b: metric a is gone from this sidecar.
  assert.equal(usage.ingest(report('s1', 6, [metric('b', 2, 0, 40)]), 0), 'applied');
  const metrics = usage.teamUsage('checkout')!.metrics;
  assert.deepEqual(metrics.map((m) => m.name), ['b']);
  assertNear(metrics[0].activeSeries, 40);
  // A restart (later startedAt) starts again at seq 0 and is accepted.
  assert.equal(usage.ingest(report('s1', 0, [metric('b', 2, 0, 7)], { startedAtMs: 2000 }), 0), 'applied');
  assertNear(usage.teamUsage('checkout')!.activeSeries, 7);
  assert.equal(usage.ingest(report('s2', 0, [metric('a', 1, 0, 5, 12)]), 0), 'precision');
});

test('a sidecar that stops reporting expires after the TTL and takes its series with it', () => {
  const usage = new GlobalUsage({ precision: GLOBAL_SKETCH_PRECISION, reportTtlMs: 10_000 });
  usage.ingest(report('s1', 0, [metric('a', 1, 0, 300)]), 0);
  usage.ingest(report('s2', 0, [metric('a', 1, 200, 500)]), 5000);
  assertNear(usage.teamUsage('checkout')!.activeSeries, 500);
  assert.equal(usage.expire(10_000), 0);
  assert.equal(usage.expire(10_001), 1);
  assertNear(usage.teamUsage('checkout')!.activeSeries, 300);
  assert.equal(usage.expire(15_001), 1);
  assert.equal(usage.teamUsage('checkout'), undefined);
  assert.deepEqual(usage.teamNames(), []);
});

test('the published state: allowed new series is what is left of the limit, never negative', () => {
  const basis = [{ instance: 's1', startedAtMs: 1, seq: 2 }];
  assert.deepEqual(teamStateOf({ team: 't', activeSeries: 70, basis }, 100, 'agg', 5), { team: 't', aggregator: 'agg', publishedAtMs: 5, activeSeries: 70, limit: 100, allowedNewSeries: 30, basis });
  assert.equal(teamStateOf({ team: 't', activeSeries: 130, basis }, 100, 'agg', 5).allowedNewSeries, 0);
});
