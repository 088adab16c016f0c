import type { Signal } from './signal.js';
import { readVarintBig } from './wire.js';

/**
 * The flat index the scanner builds over one OTLP request: every length-delimited container
 * the rewriter may need to resize is a *node*; attributes and items (points, spans, log records)
 * live in their own tables. All tables are typed arrays reused across requests, so scanning
 * allocates nothing per request once the arrays have grown to the working size.
 *
 * Offsets are byte positions in the scanned buffer. A node spans [tagStart, end): its field tag
 * is at tagStart, its length varint at lenStart, its payload at [payloadStart, end).
 */

export const NODE = {
  REQUEST: 0,
  /** ResourceMetrics / ResourceSpans / ResourceLogs */
  RESOURCE_GROUP: 1,
  RESOURCE: 2,
  /** ScopeMetrics / ScopeSpans / ScopeLogs */
  SCOPE_GROUP: 3,
  SCOPE: 4,
  METRIC: 5,
  /** Gauge, Sum, Histogram, ExponentialHistogram or Summary */
  METRIC_DATA: 6,
  POINT: 7,
  SPAN: 8,
  EVENT: 9,
  LINK: 10,
  LOG_RECORD: 11,
} as const;
export type NodeKind = (typeof NODE)[keyof typeof NODE];

/** Which message of Metric's `data` oneof a metric carries (its field number). */
export const METRIC_DATA = {
  NONE: 0,
  GAUGE: 5,
  SUM: 7,
  HISTOGRAM: 9,
  EXPONENTIAL_HISTOGRAM: 10,
  SUMMARY: 11,
} as const;

/** Field number of a data point's attributes, by its metric's data kind (OTLP metrics.proto). */
export function pointAttributesField(dataKind: number): number {
  return dataKind === METRIC_DATA.HISTOGRAM ? 9 : dataKind === METRIC_DATA.EXPONENTIAL_HISTOGRAM ? 1 : 7;
}

/** AnyValue's `value` oneof, by field number; 0 = empty AnyValue. */
export const VALUE = {
  NONE: 0,
  STRING: 1,
  BOOL: 2,
  INT: 3,
  DOUBLE: 4,
  ARRAY: 5,
  KVLIST: 6,
  BYTES: 7,
} as const;

const NONE = -1;

/**
 * Structural nodes are the containers and items that make up the request's tree; Resource,
 * Scope, events and links describe their parent instead. A container whose structural
 * children were all removed is empty and is removed too.
 */
export function isStructural(kind: number): boolean {
  return kind !== NODE.RESOURCE && kind !== NODE.SCOPE && kind !== NODE.EVENT && kind !== NODE.LINK;
}

function grow<T extends Int32Array | Uint32Array | Float64Array | Uint8Array>(array: T, size: number): T {
  if (size <= array.length) return array;
  let length = array.length * 2;
  while (length < size) length *= 2;
  const next = new (array.constructor as new (n: number) => T)(length);
  next.set(array);
  return next;
}

export class WireIndex {
  signal: Signal = 'metrics';
  buf: Uint8Array = new Uint8Array(0);

  // ---- nodes (pre-order, so a parent always precedes its children) ----
  nodeCount = 0;
  nodeKind = new Uint8Array(1024);
  nodeParent = new Int32Array(1024);
  nodeTagStart = new Int32Array(1024);
  nodeLenStart = new Int32Array(1024);
  nodePayloadStart = new Int32Array(1024);
  nodeEnd = new Int32Array(1024);
  /** Structural children (see isStructural), for removing containers left empty. */
  nodeChildCount = new Int32Array(1024);
  /** First attribute of the node in the attribute table, NONE if it has none. */
  nodeFirstAttr = new Int32Array(1024);
  nodeLastAttr = new Int32Array(1024);
  nodeAttrCount = new Int32Array(1024);
  /** The dropped_attributes_count field of the node: [start, end) of the whole field, or NONE. */
  nodeDroppedStart = new Int32Array(1024);
  nodeDroppedEnd = new Int32Array(1024);
  /** uint32 on the wire. */
  nodeDroppedValue = new Uint32Array(1024);
  /** The group-table row of the resource group the node belongs to (-1 for the request). */
  nodeResourceGroup = new Int32Array(1024);
  /** Set by the scanner while it walks a resource group; stamped on every node added. */
  currentResourceGroup = NONE;

