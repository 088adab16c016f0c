import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { dropAttribute, dropItem, encodeStringValue, replaceAttributeValue, setDroppedAttributesCount, setTraceState } from '../../../collector/otlp/edits.js';
import { decodeRequest, encodeRequest } from '../../../collector/otlp/object-codec.js';
import type { OtlpObject } from '../../../collector/otlp/object-codec.js';
import { EditList, rewrite } from '../../../collector/otlp/rewriter.js';
import { scanRequest } from '../../../collector/otlp/scanner.js';
import { SIGNALS } from '../../../collector/otlp/signal.js';
import type { Signal } from '../../../collector/otlp/signal.js';
import { NODE, WireIndex } from '../../../collector/otlp/wire-index.js';
import { arbRequest } from './arbitraries.js';

/**
 * The rewriter is checked against the object model: applying an edit plan to the bytes and
 * decoding must give exactly what applying the same plan to the decoded object gives.
 */

const GROUPS: Readonly<Record<Signal, [string, string, string]>> = {
  metrics: ['resourceMetrics', 'scopeMetrics', 'metrics'],
  traces: ['resourceSpans', 'scopeSpans', 'spans'],
  logs: ['resourceLogs', 'scopeLogs', 'logRecords'],
};
const METRIC_DATA_KEYS = ['gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary'];

const list = (o: OtlpObject | undefined, key: string): OtlpObject[] => ((o?.[key] as OtlpObject[] | undefined) ?? []);

/** Attribute owners in the order the scanner meets them (the encoder writes fields in number order). */
interface Owner {
  readonly object: OtlpObject;
  readonly hasDroppedCount: boolean;
}

/** Walks a request object in wire order, listing attribute owners and items as the scanner does. */
function walk(signal: Signal, request: OtlpObject): { owners: Owner[]; items: OtlpObject[] } {
  const [rKey, sKey, iKey] = GROUPS[signal];
  const owners: Owner[] = [];
  const items: OtlpObject[] = [];
  for (const rg of list(request, rKey)) {
    if (rg.resource) owners.push({ object: rg.resource as OtlpObject, hasDroppedCount: true });
    for (const sg of list(rg, sKey)) {
      if (sg.scope) owners.push({ object: sg.scope as OtlpObject, hasDroppedCount: true });
      for (const item of list(sg, iKey)) {
        if (signal !== 'metrics') {
          items.push(item);
          owners.push({ object: item, hasDroppedCount: true });
          for (const child of [...list(item, 'events'), ...list(item, 'links')]) owners.push({ object: child, hasDroppedCount: true });
          continue;
        }
        const dataKey = METRIC_DATA_KEYS.find((k) => k in item);
        for (const point of dataKey ? list(item[dataKey] as OtlpObject, 'dataPoints') : []) {
          items.push(point);
          owners.push({ object: point, hasDroppedCount: false });
        }
      }
    }
  }
  return { owners, items };
}

type AttrAction = 'keep' | 'drop' | 'redact';
interface Plan {
  readonly attrs: AttrAction[];
  readonly items: boolean[];
  readonly traceStates: boolean[];
}

const REDACTED = '[redacted]';

/** The plan applied to bytes, through the same edit helpers processors use. */
function applyToBytes(signal: Signal, bytes: Uint8Array, plan: Plan): { bytes: Uint8Array; items: number } {
  const ix = scanRequest(new WireIndex(), signal, bytes);
  const edits = new EditList();
  const redacted = encodeStringValue(REDACTED);
  const dropsPerOwner = new Map<number, number>();
  for (let a = 0; a < ix.attrCount; a++) {
    const action = plan.attrs[a % plan.attrs.length];
    if (action === 'drop') {
      dropAttribute(ix, edits, a);
      dropsPerOwner.set(ix.attrOwner[a], (dropsPerOwner.get(ix.attrOwner[a]) ?? 0) + 1);
    } else if (action === 'redact') replaceAttributeValue(ix, edits, a, redacted);
  }
  for (const [owner, drops] of dropsPerOwner) setDroppedAttributesCount(ix, edits, owner, ix.nodeDroppedValue[owner] + drops);
  for (let i = 0; i < ix.itemCount; i++) {
    if (!plan.items[i % plan.items.length]) dropItem(ix, edits, i);
    else if (ix.nodeKind[ix.itemNode[i]] === NODE.SPAN && plan.traceStates[i % plan.traceStates.length]) setTraceState(ix, edits, i, 'ot=th:8');
  }
  return rewrite(ix, edits);
}

/** The same plan applied to the decoded object, with the pruning the rewriter promises. */
function applyToObject(signal: Signal, request: OtlpObject, plan: Plan): { object: OtlpObject; items: number } {
  const object = structuredClone(request);
  const { owners, items } = walk(signal, object);
  let a = 0;
  for (const owner of owners) {
    const attrs = list(owner.object, 'attributes');
    const kept: OtlpObject[] = [];
    let drops = 0;
    for (const attr of attrs) {
      const action = plan.attrs[a++ % plan.attrs.length];
      if (action === 'drop') drops++;
      else kept.push(action === 'redact' ? { key: attr.key, value: { stringValue: REDACTED } } : attr);
    }
    if (kept.length > 0) owner.object.attributes = kept;
    else delete owner.object.attributes;
    if (drops > 0 && owner.hasDroppedCount) owner.object.droppedAttributesCount = Math.min(0xffffffff, ((owner.object.droppedAttributesCount as number | undefined) ?? 0) + drops);
  }
  const removed = new Set<OtlpObject>();
  items.forEach((item, i) => {
    if (!plan.items[i % plan.items.length]) removed.add(item);
    else if (signal === 'traces' && plan.traceStates[i % plan.traceStates.length]) item.traceState = 'ot=th:8';
  });
  prune(signal, object, removed);
  return { object, items: items.length - removed.size };
}

