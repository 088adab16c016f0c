import { bytesEqual, hashBytes } from '../../otlp/hash.js';
import { decodeMessage, encodeMessage, OtlpObjectError } from '../../otlp/object-codec.js';
import type { OtlpObject } from '../../otlp/object-codec.js';
import { NO_BYTES } from '../../otlp/rewriter.js';
import type { EditList } from '../../otlp/rewriter.js';
import { readVarint, skipField } from '../../otlp/wire.js';
import type { OtlpMessageName } from '../../otlp/schema.js';
import { METRIC_DATA, pointAttributesField } from '../../otlp/wire-index.js';
import type { WireIndex } from '../../otlp/wire-index.js';
import type { Processor } from '../../pipeline/processor.js';
import { latestPoint, mergeExponentialHistogramPoints, mergeHistogramPoints, mergeSumPoints } from './merge-points.js';

/**
 * Runs after the attribute policy, on the rewritten request: when dropping or rewriting labels
 * made two points of one metric the same series, they are merged into one (sums add, histograms
 * merge bucket-wise, gauges and summaries keep the latest) instead of being sent as duplicates
 * that a backend would reject or double count.
 */

export interface ReaggregationObserver {
  /** `merged`: points folded into another; `unmergeable`: duplicates left as they were. */
  onReaggregation(outcome: 'merged' | 'unmergeable', points: number): void;
}

const POINT_MESSAGE: Readonly<Record<number, OtlpMessageName>> = {
  [METRIC_DATA.GAUGE]: 'NumberDataPoint',
  [METRIC_DATA.SUM]: 'NumberDataPoint',
  [METRIC_DATA.HISTOGRAM]: 'HistogramDataPoint',
  [METRIC_DATA.EXPONENTIAL_HISTOGRAM]: 'ExponentialHistogramDataPoint',
  [METRIC_DATA.SUMMARY]: 'SummaryDataPoint',
};

/** The merged point, or undefined when the parts cannot be merged honestly. */
function mergePoints(dataKind: number, points: readonly OtlpObject[]): OtlpObject | undefined {
  switch (dataKind) {
    case METRIC_DATA.SUM:
      return mergeSumPoints(points);
    case METRIC_DATA.HISTOGRAM:
      return mergeHistogramPoints(points);
    case METRIC_DATA.EXPONENTIAL_HISTOGRAM:
      return mergeExponentialHistogramPoints(points);
    default:
      return latestPoint(points);
  }
}

/** AggregationTemporality of Sum, Histogram and ExponentialHistogram (OTLP metrics.proto). */
const TEMPORALITY_CUMULATIVE = 2;

/*
 * A point's attributes are read as they will be written: an earlier processor's pending edit
 * (edits.attributeEdit) stands in for the attribute's bytes in the request, and an empty one
 * means the attribute is gone.
 */

/**
 * Order-independent hash of a point's attribute set: the sum of a hash of each KeyValue's
 * bytes. Equal hashes are confirmed byte for byte before merging, so the hash only has to
 * spread sets well, not tell them apart.
 */
function attributeSetHash(ix: WireIndex, edits: EditList, node: number, seed: number): number {
  let h = 0;
  for (let a = ix.nodeFirstAttr[node]; a >= 0; a = ix.attrNext[a]) {
    const replaced = edits.attributeEdit(a);
    if (replaced === undefined) h = (h + hashBytes(ix.buf, ix.attrKvStart[a], ix.attrKvEnd[a], seed)) | 0;
    else if (replaced.length > 0) h = (h + hashBytes(replaced, 0, replaced.length, seed)) | 0;
  }
  return h;
}

function attributeCount(ix: WireIndex, edits: EditList, node: number): number {
  let count = 0;
  for (let a = ix.nodeFirstAttr[node]; a >= 0; a = ix.attrNext[a]) if (edits.attributeEdit(a)?.length !== 0) count++;
  return count;
}

/** Attribute rows `a` and `b` will be written as the same bytes (neither dropped). */
function sameAttribute(ix: WireIndex, edits: EditList, a: number, b: number): boolean {
  const ra = edits.attributeEdit(a);
  const rb = edits.attributeEdit(b);
  if (ra === undefined && rb === undefined) return bytesEqual(ix.buf, ix.attrKvStart[a], ix.attrKvEnd[a], ix.buf, ix.attrKvStart[b], ix.attrKvEnd[b]);
  if (ra === undefined) return rb !== undefined && rb.length > 0 && bytesEqual(ix.buf, ix.attrKvStart[a], ix.attrKvEnd[a], rb, 0, rb.length);
  if (rb === undefined) return ra.length > 0 && bytesEqual(ra, 0, ra.length, ix.buf, ix.attrKvStart[b], ix.attrKvEnd[b]);
  return ra.length > 0 && bytesEqual(ra, 0, ra.length, rb, 0, rb.length);
}