  // ---- attributes (KeyValue messages) ----
  attrCount = 0;
  attrOwner = new Int32Array(4096);
  /** The next attribute of the same owner, NONE at the end. */
  attrNext = new Int32Array(4096);
  /** [kvStart, kvEnd): the whole KeyValue field in its owner, tag included. */
  attrKvStart = new Int32Array(4096);
  attrKvEnd = new Int32Array(4096);
  attrKeyStart = new Int32Array(4096);
  attrKeyEnd = new Int32Array(4096);
  attrValueType = new Uint8Array(4096);
  /** The value's payload: string/bytes contents, the varint, the 8 double bytes, or the nested message. */
  attrValueStart = new Int32Array(4096);
  attrValueEnd = new Int32Array(4096);

  // ---- groups: one row per resource group and per scope group, in scan order ----
  groupCount = 0;
  /** The RESOURCE_GROUP or SCOPE_GROUP node. */
  groupNode = new Int32Array(256);
  /** The Resource or InstrumentationScope node inside it, NONE if absent. */
  groupInner = new Int32Array(256);

  // ---- metrics ----
  metricCount = 0;
  metricNode = new Int32Array(256);
  /** Group-table rows of the metric's resource group and scope group. */
  metricResourceGroup = new Int32Array(256);
  metricScopeGroup = new Int32Array(256);
  metricNameStart = new Int32Array(256);
  metricNameEnd = new Int32Array(256);
  metricUnitStart = new Int32Array(256);
  metricUnitEnd = new Int32Array(256);
  metricDataKind = new Uint8Array(256);
  metricDataNode = new Int32Array(256);
  metricTemporality = new Uint8Array(256);
  metricMonotonic = new Uint8Array(256);

  // ---- items: data points, spans or log records, depending on the signal ----
  itemCount = 0;
  itemNode = new Int32Array(1024);
  /** For points: the metric row. For spans and logs: the scope group row. */
  itemParent = new Int32Array(1024);
  /** The resource group row. */
  itemResourceGroup = new Int32Array(1024);
  /** time_unix_nano (points, logs) or start_time_unix_nano (spans), as a double: exact to ~256 ns. */
  itemTime = new Float64Array(1024);
  /** end_time_unix_nano for spans. */
  itemEndTime = new Float64Array(1024);
  /** Offset of the 16 trace id bytes, NONE if absent or not 16 bytes. */
  itemTraceId = new Int32Array(1024);
  itemSpanId = new Int32Array(1024);
  /** Span trace_state field [start, end) including its tag, NONE if absent. */
  itemTraceStateStart = new Int32Array(1024);
  itemTraceStateEnd = new Int32Array(1024);
  itemNameStart = new Int32Array(1024);
  itemNameEnd = new Int32Array(1024);
  /** Span kind, log severity_number. */
  itemKind = new Int32Array(1024);
  /** Span status code (0 unset, 1 ok, 2 error). */
  itemStatus = new Uint8Array(1024);
  /** Log body AnyValue: type and payload range, as for attributes. */
  itemBodyType = new Uint8Array(1024);
  /** The whole body field (tag included), NONE if the record has no body. */
  itemBodyFieldStart = new Int32Array(1024);
  itemBodyFieldEnd = new Int32Array(1024);
  itemBodyStart = new Int32Array(1024);
  itemBodyEnd = new Int32Array(1024);

  reset(signal: Signal, buf: Uint8Array): void {
    this.signal = signal;
    this.buf = buf;
    this.nodeCount = 0;
    this.attrCount = 0;
    this.groupCount = 0;
    this.metricCount = 0;
    this.itemCount = 0;
    this.currentResourceGroup = NONE;
  }

  addNode(kind: NodeKind, parent: number, tagStart: number, lenStart: number, payloadStart: number, end: number): number {
    const n = this.nodeCount++;
    if (n >= this.nodeKind.length) this.growNodes(n + 1);
    this.nodeKind[n] = kind;
    this.nodeParent[n] = parent;
    this.nodeTagStart[n] = tagStart;
    this.nodeLenStart[n] = lenStart;
    this.nodePayloadStart[n] = payloadStart;
    this.nodeEnd[n] = end;
    this.nodeChildCount[n] = 0;
    this.nodeFirstAttr[n] = NONE;
    this.nodeLastAttr[n] = NONE;
    this.nodeAttrCount[n] = 0;
    this.nodeDroppedStart[n] = NONE;
    this.nodeDroppedEnd[n] = NONE;
    this.nodeDroppedValue[n] = 0;
    this.nodeResourceGroup[n] = this.currentResourceGroup;
    if (parent >= 0 && isStructural(kind)) this.nodeChildCount[parent]++;
    return n;
  }

