import type { OtlpObject, OtlpValue } from '../../otlp/object-codec.js';

/**
 * Merging data points that became the same series after a label was dropped or rewritten.
 * Points are canonical OTLP/JSON objects (64-bit integers as decimal strings, defaults omitted).
 * Each function returns the merged point, or undefined when the points cannot be merged
 * honestly (histograms with different bucket bounds, exponential histograms of different
 * scales) — the caller then leaves them as they are and counts it.
 */

const big = (value: OtlpValue | undefined): bigint => (value === undefined ? 0n : BigInt(value as string));
const num = (value: OtlpValue | undefined): number => {
  if (value === undefined) return 0;
  if (typeof value === 'number') return value;
  return Number(value); // "NaN", "Infinity" and int64 strings
};

function minTime(points: readonly OtlpObject[], field: string): string | undefined {
  let best: bigint | undefined;
  for (const p of points) if (p[field] !== undefined && (best === undefined || big(p[field]) < best)) best = big(p[field]);
  return best === undefined ? undefined : best.toString();
}

function maxTime(points: readonly OtlpObject[], field: string): string | undefined {
  let best: bigint | undefined;
  for (const p of points) if (p[field] !== undefined && (best === undefined || big(p[field]) > best)) best = big(p[field]);
  return best === undefined ? undefined : best.toString();
}

/** Start time is the earliest, time the latest: the merged point covers what its parts covered. */
function withTimes(base: OtlpObject, points: readonly OtlpObject[]): OtlpObject {
  const merged: OtlpObject = { ...base };
  const start = minTime(points, 'startTimeUnixNano');
  const time = maxTime(points, 'timeUnixNano');
  if (start !== undefined) merged.startTimeUnixNano = start;
  if (time !== undefined) merged.timeUnixNano = time;
  return merged;
}

/** The point reported last (gauges and summaries are not additive: the latest value stands). */
export function latestPoint(points: readonly OtlpObject[]): OtlpObject {
  let latest = points[0];
  for (const p of points) if (big(p.timeUnixNano) > big(latest.timeUnixNano)) latest = p;
  return latest;
}

/**
 * Sums add, for delta and cumulative temporality alike: the sum of cumulative series is the
 * cumulative of their sum. Integers stay integers unless a double is involved.
 */
export function mergeSumPoints(points: readonly OtlpObject[]): OtlpObject {
  const allInt = points.every((p) => p.asInt !== undefined || p.asDouble === undefined);
  const merged = withTimes(points[0], points);
  delete merged.asInt;
  delete merged.asDouble;
  if (allInt) merged.asInt = points.reduce((sum, p) => sum + big(p.asInt), 0n).toString();
  else merged.asDouble = points.reduce((sum, p) => sum + (p.asInt !== undefined ? Number(p.asInt) : num(p.asDouble)), 0);
  return merged;
}

const sameNumbers = (a: OtlpValue | undefined, b: OtlpValue | undefined): boolean => JSON.stringify(a ?? []) === JSON.stringify(b ?? []);

/** Bucket-wise, when every point has the same explicit bounds. */
export function mergeHistogramPoints(points: readonly OtlpObject[]): OtlpObject | undefined {
  const first = points[0];
  const bounds = first.explicitBounds;
  const width = ((first.bucketCounts as OtlpValue[] | undefined) ?? []).length;
  for (const p of points) {
    if (!sameNumbers(p.explicitBounds, bounds) || ((p.bucketCounts as OtlpValue[] | undefined) ?? []).length !== width) return undefined;
  }
  const merged = withTimes(first, points);
  merged.count = points.reduce((sum, p) => sum + big(p.count), 0n).toString();
  if (width > 0) {
    merged.bucketCounts = Array.from({ length: width }, (_, i) => points.reduce((sum, p) => sum + big((p.bucketCounts as OtlpValue[])[i]), 0n).toString());
  }
  mergeSumMinMax(merged, points);
  return merged;
}

/** sum adds; min and max combine; each is kept only if every part had it (else it is unknown). */
function mergeSumMinMax(merged: OtlpObject, points: readonly OtlpObject[]): void {
  delete merged.sum;
  delete merged.min;
  delete merged.max;
  if (points.every((p) => p.sum !== undefined)) merged.sum = points.reduce((sum, p) => sum + num(p.sum), 0);
  if (points.every((p) => p.min !== undefined)) merged.min = Math.min(...points.map((p) => num(p.min)));
  if (points.every((p) => p.max !== undefined)) merged.max = Math.max(...points.map((p) => num(p.max)));
}

function mergeBuckets(parts: readonly (OtlpObject | undefined)[]): OtlpObject | undefined {
  const present = parts.filter((b): b is OtlpObject => b !== undefined && ((b.bucketCounts as OtlpValue[] | undefined) ?? []).length > 0);
  if (present.length === 0) return parts.find((b) => b !== undefined);
  const offsets = present.map((b) => Number(b.offset ?? 0));
  const start = Math.min(...offsets);
  const end = Math.max(...present.map((b, i) => offsets[i] + (b.bucketCounts as OtlpValue[]).length));
  const counts = new Array<bigint>(end - start).fill(0n);
  present.forEach((b, i) => (b.bucketCounts as OtlpValue[]).forEach((c, j) => (counts[offsets[i] - start + j] += big(c))));
  const merged: OtlpObject = { bucketCounts: counts.map(String) };
  if (start !== 0) merged.offset = start;
  return merged;
}

/** Exponential histograms merge when scale and zero threshold agree (no rescaling). */
export function mergeExponentialHistogramPoints(points: readonly OtlpObject[]): OtlpObject | undefined {
  const first = points[0];
  for (const p of points) {
    if ((p.scale ?? 0) !== (first.scale ?? 0) || num(p.zeroThreshold) !== num(first.zeroThreshold)) return undefined;
  }
  const merged = withTimes(first, points);
  merged.count = points.reduce((sum, p) => sum + big(p.count), 0n).toString();
  merged.zeroCount = points.reduce((sum, p) => sum + big(p.zeroCount), 0n).toString();
  for (const side of ['positive', 'negative'] as const) {
    const buckets = mergeBuckets(points.map((p) => p[side] as OtlpObject | undefined));
    if (buckets) merged[side] = buckets;
    else delete merged[side];
  }
  mergeSumMinMax(merged, points);
  return merged;
}
