import { isStructural, NODE } from './wire-index.js';
import type { WireIndex } from './wire-index.js';
import { varintSize, writeVarint } from './wire.js';

/**
 * Edits recorded by processors against a WireIndex, applied by `rewrite` in one pass that
 * copies the untouched bytes and re-computes the length prefix of every enclosing message.
 *
 * An edit replaces the byte range [start, end) *owned* by one node (the innermost message that
 * contains it) with new bytes: drop an attribute = replace its KeyValue field with nothing;
 * change a value = replace the KeyValue field; insert = an empty range. Edits must not overlap.
 */
export class EditList {
  count = 0;
  owner: Int32Array = new Int32Array(64);
  start: Int32Array = new Int32Array(64);
  end: Int32Array = new Int32Array(64);
  replacement: Uint8Array[] = [];
  /** Nodes to remove entirely (points, spans, log records, or whole containers). */
  dropped: number[] = [];
  /** Items (points, spans, log records) added by edits, so the item count stays right. */
  addedItems = 0;

  /*
   * Attribute edits and item drops are also kept by attribute row and node, so that a later
   * processor can read the request through them (`attributeEdit`, `isDropped`) instead of
   * waiting for a rewrite and a re-scan. Rows are valid while their stamp is this list's.
   */
  private stamp = 1;
  private attrStamp: Uint32Array = new Uint32Array(0);
  private attrEditAt: Int32Array = new Int32Array(0);
  private dropStamp: Uint32Array = new Uint32Array(0);
  private attributeEdits = 0;
  private itemDrops = 0;

  clear(): void {
    this.count = 0;
    this.replacement.length = 0;
    this.dropped.length = 0;
    this.addedItems = 0;
    this.attributeEdits = 0;
    this.itemDrops = 0;
    if (++this.stamp === 0xffffffff) {
      this.stamp = 1;
      this.attrStamp.fill(0);
      this.dropStamp.fill(0);
    }
  }

  get isEmpty(): boolean {
    return this.count === 0 && this.dropped.length === 0;
  }

  replace(owner: number, start: number, end: number, bytes: Uint8Array): void {
    const i = this.count++;
    if (i >= this.owner.length) {
      this.owner = growInt32(this.owner);
      this.start = growInt32(this.start);
      this.end = growInt32(this.end);
    }
    this.owner[i] = owner;
    this.start[i] = start;
    this.end[i] = end;
    this.replacement[i] = bytes;
  }

  insert(owner: number, at: number, bytes: Uint8Array): void {
    this.replace(owner, at, at, bytes);
  }

  dropNode(node: number): void {
    this.dropped.push(node);
  }

  /** Replaces (or, with empty bytes, drops) attribute row `attr`, whose KeyValue field is [start, end) of `owner`. */
  replaceAttribute(attr: number, owner: number, start: number, end: number, bytes: Uint8Array): void {
    if (attr >= this.attrStamp.length) {
      this.attrStamp = growUint32(this.attrStamp, attr + 1);
      this.attrEditAt = growInt32(this.attrEditAt, attr + 1);
    }
    this.attrStamp[attr] = this.stamp;
    this.attrEditAt[attr] = this.count;
    this.attributeEdits++;
    this.replace(owner, start, end, bytes);
  }

  /** The KeyValue field that will replace attribute row `attr` (empty: dropped), or undefined if it stays as it is. */
  attributeEdit(attr: number): Uint8Array | undefined {
    return attr < this.attrStamp.length && this.attrStamp[attr] === this.stamp ? this.replacement[this.attrEditAt[attr]] : undefined;
  }

  /** Removes an item's node (a data point, span or log record). */
  dropItemNode(node: number): void {
    if (node >= this.dropStamp.length) this.dropStamp = growUint32(this.dropStamp, node + 1);
    this.dropStamp[node] = this.stamp;
    this.itemDrops++;
    this.dropNode(node);
  }

  /** True when the item at `node` was dropped by dropItemNode. */
  isDropped(node: number): boolean {
    return node < this.dropStamp.length && this.dropStamp[node] === this.stamp;
  }

