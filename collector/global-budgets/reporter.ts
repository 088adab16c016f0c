/**
 * Builds a sidecar's usage reports from its budget state: per team, one sketch per metric of
 * the series active in the team's table, split into chunks that each fit in one Kafka message.
 * Pure: the caller passes the clock, the round number and the counters, and sends the bytes.
 */
import { HyperLogLog } from '../processors/cardinality/hll.js';
import type { TeamSeries } from '../processors/cardinality/budget-state.js';
import { sketchFromHll } from './sketch.js';
import { encodedMetricSize, encodeUsageReport, GLOBAL_SKETCH_PRECISION } from './usage-report.js';
import type { MetricUsage, UsageReport } from './usage-report.js';

export interface ReportRound {
  readonly instance: string;
  readonly startedAtMs: number;
  readonly seq: number;
  readonly nowMs: number;
  readonly intervalMs: number;
  /** Largest encoded message; a team whose metrics do not fit in one is split across several. */
  readonly maxMessageBytes: number;
}

export interface TeamCounts {
  readonly itemsIn: number;
  readonly itemsKept: number;
  readonly itemsDropped: number;
}

const NO_COUNTS: TeamCounts = { itemsIn: 0, itemsKept: 0, itemsDropped: 0 };
/** Room left in a message for everything but the metrics (ids, counters, team name). */
const HEADER_ALLOWANCE = 1024;

/** One sketch per metric number of the team's table, holding the ids of its active series. */
export function metricSketches(team: TeamSeries, precision = GLOBAL_SKETCH_PRECISION): MetricUsage[] {
  const sketches: (HyperLogLog | undefined)[] = [];
  const counts: number[] = [];
  team.table.forEach((lo, hi, metric) => {
    let sketch = sketches[metric];
    if (sketch === undefined) sketches[metric] = sketch = new HyperLogLog({ precision });
    sketch.add(lo, hi);
    counts[metric] = (counts[metric] ?? 0) + 1;
  });
  const out: MetricUsage[] = [];
  sketches.forEach((sketch, metric) => {
    if (sketch !== undefined) out.push({ name: team.metricNames[metric] ?? `(metric ${metric})`, activeSeries: counts[metric], sketch: sketchFromHll(sketch) });
  });
  return out;
}

/** Splits metrics into groups whose encoded size stays under `budget` bytes (a metric larger than that goes alone). */
export function chunkMetrics(metrics: readonly MetricUsage[], budget: number): MetricUsage[][] {
  const chunks: MetricUsage[][] = [[]];
  let size = 0;
  for (const metric of metrics) {
    const bytes = encodedMetricSize(metric);
    if (size + bytes > budget && chunks[chunks.length - 1].length > 0) {
      chunks.push([]);
      size = 0;
    }
    chunks[chunks.length - 1].push(metric);
    size += bytes;
  }
  return chunks;
}

/** The encoded messages of one team for one round: chunk 0 carries the counters and the team's series count. */
export function teamReportMessages(team: TeamSeries, counts: TeamCounts | undefined, round: ReportRound): Uint8Array[] {
  const chunks = chunkMetrics(metricSketches(team), Math.max(1, round.maxMessageBytes - HEADER_ALLOWANCE - team.team.length - round.instance.length));
  const c = counts ?? NO_COUNTS;
  return chunks.map((metrics, chunk) => {
    const report: UsageReport = {
      instance: round.instance,
      startedAtMs: round.startedAtMs,
      seq: round.seq,
      generatedAtMs: round.nowMs,
      intervalMs: round.intervalMs,
      team: team.team,
      chunk,
      chunks: chunks.length,
      itemsIn: chunk === 0 ? c.itemsIn : 0,
      itemsKept: chunk === 0 ? c.itemsKept : 0,
      itemsDropped: chunk === 0 ? c.itemsDropped : 0,
      activeSeries: team.table.size,
      metrics,
    };
    return encodeUsageReport(report);
  });
}
