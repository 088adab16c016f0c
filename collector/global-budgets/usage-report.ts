/**
 * Usage reports: what one sidecar tells the aggregator about one team, every report interval.
 * Per metric, a HyperLogLog sketch of the series ids active in the sidecar's series table (the
 * same 64-bit ids the budget processor uses, so a series seen by two sidecars lands in the
 * same register of both sketches and their union counts it once), plus the team's point
 * counters since the previous report. Layout: docs/scale-out.md ("Usage report format").
 */
import { HLL_MAX_PRECISION, HLL_MIN_PRECISION } from '../processors/cardinality/hll.js';
import { ByteReader, ByteWriter, writeHeader } from './bytes.js';
import type { Sketch } from './sketch.js';

export const USAGE_REPORT_MAGIC = 'TGUR';
export const USAGE_REPORT_VERSION = 1;
/** Every sketch of the global budgets: ±0.81 % standard error, 16 KiB dense at most. */
export const GLOBAL_SKETCH_PRECISION = 14;

const SKETCH_SPARSE = 0;
const SKETCH_DENSE = 1;

export interface MetricUsage {
  readonly name: string;
  /** Series of this metric active in the sender's table (exact, local). */
  readonly activeSeries: number;
  readonly sketch: Sketch;
}

export interface UsageReport {
  /** The sidecar's configured identity (stable across restarts). */
  readonly instance: string;
  /** When the sender's process started, epoch ms: with `seq`, orders reports across restarts. */
  readonly startedAtMs: number;
  /** Report round of the sender, from 0; every chunk of one round has the same seq. */
  readonly seq: number;
  readonly generatedAtMs: number;
  readonly intervalMs: number;
  readonly team: string;
  /** This message's index among the round's `chunks` messages for the team. */
  readonly chunk: number;
  readonly chunks: number;
  /** Points under the team's budget since the previous round (chunk 0 only; 0 in the others). */
  readonly itemsIn: number;
  readonly itemsKept: number;
  readonly itemsDropped: number;
  /** The team's active series in the sender's table (exact, local). */
  readonly activeSeries: number;
  readonly metrics: readonly MetricUsage[];
}

/** Sparse: n, then n × (index delta varint, rank byte), indices increasing; dense: the 2^p register bytes. */
function writeSketch(writer: ByteWriter, sketch: Sketch): void {
  const { indices, ranks } = sketch;
  if (indices === null) {
    writer.u8(SKETCH_DENSE);
    writer.bytes(ranks);
    return;
  }
  writer.u8(SKETCH_SPARSE);
  writer.varint(indices.length);
  let previous = -1;
  for (let k = 0; k < indices.length; k++) {
    writer.varint(indices[k] - previous);
    writer.u8(ranks[k]);
    previous = indices[k];
  }
}

function readSketch(reader: ByteReader, precision: number): Sketch {
  const m = 1 << precision;
  const maxRank = 64 - precision + 1;
  const kind = reader.u8();
  if (kind === SKETCH_DENSE) {
    const ranks = reader.bytes(m).slice();
    for (const r of ranks) if (r > maxRank) reader.fail(`register value ${r} above ${maxRank}`);
    return { precision, indices: null, ranks };
  }
  if (kind !== SKETCH_SPARSE) reader.fail(`unknown sketch kind ${kind}`);
  const used = reader.varint();
  if (used > m) reader.fail(`${used} sparse registers for m = ${m}`);
  const indices = new Uint16Array(used);
  const ranks = new Uint8Array(used);
  let index = -1;
  for (let k = 0; k < used; k++) {
    const delta = reader.varint();
    if (delta === 0) reader.fail('sparse register indices are not increasing');
    index += delta;
    if (index >= m) reader.fail(`register index ${index} beyond m = ${m}`);
    const rank = reader.u8();
    if (rank === 0 || rank > maxRank) reader.fail(`sparse register rank ${rank} outside 1–${maxRank}`);
    indices[k] = index;
    ranks[k] = rank;
  }
  return { precision, indices, ranks };
}

function writeMetric(writer: ByteWriter, metric: MetricUsage): void {
  writer.string(metric.name);
  writer.varint(metric.activeSeries);
  writeSketch(writer, metric.sketch);
}

/** Bytes one metric takes in a report (to split a team's report into chunks under the message size limit). */
export function encodedMetricSize(metric: MetricUsage): number {
  const writer = new ByteWriter();
  writeMetric(writer, metric);
  return writer.finish().length;
}

export function encodeUsageReport(report: UsageReport): Uint8Array {
  const precision = report.metrics[0]?.sketch.precision ?? GLOBAL_SKETCH_PRECISION;
  for (const metric of report.metrics) {
    if (metric.sketch.precision !== precision) throw new RangeError(`metric ${metric.name}: sketch precision ${metric.sketch.precision}, others ${precision}`);
  }
  const writer = new ByteWriter();
  writeHeader(writer, USAGE_REPORT_MAGIC, USAGE_REPORT_VERSION);
  writer.string(report.instance);
  writer.varint(report.startedAtMs);
  writer.varint(report.seq);
  writer.varint(report.generatedAtMs);
  writer.varint(report.intervalMs);
  writer.string(report.team);
  writer.varint(report.chunk);
  writer.varint(report.chunks);
  writer.varint(report.itemsIn);
  writer.varint(report.itemsKept);
  writer.varint(report.itemsDropped);
  writer.varint(report.activeSeries);
  writer.u8(precision);
  writer.varint(report.metrics.length);
  for (const metric of report.metrics) writeMetric(writer, metric);
  return writer.finish();
}

/** Decodes a report; throws GlobalFormatError on anything malformed (the caller counts and skips it). */
export function decodeUsageReport(bytes: Uint8Array): UsageReport {
  const reader = new ByteReader(bytes, 'usage report');
  reader.header(USAGE_REPORT_MAGIC, USAGE_REPORT_VERSION);
  const instance = reader.string();
  const startedAtMs = reader.varint();
  const seq = reader.varint();
  const generatedAtMs = reader.varint();
  const intervalMs = reader.varint();
  const team = reader.string();
  const chunk = reader.varint();
  const chunks = reader.varint();
  if (chunks === 0 || chunk >= chunks) reader.fail(`chunk ${chunk} of ${chunks}`);
  const itemsIn = reader.varint();
  const itemsKept = reader.varint();
  const itemsDropped = reader.varint();
  const activeSeries = reader.varint();
  const precision = reader.u8();
  if (precision < HLL_MIN_PRECISION || precision > HLL_MAX_PRECISION) reader.fail(`precision ${precision} out of range`);
  const count = reader.varint();
  const metrics: MetricUsage[] = [];
  for (let i = 0; i < count; i++) {
    const name = reader.string();
    const metricActive = reader.varint();
    metrics.push({ name, activeSeries: metricActive, sketch: readSketch(reader, precision) });
  }
  reader.end();
  return { instance, startedAtMs, seq, generatedAtMs, intervalMs, team, chunk, chunks, itemsIn, itemsKept, itemsDropped, activeSeries, metrics };
}
