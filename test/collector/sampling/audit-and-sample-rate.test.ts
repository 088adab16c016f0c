import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeRequest } from '../../../collector/otlp/object-codec.js';
import type { OtlpObject } from '../../../collector/otlp/object-codec.js';
import {
  attributeKeys,
  CHEAP,
  createSampler,
  LOOSE,
  logRecord,
  logsRequest,
  outputLogs,
  outputSpans,
  RULES_YAML,
  rulesFrom,
  SHOP,
  span,
  T0_NS,
  traceIds,
  traceIdWithRandomness,
  tracesRequest,
} from './harness.js';
import type { ItemsRecord, ProbabilityRecord } from './harness.js';

const enforce = rulesFrom(RULES_YAML);
const audit = rulesFrom(RULES_YAML.replace('mode: enforce', 'mode: audit'));

/** Traffic of every kind for teams shop, cheap (throttled by its budget) and loose, over `seconds`. */
function traffic(seconds: number): { traces: Uint8Array[]; logs: Uint8Array[] } {
  const ids = traceIds(seconds * 600, 0xa0d17);
  const traces: Uint8Array[] = [];
  const logs: Uint8Array[] = [];
  for (let s = 0; s < seconds; s++) {
    const mine = ids.slice(s * 600, (s + 1) * 600);
    const spans = (offset: number): OtlpObject[] =>
      mine.slice(offset, offset + 200).map((traceId, i) =>
        span({
          traceId,
          name: i % 10 === 0 ? 'GET /healthz' : `op ${i % 4}`,
          status: i % 17 === 0 ? 2 : undefined,
          durationNs: i % 23 === 0 ? 900_000_000n : undefined,
          traceState: i % 3 === 0 ? 'vendor=v1' : i % 3 === 1 ? 'ot=th:8;rv:' + traceId.slice(18) : undefined,
        }),
      );
    traces.push(encodeRequest('traces', tracesRequest({ resource: SHOP, spans: spans(0) }, { resource: CHEAP, spans: spans(200) }, { resource: LOOSE, spans: spans(400) })));
    const records = mine.map((traceId, i) => logRecord({ traceId: i % 2 === 0 ? traceId : undefined, timeNs: T0_NS + BigInt(s * 1e9 + i), body: `b${i}`, severityNumber: 1 + (i % 24) }));
    logs.push(encodeRequest('logs', logsRequest({ resource: SHOP, logs: records.slice(0, 200) }, { resource: CHEAP, logs: records.slice(200, 400) }, { resource: LOOSE, logs: records.slice(400) })));
  }
  return { traces, logs };
}

test('audit mode changes no byte and counts exactly the outcomes enforce has, budget and floor included', () => {
  const { traces, logs } = traffic(12);
  const audited = createSampler(audit);
  const enforced = createSampler(enforce);
  let enforcedEdits = 0;
  for (let s = 0; s < traces.length; s++) {
    for (const [signal, bytes] of [['traces', traces[s]], ['logs', logs[s]]] as const) {
      const a = audited.sendBytes(signal, bytes);
      assert.equal(a.bytesOut, bytes, 'audit: the very input buffer goes on');
      const e = enforced.sendBytes(signal, bytes);
      if (e.bytesOut !== bytes) enforcedEdits++;
    }
    audited.advance(1000);
    enforced.advance(1000);
  }
  assert.equal(enforcedEdits, 2 * traces.length, 'enforce did edit every request');
  const key = (r: ItemsRecord | ProbabilityRecord): string => JSON.stringify(r);
  assert.deepEqual(audited.items.map(key), enforced.items.map(key));
  assert.deepEqual(audited.probabilities.map(key), enforced.probabilities.map(key));
  const outcomes = new Set(audited.items.map((r) => r.outcome));
  assert.deepEqual([...outcomes].sort(), ['dropped', 'dropped_by_rule', 'kept', 'kept_by_floor', 'kept_by_rule'], 'every outcome occurred');
});

test('SampleRate: kept sampled items carry the integer N of "1 in N"; items kept as themselves get none, an existing one is replaced', () => {
  const sampler = createSampler(enforce, { sampleRateAttribute: true });
  const HIGH = traceIdWithRandomness('fffff000000000'); // kept at any of these rates
  const out = outputSpans(
    sampler.send(
      'traces',
      tracesRequest(
        {
          resource: SHOP,
          spans: [
            span({ traceId: HIGH, spanId: '0000000000000001' }),
            span({ traceId: HIGH, spanId: '0000000000000002', status: 2 }),
            span({ traceId: HIGH, spanId: '0000000000000003', traceState: 'ot=th:fd70a' }),
            span({ traceId: HIGH, spanId: '0000000000000004', attributes: { SampleRate: 1, a: 'b' } }),
          ],
        },
        // Tier loose: p = 0.1, th:e666, adjusted count 65536 / (65536 − 0xe666) = 65536 / 6554 ≈ 9.9994 → 10.
        { resource: LOOSE, spans: [span({ traceId: HIGH, spanId: '0000000000000005' })] },
      ),
    ).output,
  );
  assert.deepEqual(
    out.map((o) => [o.spanId, o.traceState, o.attributes.SampleRate]),
    [
      ['0000000000000001', 'ot=th:c', 4],
      ['0000000000000002', 'ot=th:0', undefined],
      // Came sampled at 1 in 100 (th:fd70a ≥ c): stands for 2^20 / (2^20 − 0xfd70a) = 1048576 / 10486 ≈ 99.998 → 100.
      ['0000000000000003', 'ot=th:fd70a', 100],
      ['0000000000000004', 'ot=th:c', 4],
      ['0000000000000005', 'ot=th:e666', 10],
    ],
  );
  for (const o of out) assert.equal(new Set(attributeKeys(o.span)).size, attributeKeys(o.span).length, 'no duplicate keys');
  assert.deepEqual(out[3].attributes, { SampleRate: 4, a: 'b' });

  const logs = outputLogs(
    sampler.send(
      'logs',
      logsRequest({
        resource: SHOP,
        logs: [logRecord({ traceId: HIGH, body: 'x', severityNumber: 9 }), logRecord({ body: 'y', severityNumber: 13 }), logRecord({ traceId: HIGH, body: 'z', severityNumber: 17 })],
      }),
    ).output,
  );
  assert.deepEqual(
    logs.map((o) => [o.body, o.attributes]),
    [
      ['x', { 'sampling.threshold': 'c', SampleRate: 4 }],
      ['y', {}],
      ['z', {}],
    ],
  );
});

test('without the option no SampleRate is written', () => {
  const sampler = createSampler(enforce);
  const out = outputSpans(sampler.send('traces', tracesRequest({ resource: SHOP, spans: [span({ traceId: traceIdWithRandomness('fffff000000000') })] })).output);
  assert.deepEqual(out[0].attributes, {});
  assert.equal(out[0].traceState, 'ot=th:c');
});
