import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adjustedCount, ConsistentSampler, createDecision } from '../../../../collector/processors/sampling/decision.js';
import { ALWAYS_SAMPLE, thresholdFromProbability } from '../../../../collector/processors/sampling/threshold.js';
import type { Threshold } from '../../../../collector/processors/sampling/threshold.js';
import { binomialSd, randomTraceIds } from './random-ids.js';

const N = 200_000;
const IDS = randomTraceIds(N, 0x7011a7e5);
const PROBABILITIES = [0.5, 0.25, 0.1, 0.01];

interface Run {
  kept: number;
  adjustedSum: number;
  keptIds: Set<number>;
}

/** Decides ids [0, n) of `ids` at threshold `t` with one sampler, optionally giving each item a tracestate. */
function run(ids: Uint8Array, n: number, t: Threshold, traceState?: (i: number) => string | undefined): Run {
  const sampler = new ConsistentSampler();
  const out = createDecision();
  const result: Run = { kept: 0, adjustedSum: 0, keptIds: new Set() };
  for (let i = 0; i < n; i++) {
    const d = sampler.decide(traceState?.(i), ids, i * 16, t, out);
    if (d.keep) {
      result.kept++;
      result.adjustedSum += d.adjustedCount;
      result.keptIds.add(i);
    }
  }
  return result;
}

/*
 * "Within 1 %" for the kept fraction means an absolute tolerance of one percentage point:
 * |kept / N − p| ≤ 0.01. A relative 1 % is not a property of a 200,000-item sample: the
 * binomial standard deviation of the kept fraction relative to p is √((1 − p) / (N p)), which
 * is 0.22 % at p = 0.5 but 0.67 % at 0.1 and 2.2 % at 0.01. So each rate is also checked
 * against its own noise: the kept count within 4 standard deviations of N · p (for the
 * threshold's exact probability), which is far tighter than ±1 point for the small rates.
 * The sum of adjusted counts estimates N with the same relative noise; it must be within 2 %
 * of N, which for p = 0.01 is under one standard deviation at 200,000 items: there the bound
 * is 4 standard deviations (≈ 8.9 %) and the 2 % bound is checked on 2,000,000 items instead.
 */
for (const p of PROBABILITIES) {
  test(`statistics at p = ${p} over ${N.toLocaleString('en')} random trace ids (fixed seed)`, (t) => {
    const threshold = thresholdFromProbability(p);
    const r = run(IDS, N, threshold);
    const fraction = r.kept / N;
    const sd = binomialSd(N, threshold.probability);
    t.diagnostic(`th ${threshold.th}: kept ${r.kept} (${(fraction * 100).toFixed(3)} %), adjusted sum ${r.adjustedSum.toFixed(0)}`);
    assert.ok(Math.abs(fraction - p) <= 0.01, `kept fraction ${fraction}`);
    assert.ok(Math.abs(r.kept - N * threshold.probability) <= 4 * sd, `kept ${r.kept}, expected ${N * threshold.probability} ± ${4 * sd}`);
    const relative = Math.abs(r.adjustedSum / N - 1);
    const bound = p >= 0.1 ? 0.02 : (4 * sd) / (N * threshold.probability);
    assert.ok(relative <= bound, `adjusted count sum ${r.adjustedSum} is ${(relative * 100).toFixed(2)} % off ${N}`);
  });
}

test('statistics at p = 0.01 over 2,000,000 trace ids: adjusted count sum within 2 %', () => {
  const n = 2_000_000;
  const ids = randomTraceIds(n, 99);
  const threshold = thresholdFromProbability(0.01);
  const r = run(ids, n, threshold);
  assert.ok(Math.abs(r.adjustedSum / n - 1) <= 0.02, `sum ${r.adjustedSum}`);
  assert.ok(Math.abs(r.kept / n - 0.01) <= 4 * binomialSd(n, threshold.probability) / n);
});

test('consistency: two instances deciding the same traces keep exactly the same trace ids', () => {
  for (const p of PROBABILITIES) {
    const t = thresholdFromProbability(p);
    // Instance A sees the spans bare; instance B sees them with other vendors' entries and a
    // tracestate that changes from trace to trace (as spans of other services would carry).
    const a = run(IDS, N, t);
    const b = run(IDS, N, thresholdFromProbability(p), (i) => (i % 3 === 0 ? undefined : `vendor${i % 7}=v${i}`));
    assert.deepEqual(b.keptIds, a.keptIds, `p = ${p}`);
    assert.ok(a.kept > 0 && a.kept < N);
  }
});

test('consistency: a lower probability keeps a subset of what a higher one keeps', () => {
  const kept = PROBABILITIES.map((p) => run(IDS, N, thresholdFromProbability(p)).keptIds);
  for (let i = 1; i < kept.length; i++) {
    for (const id of kept[i]) assert.ok(kept[i - 1].has(id), `id ${id} kept at ${PROBABILITIES[i]} but not at ${PROBABILITIES[i - 1]}`);
    assert.ok(kept[i].size < kept[i - 1].size);
  }
});

