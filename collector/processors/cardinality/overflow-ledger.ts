import type { OtlpObject } from '../../otlp/object-codec.js';

/**
 * Keeps the overflow series of cumulative metrics a correct cumulative sum.
 *
 * A cumulative point is a running total of its own stream. When a refused stream is folded
 * into the overflow series, adding its raw value on every export would count its history again
 * each time; what the overflow series must grow by is the stream's *increase* since its last
 * point. So the ledger keeps each refused stream's last values and the running totals of each
 * overflow series. A value below the stream's last one is a counter reset: the new value is the
 * increase.
 *
 * Values are vectors: a sum point is [value]; a histogram point is [count, sum, ...bucket
 * counts], and its bucket bounds must be the same for every stream of the overflow series.
 * Memory is bounded: past `maxStreams` a new stream cannot be folded (the caller drops and
 * counts it); streams unseen for a window are forgotten by `sweep`.
 */

interface OverflowSeries {
  readonly shape: string;
  readonly totals: number[];
  /** Start time of the overflow series: when it first received a point. */
  readonly startTimeUnixNano: string;
  readonly streams: Map<string, { last: number[]; seenMs: number }>;
}

export interface FoldResult {
  readonly totals: readonly number[];
  readonly startTimeUnixNano: string;
}

export class CumulativeOverflowLedger {
  private readonly series = new Map<string, OverflowSeries>();
  private streams = 0;
  /** Streams that could not be folded because the ledger was full. */
  refusedStreams = 0;

  constructor(private readonly maxStreams: number) {}

  get size(): number {
    return this.streams;
  }

  /**
   * Folds a stream's latest cumulative vector into overflow series `seriesKey`. Returns the new
   * totals, or undefined when the point cannot be folded (a different bucket layout than the
   * series has, or the ledger is full).
   */
  fold(seriesKey: string, streamKey: string, vector: readonly number[], shape: string, startTimeUnixNano: string, nowMs: number): FoldResult | undefined {
    let overflow = this.series.get(seriesKey);
    if (!overflow) {
      overflow = { shape, totals: vector.map(() => 0), startTimeUnixNano, streams: new Map() };
      this.series.set(seriesKey, overflow);
    }
    if (overflow.shape !== shape || overflow.totals.length !== vector.length) return undefined;
    let stream = overflow.streams.get(streamKey);
    if (!stream) {
      if (this.streams >= this.maxStreams) {
        this.refusedStreams++;
        return undefined;
      }
      stream = { last: vector.map(() => 0), seenMs: nowMs };
      overflow.streams.set(streamKey, stream);
      this.streams++;
    }
    const reset = vector.some((value, k) => value < stream.last[k]);
    for (let k = 0; k < vector.length; k++) overflow.totals[k] += reset ? vector[k] : vector[k] - stream.last[k];
    stream.last = [...vector];
    stream.seenMs = nowMs;
    return { totals: overflow.totals, startTimeUnixNano: overflow.startTimeUnixNano };
  }

  /** Forgets streams not seen within `windowMs`; their contribution stays in the totals. */
  sweep(nowMs: number, windowMs: number): void {
    for (const overflow of this.series.values()) {
      for (const [key, stream] of overflow.streams) {
        if (nowMs - stream.seenMs <= windowMs) continue;
        overflow.streams.delete(key);
        this.streams--;
      }
    }
  }
}

/** The vector and shape of a decoded cumulative point, or undefined for kinds that cannot overflow cumulatively. */
export function cumulativeVector(point: OtlpObject, kind: 'sum' | 'histogram'): { vector: number[]; shape: string } | undefined {
  if (kind === 'sum') {
    const value = point.asInt !== undefined ? Number(point.asInt) : Number(point.asDouble ?? 0);
    return { vector: [value], shape: point.asInt !== undefined ? 'int' : 'double' };
  }
  const buckets = ((point.bucketCounts ?? []) as string[]).map(Number);
  const bounds = (point.explicitBounds ?? []) as number[];
  return { vector: [Number(point.count ?? 0), Number(point.sum ?? 0), ...buckets], shape: `histogram:${bounds.join(',')}` };
}

/** The overflow point carrying `totals`: the carrier's time, the overflow series' start, the overflow attribute. */
export function cumulativeOverflowPoint(carrier: OtlpObject, kind: 'sum' | 'histogram', fold: FoldResult, overflowAttributes: readonly OtlpObject[]): OtlpObject {
  const base: OtlpObject = { attributes: [...overflowAttributes], startTimeUnixNano: fold.startTimeUnixNano, timeUnixNano: carrier.timeUnixNano };
  if (kind === 'sum') {
    const total = fold.totals[0];
    return carrier.asInt !== undefined ? { ...base, asInt: String(Math.round(total)) } : { ...base, asDouble: total };
  }
  const [count, sum, ...buckets] = fold.totals;
  return { ...base, count: String(Math.round(count)), sum, bucketCounts: buckets.map((b) => String(Math.round(b))), explicitBounds: carrier.explicitBounds ?? [] };
}
