import type { Signal } from './signal.js';
import { METRIC_DATA, NODE, pointAttributesField, VALUE, WireIndex } from './wire-index.js';
import type { NodeKind } from './wire-index.js';
import { readFixed64Number, readVarint, skipField, WireError, WIRE_I32, WIRE_I64, WIRE_LEN, WIRE_VARINT } from './wire.js';

/**
 * The hot-path reader: walks an Export{Metrics,Trace,Logs}ServiceRequest once and fills a
 * WireIndex with offsets, without materialising a single object. Field numbers are those of
 * the OTLP v1 protobuf definitions. Malformed input throws WireError and nothing else.
 *
 * What is validated: every message on the path to an attribute or item (tags, wire types of
 * known fields, lengths, varints) and every AnyValue down to the nesting limit. Opaque parts we
 * never edit (exemplars, bucket arrays, quantiles) are bounds-checked as a whole.
 */

export const MAX_ANY_VALUE_DEPTH = 64;

/** Scans `buf` into `index` (reset first). Throws WireError on malformed input. */
export function scanRequest(index: WireIndex, signal: Signal, buf: Uint8Array): WireIndex {
  index.reset(signal, buf);
  const end = buf.length;
  const root = index.addNode(NODE.REQUEST, -1, 0, 0, 0, end);
  const scanGroup = GROUP_SCANNERS[signal];
  cur.pos = 0;
  while (cur.pos < end) {
    const tagStart = cur.pos;
    const tag = readTag(buf, end);
    if (tag >>> 3 === 1) {
      expectWireType(tag, WIRE_LEN, tagStart);
      const lenStart = cur.pos;
      const stop = readLength(buf, end);
      scanGroup(index, buf, root, tagStart, lenStart, cur.pos, stop);
      cur.pos = stop;
    } else {
      cur.pos = skipField(buf, tag & 7, cur.pos, end);
    }
  }
  return index;
}

/** A single module-level cursor: scanning is synchronous and never re-entrant. */
const cur = { pos: 0 };

function readTag(buf: Uint8Array, end: number): number {
  const at = cur.pos;
  const tag = readVarint(buf, cur, end);
  if (tag > 0xffffffff || tag >>> 3 === 0) throw new WireError('invalid field tag', at);
  return tag;
}

function expectWireType(tag: number, wireType: number, at: number): void {
  if ((tag & 7) === wireType) return;
  if ((tag & 7) === 3 || (tag & 7) === 4) throw new WireError('group wire type is not supported', at);
  throw new WireError(`field ${tag >>> 3} has wire type ${tag & 7}, expected ${wireType}`, at);
}

/** Reads a length prefix at the cursor; leaves the cursor at the payload and returns its end. */
function readLength(buf: Uint8Array, end: number): number {
  const at = cur.pos;
  const len = readVarint(buf, cur, end);
  const stop = cur.pos + len;
  if (stop > end) throw new WireError('length past the end of its message', at);
  return stop;
}

function readFixed64At(buf: Uint8Array, tag: number, tagStart: number, end: number): number {
  expectWireType(tag, WIRE_I64, tagStart);
  const at = cur.pos;
  if (at + 8 > end) throw new WireError('truncated fixed64', at);
  cur.pos = at + 8;
  return readFixed64Number(buf, at);
}

function readVarintField(buf: Uint8Array, tag: number, tagStart: number, end: number): number {
  expectWireType(tag, WIRE_VARINT, tagStart);
  return readVarint(buf, cur, end);
}

type ChildScanner = (ix: WireIndex, buf: Uint8Array, parent: number, tagStart: number, lenStart: number, start: number, end: number) => void;

/** Opens a length-delimited child of a known field and runs `scan` over it. */
function scanChild(ix: WireIndex, buf: Uint8Array, parent: number, tag: number, tagStart: number, end: number, scan: ChildScanner): void {
  expectWireType(tag, WIRE_LEN, tagStart);
  const lenStart = cur.pos;
  const stop = readLength(buf, end);
  scan(ix, buf, parent, tagStart, lenStart, cur.pos, stop);
  cur.pos = stop;
}

/** Records a dropped_attributes_count field so processors can raise it. */
function recordDroppedCount(ix: WireIndex, node: number, buf: Uint8Array, tag: number, tagStart: number, end: number): void {
  ix.nodeDroppedValue[node] = readVarintField(buf, tag, tagStart, end);
  ix.nodeDroppedStart[node] = tagStart;
  ix.nodeDroppedEnd[node] = cur.pos;
}

