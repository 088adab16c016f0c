import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeRequest } from '../../../collector/otlp/object-codec.js';
import {
  createSampler,
  keptAt,
  outcomeTotals,
  outputSpans,
  RULES_YAML,
  rulesFrom,
  SHOP,
  span,
  traceIds,
  traceIdWithRandomness,
  tracesRequest,
} from './harness.js';
import { binomialSd } from '../processors/sampling/random-ids.js';

/**
 * The `sample` action at team `shop`'s tier `standard`: p = 0.25, so T = 0.75 · 2^56 =
 * 0xc0000000000000, written `th:c` (trailing zeros removed), and a span is kept iff the last 56
 * bits of its trace id (or its `rv`) are ≥ T. Each kept span stands for 2^56 / (2^56 − T) = 4.
 */

const rules = rulesFrom(RULES_YAML);
const TH = 'c';

test('sample keeps exactly the traces whose randomness is at least th:c, about a quarter, and writes ot=th:c', () => {
  const sampler = createSampler(rules);
  const n = 8000;
  const ids = traceIds(n, 0xc0ffee);
  const kept = new Set<string>();
  for (let r = 0; r < n / 500; r++) {
    const spans = ids.slice(r * 500, (r + 1) * 500).map((traceId) => span({ traceId }));
    for (const o of outputSpans(sampler.send('traces', tracesRequest({ resource: SHOP, spans })).output)) {
      assert.equal(o.traceState, 'ot=th:c');
      kept.add(o.traceId);
    }
  }
  const expected = new Set(ids.filter((id) => keptAt(id, TH)));
  assert.deepEqual(kept, expected);
  // The ids are random: about n/4 kept (4 standard deviations of the binomial count).
  assert.ok(Math.abs(kept.size - n / 4) <= 4 * binomialSd(n, 0.25), `kept ${kept.size} of ${n}`);
  const totals = outcomeTotals(sampler.items, { team: 'shop', signal: 'traces' });
  assert.equal(totals.get('kept')?.items, kept.size);
  assert.equal(totals.get('kept')?.adjusted, 4 * kept.size);
  assert.equal(totals.get('dropped')?.items, n - kept.size);
  assert.equal(totals.get('kept_by_floor'), undefined, 'no floor for a team within its budget');
  assert.ok(sampler.probabilities.every((p) => p.team === 'shop' && p.probability === 0.25));
});

/** A trace id that th:c keeps (R = 0xd…), and one it drops (R = 0x1…). */
const HIGH = traceIdWithRandomness('d0000000000000');
const LOW = traceIdWithRandomness('10000000000000');

test('th is written into the ot entry, moved first, and every other vendor entry and ot sub-key is kept as it was', () => {
  const cases: [string, string][] = [
    ['congo=t61rcWkgMzE,rojo=00f067aa0ba902b7', 'ot=th:c,congo=t61rcWkgMzE,rojo=00f067aa0ba902b7'],
    ['rojo=1,ot=p:8;xx:yy', 'ot=th:c;p:8;xx:yy,rojo=1'],
    ['a=1,ot=xx:yy;th:8,b=2', 'ot=xx:yy;th:c,a=1,b=2'],
    // A lower incoming threshold (p = 1/2) is raised to ours.
    ['ot=th:8', 'ot=th:c'],
    // Equal or higher incoming thresholds are left exactly as they came.
    ['ot=th:c,vendor=v', 'ot=th:c,vendor=v'],
    ['vendor=v,ot=th:c8', 'vendor=v,ot=th:c8'],
    ['ot=th:cfff', 'ot=th:cfff'],
  ];
  const sampler = createSampler(rules);
  const spans = cases.map(([traceState]) => span({ traceId: HIGH, traceState }));
  const out = outputSpans(sampler.send('traces', tracesRequest({ resource: SHOP, spans })).output);
  assert.deepEqual(
    out.map((o) => o.traceState),
    cases.map(([, expected]) => expected),
  );
});

test('an incoming higher th is never lowered: the span is kept iff R ≥ its own th, which stays', () => {
  const sampler = createSampler(rules);
  // th:f (1 in 16) upstream: R = 0xd… < 0xf… is inconsistent with it and dropped; R = 0xf8… kept as th:f.
  const sixteenth = traceIdWithRandomness('f8000000000000');
  const out = outputSpans(
    sampler.send(
      'traces',
      tracesRequest({
        resource: SHOP,
        spans: [span({ traceId: HIGH, traceState: 'ot=th:f' }), span({ traceId: sixteenth, traceState: 'ot=th:f;rv:f8000000000000,v=1' })],
      }),
    ).output,
  );
  assert.deepEqual(
    out.map((o) => [o.traceId, o.traceState]),
    [[sixteenth, 'ot=th:f;rv:f8000000000000,v=1']],
  );
  // It stands for 16, as its th says.
  assert.equal(outcomeTotals(sampler.items).get('kept')?.adjusted, 16);
  // Random traffic arriving at 1 in 16: everything that arrives consistent with th:f is kept, th untouched.
  const ids = traceIds(4000, 99).filter((id) => keptAt(id, 'f'));
  const again = outputSpans(sampler.send('traces', tracesRequest({ resource: SHOP, spans: ids.map((traceId) => span({ traceId, traceState: 'ot=th:f' })) })).output);
  assert.equal(again.length, ids.length);
  assert.ok(again.every((o) => o.traceState === 'ot=th:f'));
});

test('rv, when present, is the randomness (not the trace id) and is never changed', () => {
  const sampler = createSampler(rules);
  const out = outputSpans(
    sampler.send(
      'traces',
      tracesRequest({
        resource: SHOP,
        spans: [
          // The trace id alone would be dropped; rv keeps it.
          span({ traceId: LOW, spanId: '0000000000000001', traceState: 'ot=rv:ffffffffffffff' }),
          // The trace id alone would be kept; rv drops it.
          span({ traceId: HIGH, spanId: '0000000000000002', traceState: 'ot=rv:00000000000001' }),
          // A lower th with rv: th raised, rv as it was.
          span({ traceId: LOW, spanId: '0000000000000003', traceState: 'x=y,ot=th:8;rv:d0000000000000' }),
          // An invalid rv (13 digits) is not randomness: the trace id decides (dropped).
          span({ traceId: LOW, spanId: '0000000000000004', traceState: 'ot=rv:fffffffffffff' }),
        ],
      }),
    ).output,
  );
  assert.deepEqual(
    out.map((o) => [o.spanId, o.traceState]),
    [
      ['0000000000000001', 'ot=th:c;rv:ffffffffffffff'],
      ['0000000000000003', 'ot=th:c;rv:d0000000000000,x=y'],
    ],
  );
});

test('a span dropped by the rate leaves nothing; a kept span changes only in its trace_state', () => {
  const sampler = createSampler(rules);
  const attributes = { 'http.route': '/items/:id', 'http.response.status_code': 200 };
  const sent = sampler.send('traces', tracesRequest({ resource: SHOP, spans: [span({ traceId: HIGH, attributes, traceState: 'v=1' }), span({ traceId: LOW, attributes })] }));
  const [input] = outputSpans(decodeRequest('traces', sent.bytesIn));
  const out = outputSpans(sent.output);
  assert.equal(out.length, 1);
  assert.equal(out[0].traceState, 'ot=th:c,v=1');
  assert.deepEqual({ ...out[0].span, traceState: 'v=1' }, input.span);
});
