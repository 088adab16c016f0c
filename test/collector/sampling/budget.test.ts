import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { OtlpObject } from '../../../collector/otlp/object-codec.js';
import { createSampler, outcomeTotals, outputSpans, rulesFrom, span, thOf, traceIds, tracesRequest } from './harness.js';
import type { Sampler } from './harness.js';
import { thresholdFromProbability } from '../../../collector/processors/sampling/threshold.js';
import { binomialSd } from '../processors/sampling/random-ids.js';

/**
 * The budget-adaptive rate through the processor, on the injected clock: the effective
 * probability is min(tier p, budget / observed spans per second), the observation a moving
 * average with a 2 s half-life folded every 1 s. After a step to 10× the budget the estimate's
 * error halves every half-life: within 10 % after log2(9 / 0.091) ≈ 3.3 half-lives ≈ 7 s.
 */

const rules = rulesFrom(`version: 1
teams:
  - name: busy
    match:
      service.namespace: busy
    tier: standard
    budgets:
      max_spans_per_second: 1000
  - name: tiny
    match:
      service.namespace: tiny
    tier: standard
    budgets:
      max_spans_per_second: 1
`);

const BUSY = { 'service.name': 'api', 'service.namespace': 'busy' };
const BUDGET = 1000;
const TIER_P = 0.25;

interface Second {
  /** Spans kept. */
  readonly kept: number;
  /** Spans sent. */
  readonly sent: number;
  /** The probability the rate applied (one per interval: the clock is read once per request, the rate folds once a second). */
  readonly p: number;
}

