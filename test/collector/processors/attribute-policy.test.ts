import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeRequest, encodeRequest } from '../../../collector/otlp/object-codec.js';
import type { OtlpObject } from '../../../collector/otlp/object-codec.js';
import { scanRequest } from '../../../collector/otlp/scanner.js';
import { SIGNALS } from '../../../collector/otlp/signal.js';
import type { Signal } from '../../../collector/otlp/signal.js';
import { WireIndex } from '../../../collector/otlp/wire-index.js';
import { KeyDecisionCache } from '../../../collector/processors/attribute-policy/key-cache.js';
import { createAttributePolicyProcessor } from '../../../collector/processors/attribute-policy/processor.js';
import type { AttributeActionObserver } from '../../../collector/processors/attribute-policy/processor.js';
import type { CompiledRules } from '../../../rules/compiled.js';
import { arbRequest } from '../otlp/arbitraries.js';
import { rulesFrom, runProcessors } from './run-processors.js';

/**
 * The attribute policy processor beyond the golden cases: what it reports, rules swapped
 * between requests, its key cache, and a model check on random requests of every signal.
 */

type Reported = [signal: Signal, policy: string, action: string, mode: string, count: number];

function recorder(): AttributeActionObserver & { reported: Reported[] } {
  const reported: Reported[] = [];
  return { reported, onActions: (signal, policy, action, mode, count) => reported.push([signal, policy, action, mode, count]) };
}

const attrs = (pairs: Readonly<Record<string, string>>): OtlpObject[] => Object.entries(pairs).map(([key, value]) => ({ key, value: { stringValue: value } }));

function logs(...records: OtlpObject[]): Uint8Array {
  return encodeRequest('logs', { resourceLogs: [{ scopeLogs: [{ logRecords: records }] }] });
}

test('each policy reports how often it acted, in audit mode how often it would have', () => {
  const rules = rulesFrom(`
version: 1
attribute_policies:
  - {name: drop-users, keys: user_id, action: drop}
  - {name: cut, keys: note, action: truncate, max_length: 4, mode: audit}
  - {name: no-cards, targets: [body], values: credit_card, action: reject}
  - {name: unused, keys: never-present, action: redact}
`);
  const observer = recorder();
  const processor = createAttributePolicyProcessor({ rules: () => rules, hashKey: 'k', observer });
  const result = runProcessors(
    [processor],
    'logs',
    logs(
      { attributes: attrs({ user_id: 'a', note: 'long enough' }) },
      { attributes: attrs({ user_id: 'b', note: 'tiny' }), body: { stringValue: 'card 4111 1111 1111 1111' } },
    ),
  );
  // A truncation that would not cut anything is not an action.
  assert.deepEqual(observer.reported, [
    ['logs', 'drop-users', 'drop', 'enforce', 2],
    ['logs', 'cut', 'truncate', 'audit', 1],
    ['logs', 'no-cards', 'reject', 'enforce', 1],
  ]);
  assert.equal(result.rejected, 1);
  assert.equal(result.items, 1);
});

test('rules read per request: a reload takes effect on the next request', () => {
  let rules: CompiledRules = rulesFrom('version: 1\nattribute_policies:\n  - {name: a, keys: secret, action: drop}\n');
  const processor = createAttributePolicyProcessor({ rules: () => rules, hashKey: 'k' });
  const request = logs({ attributes: attrs({ secret: 's', other: 'o' }) });
  const attributesAfter = (): unknown => {
    const out = decodeRequest('logs', runProcessors([processor], 'logs', request).bytes);
    return ((out.resourceLogs as OtlpObject[])[0].scopeLogs as OtlpObject[])[0].logRecords;
  };
  assert.deepEqual(attributesAfter(), [{ attributes: attrs({ other: 'o' }), droppedAttributesCount: 1 }]);
  rules = rulesFrom('version: 1\nattribute_policies:\n  - {name: b, keys: other, action: redact}\n');
  assert.deepEqual(attributesAfter(), [{ attributes: attrs({ secret: 's', other: '[REDACTED]' }) }]);
});

test('pointAttributesChanged says whether re-aggregation has anything to do', () => {
  const rules = rulesFrom(`
version: 1
attribute_policies:
  - {name: drop-users, signals: [metrics], keys: user_id, action: drop}
  - {name: audit-routes, signals: [metrics], keys: route, action: drop, mode: audit}
`);
  const processor = createAttributePolicyProcessor({ rules: () => rules, hashKey: 'k' });
  const metrics = (pointAttributes: OtlpObject[], resourceAttributes: OtlpObject[] = []): Uint8Array =>
    encodeRequest('metrics', {
      resourceMetrics: [{ resource: { attributes: resourceAttributes }, scopeMetrics: [{ metrics: [{ name: 'm', gauge: { dataPoints: [{ attributes: pointAttributes, asInt: '1' }] } }] }] }],
    });
  const changed = (body: Uint8Array): boolean => {
    runProcessors([processor], 'metrics', body);
    return processor.pointAttributesChanged;
  };
  assert.equal(changed(metrics(attrs({ user_id: 'u' }))), true);
  assert.equal(changed(metrics(attrs({ route: '/a' }))), false, 'audit changes nothing');
  assert.equal(changed(metrics(attrs({ other: 'x' }))), false);
  // Resource attributes are part of every series' identity too.
  assert.equal(changed(metrics([], attrs({ user_id: 'u' }))), true);
});

