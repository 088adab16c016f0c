// Message keys for the Kafka exporter. Kafka sends every message with the same key to the same
// partition, so the key decides what stays together and in order: a trace (key = trace id) or
// one service's stream (key = the resource's service.name). A request mixing several keys is
// split into one request per key; a request with a single key goes out byte for byte.
import { scanRequest } from '../otlp/scanner.js';
import type { Signal } from '../otlp/signal.js';
import { NO_OFFSET, VALUE, WireIndex } from '../otlp/wire-index.js';
import { ByteWriter, fieldsExcept, readVarint, skipField, WIRE_LEN } from '../otlp/wire.js';

/** `trace_id`: spans only. `service.name`: the resource attribute. `none`: no key (round-robin partitions). */
export type KafkaMessageKey = 'trace_id' | 'service.name' | 'none';

export const KAFKA_MESSAGE_KEYS: readonly KafkaMessageKey[] = ['trace_id', 'service.name', 'none'];

export interface KeyedRequest {
  /** Null when the items carry no such key (no trace id, no service.name) or the key is `none`. */
  readonly key: string | null;
  readonly body: Uint8Array;
  readonly items: number;
}

const SERVICE_NAME = Buffer.from('service.name');
const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

function traceIdHex(buf: Uint8Array, at: number): string {
  let hex = '';
  for (let i = at; i < at + 16; i++) hex += HEX[buf[i]];
  return hex;
}

/** The string value of the resource's `service.name`, or null when it has none. */
function serviceNameOf(index: WireIndex, resourceGroup: number): string | null {
  const resource = resourceGroup < 0 ? NO_OFFSET : index.groupInner[resourceGroup];
  if (resource === NO_OFFSET) return null;
  const { buf } = index;
  for (let a = index.nodeFirstAttr[resource]; a !== NO_OFFSET; a = index.attrNext[a]) {
    const start = index.attrKeyStart[a];
    if (index.attrKeyEnd[a] - start !== SERVICE_NAME.length) continue;
    if (!SERVICE_NAME.every((byte, i) => buf[start + i] === byte)) continue;
    return index.attrValueType[a] === VALUE.STRING ? index.text(index.attrValueStart[a], index.attrValueEnd[a]) : null;
  }
  return null;
}

/** Field 1, length-delimited: Resource{Spans,Metrics,Logs} in a request, Resource in those, KeyValue in Resource, the key in KeyValue, string_value in AnyValue. */
const FIELD_1 = (1 << 3) | WIRE_LEN;
/** KeyValue.value. */
const FIELD_2 = (2 << 3) | WIRE_LEN;
/** The resources disagree, or one is shaped so that only the full scan can say what it means. */
const UNSURE = Symbol('unsure');

/** Each field in [start, end): its tag and its payload's [start, end) (after the length, for length-delimited fields). */
function* fields(buf: Uint8Array, start: number, end: number): Generator<readonly [number, number, number]> {
  const cursor = { pos: start };
  while (cursor.pos < end) {
    const tag = readVarint(buf, cursor, end);
    const fieldEnd = skipField(buf, tag & 7, cursor.pos, end);
    if ((tag & 7) === WIRE_LEN) readVarint(buf, cursor, end);
    yield [tag, cursor.pos, fieldEnd];
    cursor.pos = fieldEnd;
  }
}

function fieldsTagged(buf: Uint8Array, tag: number, start: number, end: number): (readonly [number, number, number])[] {
  return [...fields(buf, start, end)].filter((field) => field[0] === tag);
}

function isServiceNameKey(buf: Uint8Array, start: number, end: number): boolean {
  if (end - start !== SERVICE_NAME.length) return false;
  for (let i = 0; i < SERVICE_NAME.length; i++) if (buf[start + i] !== SERVICE_NAME[i]) return false;
  return true;
}

/** The string value of a resource's service.name, null when it has none, UNSURE when it is not one plain string. */
function resourceServiceName(buf: Uint8Array, start: number, end: number): string | null | typeof UNSURE {
  let name: string | null | typeof UNSURE = null;
  for (const [, kvStart, kvEnd] of fieldsTagged(buf, FIELD_1, start, end)) {
    const keys = fieldsTagged(buf, FIELD_1, kvStart, kvEnd);
    if (keys.length !== 1) return UNSURE;
    if (!isServiceNameKey(buf, keys[0][1], keys[0][2])) continue;
    // A second service.name, a value that is not exactly one string_value: left to the scanner.
    if (name !== null) return UNSURE;
    const values = fieldsTagged(buf, FIELD_2, kvStart, kvEnd);
    if (values.length !== 1) return UNSURE;
    const members = [...fields(buf, values[0][1], values[0][2])];
    if (members.length !== 1 || members[0][0] !== FIELD_1) return UNSURE;
    name = Buffer.from(buf.buffer, buf.byteOffset + members[0][1], members[0][2] - members[0][1]).toString('utf8');
  }
  return name;
}

/**
 * The one service.name all of a request's resources carry, reading only the resources and
 * skipping their items: a request usually comes from one service, and scanning every point
 * again just to find that out cost as much as the receiver's own scan. UNSURE when the
 * resources differ (or look unusual): the caller then keys item by item.
 */