  /**
   * True when every edit so far replaced an attribute or dropped an item: a processor can then
   * read the request as it will be through `attributeEdit` and `isDropped`.
   */
  get readableInPlace(): boolean {
    return this.attributeEdits === this.count && this.itemDrops === this.dropped.length && this.addedItems === 0;
  }
}

function growUint32(array: Uint32Array, least: number): Uint32Array {
  const next = new Uint32Array(Math.max(least, array.length * 2, 64));
  next.set(array);
  return next;
}

function growInt32(array: Int32Array, least = 0): Int32Array {
  const next = new Int32Array(Math.max(least, array.length * 2, 64));
  next.set(array);
  return next;
}

export interface RewriteResult {
  /** The new request; the original buffer itself when nothing was edited. */
  readonly bytes: Uint8Array;
  /** Items left in the request after drops and additions. */
  readonly items: number;
}

/** The replacement that deletes a range. */
export const NO_BYTES = new Uint8Array(0);

/** Per-rewrite scratch arrays, reused across requests (rewriting is synchronous). */
let removed = new Uint8Array(1024);
let liveChildren = new Int32Array(1024);
let payloadDelta = new Float64Array(1024);
let editOrder = new Int32Array(64);

function ensureScratch(nodes: number, edits: number): void {
  if (removed.length < nodes) {
    const size = Math.max(nodes, removed.length * 2);
    removed = new Uint8Array(size);
    liveChildren = new Int32Array(size);
    payloadDelta = new Float64Array(size);
  }
  if (editOrder.length < edits) editOrder = new Int32Array(Math.max(edits, editOrder.length * 2));
}

/**
 * Applies `edits` to the scanned request. Containers left empty by drops (a metric without
 * points, a scope or resource group without items) are removed too, as the Collector does,
 * so downstream never sees hollow envelopes.
 */
export function rewrite(index: WireIndex, edits: EditList): RewriteResult {
  if (edits.isEmpty) return { bytes: index.buf, items: index.itemCount };
  const nodes = index.nodeCount;
  ensureScratch(nodes, edits.count);
  removed.fill(0, 0, nodes);
  payloadDelta.fill(0, 0, nodes);
  for (const node of edits.dropped) removed[node] = 1;
  propagateRemoval(index, nodes);
  for (let e = 0; e < edits.count; e++) {
    const owner = edits.owner[e];
    payloadDelta[owner] += edits.replacement[e].length - (edits.end[e] - edits.start[e]);
  }
  const size = computeSizes(index, nodes);
  // Not zero-filled: emit writes every byte, which the size check below confirms.
  const out = new Uint8Array(Buffer.allocUnsafeSlow(size).buffer, 0, size);
  const written = emit(index, edits, out);
  if (written !== size) throw new Error(`rewrite wrote ${written} bytes, expected ${size}`);
  return { bytes: out, items: countLiveItems(index) + edits.addedItems };
}

/**
 * Marks descendants of removed nodes (pre-order: parents first) and then removes containers
 * whose structural children are all gone (reverse pre-order: children first).
 */
function propagateRemoval(index: WireIndex, nodes: number): void {
  for (let n = 1; n < nodes; n++) if (removed[index.nodeParent[n]] === 1) removed[n] = 1;
  for (let n = 0; n < nodes; n++) liveChildren[n] = index.nodeChildCount[n];
  for (let n = nodes - 1; n > 0; n--) {
    const parent = index.nodeParent[n];
    if (removed[n] === 1 && removed[parent] === 0 && isStructural(index.nodeKind[n])) {
      liveChildren[parent]--;
      if (liveChildren[parent] === 0 && isPrunable(index.nodeKind[parent])) removed[parent] = 1;
    }
  }
}

/** A metric with no points is removed with its data message; envelopes with no content too. */
function isPrunable(kind: number): boolean {
  return kind === NODE.METRIC_DATA || kind === NODE.METRIC || kind === NODE.SCOPE_GROUP || kind === NODE.RESOURCE_GROUP;
}

/**
 * Bottom-up: each node's new payload size is its old one plus its own edits plus the size
 * changes of its children (including their length prefixes growing or shrinking).
 * Returns the new size of the whole request.
 */
