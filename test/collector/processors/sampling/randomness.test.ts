import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  encodeRandomnessValue,
  isValidTraceId,
  readLogRandomness,
  readRandomnessValue,
  readTraceIdRandomness,
} from '../../../../collector/processors/sampling/randomness.js';
import { MutableValue56, thresholdFromProbability } from '../../../../collector/processors/sampling/threshold.js';
import { binomialSd, randomWords } from './random-ids.js';

function asBigInt(v: { hi: number; lo: number }): bigint {
  return (BigInt(v.hi) << 28n) | BigInt(v.lo);
}

test('trace id randomness is the last 7 bytes, read in place from a larger buffer', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.nat({ max: 40 }), (id, offset) => {
      const buffer = new Uint8Array(offset + 16 + 3).fill(0xee);
      buffer.set(id, offset);
      const r = readTraceIdRandomness(buffer, offset, new MutableValue56());
      const expected = id.slice(9).reduce((acc, b) => (acc << 8n) | BigInt(b), 0n);
      assert.equal(asBigInt(r), expected);
      assert.ok(r.hi < 2 ** 28 && r.lo < 2 ** 28 && r.hi >= 0 && r.lo >= 0);
    }),
    { seed: 1, numRuns: 500 },
  );
  // The first 9 bytes do not matter.
  const a = Uint8Array.from({ length: 16 }, (_, i) => i);
  const b = Uint8Array.from({ length: 16 }, (_, i) => (i < 9 ? 255 - i : i));
  assert.deepEqual(readTraceIdRandomness(a, 0, new MutableValue56()), readTraceIdRandomness(b, 0, new MutableValue56()));
  assert.equal(encodeRandomnessValue(readTraceIdRandomness(a, 0, new MutableValue56())), '090a0b0c0d0e0f');
});

test('rv: exactly 14 hex digits', () => {
  const out = new MutableValue56();
  assert.equal(readRandomnessValue('090a0b0c0d0e0f', out), true);
  assert.equal(encodeRandomnessValue(out), '090a0b0c0d0e0f');
  for (const bad of ['', '0', '090a0b0c0d0e0', '090a0b0c0d0e0f0', '090a0b0c0d0e0g', ' 90a0b0c0d0e0f']) {
    assert.equal(readRandomnessValue(bad, out), false, bad);
  }
});

test('isValidTraceId: 16 bytes in range, not all zero', () => {
  const buf = new Uint8Array(20);
  assert.equal(isValidTraceId(buf, 2), false);
  buf[17] = 1;
  assert.equal(isValidTraceId(buf, 2), true);
  assert.equal(isValidTraceId(buf, 5), false, 'runs past the end');
  assert.equal(isValidTraceId(buf, 2, 8), false, 'wrong length');
});

test('log randomness: deterministic, sensitive to timestamp and body, uniform enough to sample by', () => {
  const body = new TextEncoder().encode('GET /checkout 200 in 12 ms');
  const r1 = readLogRandomness(1_700_000_000, 395_000, body, 0, body.length, new MutableValue56());
  const r2 = readLogRandomness(1_700_000_000, 395_000, body, 0, body.length, new MutableValue56());
  assert.deepEqual(r1, r2);
  assert.notDeepEqual(readLogRandomness(1_700_000_001, 395_000, body, 0, body.length, new MutableValue56()), r1);
  assert.notDeepEqual(readLogRandomness(1_700_000_000, 395_001, body, 0, body.length, new MutableValue56()), r1);
  assert.notDeepEqual(readLogRandomness(1_700_000_000, 395_000, body, 0, body.length - 1, new MutableValue56()), r1);

  // Records that differ only slightly (same body, consecutive nanosecond timestamps; or one
  // counter in the body) must still be kept at the configured rate.
  const n = 100_000;
  const next = randomWords(5);
  const base = next();
  const out = new MutableValue56();
  const line = new TextEncoder().encode('request 0000000 done');
  for (const p of [0.5, 0.1]) {
    const t = thresholdFromProbability(p);
    let keptByTime = 0;
    let keptByBody = 0;
    for (let i = 0; i < n; i++) {
      readLogRandomness((base + i) >>> 0, 395_000, body, 0, body.length, out);
      if (t.keeps(out.hi, out.lo)) keptByTime++;
      const digits = String(i).padStart(7, '0');
      for (let k = 0; k < 7; k++) line[8 + k] = digits.charCodeAt(k);
      readLogRandomness(0, 0, line, 0, line.length, out);
      if (t.keeps(out.hi, out.lo)) keptByBody++;
    }
    const tolerance = 4 * binomialSd(n, p);
    assert.ok(Math.abs(keptByTime - n * p) <= tolerance, `by time at ${p}: ${keptByTime}`);
    assert.ok(Math.abs(keptByBody - n * p) <= tolerance, `by body at ${p}: ${keptByBody}`);
  }
});
