import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdaptiveRate, VisibilityFloor, visibilityKey } from '../../../../collector/processors/sampling/adaptive-rate.js';
import type { VisibilityKey } from '../../../../collector/processors/sampling/adaptive-rate.js';
import { ConsistentSampler, createDecision } from '../../../../collector/processors/sampling/decision.js';
import { MAX_THRESHOLD } from '../../../../collector/processors/sampling/threshold.js';
import { randomTraceIds } from './random-ids.js';

/** A clock the test moves by hand. */
function manualClock(start = 10_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

const TIER_P = 0.5;
const BUDGET = 1000; // spans per second
const STEP_MS = 100;

/**
 * Feeds `seconds` of traffic at `perSecond` spans/s in 100 ms steps through a controller and
 * a sampler, as the processor would per batch: count the batch in, take the current threshold,
 * decide each span. Returns the kept count per simulated second.
 */
function simulate(rate: AdaptiveRate, clock: ReturnType<typeof manualClock>, ids: Uint8Array, cursor: { i: number }, perSecond: number, seconds: number): number[] {
  const sampler = new ConsistentSampler();
  const out = createDecision();
  const perStep = (perSecond * STEP_MS) / 1000;
  const keptPerSecond: number[] = [];
  let kept = 0;
  for (let step = 1; step <= (seconds * 1000) / STEP_MS; step++) {
    rate.record(perStep);
    const threshold = rate.effectiveThreshold(TIER_P, BUDGET);
    for (let k = 0; k < perStep; k++) {
      const i = cursor.i++ % (ids.length / 16);
      if (sampler.decide(undefined, ids, i * 16, threshold, out).keep) kept++;
    }
    clock.advance(STEP_MS);
    if ((step * STEP_MS) % 1000 === 0) {
      keptPerSecond.push(kept);
      kept = 0;
    }
  }
  return keptPerSecond;
}

function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

test('a team sending 10× its budget is brought within 10 % of it, and back to its tier rate when traffic falls', (t) => {
  const clock = manualClock();
  const rate = new AdaptiveRate({ clock: clock.now }); // half-life 2 s, interval 1 s
  const ids = randomTraceIds(400_000, 42);
  const cursor = { i: 0 };

  // Under budget: 1,000 spans/s at the tier's 1 in 2 keeps ~500/s; the tier rate applies.
  simulate(rate, clock, ids, cursor, 1000, 10);
  assert.equal(rate.effectiveProbability(TIER_P, BUDGET), TIER_P);

  // 10× the budget: 10,000 spans/s. Adaptation: ≈ 3.3 half-lives (≈ 7 s) to come within 10 %.
  const surge = simulate(rate, clock, ids, cursor, 10 * BUDGET, 30);
  t.diagnostic(`kept per second during the surge: ${surge.join(' ')}`);
  assert.ok(surge[0] > 2 * BUDGET, 'the first second is over budget: there was something to adapt');
  const settled = surge.slice(8);
  for (const kept of settled) assert.ok(Math.abs(kept - BUDGET) <= 0.1 * BUDGET, `kept ${kept}/s`);
  assert.ok(Math.abs(mean(settled) - BUDGET) <= 0.03 * BUDGET, `mean ${mean(settled)}`);
  const p = rate.effectiveProbability(TIER_P, BUDGET);
  assert.ok(Math.abs(p - 0.1) < 0.005, `effective p ${p}`);

  // Traffic falls back to 1,000/s: the tier probability returns exactly.
  const after = simulate(rate, clock, ids, cursor, 1000, 20);
  assert.equal(rate.effectiveProbability(TIER_P, BUDGET), TIER_P);
  assert.ok(Math.abs(mean(after.slice(-5)) - 500) <= 50, `kept ${after.slice(-5).join(' ')}`);
});

test('the moving average weighs by elapsed time: one half-life moves it halfway', () => {
  const clock = manualClock();
  const rate = new AdaptiveRate({ clock: clock.now, halfLifeMs: 2000, intervalMs: 1000 });
  assert.ok(Number.isNaN(rate.observedRate()), 'no estimate before the first interval');
  rate.record(1000);
  clock.advance(1000);
  assert.equal(rate.observedRate(), 1000, 'the first interval sets the average');
  // 3,000/s for exactly one half-life, asked for often within each interval: halfway, 2,000/s.
  for (let s = 0; s < 2; s++) {
    for (let k = 0; k < 10; k++) {
      rate.record(300);
      clock.advance(100);
      rate.observedRate();
    }
  }
  assert.ok(Math.abs(rate.observedRate() - 2000) < 1e-6, String(rate.observedRate()));
  // A late tick folds the whole elapsed time at once, with the matching weight.
  rate.record(3000 * 4);
  clock.advance(4000);
  assert.ok(Math.abs(rate.observedRate() - (3000 - 1000 / 4)) < 1e-6, String(rate.observedRate()));
});

test('effective probability: tier rate without a budget or traffic, zero budget clamps to the highest threshold', () => {
  const clock = manualClock();
  const rate = new AdaptiveRate({ clock: clock.now });
  assert.equal(rate.effectiveProbability(0.25, 10), 0.25, 'before the first interval');
  const idleClock = manualClock();
  const idle = new AdaptiveRate({ clock: idleClock.now });
  idleClock.advance(1000);
  assert.equal(idle.observedRate(), 0);
  assert.equal(idle.effectiveProbability(0.25, 10), 0.25, 'no traffic');
  rate.record(5000);
  clock.advance(1000);
  assert.equal(rate.effectiveProbability(0.25, undefined), 0.25);
  assert.equal(rate.effectiveProbability(0.25, Infinity), 0.25);
  assert.equal(rate.effectiveProbability(0.25, 100), 100 / 5000);
  assert.equal(rate.effectiveProbability(0.25, 0), 0);
  assert.equal(rate.effectiveThreshold(0.25, 0), MAX_THRESHOLD);
  // The threshold is made once per probability: the same object within an interval.
  assert.equal(rate.effectiveThreshold(0.25, 100), rate.effectiveThreshold(0.25, 100));
  assert.equal(rate.effectiveThreshold(0.25, 100).th, 'fae14');
  // A clock that goes backwards neither throws nor folds a negative interval.
  clock.advance(-5000);
  assert.equal(rate.tick(), false);
  assert.equal(rate.observedRate(), 5000);
  assert.throws(() => new AdaptiveRate({ clock: clock.now, halfLifeMs: 0 }), RangeError);
});

const encoder = new TextEncoder();
function key(service: string, name: string): VisibilityKey {
  const s = encoder.encode(service);
  const n = encoder.encode(name);
  return visibilityKey(s, 0, s.length, n, 0, n.length, { hashA: 0, hashB: 0 });
}

test('visibility floor: once per key per interval, and kept traces count', () => {
  const floor = new VisibilityFloor(16);
  const a = key('checkout', 'GET /cart');
  const b = key('checkout', 'POST /pay');
  assert.equal(floor.admit(a.hashA, a.hashB), true);
  assert.equal(floor.admit(a.hashA, a.hashB), false);
  floor.markKept(b.hashA, b.hashB);
  assert.equal(floor.has(b.hashA, b.hashB), true);
  assert.equal(floor.admit(b.hashA, b.hashB), false, 'already has a sampled trace');
  assert.equal(floor.size, 2);
  floor.startInterval();
  assert.equal(floor.size, 0);
  assert.equal(floor.has(a.hashA, a.hashB), false);
  assert.equal(floor.admit(a.hashA, a.hashB), true);

  // Keys are (service, name) pairs: the boundary between the two cannot shift.
  assert.notDeepEqual(key('ab', 'c'), key('a', 'bc'));
  assert.notDeepEqual(key('checkout', 'GET /cart'), key('cart', 'GET /cart'));
  assert.deepEqual(key('checkout', 'GET /cart'), a);
});

test('visibility floor is bounded: refuses and counts keys past its capacity, every interval', () => {
  const floor = new VisibilityFloor(100);
  for (let interval = 0; interval < 3; interval++) {
    let admitted = 0;
    for (let i = 0; i < 1000; i++) {
      const k = key('svc', `op-${i}`);
      if (floor.admit(k.hashA, k.hashB)) admitted++;
    }
    assert.equal(admitted, 100);
    assert.equal(floor.size, 100);
    assert.equal(floor.overflowedThisInterval, 900);
    assert.equal(floor.overflowedTotal, 900 * (interval + 1));
    floor.startInterval();
  }
  assert.throws(() => new VisibilityFloor(0), RangeError);
});

test('a throttled team never goes dark: with the floor every operation keeps a trace each interval', () => {
  const clock = manualClock();
  const rate = new AdaptiveRate({ clock: clock.now, floorCapacity: 64 });
  const sampler = new ConsistentSampler();
  const out = createDecision();
  const ids = randomTraceIds(50_000, 8);
  const operations = Array.from({ length: 40 }, (_, i) => key('svc', `op-${i}`));
  // 50,000 spans/s against a budget of 10/s: p ≈ 0.0002, so most operations would get nothing.
  for (let second = 0; second < 5; second++) {
    const seen = new Set<number>();
    let forced = 0;
    rate.record(50_000);
    const threshold = rate.effectiveThreshold(1, 10);
    for (let i = 0; i < 50_000; i++) {
      const op = i % operations.length;
      const k = operations[op];
      let d = sampler.decide(undefined, ids, i * 16, threshold, out);
      if (d.keep) rate.floor.markKept(k.hashA, k.hashB);
      else if (rate.floor.admit(k.hashA, k.hashB)) {
        d = sampler.forceKeep(undefined, out);
        forced++;
      }
      if (d.keep) seen.add(op);
    }
    assert.equal(seen.size, operations.length, `second ${second}`);
    if (second > 0) assert.ok(forced >= 30, `forced ${forced}: the floor did the work`);
    clock.advance(1000);
  }
});