function soleServiceName(body: Uint8Array): string | null | typeof UNSURE {
  let sole: string | null | typeof UNSURE | undefined;
  for (const [, groupStart, groupEnd] of fieldsTagged(body, FIELD_1, 0, body.length)) {
    const resources = fieldsTagged(body, FIELD_1, groupStart, groupEnd);
    if (resources.length > 1) return UNSURE;
    const name = resources.length === 0 ? null : resourceServiceName(body, resources[0][1], resources[0][2]);
    if (name === UNSURE || (sole !== undefined && name !== sole)) return UNSURE;
    sole = name;
  }
  return sole === undefined ? UNSURE : sole;
}

/** Each item's key, in item order. */
function itemKeys(index: WireIndex, key: Exclude<KafkaMessageKey, 'none'>): (string | null)[] {
  const keys: (string | null)[] = new Array<string | null>(index.itemCount);
  if (key === 'trace_id') {
    for (let i = 0; i < index.itemCount; i++) {
      const at = index.itemTraceId[i];
      keys[i] = at === NO_OFFSET ? null : traceIdHex(index.buf, at);
    }
    return keys;
  }
  const byGroup = new Map<number, string | null>();
  for (let i = 0; i < index.itemCount; i++) {
    const group = index.itemResourceGroup[i];
    let name = byGroup.get(group);
    if (name === undefined) {
      name = serviceNameOf(index, group);
      byGroup.set(group, name);
    }
    keys[i] = name;
  }
  return keys;
}

/** Scratch state reused across calls: splitting runs synchronously, one request at a time. */
const scratch = { index: new WireIndex() };

/** Resource{Spans,Metrics,Logs} in a request, and the children field (scope groups, items) of a resource or scope group. */
const GROUP_FIELD = 1;
const CHILDREN_FIELD = 2;

function nodeBytes(index: WireIndex, node: number): Uint8Array {
  return index.buf.subarray(index.nodeTagStart[node], index.nodeEnd[node]);
}

/**
 * A request of the resource groups that hold `items`, copied whole: under service.name every
 * item of a resource group has the group's key, so a part is just its groups as they came.
 */
function encodeResourceGroups(index: WireIndex, items: readonly number[]): Uint8Array {
  const groups: number[] = [];
  for (const item of items) {
    const group = index.itemResourceGroup[item];
    if (groups[groups.length - 1] !== group) groups.push(group);
  }
  const out = new ByteWriter(groups.reduce((sum, g) => sum + nodeBytes(index, index.groupNode[g]).length, 0));
  for (const group of groups) out.raw(nodeBytes(index, index.groupNode[group]));
  return out.finish();
}

/**
 * A traces request of `spans` (item indices, ascending) alone, each under its resource and
 * scope: the envelopes (everything but the children) are cut once per group and the spans are
 * copied as they are, so splitting costs about one pass over the request however many parts.
 */
function encodeSpans(index: WireIndex, spans: readonly number[], envelopes: (Uint8Array | undefined)[]): Uint8Array {
  const envelope = (group: number): Uint8Array => {
    const node = index.groupNode[group];
    return (envelopes[group] ??= fieldsExcept(index.buf, index.nodePayloadStart[node], index.nodeEnd[node], CHILDREN_FIELD));
  };
  const out = new ByteWriter(256);
  let resource = -1;
  let scope = -1;
  for (const item of spans) {
    const scopeGroup = index.itemParent[item];
    if (scopeGroup !== scope) {
      if (scope >= 0) out.join(CHILDREN_FIELD);
      const resourceGroup = index.itemResourceGroup[item];
      if (resourceGroup !== resource) {
        if (resource >= 0) out.join(GROUP_FIELD);
        out.fork().raw(envelope(resourceGroup));
        resource = resourceGroup;
      }
      out.fork().raw(envelope(scopeGroup));
      scope = scopeGroup;
    }
    out.raw(nodeBytes(index, index.itemNode[item]));
  }
  if (scope >= 0) out.join(CHILDREN_FIELD).join(GROUP_FIELD);
  return out.finish();
}

/**
 * Splits one serialized Export*ServiceRequest into one request per key. Items keep their
 * order within a key, and keys appear in the order of their first item. Throws WireError when
 * `body` is not a valid request of `signal` (the pipeline never hands such a body over).
 */
export function splitByKey(signal: Signal, body: Uint8Array, items: number, key: KafkaMessageKey): KeyedRequest[] {
  if (key === 'none' || (key === 'trace_id' && signal !== 'traces') || items === 0) return [{ key: null, body, items }];
  if (key === 'service.name') {
    const sole = soleServiceName(body);
    if (sole !== UNSURE) return [{ key: sole, body, items }];
  }
  const { index } = scratch;
  scanRequest(index, signal, body);
  const keys = itemKeys(index, key);
  const order: (string | null)[] = [];
  const members = new Map<string | null, number[]>();
  keys.forEach((k, item) => {
    let list = members.get(k);
    if (list === undefined) {
      list = [];
      members.set(k, list);
      order.push(k);
    }
    list.push(item);
  });
  if (order.length === 1) return [{ key: order[0], body, items }];
  const envelopes: (Uint8Array | undefined)[] = [];
  return order.map((k) => {
    const list = members.get(k) ?? [];
    const part = key === 'trace_id' ? encodeSpans(index, list, envelopes) : encodeResourceGroups(index, list);
    return { key: k, body: part, items: list.length };
  });
}
