import type { EditList } from './rewriter.js';
import { NO_BYTES } from './rewriter.js';
import { NODE, pointAttributesField } from './wire-index.js';
import type { WireIndex } from './wire-index.js';
import { ByteWriter, WIRE_LEN, WIRE_VARINT } from './wire.js';

/**
 * The edits processors make, expressed against the wire index. Each records one replacement
 * in the edit list; `rewrite` applies them all in one pass.
 */

/** Field number of the attributes of each kind of owner (OTLP v1). */
function attributesField(ix: WireIndex, owner: number): number {
  switch (ix.nodeKind[owner]) {
    case NODE.RESOURCE:
      return 1;
    case NODE.SCOPE:
    case NODE.EVENT:
      return 3;
    case NODE.LINK:
      return 4;
    case NODE.LOG_RECORD:
      return 6;
    case NODE.SPAN:
      return 9;
    case NODE.POINT:
      // A point's parent is its metric's data message, whose one-byte tag names the data kind.
      return pointAttributesField(ix.buf[ix.nodeTagStart[ix.nodeParent[owner]]] >>> 3);
    default:
      throw new Error(`node kind ${ix.nodeKind[owner]} has no attributes`);
  }
}

/** Field number of dropped_attributes_count per owner kind; points have none. */
function droppedCountField(ix: WireIndex, owner: number): number | undefined {
  switch (ix.nodeKind[owner]) {
    case NODE.RESOURCE:
      return 2;
    case NODE.SCOPE:
    case NODE.EVENT:
      return 4;
    case NODE.LINK:
      return 5;
    case NODE.LOG_RECORD:
      return 7;
    case NODE.SPAN:
      return 10;
    default:
      return undefined;
  }
}

export function dropAttribute(ix: WireIndex, edits: EditList, attr: number): void {
  edits.replaceAttribute(attr, ix.attrOwner[attr], ix.attrKvStart[attr], ix.attrKvEnd[attr], NO_BYTES);
}

/**
 * Replaces an attribute's value, keeping its key. `anyValue` is an encoded AnyValue message
 * (see encodeStringValue).
 */
export function replaceAttributeValue(ix: WireIndex, edits: EditList, attr: number, anyValue: Uint8Array): void {
  const owner = ix.attrOwner[attr];
  const key = ix.buf.subarray(ix.attrKeyStart[attr], ix.attrKeyEnd[attr]);
  edits.replaceAttribute(attr, owner, ix.attrKvStart[attr], ix.attrKvEnd[attr], encodeKeyValueField(attributesField(ix, owner), key, anyValue));
}

/** Adds an attribute to an owner (at the end of its message). */
export function appendAttribute(ix: WireIndex, edits: EditList, owner: number, key: Uint8Array, anyValue: Uint8Array): void {
  edits.insert(owner, ix.nodeEnd[owner], encodeKeyValueField(attributesField(ix, owner), key, anyValue));
}

const MAX_UINT32 = 0xffffffff;

/** Counts below this are encoded once per field and shared: most owners drop a handful. */
const SHARED_COUNTS = 128;
const droppedCountBytes: Uint8Array[][] = [];

/** A dropped_attributes_count field; the rewriter only reads replacement bytes, so they can be shared. */
function encodeDroppedCount(field: number, count: number): Uint8Array {
  if (count >= SHARED_COUNTS) return droppedCountBytesOf(field, count);
  const byCount = (droppedCountBytes[field] ??= []);
  return (byCount[count] ??= droppedCountBytesOf(field, count));
}

function droppedCountBytesOf(field: number, count: number): Uint8Array {
  return new ByteWriter(8).tag(field, WIRE_VARINT).varint(Math.min(count, MAX_UINT32)).finish();
}

/** Encoded trace_state fields by value: a sampler writes the same few values on every kept span. */
const traceStateBytes = new Map<string, Uint8Array>();
const TRACE_STATE_CACHE_LIMIT = 256;

function encodeTraceState(traceState: string): Uint8Array {
  let bytes = traceStateBytes.get(traceState);
  if (bytes === undefined) {
    if (traceStateBytes.size >= TRACE_STATE_CACHE_LIMIT) traceStateBytes.clear();
    bytes = new ByteWriter(traceState.length + 4).tag(3, WIRE_LEN).string(traceState).finish();
    traceStateBytes.set(traceState, bytes);
  }
  return bytes;
}

/**
 * Sets dropped_attributes_count on an owner that has one, replacing the existing field. The
 * field is a uint32, so the count saturates instead of wrapping.
 */
export function setDroppedAttributesCount(ix: WireIndex, edits: EditList, owner: number, count: number): void {
  const field = droppedCountField(ix, owner);
  if (field === undefined) return;
  const bytes = encodeDroppedCount(field, count);
  const start = ix.nodeDroppedStart[owner];
  if (start >= 0) edits.replace(owner, start, ix.nodeDroppedEnd[owner], bytes);
  else edits.insert(owner, ix.nodeEnd[owner], bytes);
}

/** Sets a span's trace_state (field 3), replacing the existing field or adding one. */
export function setTraceState(ix: WireIndex, edits: EditList, item: number, traceState: string): void {
  const node = ix.itemNode[item];
  const bytes = encodeTraceState(traceState);
  const start = ix.itemTraceStateStart[item];
  if (start >= 0) edits.replace(node, start, ix.itemTraceStateEnd[item], bytes);
  else edits.insert(node, ix.nodeEnd[node], bytes);
}

export function dropItem(ix: WireIndex, edits: EditList, item: number): void {
  edits.dropItemNode(ix.itemNode[item]);
}

/** A KeyValue field (tag, length, key = 1, value = 2) ready to splice into its owner. */
export function encodeKeyValueField(field: number, key: Uint8Array, anyValue: Uint8Array): Uint8Array {
  return new ByteWriter(key.length + anyValue.length + 12).fork().tag(1, WIRE_LEN).bytes(key).tag(2, WIRE_LEN).bytes(anyValue).join(field).finish();
}

/** An AnyValue holding a string. */
export function encodeStringValue(value: string): Uint8Array {
  return new ByteWriter(value.length + 4).tag(1, WIRE_LEN).string(value).finish();
}
