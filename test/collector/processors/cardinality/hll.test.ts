import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { hashBytes } from '../../../../collector/otlp/hash.js';
import { HllFormatError, HyperLogLog, hllStandardError, LabelTrackers } from '../../../../collector/processors/cardinality/hll.js';

/** The 64-bit hash of value i under a seed: two MurmurHash3 runs over its 4 bytes, as a label value would be hashed. */
const word = new Uint8Array(4);
const wordView = new DataView(word.buffer);
function addValue(sketch: HyperLogLog, i: number, seed: number): void {
  wordView.setUint32(0, i, true);
  sketch.add(hashBytes(word, 0, 4, seed), hashBytes(word, 0, 4, seed ^ 0x6a09e667));
}

for (const n of [1_000, 100_000, 1_000_000]) {
  test(`estimate of ${n.toLocaleString('en')} distinct values is within 3 standard errors (p = 14)`, () => {
    const sketch = new HyperLogLog();
    // Each value twice: repeats must not count.
    for (let round = 0; round < 2; round++) for (let i = 0; i < n; i++) addValue(sketch, i, 42);
    const error = Math.abs(sketch.estimate() / n - 1);
    assert.ok(error <= 3 * hllStandardError(14), `relative error ${(error * 100).toFixed(2)} %`);
    assert.ok(!sketch.isSparse);
  });
}

test('other precisions: error within 3 standard errors, memory = 2^p bytes once dense', () => {
  for (const precision of [10, 12, 16]) {
    const sketch = new HyperLogLog({ precision });
    for (let i = 0; i < 200_000; i++) addValue(sketch, i, precision);
    const error = Math.abs(sketch.estimate() / 200_000 - 1);
    assert.ok(error <= 3 * hllStandardError(precision), `p=${precision}: ${(error * 100).toFixed(2)} %`);
    assert.equal(sketch.memoryBytes(), 2 ** precision);
  }
  assert.throws(() => new HyperLogLog({ precision: 9 }), RangeError);
  assert.throws(() => new HyperLogLog({ precision: 17 }), RangeError);
});

test('an empty sketch estimates 0; small counts are near exact', () => {
  const sketch = new HyperLogLog();
  assert.equal(sketch.estimate(), 0);
  for (let i = 0; i < 10; i++) addValue(sketch, i, 7);
  assert.equal(Math.round(sketch.estimate()), 10);
  assert.ok(sketch.isSparse);
  assert.ok(sketch.memoryBytes() < 1024, `${sketch.memoryBytes()} bytes while sparse`);
});

test('rank uses all 64 - p bits after the index, including an all-zero tail', () => {
  const sketch = new HyperLogLog({ precision: 10, sparse: false });
  sketch.add(0xffffffff, 0x00000000); // index 0; the 22 rest bits of hi are 0, lo starts with a 1: rank 23
  sketch.add(0, (5 << 22) | (1 << 19)); // index 5; the rest of hi is 001…: rank 3
  sketch.add(0, 0xffc00000); // index 1023; all 54 remaining bits zero: rank 55
  const registers = sketch.registers();
  assert.equal(registers[0], 23);
  assert.equal(registers[5], 3);
  assert.equal(registers[1023], 55);
});

test('sparse and dense sketches of the same values hold the same registers and estimates', () => {
  fc.assert(
    fc.property(fc.integer({ min: 10, max: 16 }), fc.array(fc.tuple(fc.nat(), fc.nat()).map(([a, b]) => [a >>> 0, b * 2654435761 >>> 0] as const), { maxLength: 3000 }), (precision, hashes) => {
      const sparse = new HyperLogLog({ precision });
      const dense = new HyperLogLog({ precision, sparse: false });
      for (const [lo, hi] of hashes) {
        sparse.add(lo, hi);
        dense.add(lo, hi);
      }
      assert.deepEqual(sparse.registers(), dense.registers());
      assert.equal(sparse.estimate(), dense.estimate());
    }),
    { numRuns: 60, seed: 7 },
  );
});

test('merge gives exactly the sketch of the union, whatever form each side is in', () => {
  for (const [leftSparse, rightSparse, sizeA, sizeB] of [
    [true, true, 50, 70],
    [true, false, 50, 80_000],
    [false, true, 80_000, 50],
    [true, true, 3000, 5000],
  ] as const) {
    const a = new HyperLogLog({ sparse: leftSparse });
    const b = new HyperLogLog({ sparse: rightSparse });
    const union = new HyperLogLog({ sparse: false });
    // Overlapping ranges: [0, sizeA) and [sizeA / 2, sizeA / 2 + sizeB).
    for (let i = 0; i < sizeA; i++) addValue(a, i, 1);
    for (let i = sizeA >> 1; i < (sizeA >> 1) + sizeB; i++) addValue(b, i, 1);
    for (let i = 0; i < Math.max(sizeA, (sizeA >> 1) + sizeB); i++) addValue(union, i, 1);
    const before = b.registers();
    a.merge(b);
    assert.deepEqual(a.registers(), union.registers());
    assert.equal(a.estimate(), union.estimate());
    assert.deepEqual(b.registers(), before, 'merge must not modify its argument');
  }
  assert.throws(() => new HyperLogLog({ precision: 12 }).merge(new HyperLogLog({ precision: 14 })), RangeError);
});