/** Sends `perSecond` spans a second for `seconds`, in requests of 500 spans evenly spread. */
function run(sampler: Sampler, ids: string[], cursor: { i: number }, perSecond: number, seconds: number): Second[] {
  const requests = perSecond / 500;
  const out: Second[] = [];
  for (let s = 0; s < seconds; s++) {
    let kept = 0;
    const ps = new Set<number>();
    for (let r = 0; r < requests; r++) {
      const spans = ids.slice(cursor.i, cursor.i + 500).map((traceId, k) => span({ traceId, name: `op ${k % 3}` }));
      cursor.i += 500;
      kept += outputSpans(sampler.send('traces', tracesRequest({ resource: BUSY, spans })).output).length;
      ps.add(sampler.probabilities.at(-1)!.probability);
      sampler.advance(1000 / requests);
    }
    assert.equal(ps.size, 1, 'one probability per interval');
    out.push({ kept, sent: perSecond, p: [...ps][0] });
  }
  return out;
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

test('a team sending 10× its max_spans_per_second is within 10 % of its budget after the adaptation interval, and back at its tier rate when traffic falls', (t) => {
  const sampler = createSampler(rules);
  const ids = traceIds(1000 * 10 + 10_000 * 20 + 1000 * 25, 0xb0d6e7);
  const cursor = { i: 0 };
  const kept = (seconds: readonly Second[]): number[] => seconds.map((s) => s.kept);

  // Under budget: 1,000 spans/s at 1 in 4 keeps ~250/s; the tier probability applies exactly.
  const calm = run(sampler, ids, cursor, 1000, 10);
  assert.ok(calm.every((s) => s.p === TIER_P));
  assert.ok(Math.abs(mean(kept(calm)) - 250) <= 4 * binomialSd(10_000, TIER_P) / 10, `kept ${kept(calm).join(' ')}`);

  const surge = run(sampler, ids, cursor, 10 * BUDGET, 20);
  t.diagnostic(`kept per second during the surge: ${kept(surge).join(' ')}`);
  t.diagnostic(`p: ${surge.map((s) => s.p.toFixed(4)).join(' ')}`);
  assert.ok(surge[0].kept > 2 * BUDGET, 'the first second is over budget: something to adapt to');
  // From 8 s on (the first second's traffic is folded 1 s in; then ≈ 3.3 half-lives), the rate
  // the sampler aims at — p times the traffic — is within 10 % of the budget. What it keeps is
  // that rate plus binomial noise (sd √(n p (1 − p)) ≈ 30 a second): each second within 4 sd of
  // its target, the seconds together within 3 % of the budget.
  const settled = surge.slice(8);
  for (const s of settled) {
    assert.ok(Math.abs(s.p * s.sent - BUDGET) <= 0.1 * BUDGET, `aimed at ${s.p * s.sent}/s`);
    assert.ok(Math.abs(s.kept - s.p * s.sent) <= 4 * binomialSd(s.sent, s.p) + 3, `kept ${s.kept}/s at p ${s.p}`);
  }
  assert.ok(Math.abs(mean(kept(settled)) - BUDGET) <= 0.03 * BUDGET, `mean ${mean(kept(settled))}`);
  assert.ok(Math.abs(settled.at(-1)!.p - 0.1) < 0.005, `effective p ${settled.at(-1)!.p}`);

  // Traffic falls back to 1,000/s: once the moving average has followed, the tier probability exactly.
  const after = run(sampler, ids, cursor, 1000, 25);
  t.diagnostic(`kept per second after: ${kept(after).join(' ')}`);
  assert.ok(after.slice(10).every((s) => s.p === TIER_P), `p: ${after.map((s) => s.p.toFixed(4)).join(' ')}`);
  assert.ok(Math.abs(mean(kept(after.slice(10))) - 250) <= (4 * binomialSd(15_000, TIER_P)) / 15, `kept ${kept(after).join(' ')}`);
});

test('spans a rule drops do not count against the budget: a team within budget once health checks are dropped keeps its tier rate', () => {
  // 2,000 spans/s of which 1,500 health checks: 500/s are left to the tier, which keeps 1 in 4,
  // 125/s, under the budget of 200/s. Counting the health checks too would make it
  // 200 / 2,000 = 0.1 and keep 50/s: a team throttled for spans that never cost it anything.
  const withHealth = rulesFrom(`version: 1
teams:
  - name: busy
    tier: standard
    budgets:
      max_spans_per_second: 200
sampling:
  rules:
    - { name: drop-health, signals: [traces], when: { span_name: "GET /healthz" }, action: drop }
    - { name: sample-the-rest, action: sample }
`);
  const sampler = createSampler(withHealth);
  const ids = traceIds(2000 * 10, 5);
  for (let s = 0; s < 10; s++) {
    const spans = ids.slice(s * 2000, (s + 1) * 2000).map((traceId, k) => span({ traceId, name: k % 4 === 0 ? 'GET /items' : 'GET /healthz' }));
    sampler.send('traces', tracesRequest({ resource: BUSY, spans }));
    sampler.advance(1000);
  }
  assert.ok(sampler.probabilities.every((p) => p.probability === TIER_P), `${sampler.probabilities.map((p) => p.probability).join(' ')}`);
});

test('one request is decided at one probability, however long it takes on a clock that moves', () => {
  // A clock that moves 1 ms each time it is read: a request of 20,000 spans spans many
  // adaptation intervals if the clock is read per span. The probability must only change
  // between requests, or spans of one trace in one request would be decided at different rates.
  let now = 0;
  const sampler = createSampler(rules, { clock: () => (now += 1) });
  const ids = traceIds(10_000, 0x0c10c);
  const spans = ids.flatMap((traceId) => [span({ traceId, name: 'GET /' }), span({ traceId, name: 'SELECT' })]);
  for (let r = 0; r < 3; r++) {
    const out = outputSpans(sampler.send('traces', tracesRequest({ resource: BUSY, spans })).output);
    // th:0 marks the visibility floor's traces (kept as themselves); the rest carry the rate's th.
    const thresholds = new Set(out.map((o) => thOf(o.traceState)).filter((th) => th !== '0'));
    assert.equal(thresholds.size, 1, `request ${r}: thresholds ${[...thresholds].join(' ')}`);
    const perTrace = new Map<string, number>();
    for (const o of out) perTrace.set(o.traceId, (perTrace.get(o.traceId) ?? 0) + 1);
    assert.ok([...perTrace.values()].every((n) => n === 2), `request ${r}: traces whole`);
    now += 1000;
  }
  // And it did adapt between requests: 20,000 spans against a budget of 1,000/s.
  assert.ok(sampler.probabilities.at(-1)!.probability < TIER_P);
});

test('visibility floor: under a tiny budget every (service, span name) keeps a trace each interval, and a floor trace is whole within its request', () => {
  const sampler = createSampler(rules);
  const services = ['tiny-a', 'tiny-b'];
  const roots = 11;
  const children = 3;
  const perRequest = 200;
  const ids = traceIds(perRequest * 5 * 12 * services.length, 0xf100e);
  let next = 0;
  const keptTotals: number[] = [];
  for (let second = 0; second < 12; second++) {
    const seen = new Set<string>();
    let keptThisSecond = 0;
    for (let r = 0; r < 5; r++) {
      const resources = services.map((service) => {
        const spans: OtlpObject[] = [];
        for (let k = 0; k < perRequest; k++) {
          const traceId = ids[next++];
          // The child first: a trace whose child's name already has its floor trace, but whose
          // root's name has none yet, is chosen by its second span.
          spans.push(span({ traceId, name: `db.query ${k % children}` }), span({ traceId, name: `GET /r${k % roots}` }));
        }
        return { resource: { 'service.name': service, 'service.namespace': 'tiny' }, spans };
      });
      const request = tracesRequest(...resources);
      const out = outputSpans(sampler.send('traces', request).output);
      keptThisSecond += out.length;
      const sentPerTrace = new Map<string, number>();
      for (const rs of resources) for (const s of rs.spans) sentPerTrace.set(`${rs.resource['service.name']}|${s.traceId as string}`, (sentPerTrace.get(`${rs.resource['service.name']}|${s.traceId as string}`) ?? 0) + 1);
      const keptPerTrace = new Map<string, number>();
      for (const o of out) {
        seen.add(`${o.resource['service.name'] as string}|${o.name}`);
        const key = `${o.resource['service.name'] as string}|${o.traceId}`;
        keptPerTrace.set(key, (keptPerTrace.get(key) ?? 0) + 1);
      }
      for (const [key, kept] of keptPerTrace) assert.equal(kept, sentPerTrace.get(key), `second ${second}: trace ${key} whole`);
      sampler.advance(200);
    }
    keptTotals.push(keptThisSecond);
    if (second < 2) continue; // the first interval measures the traffic; the team is throttled from the next
    for (const service of services) {
      for (let k = 0; k < roots; k++) assert.ok(seen.has(`${service}|GET /r${k}`), `second ${second}: ${service} GET /r${k}`);
      for (let k = 0; k < children; k++) assert.ok(seen.has(`${service}|db.query ${k}`), `second ${second}: ${service} db.query ${k}`);
    }
  }
  // 4,000 spans/s against a budget of 1: p ≈ 1/4000, so what is kept is the floor: at most one
  // trace per key per interval (2 services × 14 keys, 2 spans each), far below the traffic.
  for (const kept of keptTotals.slice(2)) assert.ok(kept <= 2 * 2 * (roots + children) + 4, `kept per second: ${keptTotals.join(' ')}`);
  const totals = outcomeTotals(sampler.items, { team: 'tiny' });
  assert.ok((totals.get('kept_by_floor')?.items ?? 0) > 0);
  assert.equal(totals.get('kept_by_floor')?.adjusted, totals.get('kept_by_floor')?.items, 'a floor trace stands for itself');
});

test('floor spans say they were not sampled: th:0, or the incoming th', () => {
  const sampler = createSampler(rules);
  const ids = traceIds(4000, 77);
  const TINY = { 'service.name': 'one', 'service.namespace': 'tiny' };
  // Measure a second of 2,000 spans/s; the next second is throttled to p ≈ 1/2000.
  sampler.send('traces', tracesRequest({ resource: TINY, spans: ids.slice(0, 2000).map((traceId) => span({ traceId })) }));
  sampler.advance(1000);
  const out = outputSpans(sampler.send('traces', tracesRequest({ resource: TINY, spans: ids.slice(2000).map((traceId, k) => span({ traceId, traceState: k % 2 === 0 ? undefined : 'ot=th:8' })) })).output);
  const floor = out.filter((o) => thOf(o.traceState) === '0' || thOf(o.traceState) === '8');
  assert.ok(floor.length >= 1, 'the floor kept the first trace of the one span name');
  for (const o of out) {
    const th = thOf(o.traceState)!;
    if (th === '0' || th === '8') continue;
    // Kept by the rate: p = budget / observed = 1/2000 (the first interval sets the average).
    assert.equal(th, thresholdFromProbability(1 / 2000).th);
  }
});