/** Records [start, end) of a length-delimited field's payload; returns its start. */
function lenPayload(buf: Uint8Array, tag: number, tagStart: number, end: number): number {
  expectWireType(tag, WIRE_LEN, tagStart);
  const stop = readLength(buf, end);
  const start = cur.pos;
  cur.pos = stop;
  return start;
}

// ---------------------------------------------------------------- attributes and values

/** Protobuf tags as single bytes: KeyValue.key (1, LEN), KeyValue.value (2, LEN), AnyValue.string_value (1, LEN). */
const KEY_TAG = 0x0a;
const VALUE_TAG = 0x12;
const STRING_VALUE_TAG = 0x0a;

/**
 * The shape nearly every attribute has on the wire: a key and a string value, each shorter than
 * 128 bytes, in field order and nothing else. Recognised byte by byte, it skips the general
 * field loop below (a third of a metrics request's scan); anything else takes that loop.
 * Returns false, having recorded nothing, when the KeyValue has another shape.
 */
function scanShortStringKeyValue(ix: WireIndex, buf: Uint8Array, owner: number, tagStart: number, start: number, end: number): boolean {
  if (buf[start] !== KEY_TAG) return false;
  const keyLength = buf[start + 1];
  const keyEnd = start + 2 + keyLength;
  if (keyLength >= 0x80 || keyEnd + 4 > end || buf[keyEnd] !== VALUE_TAG) return false;
  const anyValueLength = buf[keyEnd + 1];
  const anyValueStart = keyEnd + 2;
  if (anyValueLength >= 0x80 || anyValueStart + anyValueLength !== end || buf[anyValueStart] !== STRING_VALUE_TAG) return false;
  const stringLength = buf[anyValueStart + 1];
  if (stringLength >= 0x80 || anyValueStart + 2 + stringLength !== end) return false;
  if (owner < 0) return true;
  const a = ix.addAttr(owner, tagStart, end);
  ix.attrKeyStart[a] = start + 2;
  ix.attrKeyEnd[a] = keyEnd;
  recordValue(ix, a, VALUE.STRING, anyValueStart + 2, end);
  return true;
}

function scanKeyValue(ix: WireIndex, buf: Uint8Array, owner: number, tagStart: number, _lenStart: number, start: number, end: number): void {
  if (scanShortStringKeyValue(ix, buf, owner, tagStart, start, end)) return;
  const a = owner >= 0 ? ix.addAttr(owner, tagStart, end) : -1;
  cur.pos = start;
  while (cur.pos < end) {
    const fieldStart = cur.pos;
    const tag = readTag(buf, end);
    const field = tag >>> 3;
    if (field === 1) {
      const keyStart = lenPayload(buf, tag, fieldStart, end);
      if (a >= 0) {
        ix.attrKeyStart[a] = keyStart;
        ix.attrKeyEnd[a] = cur.pos;
      }
    } else if (field === 2) {
      expectWireType(tag, WIRE_LEN, fieldStart);
      const stop = readLength(buf, end);
      scanAnyValue(ix, buf, a, cur.pos, stop, 1);
      cur.pos = stop;
    } else {
      cur.pos = skipField(buf, tag & 7, cur.pos, end);
    }
  }
}

/**
 * Validates an AnyValue and, when `attr` >= 0, records its type and payload in that attribute
 * row (the last oneof member present wins, as protobuf parsers do).
 */
function scanAnyValue(ix: WireIndex, buf: Uint8Array, attr: number, start: number, end: number, depth: number): void {
  if (depth > MAX_ANY_VALUE_DEPTH) throw new WireError(`AnyValue nesting deeper than ${MAX_ANY_VALUE_DEPTH}`, start);
  cur.pos = start;
  while (cur.pos < end) {
    const fieldStart = cur.pos;
    const tag = readTag(buf, end);
    const field = tag >>> 3;
    let valueStart: number;
    switch (field) {
      case VALUE.STRING:
      case VALUE.BYTES:
        valueStart = lenPayload(buf, tag, fieldStart, end);
        break;
      case VALUE.BOOL:
      case VALUE.INT:
        expectWireType(tag, WIRE_VARINT, fieldStart);
        valueStart = cur.pos;
        cur.pos = skipField(buf, WIRE_VARINT, cur.pos, end);
        break;
      case VALUE.DOUBLE:
        expectWireType(tag, WIRE_I64, fieldStart);
        valueStart = cur.pos;
        cur.pos = skipField(buf, WIRE_I64, cur.pos, end);
        break;
      case VALUE.ARRAY:
      case VALUE.KVLIST: {
        expectWireType(tag, WIRE_LEN, fieldStart);
        const stop = readLength(buf, end);
        valueStart = cur.pos;
        scanNestedValues(buf, field, valueStart, stop, depth);
        cur.pos = stop;
        break;
      }
      default:
        cur.pos = skipField(buf, tag & 7, cur.pos, end);
        continue;
    }
    if (attr >= 0) recordValue(ix, attr, field, valueStart, cur.pos);
  }
}