  private growNodes(size: number): void {
    this.nodeKind = grow(this.nodeKind, size);
    this.nodeParent = grow(this.nodeParent, size);
    this.nodeTagStart = grow(this.nodeTagStart, size);
    this.nodeLenStart = grow(this.nodeLenStart, size);
    this.nodePayloadStart = grow(this.nodePayloadStart, size);
    this.nodeEnd = grow(this.nodeEnd, size);
    this.nodeChildCount = grow(this.nodeChildCount, size);
    this.nodeFirstAttr = grow(this.nodeFirstAttr, size);
    this.nodeLastAttr = grow(this.nodeLastAttr, size);
    this.nodeAttrCount = grow(this.nodeAttrCount, size);
    this.nodeDroppedStart = grow(this.nodeDroppedStart, size);
    this.nodeDroppedEnd = grow(this.nodeDroppedEnd, size);
    this.nodeDroppedValue = grow(this.nodeDroppedValue, size);
    this.nodeResourceGroup = grow(this.nodeResourceGroup, size);
  }

  addAttr(owner: number, kvStart: number, kvEnd: number): number {
    const a = this.attrCount++;
    if (a >= this.attrOwner.length) this.growAttrs(a + 1);
    this.attrOwner[a] = owner;
    this.attrNext[a] = NONE;
    this.attrKvStart[a] = kvStart;
    this.attrKvEnd[a] = kvEnd;
    this.attrKeyStart[a] = kvStart;
    this.attrKeyEnd[a] = kvStart;
    this.attrValueType[a] = VALUE.NONE;
    this.attrValueStart[a] = kvEnd;
    this.attrValueEnd[a] = kvEnd;
    const last = this.nodeLastAttr[owner];
    if (last === NONE) this.nodeFirstAttr[owner] = a;
    else this.attrNext[last] = a;
    this.nodeLastAttr[owner] = a;
    this.nodeAttrCount[owner]++;
    return a;
  }

  private growAttrs(size: number): void {
    this.attrOwner = grow(this.attrOwner, size);
    this.attrNext = grow(this.attrNext, size);
    this.attrKvStart = grow(this.attrKvStart, size);
    this.attrKvEnd = grow(this.attrKvEnd, size);
    this.attrKeyStart = grow(this.attrKeyStart, size);
    this.attrKeyEnd = grow(this.attrKeyEnd, size);
    this.attrValueType = grow(this.attrValueType, size);
    this.attrValueStart = grow(this.attrValueStart, size);
    this.attrValueEnd = grow(this.attrValueEnd, size);
  }

  addGroup(node: number): number {
    const g = this.groupCount++;
    if (g >= this.groupNode.length) {
      this.groupNode = grow(this.groupNode, g + 1);
      this.groupInner = grow(this.groupInner, g + 1);
    }
    this.groupNode[g] = node;
    this.groupInner[g] = NONE;
    return g;
  }

  addMetric(node: number, resourceGroup: number, scopeGroup: number): number {
    const m = this.metricCount++;
    if (m >= this.metricNode.length) this.growMetrics(m + 1);
    this.metricNode[m] = node;
    this.metricResourceGroup[m] = resourceGroup;
    this.metricScopeGroup[m] = scopeGroup;
    this.metricNameStart[m] = 0;
    this.metricNameEnd[m] = 0;
    this.metricUnitStart[m] = 0;
    this.metricUnitEnd[m] = 0;
    this.metricDataKind[m] = METRIC_DATA.NONE;
    this.metricDataNode[m] = NONE;
    this.metricTemporality[m] = 0;
    this.metricMonotonic[m] = 0;
    return m;
  }