test('serialize → deserialize round-trips sparse and dense sketches; malformed snapshots are rejected', () => {
  for (const n of [0, 20, 50_000]) {
    const sketch = new HyperLogLog({ precision: 13 });
    for (let i = 0; i < n; i++) addValue(sketch, i, 3);
    const bytes = sketch.serialize();
    const restored = HyperLogLog.deserialize(bytes);
    assert.equal(restored.precision, 13);
    assert.equal(restored.isSparse, sketch.isSparse);
    assert.deepEqual(restored.registers(), sketch.registers());
    assert.equal(restored.estimate(), sketch.estimate());
    assert.equal(new TextDecoder().decode(bytes.subarray(0, 4)), 'TGHL');
  }
  const dense = new HyperLogLog({ precision: 10, sparse: false });
  addValue(dense, 1, 1);
  const good = dense.serialize();
  assert.equal(good.length, 8 + 1024);
  const bad = [good.subarray(0, 7), good.subarray(0, 100), Uint8Array.from(good, (b, i) => (i === 5 ? 20 : b)), Uint8Array.from(good, (b, i) => (i === 6 ? 9 : b)), Uint8Array.from(good, (b, i) => (i === 8 ? 200 : b))];
  for (const bytes of bad) assert.throws(() => HyperLogLog.deserialize(bytes), HllFormatError);
});

test('LabelTrackers: at the cap no new tracker is created and each refusal is counted; existing ones keep counting', () => {
  const trackers = new LabelTrackers({ maxTrackers: 3, precision: 12 });
  const a = trackers.tracker('team-a', 'http.server.duration', 'http.route');
  const b = trackers.tracker('team-a', 'http.server.duration', 'user_id');
  const c = trackers.tracker('team-b', 'http.server.duration', 'http.route');
  assert.ok(a && b && c);
  assert.notEqual(a, c, 'teams do not share trackers');
  assert.equal(trackers.tracker('team-a', 'http.server.duration', 'http.route'), a);
  assert.equal(trackers.size, 3);
  assert.equal(trackers.refusals, 0);

  assert.equal(trackers.tracker('team-c', 'm', 'l'), undefined);
  assert.equal(trackers.tracker('team-c', 'm', 'l'), undefined);
  assert.equal(trackers.refusals, 2);
  assert.equal(trackers.size, 3);
  assert.equal(trackers.get('team-c', 'm', 'l'), undefined, 'get never creates');

  for (let i = 0; i < 500; i++) addValue(b, i, 9);
  assert.ok(Math.abs(trackers.get('team-a', 'http.server.duration', 'user_id')!.estimate() - 500) < 15);

  assert.equal(trackers.delete('team-b', 'http.server.duration', 'http.route'), true);
  assert.equal(trackers.delete('team-b', 'http.server.duration', 'http.route'), false);
  assert.ok(trackers.tracker('team-c', 'm', 'l'));
  assert.equal(trackers.size, 3);
  assert.deepEqual(trackers.entries().map((e) => `${e.team}/${e.metric}/${e.label}`).sort(), ['team-a/http.server.duration/http.route', 'team-a/http.server.duration/user_id', 'team-c/m/l']);
  assert.ok(trackers.memoryBytes() > 0);
});

test('LabelTrackers round-trip through serialize; a smaller cap on restore keeps what fits and counts the rest', () => {
  const trackers = new LabelTrackers({ maxTrackers: 10, precision: 11 });
  for (let t = 0; t < 4; t++) {
    const sketch = trackers.tracker(`team-${t}`, 'métrique', `label-${t}`)!;
    for (let i = 0; i < 10 ** t; i++) addValue(sketch, i, t);
  }
  const bytes = trackers.serialize();
  const restored = LabelTrackers.deserialize(bytes, { maxTrackers: 10, precision: 11 });
  assert.equal(restored.size, 4);
  for (let t = 0; t < 4; t++) {
    assert.deepEqual(restored.get(`team-${t}`, 'métrique', `label-${t}`)!.registers(), trackers.get(`team-${t}`, 'métrique', `label-${t}`)!.registers());
  }
  const smaller = LabelTrackers.deserialize(bytes, { maxTrackers: 2, precision: 11 });
  assert.equal(smaller.size, 2);
  assert.equal(smaller.refusals, 2);
  assert.throws(() => LabelTrackers.deserialize(bytes, { maxTrackers: 10, precision: 14 }), HllFormatError);
  assert.throws(() => LabelTrackers.deserialize(bytes.subarray(0, bytes.length - 3), { maxTrackers: 10, precision: 11 }), HllFormatError);
});
