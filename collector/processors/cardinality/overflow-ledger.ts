import type { OtlpObject } from '../../otlp/object-codec.js';

/**
 * Keeps the overflow series of cumulative metrics a correct cumulative sum.
 *
 * A cumulative point is a running total of its own stream. When a refused stream is folded
 * into the overflow series, adding its raw value on every export would count its history again
 * each time; what the overflow series must grow by is the stream's *increase* since its last
 * point. So the ledger keeps each refused stream's last values and start time, and the running
 * totals of each overflow series. A reset of the stream — a new start time, or a monotonic
 * value below the stream's last one — makes the new value the increase. A non-monotonic sum
 * (an up-down counter) may go down: its change is added as it is, negative or not.
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
  readonly streams: Map<string, { last: number[]; start: string; seenMs: number }>;
}

export interface FoldResult {
  readonly totals: readonly number[];
  readonly startTimeUnixNano: string;
}

/** A decoded cumulative point as the ledger folds it. */
export interface CumulativeVector {
  readonly vector: readonly number[];
  /** Streams of one overflow series must share it: value kind, or histogram bucket bounds. */
  readonly shape: string;
  /** Positions that only grow between resets (a value below the last one there is a reset). */
  readonly monotone: readonly number[];
}

export interface FoldInput extends CumulativeVector {
  /** The overflow series: one per metric and resource (and team). */
  readonly series: string;
  /** The refused stream: its series id. */
  readonly stream: string;
  /** The stream's start_time_unix_nano as sent, '' when it has none (then only values tell a reset). */
  readonly streamStart: string;
  /** The start time given to the overflow series when this point creates it. */
  readonly seriesStart: string;
  readonly nowMs: number;
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

  /** Is the stream folded into the series (and not yet forgotten)? */
  hasStream(series: string, stream: string): boolean {
    return this.series.get(series)?.streams.has(stream) ?? false;
  }

  /** The series' current totals and start, or undefined when it has none. */
  current(series: string): FoldResult | undefined {
    const overflow = this.series.get(series);
    return overflow && { totals: [...overflow.totals], startTimeUnixNano: overflow.startTimeUnixNano };
  }

  /**
   * Folds a stream's latest cumulative vector into its overflow series. Returns the new totals,
   * or undefined when the point cannot be folded (a different shape than the series has, or
   * the ledger is full).
   */
  fold(input: FoldInput): FoldResult | undefined {
    const { vector } = input;
    let overflow = this.series.get(input.series);
    if (!overflow) {
      overflow = { shape: input.shape, totals: vector.map(() => 0), startTimeUnixNano: input.seriesStart, streams: new Map() };
      this.series.set(input.series, overflow);
    }
    if (overflow.shape !== input.shape || overflow.totals.length !== vector.length) return undefined;
    let stream = overflow.streams.get(input.stream);
    if (!stream) {
      if (this.streams >= this.maxStreams) {
        this.refusedStreams++;
        return undefined;
      }
      stream = { last: vector.map(() => 0), start: input.streamStart, seenMs: input.nowMs };
      overflow.streams.set(input.stream, stream);
      this.streams++;
    }
    const last = stream.last;
    const restarted = input.streamStart !== '' && stream.start !== '' && input.streamStart !== stream.start;
    const reset = restarted || input.monotone.some((k) => vector[k] < last[k]);
    for (let k = 0; k < vector.length; k++) overflow.totals[k] += reset ? vector[k] : vector[k] - last[k];
    stream.last = [...vector];
    if (input.streamStart !== '') stream.start = input.streamStart;
    stream.seenMs = input.nowMs;
    return { totals: [...overflow.totals], startTimeUnixNano: overflow.startTimeUnixNano };
  }

  /** Overflow series held (each with its totals). */
  get seriesCount(): number {
    return this.series.size;
  }

  /**
   * Forgets streams not seen within `windowMs`; their contribution stays in the totals while
   * the series has streams. A series left without any (nothing folded into it for the window:
   * typically the resource is gone, a pod replaced) is forgotten too, or resource churn would
   * grow the ledger without bound; should it come back, it starts afresh.
   */
  sweep(nowMs: number, windowMs: number): void {
    for (const [seriesKey, overflow] of this.series) {
      for (const [key, stream] of overflow.streams) {
        if (nowMs - stream.seenMs <= windowMs) continue;
        overflow.streams.delete(key);
        this.streams--;
      }
      if (overflow.streams.size === 0) this.series.delete(seriesKey);
    }
  }
}

/**
 * The vector of a decoded cumulative point, or undefined for kinds that cannot overflow
 * cumulatively. `monotonic` is the Sum's is_monotonic; a histogram's count and bucket counts
 * only grow, its sum need not (observations may be negative).
 */
export function cumulativeVector(point: OtlpObject, kind: 'sum' | 'histogram', monotonic: boolean): CumulativeVector | undefined {
  if (kind === 'sum') {
    const value = point.asInt !== undefined ? Number(point.asInt) : Number(point.asDouble ?? 0);
    return { vector: [value], shape: point.asInt !== undefined ? 'int' : 'double', monotone: monotonic ? [0] : [] };
  }
  const buckets = ((point.bucketCounts ?? []) as string[]).map(Number);
  const bounds = (point.explicitBounds ?? []) as number[];
  const monotone = [0, ...buckets.map((_, b) => b + 2)];
  return { vector: [Number(point.count ?? 0), Number(point.sum ?? 0), ...buckets], shape: `histogram:${bounds.join(',')}`, monotone };
}

/** The overflow point carrying `totals`: the given time, the overflow series' start, the overflow attribute. */
export function cumulativeOverflowPoint(carrier: OtlpObject, kind: 'sum' | 'histogram', fold: FoldResult, overflowAttributes: readonly OtlpObject[]): OtlpObject {
  const base: OtlpObject = { attributes: [...overflowAttributes], startTimeUnixNano: fold.startTimeUnixNano, timeUnixNano: carrier.timeUnixNano };
  if (kind === 'sum') {
    const total = fold.totals[0];
    return carrier.asInt !== undefined ? { ...base, asInt: String(Math.round(total)) } : { ...base, asDouble: total };
  }
  const [count, sum, ...buckets] = fold.totals;
  return { ...base, count: String(Math.round(count)), sum, bucketCounts: buckets.map((b) => String(Math.round(b))), explicitBounds: carrier.explicitBounds ?? [] };
}