function recordValue(ix: WireIndex, attr: number, type: number, start: number, end: number): void {
  ix.attrValueType[attr] = type;
  ix.attrValueStart[attr] = start;
  ix.attrValueEnd[attr] = end;
}

/**
 * ArrayValue (repeated AnyValue = 1) or KeyValueList (repeated KeyValue = 1) inside an AnyValue
 * at `depth`, validated only; their values are one level deeper.
 */
function scanNestedValues(buf: Uint8Array, kind: number, start: number, end: number, depth: number): void {
  cur.pos = start;
  while (cur.pos < end) {
    const fieldStart = cur.pos;
    const tag = readTag(buf, end);
    if (tag >>> 3 !== 1) {
      cur.pos = skipField(buf, tag & 7, cur.pos, end);
      continue;
    }
    expectWireType(tag, WIRE_LEN, fieldStart);
    const stop = readLength(buf, end);
    if (kind === VALUE.ARRAY) scanAnyValue(NO_INDEX, buf, -1, cur.pos, stop, depth + 1);
    else scanNestedKeyValue(buf, cur.pos, stop, depth + 1);
    cur.pos = stop;
  }
}

function scanNestedKeyValue(buf: Uint8Array, start: number, end: number, depth: number): void {
  cur.pos = start;
  while (cur.pos < end) {
    const fieldStart = cur.pos;
    const tag = readTag(buf, end);
    if (tag >>> 3 === 2) {
      expectWireType(tag, WIRE_LEN, fieldStart);
      const stop = readLength(buf, end);
      scanAnyValue(NO_INDEX, buf, -1, cur.pos, stop, depth);
      cur.pos = stop;
    } else {
      cur.pos = skipField(buf, tag & 7, cur.pos, end);
      if (tag >>> 3 === 1 && (tag & 7) !== WIRE_LEN) throw new WireError('KeyValue.key must be length-delimited', fieldStart);
    }
  }
}

/** Validation-only scans never record anything, so they can share one throwaway index. */
const NO_INDEX = new WireIndex();

// ---------------------------------------------------------------- resources and scopes

function scanResource(ix: WireIndex, buf: Uint8Array, parent: number, tagStart: number, lenStart: number, start: number, end: number): void {
  const node = ix.addNode(NODE.RESOURCE, parent, tagStart, lenStart, start, end);
  ix.groupInner[currentResourceGroup] = node;
  cur.pos = start;
  while (cur.pos < end) {
    const fieldStart = cur.pos;
    const tag = readTag(buf, end);
    const field = tag >>> 3;
    if (field === 1) scanChild(ix, buf, node, tag, fieldStart, end, scanKeyValue);
    else if (field === 2) recordDroppedCount(ix, node, buf, tag, fieldStart, end);
    else cur.pos = skipField(buf, tag & 7, cur.pos, end);
  }
}

function scanScope(ix: WireIndex, buf: Uint8Array, parent: number, tagStart: number, lenStart: number, start: number, end: number): void {
  const node = ix.addNode(NODE.SCOPE, parent, tagStart, lenStart, start, end);
  ix.groupInner[currentScopeGroup] = node;
  cur.pos = start;
  while (cur.pos < end) {
    const fieldStart = cur.pos;
    const tag = readTag(buf, end);
    const field = tag >>> 3;
    if (field === 3) scanChild(ix, buf, node, tag, fieldStart, end, scanKeyValue);
    else if (field === 4) recordDroppedCount(ix, node, buf, tag, fieldStart, end);
    else if (field === 1 || field === 2) lenPayload(buf, tag, fieldStart, end);
    else cur.pos = skipField(buf, tag & 7, cur.pos, end);
  }
}

