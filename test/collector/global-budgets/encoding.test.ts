import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { hashBytes } from '../../../collector/otlp/hash.js';
import { HyperLogLog } from '../../../collector/processors/cardinality/hll.js';
import { ByteReader, ByteWriter, GlobalFormatError } from '../../../collector/global-budgets/bytes.js';
import { sketchFromHll, sketchRegisters } from '../../../collector/global-budgets/sketch.js';
import type { Sketch } from '../../../collector/global-budgets/sketch.js';
import { decodeUsageReport, encodeUsageReport, GLOBAL_SKETCH_PRECISION } from '../../../collector/global-budgets/usage-report.js';
import type { UsageReport } from '../../../collector/global-budgets/usage-report.js';
import { decodeTeamState, encodeTeamState } from '../../../collector/global-budgets/team-state.js';
import type { GlobalTeamState } from '../../../collector/global-budgets/team-state.js';

const word = new Uint8Array(4);
const wordView = new DataView(word.buffer);
function sketchOf(values: readonly number[], precision = GLOBAL_SKETCH_PRECISION): Sketch {
  const hll = new HyperLogLog({ precision });
  for (const v of values) {
    wordView.setUint32(0, v, true);
    hll.add(hashBytes(word, 0, 4, 7), hashBytes(word, 0, 4, 0x6a09e667));
  }
  return sketchFromHll(hll);
}

const safeCount = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const name = fc.string({ unit: 'grapheme', maxLength: 24 });
const reportArb = fc
  .record({
    instance: name,
    startedAtMs: safeCount,
    seq: safeCount,
    generatedAtMs: safeCount,
    intervalMs: fc.nat(),
    team: name,
    chunks: fc.integer({ min: 1, max: 5 }),
    chunkSeed: fc.nat(),
    itemsIn: safeCount,
    itemsKept: safeCount,
    itemsDropped: safeCount,
    activeSeries: safeCount,
    metrics: fc.array(fc.record({ name, activeSeries: fc.nat(), values: fc.array(fc.nat(), { maxLength: 12_000 }) }), { maxLength: 4 }),
  })
  .map(({ chunkSeed, chunks, metrics, ...rest }): UsageReport => ({
    ...rest,
    chunks,
    chunk: chunkSeed % chunks,
    metrics: metrics.map((m) => ({ name: m.name, activeSeries: m.activeSeries, sketch: sketchOf(m.values) })),
  }));

test('usage reports round-trip: every field and every register (property)', () => {
  fc.assert(
    fc.property(reportArb, (report) => {
      const decoded = decodeUsageReport(encodeUsageReport(report));
      const { metrics, ...fields } = report;
      const { metrics: decodedMetrics, ...decodedFields } = decoded;
      assert.deepEqual(decodedFields, fields);
      assert.equal(decodedMetrics.length, metrics.length);
      metrics.forEach((m, i) => {
        assert.equal(decodedMetrics[i].name, m.name);
        assert.equal(decodedMetrics[i].activeSeries, m.activeSeries);
        assert.deepEqual(sketchRegisters(decodedMetrics[i].sketch), sketchRegisters(m.sketch));
        assert.equal(decodedMetrics[i].sketch.indices === null, m.sketch.indices === null, 'the same form');
      });
    }),
    { numRuns: 60 },
  );
});

test('a small sketch is sent sparse (a few bytes per series), a large one dense (2^p bytes)', () => {
  const base = { instance: 'a', startedAtMs: 1, seq: 0, generatedAtMs: 1, intervalMs: 1, team: 't', chunk: 0, chunks: 1, itemsIn: 0, itemsKept: 0, itemsDropped: 0, activeSeries: 0 };
  const empty = encodeUsageReport({ ...base, metrics: [] }).length;
  const small = encodeUsageReport({ ...base, metrics: [{ name: 'm', activeSeries: 100, sketch: sketchOf(Array.from({ length: 100 }, (_, i) => i)) }] }).length - empty;
  // name (2) + count (1) + kind (1) + n (1) + 100 × (delta varint 1–2 bytes + rank 1 byte)
  assert.ok(small >= 5 + 200 && small <= 5 + 300, `100 series took ${small} bytes`);
  const large = encodeUsageReport({ ...base, metrics: [{ name: 'm', activeSeries: 100_000, sketch: sketchOf(Array.from({ length: 100_000 }, (_, i) => i)) }] }).length - empty;
  assert.equal(large, 2 + 3 + 1 + (1 << GLOBAL_SKETCH_PRECISION));
});

test('decoding refuses truncation, trailing bytes, bad magic, versions and register garbage', () => {
  const report: UsageReport = {
    instance: 'sidecar-1', startedAtMs: 1_700_000_000_000, seq: 3, generatedAtMs: 1_700_000_001_000, intervalMs: 5000, team: 'checkout', chunk: 0, chunks: 1,
    itemsIn: 10, itemsKept: 9, itemsDropped: 1, activeSeries: 3,
    metrics: [{ name: 'http.requests', activeSeries: 3, sketch: sketchOf([1, 2, 3]) }],
  };
  const bytes = encodeUsageReport(report);
  for (let cut = 0; cut < bytes.length; cut++) assert.throws(() => decodeUsageReport(bytes.subarray(0, cut)), GlobalFormatError, `cut at ${cut}`);
  assert.throws(() => decodeUsageReport(Uint8Array.of(...bytes, 0)), /trailing/);
  const badMagic = bytes.slice();
  badMagic[0] = 0x58;
  assert.throws(() => decodeUsageReport(badMagic), /magic/);
  const badVersion = bytes.slice();
  badVersion[4] = 2;
  assert.throws(() => decodeUsageReport(badVersion), /version 2/);
  // The last byte is the third register's rank: 0 is not a valid sparse register, 60 is beyond 64 − p + 1.
  for (const rank of [0, 60]) {
    const bad = bytes.slice();
    bad[bad.length - 1] = rank;
    assert.throws(() => decodeUsageReport(bad), GlobalFormatError, `rank ${rank}`);
  }
  assert.throws(() => decodeTeamState(bytes), /magic/);
});

test('varints cover every safe integer and reject longer encodings', () => {
  fc.assert(
    fc.property(fc.array(safeCount, { maxLength: 20 }), (values) => {
      const writer = new ByteWriter();
      for (const v of values) writer.varint(v);
      const reader = new ByteReader(writer.finish(), 'test');
      for (const v of values) assert.equal(reader.varint(), v);
      assert.ok(reader.done);
    }),
  );
  assert.throws(() => new ByteReader(new Uint8Array(9).fill(0xff), 'test').varint(), /longer than 8 bytes/);
  assert.throws(() => new ByteWriter().varint(-1), RangeError);
});

test('budget states round-trip (property)', () => {
  const stateArb = fc.record({
    team: name,
    aggregator: name,
    publishedAtMs: safeCount,
    activeSeries: safeCount,
    limit: safeCount,
    allowedNewSeries: safeCount,
    basis: fc.array(fc.record({ instance: name, startedAtMs: safeCount, seq: safeCount }), { maxLength: 5 }),
  });
  fc.assert(
    fc.property(stateArb, (state: GlobalTeamState) => {
      // fast-check's records have no prototype; compare plain copies.
      assert.deepEqual(decodeTeamState(encodeTeamState(state)), { ...state, basis: state.basis.map((b) => ({ ...b })) });
    }),
  );
});