test('the key cache gives the decided answer for every key, across clears', () => {
  const cache = new KeyDecisionCache(16, 64);
  const decide = (key: string): number => key.length;
  const encoded = Array.from({ length: 200 }, (_, i) => Buffer.from(`key-${'x'.repeat(i % 9)}-${i}`));
  for (let round = 0; round < 2; round++) {
    for (const key of encoded) assert.equal(cache.get(key, 0, key.length, decide), key.length);
  }
  assert.ok(cache.clears > 0, 'the small cache filled and was cleared');
});

test('the key cache decides a key too large to keep without clearing what it holds', () => {
  const cache = new KeyDecisionCache(16, 64);
  let decisions = 0;
  const decide = (): number => ++decisions;
  const small = Buffer.from('user_id');
  cache.get(small, 0, small.length, decide);
  const huge = Buffer.from('k'.repeat(1000));
  for (let i = 0; i < 3; i++) assert.equal(cache.get(huge, 0, huge.length, () => 7), 7);
  assert.equal(cache.get(small, 0, small.length, decide), 1, 'the small key is still cached');
  assert.equal(decisions, 1);
  assert.equal(cache.clears, 0);
});

// ---------------------------------------------------------------------------------------------
// Model check: on random requests of every signal (every attribute owner, nested values, keys
// repeated), the processor's output decodes to what applying the same policies to the decoded
// object gives. Owners with a dropped_attributes_count have it raised by what was dropped.

const MODEL_RULES = rulesFrom(`
version: 1
attribute_policies:
  - {name: drop-users, keys: user_id, action: drop}
  - {name: redact-methods, keys: http.request.method, action: redact}
`);

interface Owner {
  readonly object: OtlpObject;
  readonly hasDroppedCount: boolean;
}

const list = (o: OtlpObject | undefined, key: string): OtlpObject[] => (o?.[key] as OtlpObject[] | undefined) ?? [];
const GROUPS: Readonly<Record<Signal, [string, string, string]>> = {
  metrics: ['resourceMetrics', 'scopeMetrics', 'metrics'],
  traces: ['resourceSpans', 'scopeSpans', 'spans'],
  logs: ['resourceLogs', 'scopeLogs', 'logRecords'],
};
const DATA_KEYS = ['gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary'];

/** Every object whose `attributes` are attributes (not metric metadata, not exemplars' filtered ones). */
function attributeOwners(signal: Signal, request: OtlpObject): Owner[] {
  const [resources, scopes, items] = GROUPS[signal];
  const owners: Owner[] = [];
  const add = (object: unknown, hasDroppedCount = true): void => {
    if (object) owners.push({ object: object as OtlpObject, hasDroppedCount });
  };
  for (const rg of list(request, resources)) {
    add(rg.resource);
    for (const sg of list(rg, scopes)) {
      add(sg.scope);
      for (const item of list(sg, items)) {
        if (signal === 'metrics') {
          const data = DATA_KEYS.find((k) => k in item);
          for (const point of data ? list(item[data] as OtlpObject, 'dataPoints') : []) add(point, false);
        } else {
          add(item);
          for (const child of [...list(item, 'events'), ...list(item, 'links')]) add(child);
        }
      }
    }
  }
  return owners;
}

function applyModel(signal: Signal, request: OtlpObject): OtlpObject {
  const object = structuredClone(request);
  for (const { object: owner, hasDroppedCount } of attributeOwners(signal, object)) {
    const before = list(owner, 'attributes');
    const kept = before
      .filter((a) => a.key !== 'user_id')
      .map((a) => (a.key === 'http.request.method' ? { key: a.key, value: { stringValue: '[REDACTED]' } } : a));
    if (kept.length > 0) owner.attributes = kept;
    else delete owner.attributes;
    const dropped = before.length - kept.length;
    if (dropped > 0 && hasDroppedCount) owner.droppedAttributesCount = Math.min(0xffffffff, ((owner.droppedAttributesCount as number | undefined) ?? 0) + dropped);
  }
  return object;
}

for (const signal of SIGNALS) {
  test(`${signal}: on random requests the output is what the policies say, and a valid request`, () => {
    const processor = createAttributePolicyProcessor({ rules: () => MODEL_RULES, hashKey: 'k' });
    fc.assert(
      fc.property(arbRequest(signal), (request) => {
        const bytes = encodeRequest(signal, request);
        const result = runProcessors([processor], signal, bytes);
        assert.deepEqual(decodeRequest(signal, result.bytes), applyModel(signal, decodeRequest(signal, bytes)));
        assert.equal(scanRequest(new WireIndex(), signal, result.bytes).itemCount, result.items);
      }),
      { numRuns: 300 },
    );
  });
}