/** Removes dropped items, then containers that had content and lost all of it. */
function prune(signal: Signal, request: OtlpObject, removed: Set<OtlpObject>): void {
  const [rKey, sKey, iKey] = GROUPS[signal];
  const filter = (owner: OtlpObject, key: string, keep: (child: OtlpObject) => boolean): boolean => {
    const before = list(owner, key);
    const after = before.filter(keep);
    if (after.length > 0) owner[key] = after;
    else delete owner[key];
    return before.length > 0 && after.length === 0;
  };
  const emptied = (metric: OtlpObject): boolean => {
    const dataKey = METRIC_DATA_KEYS.find((k) => k in metric);
    return dataKey !== undefined && filter(metric[dataKey] as OtlpObject, 'dataPoints', (p) => !removed.has(p));
  };
  filter(request, rKey, (rg) => !filter(rg, sKey, (sg) => !filter(sg, iKey, (item) => (signal === 'metrics' ? !emptied(item) : !removed.has(item)))));
}

const arbPlan: fc.Arbitrary<Plan> = fc.record({
  attrs: fc.array(fc.constantFrom<AttrAction>('keep', 'keep', 'drop', 'redact'), { minLength: 1, maxLength: 7 }),
  items: fc.array(fc.boolean(), { minLength: 1, maxLength: 5 }),
  traceStates: fc.array(fc.boolean(), { minLength: 1, maxLength: 3 }),
});

for (const signal of SIGNALS) {
  test(`${signal}: rewrite with edits decodes to exactly what decode → edit → encode gives`, () => {
    fc.assert(
      fc.property(arbRequest(signal), arbPlan, (request, plan) => {
        const bytes = encodeRequest(signal, request);
        const viaBytes = applyToBytes(signal, bytes, plan);
        const viaObject = applyToObject(signal, decodeRequest(signal, bytes), plan);
        assert.deepEqual(decodeRequest(signal, viaBytes.bytes), viaObject.object);
        assert.equal(viaBytes.items, viaObject.items);
        // What the rewriter wrote is itself a valid request the scanner agrees with.
        assert.equal(scanRequest(new WireIndex(), signal, viaBytes.bytes).itemCount, viaObject.items);
      }),
      { numRuns: 300 },
    );
  });

  test(`${signal}: scan → rewrite with no edits, or with edits that change nothing, gives identical bytes`, () => {
    fc.assert(
      fc.property(arbRequest(signal), (request) => {
        const bytes = encodeRequest(signal, request);
        const ix = scanRequest(new WireIndex(), signal, bytes);
        const edits = new EditList();
        assert.equal(rewrite(ix, edits).bytes, bytes);
        for (let a = 0; a < ix.attrCount; a++) edits.replace(ix.attrOwner[a], ix.attrKvStart[a], ix.attrKvEnd[a], bytes.slice(ix.attrKvStart[a], ix.attrKvEnd[a]));
        assert.deepEqual(rewrite(ix, edits).bytes, bytes);
      }),
      { numRuns: 100 },
    );
  });
}

test('a length prefix that grows past a varint boundary is rewritten in every enclosing message', () => {
  const request: OtlpObject = {
    resourceLogs: [{ scopeLogs: [{ logRecords: [{ attributes: [{ key: 'k', value: { stringValue: 'v' } }] }] }] }],
  };
  const bytes = encodeRequest('logs', request);
  const ix = scanRequest(new WireIndex(), 'logs', bytes);
  const edits = new EditList();
  replaceAttributeValue(ix, edits, 0, encodeStringValue('x'.repeat(20_000)));
  const out = rewrite(ix, edits);
  const decoded = decodeRequest('logs', out.bytes);
  const attr = list(list(list(decoded, 'resourceLogs')[0], 'scopeLogs')[0], 'logRecords')[0].attributes as OtlpObject[];
  assert.deepEqual(attr, [{ key: 'k', value: { stringValue: 'x'.repeat(20_000) } }]);
});

test('insertions at one offset land in the node that owns them, whatever order they were recorded in', () => {
  // The span ends where its last event ends: a dropped_attributes_count inserted at the end of
  // each is at one offset. Recorded outer (span) first, the span's field must still come after
  // the event's closing, outside it.
  const body = encodeRequest('traces', {
    resourceSpans: [
      {
        scopeSpans: [
          {
            spans: [
              {
                traceId: '0102030405060708090a0b0c0d0e0f10',
                spanId: '0102030405060708',
                name: 'op',
                events: [{ name: 'last', attributes: [{ key: 'k', value: { stringValue: 'v' } }] }],
              },
            ],
          },
        ],
      },
    ],
  });
  const ix = new WireIndex();
  scanRequest(ix, 'traces', body);
  const span = ix.itemNode[0];
  let event = -1;
  for (let n = 0; n < ix.nodeCount; n++) if (ix.nodeKind[n] === NODE.EVENT) event = n;
  assert.equal(ix.nodeEnd[event], ix.nodeEnd[span], 'the event ends where the span ends');
  for (const order of [[span, event], [event, span]]) {
    const edits = new EditList();
    for (const node of order) setDroppedAttributesCount(ix, edits, node, node === span ? 7 : 3);
    const out = decodeRequest('traces', rewrite(ix, edits).bytes) as { resourceSpans: { scopeSpans: { spans: OtlpObject[] }[] }[] };
    const outSpan = out.resourceSpans[0].scopeSpans[0].spans[0];
    assert.equal(outSpan.droppedAttributesCount, 7, `span count, recorded ${order[0] === span ? 'span first' : 'event first'}`);
    assert.equal((outSpan.events as OtlpObject[])[0].droppedAttributesCount, 3, 'event count');
  }
});
