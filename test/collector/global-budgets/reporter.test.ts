import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hashBytes } from '../../../collector/otlp/hash.js';
import { BudgetState } from '../../../collector/processors/cardinality/budget-state.js';
import { metricSketches, teamReportMessages } from '../../../collector/global-budgets/reporter.js';
import { estimateRegisters, sketchRegisters } from '../../../collector/global-budgets/sketch.js';
import { decodeUsageReport } from '../../../collector/global-budgets/usage-report.js';

const word = new Uint8Array(4);
const wordView = new DataView(word.buffer);

/** A team whose table holds `perMetric[k]` series of metric `m<k>`. */
function teamWith(perMetric: readonly number[]) {
  const state = new BudgetState({ maxTrackedSeriesPerTeam: 1_000_000, maxMetricsPerTeam: 1000, maxLabelTrackers: 10 });
  const team = state.team('checkout');
  perMetric.forEach((count, k) => {
    const number = team.metricNumber(`m${k}`);
    for (let i = 0; i < count; i++) {
      wordView.setUint32(0, k * 1_000_000 + i, true);
      team.table.insert(hashBytes(word, 0, 4, 3), hashBytes(word, 0, 4, 5), number, 1000);
    }
  });
  return team;
}

const round = { instance: 'sidecar-a', startedAtMs: 10, seq: 4, nowMs: 2000, intervalMs: 5000, maxMessageBytes: 900_000 };

test('one sketch per metric of the team table, estimating its active series', () => {
  const sketches = metricSketches(teamWith([10, 2000, 0, 30_000]));
  assert.deepEqual(sketches.map((s) => [s.name, s.activeSeries]), [['m0', 10], ['m1', 2000], ['m3', 30_000]]);
  for (const s of sketches) {
    const estimate = estimateRegisters(sketchRegisters(s.sketch), s.sketch.precision);
    assert.ok(Math.abs(estimate / s.activeSeries - 1) < 0.02, `${s.name}: ${estimate}`);
  }
});

test('a team report: counters and the series count in chunk 0, metrics split under the message size', () => {
  const team = teamWith(Array.from({ length: 40 }, () => 1500));
  const whole = teamReportMessages(team, { itemsIn: 9, itemsKept: 7, itemsDropped: 2 }, round);
  assert.equal(whole.length, 1);
  const single = decodeUsageReport(whole[0]);
  assert.deepEqual([single.instance, single.seq, single.team, single.activeSeries, single.itemsIn, single.itemsKept, single.itemsDropped, single.metrics.length], ['sidecar-a', 4, 'checkout', 60_000, 9, 7, 2, 40]);

  const maxMessageBytes = 20_000;
  const parts = teamReportMessages(team, { itemsIn: 9, itemsKept: 7, itemsDropped: 2 }, { ...round, maxMessageBytes });
  assert.ok(parts.length > 1);
  const decoded = parts.map((bytes) => {
    assert.ok(bytes.length <= maxMessageBytes, `a chunk of ${bytes.length} bytes`);
    return decodeUsageReport(bytes);
  });
  assert.deepEqual(decoded.map((r) => [r.chunk, r.chunks]), parts.map((_, i) => [i, parts.length]));
  assert.deepEqual(decoded.map((r) => r.itemsIn), [9, ...parts.slice(1).map(() => 0)]);
  assert.deepEqual(decoded.flatMap((r) => r.metrics.map((m) => m.name)).sort(), Array.from({ length: 40 }, (_, k) => `m${k}`).sort());
});

test('a team without series still reports (so the aggregator learns it has none)', () => {
  const messages = teamReportMessages(teamWith([]), undefined, round);
  assert.equal(messages.length, 1);
  const report = decodeUsageReport(messages[0]);
  assert.equal(report.metrics.length, 0);
  assert.equal(report.activeSeries, 0);
});