/**
 * Resource{Metrics,Spans,Logs}: resource = 1, scope group = 2; Scope{Metrics,Spans,Logs}:
 * scope = 1, items = 2. Each group gets a row in the group table; items and metrics point at
 * the rows of the groups they belong to, and a row knows its Resource or Scope node.
 */
function makeResourceGroupScanner(scanItems: ChildScanner): ChildScanner {
  const scanScopeGroup: ChildScanner = (ix, buf, parent, tagStart, lenStart, start, end) => {
    const node = ix.addNode(NODE.SCOPE_GROUP, parent, tagStart, lenStart, start, end);
    currentScopeGroup = ix.addGroup(node);
    cur.pos = start;
    while (cur.pos < end) {
      const fieldStart = cur.pos;
      const tag = readTag(buf, end);
      const field = tag >>> 3;
      if (field === 1) scanChild(ix, buf, node, tag, fieldStart, end, scanScope);
      else if (field === 2) scanChild(ix, buf, node, tag, fieldStart, end, scanItems);
      else cur.pos = skipField(buf, tag & 7, cur.pos, end);
    }
  };
  return (ix, buf, parent, tagStart, lenStart, start, end) => {
    const group = ix.groupCount;
    ix.currentResourceGroup = group;
    const node = ix.addNode(NODE.RESOURCE_GROUP, parent, tagStart, lenStart, start, end);
    currentResourceGroup = ix.addGroup(node);
    cur.pos = start;
    while (cur.pos < end) {
      const fieldStart = cur.pos;
      const tag = readTag(buf, end);
      const field = tag >>> 3;
      if (field === 1) scanChild(ix, buf, node, tag, fieldStart, end, scanResource);
      else if (field === 2) scanChild(ix, buf, node, tag, fieldStart, end, scanScopeGroup);
      else cur.pos = skipField(buf, tag & 7, cur.pos, end);
    }
  };
}

/** Group-table rows of the resource group and scope group being scanned. */
let currentResourceGroup = -1;
let currentScopeGroup = -1;

// ---------------------------------------------------------------- metrics

/** Which field holds a data point's attributes, by the metric data kind. */
function scanMetric(ix: WireIndex, buf: Uint8Array, parent: number, tagStart: number, lenStart: number, start: number, end: number): void {
  const node = ix.addNode(NODE.METRIC, parent, tagStart, lenStart, start, end);
  const m = ix.addMetric(node, currentResourceGroup, currentScopeGroup);
  cur.pos = start;
  while (cur.pos < end) {
    const fieldStart = cur.pos;
    const tag = readTag(buf, end);
    const field = tag >>> 3;
    switch (field) {
      case 1:
        ix.metricNameStart[m] = lenPayload(buf, tag, fieldStart, end);
        ix.metricNameEnd[m] = cur.pos;
        break;
      case 3:
        ix.metricUnitStart[m] = lenPayload(buf, tag, fieldStart, end);
        ix.metricUnitEnd[m] = cur.pos;
        break;
      case METRIC_DATA.GAUGE:
      case METRIC_DATA.SUM:
      case METRIC_DATA.HISTOGRAM:
      case METRIC_DATA.EXPONENTIAL_HISTOGRAM:
      case METRIC_DATA.SUMMARY: {
        expectWireType(tag, WIRE_LEN, fieldStart);
        const lenAt = cur.pos;
        const stop = readLength(buf, end);
        ix.metricDataKind[m] = field;
        ix.metricDataNode[m] = ix.addNode(NODE.METRIC_DATA, node, fieldStart, lenAt, cur.pos, stop);
        scanMetricData(ix, buf, m, cur.pos, stop);
        cur.pos = stop;
        break;
      }
      case 12:
        // metadata: KeyValues that are not attributes; validated, not indexed.
        scanChild(ix, buf, -1, tag, fieldStart, end, scanKeyValue);
        break;
      default:
        cur.pos = skipField(buf, tag & 7, cur.pos, end);
    }
  }
}