/** A 32-bit mix of a point's time (a double holding an integer up to 2^64). */
function timeHash(time: number): number {
  const high = (time / 4294967296) >>> 0;
  const low = time >>> 0;
  return Math.imul(high ^ Math.imul(low, 0x9e3779b1), 0x85ebca6b);
}

/**
 * 32-bit hash of a point's series; with `byTime` the point's time is part of it (see
 * mergeDuplicates). A signed 32-bit integer, which V8 keeps unboxed as a Map key.
 */
function seriesHash(ix: WireIndex, edits: EditList, item: number, byTime: boolean, seed: number): number {
  const time = byTime ? timeHash(ix.itemTime[item]) : 0;
  return attributeSetHash(ix, edits, ix.itemNode[item], seed) ^ time;
}

function sameAttributeSet(ix: WireIndex, edits: EditList, x: number, y: number): boolean {
  if (attributeCount(ix, edits, x) !== attributeCount(ix, edits, y)) return false;
  for (let a = ix.nodeFirstAttr[x]; a >= 0; a = ix.attrNext[a]) {
    if (edits.attributeEdit(a)?.length === 0) continue;
    let found = false;
    for (let b = ix.nodeFirstAttr[y]; b >= 0 && !found; b = ix.attrNext[b]) found = sameAttribute(ix, edits, a, b);
    if (!found) return false;
  }
  return true;
}

export interface ReaggregationOptions {
  readonly shouldRun: () => boolean;
  readonly observer?: ReaggregationObserver;
  /** The attribute-set hash seed; random per process unless a test fixes it to build colliding sets. */
  readonly seed?: number;
}

export function createReaggregationProcessor(options: ReaggregationOptions): Processor {
  /** Series hash → the first point of the metric with it; other series with that hash follow in `nextLeader`. */
  const firstByHash = new Map<number, number>();
  // A seed of this process's own, so no one can craft attribute sets that all share a hash (one long chain to walk).
  const seed = options.seed ?? (Math.random() * 4294967296) | 0;
  /** Items whose attribute set equals an earlier item's: item → the group's first item. */
  let groupOf = new Int32Array(1024);
  let nextLeader = new Int32Array(1024);
  /** Each group's members in order, as a list: the leader's next member, and its last one. */
  let nextMember = new Int32Array(1024);
  let lastMember = new Int32Array(1024);

  function process(ix: WireIndex, edits: EditList): undefined {
    if (!options.shouldRun() || ix.itemCount < 2) return undefined;
    if (groupOf.length < ix.itemCount) {
      groupOf = new Int32Array(ix.itemCount * 2);
      nextLeader = new Int32Array(ix.itemCount * 2);
      nextMember = new Int32Array(ix.itemCount * 2);
      lastMember = new Int32Array(ix.itemCount * 2);
    }
    let first = 0;
    while (first < ix.itemCount) {
      const metric = ix.itemParent[first];
      let end = first + 1;
      while (end < ix.itemCount && ix.itemParent[end] === metric) end++;
      if (end - first > 1) mergeDuplicates(ix, edits, metric, first, end);
      first = end;
    }
    return undefined;
  }

  /**
   * Points [first, end) of one metric: find equal attribute sets and merge each group.
   *
   * A cumulative value is a running total at one instant, so only points of the same time are
   * one observation: adding a series' totals from two instants would count the same events
   * twice (as would merging series A at t1 and t2 with series B at t1 and t2 into one point).
   * Delta points add up whatever their windows, and gauges keep the latest, so those group by
   * attributes alone. Times compare as the index holds them, to within ~256 ns.
   */
  function mergeDuplicates(ix: WireIndex, edits: EditList, metric: number, first: number, end: number): void {
    firstByHash.clear();
    const byTime = ix.metricTemporality[metric] === TEMPORALITY_CUMULATIVE;
    let duplicates = 0;
    for (let i = first; i < end; i++) {
      groupOf[i] = -1;
      nextLeader[i] = -1;
      nextMember[i] = -1;
      lastMember[i] = i;
      if (edits.isDropped(ix.itemNode[i])) continue; // refused by an earlier processor
      const hash = seriesHash(ix, edits, i, byTime, seed);
      let leader = firstByHash.get(hash);
      if (leader === undefined) {
        firstByHash.set(hash, i);
        continue;
      }
      // Walk the series sharing this hash; a new one joins the end of that chain.
      for (;;) {
        if (sameAttributeSet(ix, edits, ix.itemNode[leader], ix.itemNode[i]) && (!byTime || ix.itemTime[leader] === ix.itemTime[i])) {
          groupOf[i] = leader;
          nextMember[lastMember[leader]] = i;
          lastMember[leader] = i;
          duplicates++;
          break;
        }
        if (nextLeader[leader] < 0) {
          nextLeader[leader] = i;
          break;
        }
        leader = nextLeader[leader];
      }
    }
    if (duplicates === 0) return;
    const dataKind = ix.metricDataKind[metric];
    const message = POINT_MESSAGE[dataKind];
    for (let leader = first; leader < end; leader++) {
      if (groupOf[leader] !== -1 || nextMember[leader] < 0) continue;
      const members = [leader];
      for (let i = nextMember[leader]; i >= 0; i = nextMember[i]) members.push(i);
      mergeGroup(ix, edits, message, dataKind, members);
    }
  }

  function mergeGroup(ix: WireIndex, edits: EditList, message: OtlpMessageName, dataKind: number, members: number[]): void {
    // A metric with two data messages breaks the oneof; its points are left as they came.
    if (members.some((i) => pointDataKind(ix, ix.itemNode[i]) !== dataKind)) {
      options.observer?.onReaggregation('unmergeable', members.length);
      return;
    }
    if (keepsLatest(dataKind) && keepLatestOnTheWire(ix, edits, members)) {
      options.observer?.onReaggregation('merged', members.length - 1);
      return;
    }
    const nodes = members.map((i) => ix.itemNode[i]);
    const points = nodes.map((n) => decodeMessage(message, ix.buf.subarray(ix.nodePayloadStart[n], ix.nodeEnd[n])));
    const merged = mergePoints(dataKind, points);
    // The survivor keeps its attributes as they are (and as earlier processors' pending edits
    // leave them); only the other fields take the merged values.
    if (merged) delete merged.attributes;
    const encoded = merged && encodeMerged(message, merged);
    if (!encoded) {
      options.observer?.onReaggregation('unmergeable', members.length);
      return;
    }
    replaceAllButAttributes(ix, edits, nodes[0], pointAttributesField(dataKind), encoded);
    for (const node of nodes.slice(1)) edits.dropNode(node);
    options.observer?.onReaggregation('merged', members.length - 1);
  }

  return { name: 'reaggregate', signals: ['metrics'], process, idle: () => !options.shouldRun(), readsPendingEdits: true };
}

