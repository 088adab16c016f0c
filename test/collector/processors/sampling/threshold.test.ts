import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  ALWAYS_SAMPLE,
  decodeThreshold,
  encodeThreshold,
  MAX_ADJUSTED_COUNT,
  MAX_THRESHOLD,
  MIN_PROBABILITY,
  Threshold,
  thresholdFromProbability,
} from '../../../../collector/processors/sampling/threshold.js';

/** The protocol reference's examples (docs: ../shared/reference/protocols.md), default precision 4. */
const PROTOCOL_EXAMPLES: ReadonlyArray<readonly [number, string]> = [
  [1, '0'],
  [1 / 2, '8'],
  [1 / 4, 'c'],
  [1 / 10, 'e666'],
  [1 / 100, 'fd70a'],
  [1 / 1000, 'ffbe77'],
];

const TWO_56 = 1n << 56n;

test('protocol examples: probability → th is exact, and th decodes back to the same threshold', () => {
  for (const [p, th] of PROTOCOL_EXAMPLES) {
    const t = thresholdFromProbability(p);
    assert.equal(t.th, th, `p = ${p}`);
    assert.equal(encodeThreshold(t), th);
    const decoded = decodeThreshold(th);
    assert.ok(decoded, th);
    assert.equal(decoded.toBigInt(), t.toBigInt(), th);
    assert.equal(decoded.th, th);
  }
  // The integer values behind them: th is right-padded with zeros to 14 digits.
  assert.equal(thresholdFromProbability(0.5).toBigInt(), 0x80000000000000n);
  assert.equal(thresholdFromProbability(0.01).toBigInt(), 0xfd70a000000000n);
  assert.equal(thresholdFromProbability(0.001).toBigInt(), 0xffbe7700000000n);
});

test('precision: the OTel table for 1-in-N at 3, 4 and 5 significant digits (raised for small p)', () => {
  const table: ReadonlyArray<readonly [number, string, string, string]> = [
    [1 / 3, 'aab', 'aaab', 'aaaab'],
    [0.2, 'ccd', 'cccd', 'ccccd'],
    [0.1, 'e66', 'e666', 'e6666'],
    [0.01, 'fd71', 'fd70a', 'fd70a4'],
    [0.001, 'ffbe7', 'ffbe77', 'ffbe76d'],
    [0.0001, 'fff972', 'fff9724', 'fff97247'],
    [0.00001, 'ffff584', 'ffff583a', 'ffff583a5'],
    [0.000001, 'ffffef4', 'ffffef39', 'ffffef391'],
  ];
  for (const [p, d3, d4, d5] of table) {
    assert.deepEqual([3, 4, 5].map((precision) => thresholdFromProbability(p, precision).th), [d3, d4, d5], `p = ${p}`);
  }
  // Full precision is the exact T = 2^56 − round(p · 2^56).
  assert.equal(thresholdFromProbability(0.1, 14).toBigInt(), TWO_56 - BigInt(Math.round(0.1 * 2 ** 56)));
});

test('probability → th → adjusted count', () => {
  assert.equal(thresholdFromProbability(0.5).adjustedCount, 2);
  assert.equal(thresholdFromProbability(0.25).adjustedCount, 4);
  assert.equal(thresholdFromProbability(1).adjustedCount, 1);
  for (const [p, th] of PROTOCOL_EXAMPLES) {
    const count = decodeThreshold(th)!.adjustedCount;
    // 4 significant digits: the rounded probability is within 16^-3 (relative) of p.
    assert.ok(Math.abs(count * p - 1) < 16 ** -3, `${th}: ${count} vs ${1 / p}`);
    assert.ok(Math.abs(decodeThreshold(th)!.probability - p) / p < 16 ** -3);
  }
  assert.equal(decodeThreshold('e666')!.adjustedCount, 2 ** 56 / (2 ** 56 - 0xe666 * 2 ** 40));
});