function scanMetricData(ix: WireIndex, buf: Uint8Array, m: number, start: number, end: number): void {
  const dataNode = ix.metricDataNode[m];
  const attrField = pointAttributesField(ix.metricDataKind[m]);
  cur.pos = start;
  while (cur.pos < end) {
    const fieldStart = cur.pos;
    const tag = readTag(buf, end);
    const field = tag >>> 3;
    if (field === 1) {
      expectWireType(tag, WIRE_LEN, fieldStart);
      const lenAt = cur.pos;
      const stop = readLength(buf, end);
      scanPoint(ix, buf, m, dataNode, attrField, fieldStart, lenAt, cur.pos, stop);
      cur.pos = stop;
    } else if (field === 2) {
      ix.metricTemporality[m] = readVarintField(buf, tag, fieldStart, end);
    } else if (field === 3) {
      ix.metricMonotonic[m] = readVarintField(buf, tag, fieldStart, end) === 0 ? 0 : 1;
    } else {
      cur.pos = skipField(buf, tag & 7, cur.pos, end);
    }
  }
}

function scanPoint(ix: WireIndex, buf: Uint8Array, m: number, parent: number, attrField: number, tagStart: number, lenStart: number, start: number, end: number): void {
  const node = ix.addNode(NODE.POINT, parent, tagStart, lenStart, start, end);
  const item = ix.addItem(node, m, ix.metricResourceGroup[m]);
  cur.pos = start;
  while (cur.pos < end) {
    const fieldStart = cur.pos;
    const tag = readTag(buf, end);
    const field = tag >>> 3;
    if (field === attrField) scanChild(ix, buf, node, tag, fieldStart, end, scanKeyValue);
    else if (field === 3) ix.itemTime[item] = readFixed64At(buf, tag, fieldStart, end);
    else cur.pos = skipField(buf, tag & 7, cur.pos, end);
  }
}

// ---------------------------------------------------------------- traces

function scanSpan(ix: WireIndex, buf: Uint8Array, parent: number, tagStart: number, lenStart: number, start: number, end: number): void {
  const node = ix.addNode(NODE.SPAN, parent, tagStart, lenStart, start, end);
  const item = ix.addItem(node, currentScopeGroup, currentResourceGroup);
  cur.pos = start;
  while (cur.pos < end) {
    const fieldStart = cur.pos;
    const tag = readTag(buf, end);
    switch (tag >>> 3) {
      case 1: {
        const at = lenPayload(buf, tag, fieldStart, end);
        if (cur.pos - at === 16) ix.itemTraceId[item] = at;
        break;
      }
      case 2: {
        const at = lenPayload(buf, tag, fieldStart, end);
        if (cur.pos - at === 8) ix.itemSpanId[item] = at;
        break;
      }
      case 3:
        lenPayload(buf, tag, fieldStart, end);
        ix.itemTraceStateStart[item] = fieldStart;
        ix.itemTraceStateEnd[item] = cur.pos;
        break;
      case 4: // parent_span_id
        lenPayload(buf, tag, fieldStart, end);
        break;
      case 16: // flags
        expectWireType(tag, WIRE_I32, fieldStart);
        cur.pos = skipField(buf, WIRE_I32, cur.pos, end);
        break;
      case 5:
        ix.itemNameStart[item] = lenPayload(buf, tag, fieldStart, end);
        ix.itemNameEnd[item] = cur.pos;
        break;
      case 6:
        ix.itemKind[item] = readVarintField(buf, tag, fieldStart, end);
        break;
      case 7:
        ix.itemTime[item] = readFixed64At(buf, tag, fieldStart, end);
        break;
      case 8:
        ix.itemEndTime[item] = readFixed64At(buf, tag, fieldStart, end);
        break;
      case 9:
        scanChild(ix, buf, node, tag, fieldStart, end, scanKeyValue);
        break;
      case 10:
        recordDroppedCount(ix, node, buf, tag, fieldStart, end);
        break;
      case 11:
        scanChild(ix, buf, node, tag, fieldStart, end, scanEvent);
        break;
      case 13:
        scanChild(ix, buf, node, tag, fieldStart, end, scanLink);
        break;
      case 15: {
        expectWireType(tag, WIRE_LEN, fieldStart);
        const stop = readLength(buf, end);
        ix.itemStatus[item] = scanStatusCode(buf, cur.pos, stop);
        cur.pos = stop;
        break;
      }
      default:
        cur.pos = skipField(buf, tag & 7, cur.pos, end);
    }
  }
}

/** Status: message = 2, code = 3. */
function scanStatusCode(buf: Uint8Array, start: number, end: number): number {
  let code = 0;
  cur.pos = start;
  while (cur.pos < end) {
    const fieldStart = cur.pos;
    const tag = readTag(buf, end);
    if (tag >>> 3 === 3) code = readVarintField(buf, tag, fieldStart, end);
    else cur.pos = skipField(buf, tag & 7, cur.pos, end);
  }
  return code;
}