test('consistency across stages: 1/2 then 1/10 keeps what 1/10 alone keeps, with th:e666', () => {
  const n = 20_000;
  const first = new ConsistentSampler();
  const second = new ConsistentSampler();
  const half = thresholdFromProbability(0.5);
  const tenth = thresholdFromProbability(0.1);
  const direct = run(IDS, n, tenth).keptIds;
  const chained = new Set<number>();
  const reverse = new Set<number>();
  for (let i = 0; i < n; i++) {
    const d1 = first.decide(undefined, IDS, i * 16, half);
    if (!d1.keep) continue;
    assert.equal(d1.traceState, 'ot=th:8');
    const d2 = second.decide(d1.traceState, IDS, i * 16, tenth);
    if (d2.keep) {
      chained.add(i);
      assert.equal(d2.traceState, 'ot=th:e666');
      assert.equal(d2.adjustedCount, tenth.adjustedCount);
    }
  }
  assert.deepEqual(chained, direct);
  // The other way round: a 1/2 stage after a 1/10 stage keeps everything it receives, unchanged.
  for (const i of direct) {
    const d = second.decide('ot=th:e666', IDS, i * 16, half);
    assert.equal(d.keep, true);
    assert.equal(d.traceState, 'ot=th:e666');
    assert.equal(d.written, undefined);
    reverse.add(i);
  }
  assert.equal(reverse.size, direct.size);
});

/** A trace id whose last 56 bits are `fill` bytes (R = 0 for 0x00, R = 2^56 − 1 for 0xff). */
function traceId(fill: number): Uint8Array {
  const id = new Uint8Array(16).fill(0x5a);
  id.fill(fill, 9);
  return id;
}

test('keep rules: kept whatever R, with the incoming th or th:0, never a sampled-looking threshold', () => {
  const sampler = new ConsistentSampler();
  const lowest = traceId(0x00); // R = 0: dropped by any probability below 1
  assert.equal(sampler.decide(undefined, lowest, 0, thresholdFromProbability(0.999)).keep, false);

  const bare = sampler.forceKeep(undefined);
  assert.deepEqual(bare, { keep: true, written: ALWAYS_SAMPLE, threshold: ALWAYS_SAMPLE, adjustedCount: 1, traceState: 'ot=th:0' });

  const sampled = sampler.forceKeep('ot=th:c;rv:0000000000000f,x=1');
  assert.equal(sampled.keep, true);
  assert.equal(sampled.traceState, 'ot=th:c;rv:0000000000000f,x=1');
  assert.equal(sampled.written, undefined);
  assert.equal(sampled.adjustedCount, 4);

  const vendorOnly = sampler.forceKeep('x=1,y=2');
  assert.equal(vendorOnly.traceState, 'ot=th:0,x=1,y=2');
  assert.equal(vendorOnly.adjustedCount, 1);
});

test('decisions: keep-all writes nothing, rv takes precedence over the trace id, the result object is reused', () => {
  const sampler = new ConsistentSampler();
  const all = sampler.decide(undefined, traceId(0), 0, thresholdFromProbability(1));
  assert.equal(all.keep, true);
  assert.equal(all.traceState, '');
  assert.equal(all.written, undefined);
  assert.equal(all.adjustedCount, 1);

  const tenth = thresholdFromProbability(0.01);
  // R from rv = max: kept although the trace id's bits are zero; R from rv = 0: dropped although the id's are all ones.
  assert.equal(sampler.decide('ot=rv:ffffffffffffff', traceId(0x00), 0, tenth).keep, true);
  assert.equal(sampler.decide('ot=rv:00000000000000', traceId(0xff), 0, thresholdFromProbability(0.5)).keep, false);
  assert.equal(sampler.decideWithRandomness('ot=rv:00000000000000', 2 ** 28 - 1, 2 ** 28 - 1, tenth).keep, false);
  assert.equal(sampler.decideWithRandomness(undefined, 2 ** 28 - 1, 2 ** 28 - 1, tenth).traceState, 'ot=th:fd70a');

  // Boundary: R = T exactly is kept, R = T − 1 dropped.
  const half = thresholdFromProbability(0.5); // T = 0x80000000000000
  assert.equal(sampler.decideWithRandomness(undefined, half.hi, half.lo, half).keep, true);
  assert.equal(sampler.decideWithRandomness(undefined, half.hi - 1, 2 ** 28 - 1, half).keep, false);

  // An item arriving with R below its own incoming threshold is inconsistent: dropped, not re-counted.
  assert.equal(sampler.decide('ot=th:f', traceId(0x00), 0, thresholdFromProbability(0.5)).keep, false);

  const out = createDecision();
  assert.equal(sampler.decide(undefined, traceId(0xff), 0, half, out), out);
  assert.equal(out.keep, true);
  assert.equal(out.traceState, 'ot=th:8');
  sampler.decide(undefined, traceId(0x00), 0, half, out);
  assert.deepEqual(out, { keep: false, written: undefined, threshold: undefined, adjustedCount: 0, traceState: '' });
});

test('adjustedCount(th): 2^56 / (2^56 − T), unknown without a valid th', () => {
  assert.equal(adjustedCount('0'), 1);
  assert.equal(adjustedCount('8'), 2);
  assert.equal(adjustedCount('c'), 4);
  assert.ok(Math.abs(adjustedCount('fd70a')! - 100) < 0.01);
  assert.equal(adjustedCount('ffffffffffffff'), 2 ** 56);
  assert.equal(adjustedCount(undefined), undefined);
  assert.equal(adjustedCount('xyz'), undefined);
  assert.equal(adjustedCount(''), undefined);
});
