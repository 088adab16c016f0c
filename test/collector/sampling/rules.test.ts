import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { OtlpObject } from '../../../collector/otlp/object-codec.js';
import {
  CHEAP,
  createSampler,
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

/**
 * Sampling rules decide before any rate: `keep` rules (errors, slow spans, server errors by
 * attribute) keep a span whatever the tier and the budget, and mark it as not sampled (`th:0`,
 * or the incoming `th`); `drop` rules drop; the first matching rule wins.
 */

const rules = rulesFrom(RULES_YAML);
const MS = 1_000_000n;

interface Mix {
  readonly spans: OtlpObject[];
  /** Span ids a keep rule must keep. */
  readonly mustKeep: Set<string>;
  readonly healthChecks: Set<string>;
}

/**
 * One second of traffic, `n` spans of distinct traces: every 20th an error, every 20th (offset
 * 7) lasting 500 ms to 2 s, every 50th (offset 3) with http.response.status_code 503 (every
 * 50th, offset 4, 499: not a server error), every 10th (offset 5) a health check. The rest
 * last 1 ms, some 1 µs short of 500 ms (offset 9: not slow; the index holds times as doubles, exact to
 * 256 ns at today's epoch nanoseconds, so a duration is compared to that precision).
 */
function mix(ids: readonly string[], second: number): Mix {
  const spans: OtlpObject[] = [];
  const mustKeep = new Set<string>();
  const healthChecks = new Set<string>();
  ids.forEach((traceId, i) => {
    const spanId = (second * 1_000_000 + i + 1).toString(16).padStart(16, '0');
    let s: OtlpObject;
    if (i % 20 === 0) {
      s = span({ traceId, spanId, name: 'POST /pay', status: 2 });
      mustKeep.add(spanId);
    } else if (i % 20 === 7) {
      s = span({ traceId, spanId, name: 'GET /report', durationNs: 500n * MS + BigInt(i % 3) * 750n * MS });
      mustKeep.add(spanId);
    } else if (i % 50 === 3) {
      s = span({ traceId, spanId, name: 'GET /items', attributes: { 'http.response.status_code': 503 } });
      mustKeep.add(spanId);
    } else if (i % 50 === 4) {
      s = span({ traceId, spanId, name: 'GET /items', attributes: { 'http.response.status_code': 499 } });
    } else if (i % 10 === 5) {
      s = span({ traceId, spanId, name: i % 20 === 5 ? 'GET /healthz' : 'GET /readyz' });
      healthChecks.add(spanId);
    } else if (i % 10 === 9) {
      s = span({ traceId, spanId, name: 'GET /items', durationNs: 500n * MS - 1000n });
    } else {
      s = span({ traceId, spanId, name: 'GET /items' });
    }
    spans.push(s);
  });
  return { spans, mustKeep, healthChecks };
}

test('every error span, every span of 500 ms or more and every server error survives economy at a tiny budget; health checks never do', () => {
  const sampler = createSampler(rules);
  const perSecond = 2000;
  const seconds = 20;
  const ids = traceIds(perSecond * seconds, 0x5eed01);
  let mustKeepTotal = 0;
  let healthTotal = 0;
  const sampledKeptPerSecond: number[] = [];
  for (let s = 0; s < seconds; s++) {
    const { spans, mustKeep, healthChecks } = mix(ids.slice(s * perSecond, (s + 1) * perSecond), s);
    const before = outcomeTotals(sampler.items).get('kept')?.items ?? 0;
    const out = outputSpans(sampler.send('traces', tracesRequest({ resource: CHEAP, spans })).output);
    const outIds = new Set(out.map((o) => o.spanId));
    for (const id of mustKeep) assert.ok(outIds.has(id), `second ${s}: span ${id} kept by rule`);
    for (const id of healthChecks) assert.ok(!outIds.has(id), `second ${s}: health check ${id} dropped`);
    // Kept by a rule: not sampled, so th:0 (they came without a tracestate).
    for (const o of out) if (mustKeep.has(o.spanId)) assert.equal(o.traceState, 'ot=th:0');
    mustKeepTotal += mustKeep.size;
    healthTotal += healthChecks.size;
    sampledKeptPerSecond.push((outcomeTotals(sampler.items).get('kept')?.items ?? 0) - before);
    sampler.advance(1000);
  }
  const totals = outcomeTotals(sampler.items, { team: 'cheap', signal: 'traces' });
  assert.equal(totals.get('kept_by_rule')?.items, mustKeepTotal);
  assert.equal(totals.get('kept_by_rule')?.adjusted, mustKeepTotal, 'each stands for itself');
  assert.equal(totals.get('dropped_by_rule')?.items, healthTotal);
  // The rest (76 % of 2,000/s) is held to the 1 span/s budget once the rate has adapted: what the
  // rate keeps per second is a handful at most (the budget, plus the visibility floor's one trace
  // per service and span name: 2 names are left to the rate here).
  for (const kept of sampledKeptPerSecond.slice(10)) assert.ok(kept <= 1 + 5, `kept by rate per second: ${sampledKeptPerSecond.join(' ')}`);
});

test('the first matching rule wins: an error health check is kept, a slow health check is kept, a plain one dropped', () => {
  const sampler = createSampler(rules);
  const [a, b, c] = traceIds(3, 7);
  const out = outputSpans(
    sampler.send(
      'traces',
      tracesRequest({
        resource: SHOP,
        spans: [
          span({ traceId: a, spanId: 'aaaaaaaaaaaaaaaa', name: 'GET /healthz', status: 2 }),
          span({ traceId: b, spanId: 'bbbbbbbbbbbbbbbb', name: 'GET /readyz', durationNs: 2000n * MS }),
          span({ traceId: c, spanId: 'cccccccccccccccc', name: 'GET /healthz' }),
        ],
      }),
    ).output,
  );
  assert.deepEqual(
    out.map((o) => o.spanId),
    ['aaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbb'],
  );
  const totals = outcomeTotals(sampler.items);
  assert.equal(totals.get('kept_by_rule')?.items, 2);
  assert.equal(totals.get('dropped_by_rule')?.items, 1);
});

test('keep rules keep the incoming th, or write th:0 preserving the rest of the tracestate', () => {
  const sampler = createSampler(rules);
  const ids = traceIds(5, 11);
  const cases: [string | undefined, string][] = [
    [undefined, 'ot=th:0'],
    ['vendor=x', 'ot=th:0,vendor=x'],
    // Sampled at 1 in 100 upstream: the span still stands for 100, th stays.
    ['ot=th:fd70a', 'ot=th:fd70a'],
    ['congo=t61rcWkgMzE,ot=th:fd70a;rv:0123456789abcd', 'congo=t61rcWkgMzE,ot=th:fd70a;rv:0123456789abcd'],
    // rv without th: th:0 is added, rv untouched, ot moves first (W3C: the modified member goes left).
    ['rojo=00f067aa0ba902b7,ot=rv:0123456789abcd', 'ot=th:0;rv:0123456789abcd,rojo=00f067aa0ba902b7'],
  ];
  const spans = cases.map(([traceState], i) => span({ traceId: ids[i], name: 'POST /pay', status: 2, traceState }));
  const out = outputSpans(sampler.send('traces', tracesRequest({ resource: SHOP, spans })).output);
  assert.deepEqual(
    out.map((o) => o.traceState),
    cases.map(([, expected]) => expected),
  );
  // Adjusted counts: 1 for th:0; 2^56 / (2^56 − 0xfd70a·2^36) = 2^20 / (2^20 − 0xfd70a) = 1048576 / 10486 for th:fd70a.
  const adjusted = outcomeTotals(sampler.items).get('kept_by_rule')?.adjusted ?? 0;
  assert.ok(Math.abs(adjusted - (3 + 2 * (1048576 / 10486))) < 1e-6, String(adjusted));
});

test('attribute conditions: an int or double status code ≥ 500 keeps, a string "503" or 499 does not decide', () => {
  // Team `shop` at 25 %: trace ids whose randomness is below th:c are dropped unless a rule keeps them.
  const sampler = createSampler(rules);
  // Trace ids with R = k (tiny): dropped by any rate below 1.
  const low = (k: number): string => traceIdWithRandomness(k.toString(16).padStart(14, '0'));
  const spans = [
    span({ traceId: low(1), spanId: '0000000000000001', attributes: { 'http.response.status_code': 500 } }),
    span({ traceId: low(2), spanId: '0000000000000002', attributes: { 'http.response.status_code': 502.5 } }),
    span({ traceId: low(3), spanId: '0000000000000003', attributes: { 'http.response.status_code': '503' } }),
    span({ traceId: low(4), spanId: '0000000000000004', attributes: { 'http.response.status_code': 499 } }),
    span({ traceId: low(5), spanId: '0000000000000005' }),
  ];
  const out = outputSpans(sampler.send('traces', tracesRequest({ resource: SHOP, spans })).output);
  assert.deepEqual(
    out.map((o) => o.spanId),
    ['0000000000000001', '0000000000000002'],
  );
});