/**
 * Replaces every field of point `node` but its attributes with `fields` (appended at its end):
 * the attribute fields may carry other processors' edits, which must not overlap this one.
 */
function replaceAllButAttributes(ix: WireIndex, edits: EditList, node: number, attributesField: number, fields: Uint8Array): void {
  const end = ix.nodeEnd[node];
  const cursor = { pos: ix.nodePayloadStart[node] };
  while (cursor.pos < end) {
    const fieldStart = cursor.pos;
    const tag = readVarint(ix.buf, cursor, end);
    cursor.pos = skipField(ix.buf, tag & 7, cursor.pos, end);
    if (tag >>> 3 !== attributesField) edits.replace(node, fieldStart, cursor.pos, NO_BYTES);
  }
  edits.insert(node, end, fields);
}

/** The data kind of the message a point sits in (its one-byte tag names it), whatever the metric's last data field said. */
function pointDataKind(ix: WireIndex, node: number): number {
  return ix.buf[ix.nodeTagStart[ix.nodeParent[node]]] >>> 3;
}

function keepsLatest(dataKind: number): boolean {
  return dataKind === METRIC_DATA.GAUGE || dataKind === METRIC_DATA.SUMMARY;
}

/**
 * Gauges and summaries keep their latest point: the others are simply dropped, with no decode.
 * The index holds times as doubles (exact to ~256 ns); when the latest is not unique at that
 * precision, returns false and the exact path (decoded times) decides.
 */
function keepLatestOnTheWire(ix: WireIndex, edits: EditList, members: readonly number[]): boolean {
  let latest = members[0];
  let ties = 0;
  for (let k = 1; k < members.length; k++) {
    const time = ix.itemTime[members[k]];
    if (time > ix.itemTime[latest]) {
      latest = members[k];
      ties = 0;
    } else if (time === ix.itemTime[latest]) ties++;
  }
  if (ties > 0) return false;
  for (const i of members) if (i !== latest) edits.dropNode(ix.itemNode[i]);
  return true;
}

/**
 * The merged point's bytes, or undefined when a total does not fit its field (an int64 sum or
 * a uint64 count past 2^64): such points stay as they came rather than failing the request.
 */
function encodeMerged(message: OtlpMessageName, merged: OtlpObject): Uint8Array | undefined {
  try {
    return encodeMessage(message, merged);
  } catch (error) {
    if (error instanceof OtlpObjectError) return undefined;
    throw error;
  }
}
