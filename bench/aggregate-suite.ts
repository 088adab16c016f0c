import { performance } from 'node:perf_hooks';
import { hashBytes } from '../collector/otlp/hash.js';
import { HyperLogLog } from '../collector/processors/cardinality/hll.js';
import { GlobalUsage, teamStateOf } from '../collector/global-budgets/merge.js';
import { sketchFromHll } from '../collector/global-budgets/sketch.js';
import { encodeTeamState } from '../collector/global-budgets/team-state.js';
import { decodeUsageReport, encodeUsageReport, GLOBAL_SKETCH_PRECISION } from '../collector/global-budgets/usage-report.js';
import type { MetricUsage } from '../collector/global-budgets/usage-report.js';
import type { Figure } from './report.js';
import { printTable } from './report.js';
import { formatFixed, formatInteger, median } from './stats.js';

/**
 * `aggregate`: what one aggregator process can take, measured in this (pinned) process on its
 * pure core, Kafka excluded: 100 teams × 50 sidecars send one usage report each (10 metrics ×
 * 200 series per sidecar, half of each sidecar's series shared with its neighbour), then
 *
 * - ingest: decode + merge-in of every report (what the consumer does per message);
 * - publish round: expiry, the HLL union of every team over its sidecars and metrics, and the
 *   encoding of every team's state (what the publish timer does);
 * - sketch memory per (team, sidecar) held between rounds;
 * - report size per team and round for three team shapes.
 *
 * From these, the capacity at a 10 s report and publish interval when the aggregator may spend
 * half a core on it: pairs = 5 s / (ingest per report + publish per pair).
 */

const SUITE = 'aggregate';
const TEAMS = 100;
const SIDECARS = 50;
const METRICS = 10;
const SERIES = 200;
const ROUNDS = 5;
const INTERVAL_S = 10;
const CORE_SHARE = 0.5;

const word = new Uint8Array(12);
const view = new DataView(word.buffer);

/** The sketch of `count` series of (team, metric) starting at series number `from`. */
function sketchOf(team: number, metric: number, from: number, count: number): HyperLogLog {
  const sketch = new HyperLogLog({ precision: GLOBAL_SKETCH_PRECISION });
  view.setUint32(0, team, true);
  view.setUint32(4, metric, true);
  for (let i = from; i < from + count; i++) {
    view.setUint32(8, i, true);
    sketch.add(hashBytes(word, 0, 12, 1), hashBytes(word, 0, 12, 2));
  }
  return sketch;
}

function reportBytes(team: number, sidecar: number, metrics: number, series: number, seq: number): Uint8Array {
  const usage: MetricUsage[] = [];
  for (let m = 0; m < metrics; m++) usage.push({ name: `http.server.metric_${m}`, activeSeries: series, sketch: sketchFromHll(sketchOf(team, m, (sidecar * series) / 2, series)) });
  return encodeUsageReport({
    instance: `sidecar-${sidecar}`, startedAtMs: 1, seq, generatedAtMs: 0, intervalMs: INTERVAL_S * 1000, team: `team-${team}`,
    chunk: 0, chunks: 1, itemsIn: 123_456, itemsKept: 120_000, itemsDropped: 3456, activeSeries: metrics * series, metrics: usage,
  });
}