test('edge cases: p = 1, the smallest probabilities, zero, and invalid arguments', () => {
  assert.equal(thresholdFromProbability(1), ALWAYS_SAMPLE);
  assert.equal(ALWAYS_SAMPLE.th, '0');
  assert.equal(ALWAYS_SAMPLE.probability, 1);

  // 2^-56 is the smallest expressible probability: T = 2^56 − 1, one value of R passes.
  const smallest = thresholdFromProbability(MIN_PROBABILITY);
  assert.equal(smallest.toBigInt(), TWO_56 - 1n);
  assert.equal(smallest.th, 'ffffffffffffff');
  assert.equal(smallest.adjustedCount, MAX_ADJUSTED_COUNT);
  // Below it (and zero, e.g. a zero budget) clamps to the same highest threshold.
  for (const p of [0, 1e-30, MIN_PROBABILITY / 2]) assert.equal(thresholdFromProbability(p), MAX_THRESHOLD);

  // Tiny but representable: the precision grows with the leading f digits, so the adjusted
  // count stays within 16^-3 of 1/p even at one in a billion.
  for (const p of [1e-9, 3e-12, 2 ** -40]) {
    const t = thresholdFromProbability(p);
    assert.ok(Math.abs(t.adjustedCount * p - 1) < 16 ** -3, `p = ${p}: th ${t.th}`);
    assert.ok(t.toBigInt() < TWO_56);
  }

  for (const p of [Number.NaN, -0.1, 1.5, Infinity]) assert.throws(() => thresholdFromProbability(p), RangeError, String(p));
  for (const precision of [0, 15, 2.5]) assert.throws(() => thresholdFromProbability(0.5, precision), RangeError);
  assert.throws(() => new Threshold(2 ** 28, 0), RangeError);
});

test('decode: invalid th strings are rejected, valid ones right-padded', () => {
  for (const bad of ['', 'g', '0x8', '8 ', ' 8', '+8', '-1', 'e6.6', 'ffffffffffffff0', '123456789abcdef', 'th:8']) {
    assert.equal(decodeThreshold(bad), undefined, JSON.stringify(bad));
  }
  assert.equal(decodeThreshold('0'), ALWAYS_SAMPLE);
  assert.equal(decodeThreshold('00000000000000'), ALWAYS_SAMPLE);
  assert.equal(decodeThreshold('8')!.toBigInt(), 0x80000000000000n);
  assert.equal(decodeThreshold('80')!.toBigInt(), 0x80000000000000n);
  assert.equal(decodeThreshold('00000000000001')!.toBigInt(), 1n);
  assert.equal(decodeThreshold('ffffffffffffff')!.toBigInt(), TWO_56 - 1n);
  // Upper case is read (lenient), written back in lower case.
  assert.equal(decodeThreshold('FFBE77')!.th, 'ffbe77');
  // A sub-range of a longer string.
  assert.equal(decodeThreshold('th:c;rv:00', 3, 4)!.th, 'c');
});

test('property: every 56-bit threshold round-trips through its th text', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 28 - 1 }), fc.integer({ min: 0, max: 2 ** 28 - 1 }), (hi, lo) => {
      const t = new Threshold(hi, lo);
      const th = t.th;
      assert.match(th, /^(0|[0-9a-f]{0,13}[1-9a-f])$/);
      assert.equal(th.length <= 14, true);
      const back = decodeThreshold(th)!;
      assert.equal(back.hi, hi);
      assert.equal(back.lo, lo);
      assert.equal(back.toBigInt(), (BigInt(hi) << 28n) | BigInt(lo));
    }),
    { seed: 5, numRuns: 2000 },
  );
});

test('property: thresholds fall as p rises (so a higher rate keeps a superset) and stay within the precision', () => {
  fc.assert(
    fc.property(fc.double({ min: 2 ** -50, max: 1, noNaN: true }), fc.double({ min: 2 ** -50, max: 1, noNaN: true }), (a, b) => {
      const [low, high] = a <= b ? [a, b] : [b, a];
      assert.ok(thresholdFromProbability(low).toBigInt() >= thresholdFromProbability(high).toBigInt());
      for (const p of [low, high]) {
        const t = thresholdFromProbability(p);
        // Relative error of the probability: below 16^-3 from rounding to 4 significant digits,
        // plus the 2^-56 grid itself, which only matters for the very smallest probabilities.
        assert.ok(Math.abs(t.probability - p) / p < 16 ** -3 + 2 ** -56 / p, `p = ${p}, th ${t.th}`);
        const exact = thresholdFromProbability(p, 14).toBigInt();
        assert.equal(exact, TWO_56 - BigInt(Math.round(p * 2 ** 56)));
      }
    }),
    { seed: 11, numRuns: 3000 },
  );
});
