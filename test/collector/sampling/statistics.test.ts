import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeRequest } from '../../../collector/otlp/object-codec.js';
import { thresholdFromProbability } from '../../../collector/processors/sampling/threshold.js';
import { binomialSd } from '../processors/sampling/random-ids.js';
import { runProcessors } from '../processors/run-processors.js';
import { createSampler, outcomeTotals, rulesFrom, span, traceIds, tracesRequest } from './harness.js';

/**
 * Statistics through the whole processor (scan, rules, decision, rewrite), fixed seeds: 200,000
 * generated traces per tier, one span each, in requests of 1,000.
 *
 * Tolerances, reasoned as in the core tests (test/collector/processors/sampling/decision.test.ts):
 *
 * - "kept fraction within 1 %" is an absolute percentage point, |kept / N − p| ≤ 0.01; the kept
 *   count is also held to 4 binomial standard deviations around N · p (p of the threshold
 *   actually written, e.g. 6554 / 65536 for th:e666), which is the tighter bound for every rate.
 * - The sum of adjusted counts estimates N with a relative standard deviation √((1 − p) / (N p)):
 *   0.39 % at 25 %, 0.67 % at 10 %, but 0.97 % at 5 %, where 2 % is only about 2 standard
 *   deviations — a bound a correct sampler misses for one seed in 25. So the bound is 2 % or
 *   4 standard deviations, whichever is larger: 2 % for 25 % and 10 %, 3.9 % for economy's 5 %.
 */

const N = 200_000;
const PER_REQUEST = 1000;

const rules = rulesFrom(`version: 1
tiers:
  tenth:
    trace_probability: 0.1
teams:
  - { name: critical, match: { service.namespace: critical }, tier: critical }
  - { name: standard, match: { service.namespace: standard }, tier: standard }
  - { name: tenth, match: { service.namespace: tenth }, tier: tenth }
  - { name: economy, match: { service.namespace: economy }, tier: economy }
`);

const TIERS: [string, number, number][] = [
  ['critical', 1, 0xc1],
  ['standard', 0.25, 0x57a],
  ['tenth', 0.1, 0x7e1],
  ['economy', 0.05, 0xec0],
];

for (const [team, p, seed] of TIERS) {
  test(`${team} (p = ${p}): kept fraction within 1 % and adjusted counts summing to the true count, over ${N.toLocaleString('en')} traces`, (t) => {
    const sampler = createSampler(rules);
    const ids = traceIds(N, seed);
    const resource = { 'service.name': `svc-${team}`, 'service.namespace': team };
    let keptOnWire = 0;
    for (let r = 0; r < N / PER_REQUEST; r++) {
      const spans = ids.slice(r * PER_REQUEST, (r + 1) * PER_REQUEST).map((traceId, k) => span({ traceId, name: `op ${k % 8}` }));
      keptOnWire += runProcessors([sampler.processor], 'traces', encodeRequest('traces', tracesRequest({ resource, spans }))).items;
      sampler.advance(50); // 20,000 spans/s: no budget, so only the tier decides
    }
    const totals = outcomeTotals(sampler.items, { team, signal: 'traces' });
    const kept = totals.get('kept')?.items ?? 0;
    const adjustedSum = totals.get('kept')?.adjusted ?? 0;
    const exactP = thresholdFromProbability(p).probability;
    t.diagnostic(`kept ${kept} (${((kept / N) * 100).toFixed(3)} %), adjusted sum ${adjustedSum.toFixed(1)}`);
    assert.equal(keptOnWire, kept, 'what the observer counts is what went on');
    assert.equal(kept + (totals.get('dropped')?.items ?? 0), N);
    assert.equal(totals.get('kept_by_floor'), undefined);
    assert.ok(Math.abs(kept / N - p) <= 0.01, `kept fraction ${kept / N}`);
    assert.ok(Math.abs(kept - N * exactP) <= 4 * binomialSd(N, exactP), `kept ${kept}, expected ${N * exactP} ± ${4 * binomialSd(N, exactP)}`);
    const bound = Math.max(0.02, (4 * binomialSd(N, exactP)) / (N * exactP));
    assert.ok(Math.abs(adjustedSum / N - 1) <= bound, `adjusted sum ${adjustedSum} is ${((adjustedSum / N - 1) * 100).toFixed(2)} % off ${N} (bound ${(bound * 100).toFixed(2)} %)`);
    // Each kept span stands for exactly 1 / p of its threshold.
    assert.ok(Math.abs(adjustedSum - kept / exactP) < 1e-6 * N);
  });
}