export function runAggregateSuite(): Figure[] {
  const reports: Uint8Array[] = [];
  for (let t = 0; t < TEAMS; t++) for (let s = 0; s < SIDECARS; s++) reports.push(reportBytes(t, s, METRICS, SERIES, 0));
  const reportTotal = reports.reduce((n, r) => n + r.length, 0);

  const ingestNs: number[] = [];
  const publishMs: number[] = [];
  let usage = new GlobalUsage({ precision: GLOBAL_SKETCH_PRECISION, reportTtlMs: 60_000 });
  const errors: number[] = [];
  // Truth: each sidecar's series start at sidecar × SERIES / 2, so a team's metric spans (SIDECARS + 1) × SERIES / 2 series.
  const truth = (METRICS * (SIDECARS + 1) * SERIES) / 2;
  for (let round = 0; round < ROUNDS; round++) {
    // Each round a fresh aggregator, so every report is applied (not a duplicate of the last round).
    usage = new GlobalUsage({ precision: GLOBAL_SKETCH_PRECISION, reportTtlMs: 60_000 });
    const start = performance.now();
    for (const bytes of reports) usage.ingest(decodeUsageReport(bytes), 0);
    ingestNs.push(((performance.now() - start) * 1e6) / reports.length);
    const publishStart = performance.now();
    usage.expire(0);
    for (let t = 0; t < TEAMS; t++) {
      const team = usage.teamUsage(`team-${t}`)!;
      if (round === 0) errors.push(team.activeSeries / truth - 1);
      encodeTeamState(teamStateOf(team, 100_000, 'aggregator', 0));
    }
    publishMs.push(performance.now() - publishStart);
  }
  const perReportUs = median(ingestNs) / 1000;
  const publishPerPairUs = (median(publishMs) * 1000) / (TEAMS * SIDECARS);
  const bytesPerPair = usage.sketchBytes() / (TEAMS * SIDECARS);
  const meanError = errors.reduce((a, b) => a + b, 0) / errors.length;
  const worstError = Math.max(...errors.map(Math.abs));
  const pairsPerInterval = (CORE_SHARE * INTERVAL_S * 1e6) / (perReportUs + publishPerPairUs);

  const shapes = [
    { name: '10 metrics × 200 series', metrics: 10, series: 200 },
    { name: '100 metrics × 100 series', metrics: 100, series: 100 },
    { name: '1 metric × 50,000 series', metrics: 1, series: 50_000 },
  ].map((shape) => ({ ...shape, bytes: reportBytes(0, 0, shape.metrics, shape.series, 0).length }));

  printTable(
    `aggregate: ${TEAMS} teams × ${SIDECARS} sidecars, ${METRICS} metrics × ${SERIES} series per report (${formatInteger(reportTotal / reports.length)} B a report), median of ${ROUNDS}`,
    ['figure', 'value'],
    [
      ['ingest (decode + merge-in) per report', `${formatFixed(perReportUs, 1)} µs`],
      ['publish round (union + encode), all teams', `${formatFixed(median(publishMs), 1)} ms`],
      ['publish cost per (team, sidecar)', `${formatFixed(publishPerPairUs, 1)} µs`],
      ['sketch memory per (team, sidecar)', `${formatInteger(bytesPerPair)} B`],
      [`team estimate vs ${formatInteger(truth)} true: mean error, worst of ${TEAMS}`, `${formatFixed(meanError * 100, 2)} %, ${formatFixed(worstError * 100, 2)} %`],
      [`(team, sidecar) pairs per ${INTERVAL_S} s on ${CORE_SHARE} core`, formatInteger(pairsPerInterval)],
      ['→ sidecars at 100 teams', formatInteger(pairsPerInterval / 100)],
      ['→ sidecars at 1,000 teams', formatInteger(pairsPerInterval / 1000)],
      ...shapes.map((shape) => [`report size per team and round: ${shape.name}`, `${formatInteger(shape.bytes)} B`]),
    ],
  );
  return [
    { suite: SUITE, name: 'ingest per report', value: perReportUs, display: `${formatFixed(perReportUs, 1)} µs` },
    { suite: SUITE, name: 'publish per (team, sidecar)', value: publishPerPairUs, display: `${formatFixed(publishPerPairUs, 1)} µs` },
    { suite: SUITE, name: `(team, sidecar) pairs per ${INTERVAL_S} s interval`, value: pairsPerInterval, display: formatInteger(pairsPerInterval) },
    { suite: SUITE, name: 'sketch memory per (team, sidecar)', value: bytesPerPair, display: `${formatInteger(bytesPerPair)} B` },
    ...shapes.map((shape) => ({ suite: SUITE, name: `report bytes: ${shape.name}`, value: shape.bytes, display: `${formatInteger(shape.bytes)} B` })),
  ];
}