  private growMetrics(size: number): void {
    this.metricNode = grow(this.metricNode, size);
    this.metricResourceGroup = grow(this.metricResourceGroup, size);
    this.metricScopeGroup = grow(this.metricScopeGroup, size);
    this.metricNameStart = grow(this.metricNameStart, size);
    this.metricNameEnd = grow(this.metricNameEnd, size);
    this.metricUnitStart = grow(this.metricUnitStart, size);
    this.metricUnitEnd = grow(this.metricUnitEnd, size);
    this.metricDataKind = grow(this.metricDataKind, size);
    this.metricDataNode = grow(this.metricDataNode, size);
    this.metricTemporality = grow(this.metricTemporality, size);
    this.metricMonotonic = grow(this.metricMonotonic, size);
  }

  addItem(node: number, parent: number, resourceGroup: number): number {
    const i = this.itemCount++;
    if (i >= this.itemNode.length) this.growItems(i + 1);
    this.itemNode[i] = node;
    this.itemParent[i] = parent;
    this.itemResourceGroup[i] = resourceGroup;
    this.itemTime[i] = 0;
    this.itemEndTime[i] = 0;
    this.itemTraceId[i] = NONE;
    this.itemSpanId[i] = NONE;
    this.itemTraceStateStart[i] = NONE;
    this.itemTraceStateEnd[i] = NONE;
    this.itemNameStart[i] = 0;
    this.itemNameEnd[i] = 0;
    this.itemKind[i] = 0;
    this.itemStatus[i] = 0;
    this.itemBodyType[i] = VALUE.NONE;
    this.itemBodyFieldStart[i] = NONE;
    this.itemBodyFieldEnd[i] = NONE;
    this.itemBodyStart[i] = NONE;
    this.itemBodyEnd[i] = NONE;
    return i;
  }

  private growItems(size: number): void {
    this.itemNode = grow(this.itemNode, size);
    this.itemParent = grow(this.itemParent, size);
    this.itemResourceGroup = grow(this.itemResourceGroup, size);
    this.itemTime = grow(this.itemTime, size);
    this.itemEndTime = grow(this.itemEndTime, size);
    this.itemTraceId = grow(this.itemTraceId, size);
    this.itemSpanId = grow(this.itemSpanId, size);
    this.itemTraceStateStart = grow(this.itemTraceStateStart, size);
    this.itemTraceStateEnd = grow(this.itemTraceStateEnd, size);
    this.itemNameStart = grow(this.itemNameStart, size);
    this.itemNameEnd = grow(this.itemNameEnd, size);
    this.itemKind = grow(this.itemKind, size);
    this.itemStatus = grow(this.itemStatus, size);
    this.itemBodyType = grow(this.itemBodyType, size);
    this.itemBodyFieldStart = grow(this.itemBodyFieldStart, size);
    this.itemBodyFieldEnd = grow(this.itemBodyFieldEnd, size);
    this.itemBodyStart = grow(this.itemBodyStart, size);
    this.itemBodyEnd = grow(this.itemBodyEnd, size);
  }

  /** The attribute's key as a string (allocates: for tests, debugging and cold paths). */
  attrKey(a: number): string {
    return Buffer.from(this.buf.buffer, this.buf.byteOffset + this.attrKeyStart[a], this.attrKeyEnd[a] - this.attrKeyStart[a]).toString('utf8');
  }

  /**
   * The attribute's value as text (allocates: for samples, reports and cold paths): strings as
   * they are, numbers and booleans written out, other kinds named (`<array>`, `<kvlist>`, `<bytes>`).
   */
  attrValueText(a: number): string {
    const start = this.attrValueStart[a];
    const end = this.attrValueEnd[a];
    switch (this.attrValueType[a]) {
      case VALUE.STRING:
        return this.text(start, end);
      case VALUE.BOOL:
        return this.buf[start] !== 0 ? 'true' : 'false';
      case VALUE.INT:
        try {
          return BigInt.asIntN(64, readVarintBig(this.buf, { pos: start }, end)).toString();
        } catch {
          return '<int>';
        }
      case VALUE.DOUBLE:
        return end - start === 8 ? String(new DataView(this.buf.buffer, this.buf.byteOffset + start, 8).getFloat64(0, true)) : '<double>';
      case VALUE.ARRAY:
        return '<array>';
      case VALUE.KVLIST:
        return '<kvlist>';
      case VALUE.BYTES:
        return '<bytes>';
      default:
        return '';
    }
  }

  /** A string field's text (allocates: for tests, debugging and cold paths). */
  text(start: number, end: number): string {
    return Buffer.from(this.buf.buffer, this.buf.byteOffset + start, end - start).toString('utf8');
  }
}

export { NONE as NO_OFFSET };