/** Span.Event: attributes = 3, dropped_attributes_count = 4. */
function scanEvent(ix: WireIndex, buf: Uint8Array, parent: number, tagStart: number, lenStart: number, start: number, end: number): void {
  scanAttributeOwner(ix, buf, NODE.EVENT, 3, 4, parent, tagStart, lenStart, start, end);
}

/** Span.Link: attributes = 4, dropped_attributes_count = 5. */
function scanLink(ix: WireIndex, buf: Uint8Array, parent: number, tagStart: number, lenStart: number, start: number, end: number): void {
  scanAttributeOwner(ix, buf, NODE.LINK, 4, 5, parent, tagStart, lenStart, start, end);
}

function scanAttributeOwner(ix: WireIndex, buf: Uint8Array, kind: NodeKind, attrField: number, droppedField: number, parent: number, tagStart: number, lenStart: number, start: number, end: number): void {
  const node = ix.addNode(kind, parent, tagStart, lenStart, start, end);
  cur.pos = start;
  while (cur.pos < end) {
    const fieldStart = cur.pos;
    const tag = readTag(buf, end);
    const field = tag >>> 3;
    if (field === attrField) scanChild(ix, buf, node, tag, fieldStart, end, scanKeyValue);
    else if (field === droppedField) recordDroppedCount(ix, node, buf, tag, fieldStart, end);
    else cur.pos = skipField(buf, tag & 7, cur.pos, end);
  }
}

// ---------------------------------------------------------------- logs

function scanLogRecord(ix: WireIndex, buf: Uint8Array, parent: number, tagStart: number, lenStart: number, start: number, end: number): void {
  const node = ix.addNode(NODE.LOG_RECORD, parent, tagStart, lenStart, start, end);
  const item = ix.addItem(node, currentScopeGroup, currentResourceGroup);
  cur.pos = start;
  while (cur.pos < end) {
    const fieldStart = cur.pos;
    const tag = readTag(buf, end);
    switch (tag >>> 3) {
      case 1:
        ix.itemTime[item] = readFixed64At(buf, tag, fieldStart, end);
        break;
      case 2:
        ix.itemKind[item] = readVarintField(buf, tag, fieldStart, end);
        break;
      case 5: {
        expectWireType(tag, WIRE_LEN, fieldStart);
        const stop = readLength(buf, end);
        scanLogBody(ix, buf, item, cur.pos, stop);
        ix.itemBodyFieldStart[item] = fieldStart;
        ix.itemBodyFieldEnd[item] = stop;
        cur.pos = stop;
        break;
      }
      case 6:
        scanChild(ix, buf, node, tag, fieldStart, end, scanKeyValue);
        break;
      case 7:
        recordDroppedCount(ix, node, buf, tag, fieldStart, end);
        break;
      case 9: {
        const at = lenPayload(buf, tag, fieldStart, end);
        if (cur.pos - at === 16) ix.itemTraceId[item] = at;
        break;
      }
      case 10: {
        const at = lenPayload(buf, tag, fieldStart, end);
        if (cur.pos - at === 8) ix.itemSpanId[item] = at;
        break;
      }
      case 8:
        expectWireType(tag, WIRE_I32, fieldStart);
        cur.pos = skipField(buf, WIRE_I32, cur.pos, end);
        break;
      default:
        cur.pos = skipField(buf, tag & 7, cur.pos, end);
    }
  }
}

/** The body is an AnyValue; record it through a scratch attribute row, then copy it to the item. */
function scanLogBody(ix: WireIndex, buf: Uint8Array, item: number, start: number, end: number): void {
  const scratch = BODY_SCRATCH;
  scratch.reset('logs', buf);
  scratch.addNode(NODE.REQUEST, -1, 0, 0, 0, 0);
  const a = scratch.addAttr(0, start, end);
  scanAnyValue(scratch, buf, a, start, end, 1);
  ix.itemBodyType[item] = scratch.attrValueType[a];
  ix.itemBodyStart[item] = scratch.attrValueStart[a];
  ix.itemBodyEnd[item] = scratch.attrValueEnd[a];
}

const BODY_SCRATCH = new WireIndex();

const GROUP_SCANNERS: Readonly<Record<Signal, ChildScanner>> = {
  metrics: makeResourceGroupScanner(scanMetric),
  traces: makeResourceGroupScanner(scanSpan),
  logs: makeResourceGroupScanner(scanLogRecord),
};