function computeSizes(index: WireIndex, nodes: number): number {
  for (let n = nodes - 1; n > 0; n--) {
    const delta = payloadDelta[n];
    if (delta === 0 && removed[n] === 0) continue;
    const parent = index.nodeParent[n];
    if (removed[n] === 1) {
      if (removed[parent] === 0) payloadDelta[parent] -= index.nodeEnd[n] - index.nodeTagStart[n];
      continue;
    }
    const oldPayload = index.nodeEnd[n] - index.nodePayloadStart[n];
    const oldHeader = index.nodePayloadStart[n] - index.nodeLenStart[n];
    payloadDelta[parent] += delta + varintSize(oldPayload + delta) - oldHeader;
  }
  return index.buf.length + payloadDelta[0];
}

/**
 * Writes the new request: original bytes in order, with removed nodes skipped, edited ranges
 * replaced and the length prefix of every resized node rewritten. Node starts and edit starts
 * are visited in position order; at equal positions edits go first, since an insertion at a
 * node's start belongs before it.
 */
function emit(index: WireIndex, edits: EditList, out: Uint8Array): number {
  const src = index.buf;
  const editCount = sortEdits(edits);
  let read = 0;
  let write = 0;
  let e = 0;
  const nodes = index.nodeCount;
  for (let n = 1; n <= nodes; n++) {
    const nodeStart = n < nodes ? index.nodeTagStart[n] : src.length;
    while (e < editCount && edits.start[editOrder[e]] <= nodeStart) {
      const i = editOrder[e++];
      if (edits.start[i] < read || removed[edits.owner[i]] === 1) continue;
      write = copyRange(src, read, edits.start[i], out, write);
      const bytes = edits.replacement[i];
      out.set(bytes, write);
      write += bytes.length;
      read = edits.end[i];
    }
    if (n === nodes) break;
    if (nodeStart < read) continue; // inside a removed node or a replaced range
    if (removed[n] === 1) {
      write = copyRange(src, read, nodeStart, out, write);
      read = index.nodeEnd[n];
      continue;
    }
    const delta = payloadDelta[n];
    if (delta === 0) continue;
    const lenStart = index.nodeLenStart[n];
    write = copyRange(src, read, lenStart, out, write);
    write = writeVarint(out, write, index.nodeEnd[n] - index.nodePayloadStart[n] + delta);
    read = index.nodePayloadStart[n];
  }
  out.set(src.subarray(read), write);
  return write + (src.length - read);
}

/** Below this many bytes a plain loop copies faster than creating a view to set() from. */
const SHORT_COPY = 32;

/** Copies src[from, to) into out at `at`; returns the position after it. */
function copyRange(src: Uint8Array, from: number, to: number, out: Uint8Array, at: number): number {
  if (to - from < SHORT_COPY) {
    for (let i = from; i < to; i++) out[at++] = src[i];
    return at;
  }
  out.set(src.subarray(from, to), at);
  return at + (to - from);
}

/**
 * Edit order: by start; at one position, the edit of the deeper node first, then in recording
 * order. Several nodes can end at one offset (a span and its last event), and an insertion at
 * that offset must land inside the node that owns it: the innermost one's bytes come first.
 * Nodes are numbered in pre-order, so a descendant always has the higher number.
 */
function editBefore(edits: EditList, a: number, b: number): number {
  return edits.start[a] - edits.start[b] || edits.owner[b] - edits.owner[a] || a - b;
}

function sortEdits(edits: EditList): number {
  const count = edits.count;
  for (let i = 0; i < count; i++) editOrder[i] = i;
  const order = editOrder.subarray(0, count);
  let sorted = true;
  for (let i = 1; i < count && sorted; i++) if (editBefore(edits, order[i - 1], order[i]) > 0) sorted = false;
  if (!sorted) {
    const keys = Array.from(order).sort((a, b) => editBefore(edits, a, b));
    order.set(keys);
  }
  return count;
}

function countLiveItems(index: WireIndex): number {
  let live = 0;
  for (let i = 0; i < index.itemCount; i++) if (removed[index.itemNode[i]] === 0) live++;
  return live;
}
