// Message keys for the Kafka exporter. Kafka sends every message with the same key to the same
// partition, so the key decides what stays together and in order: a trace (key = trace id) or
// one service's stream (key = the resource's service.name). A request mixing several keys is
// split into one request per key; a request with a single key goes out byte for byte.
import { EditList, rewrite } from '../otlp/rewriter.js';
import { scanRequest } from '../otlp/scanner.js';
import type { Signal } from '../otlp/signal.js';
import { NO_OFFSET, VALUE, WireIndex } from '../otlp/wire-index.js';

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
const scratch = { index: new WireIndex(), edits: new EditList() };

/**
 * Splits one serialized Export*ServiceRequest into one request per key. Items keep their
 * order within a key, and keys appear in the order of their first item. Throws WireError when
 * `body` is not a valid request of `signal` (the pipeline never hands such a body over).
 */
export function splitByKey(signal: Signal, body: Uint8Array, items: number, key: KafkaMessageKey): KeyedRequest[] {
  if (key === 'none' || (key === 'trace_id' && signal !== 'traces') || items === 0) return [{ key: null, body, items }];
  const { index, edits } = scratch;
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
  return order.map((k) => {
    edits.clear();
    keys.forEach((other, item) => {
      if (other !== k) edits.dropNode(index.itemNode[item]);
    });
    const result = rewrite(index, edits);
    return { key: k, body: result.bytes, items: result.items };
  });
}
