
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fmix32 } from '../../../../collector/otlp/hash.js';
import { SeriesTable, SeriesTableFormatError, toSeenSeconds } from '../../../../collector/processors/cardinality/series-table.js';
import type { InsertResult } from '../../../../collector/processors/cardinality/series-table.js';

interface ModelEntry {
  metricRef: number;
  seen: number;
}

/** The specification, written the obvious way: a Map keyed by the 64-bit id. */
class ModelTable {
  readonly entries = new Map<string, ModelEntry>();
  fullRefusals = 0;
  constructor(readonly maxEntries: number) {}

  insert(lo: number, hi: number, metricRef: number, now: number): InsertResult {
    const key = `${lo}:${hi}`;
    const existing = this.entries.get(key);
    if (existing) {
      existing.seen = Math.max(existing.seen, toSeenSeconds(now));
      return 'present';
    }
    if (this.entries.size >= this.maxEntries) {
      this.fullRefusals++;
      return 'full';
    }
    this.entries.set(key, { metricRef, seen: toSeenSeconds(now) });
    return 'inserted';
  }

  touch(lo: number, hi: number, now: number): boolean {
    const existing = this.entries.get(`${lo}:${hi}`);
    if (existing) existing.seen = Math.max(existing.seen, toSeenSeconds(now));
    return existing !== undefined;
  }

  sweep(now: number, windowMs: number): Map<number, number> {
    const removed = new Map<number, number>();
    const cutoff = Math.floor((now - windowMs) / 1000);
    for (const [key, entry] of this.entries) {
      if (entry.seen >= cutoff) continue;
      this.entries.delete(key);
      removed.set(entry.metricRef, (removed.get(entry.metricRef) ?? 0) + 1);
    }
    return removed;
  }

  countFor(metricRef: number): number {
    let n = 0;
    for (const entry of this.entries.values()) if (entry.metricRef === metricRef) n++;
    return n;
  }
}

function contents(table: SeriesTable): Map<string, ModelEntry> {
  const out = new Map<string, ModelEntry>();
  table.forEach((lo, hi, metricRef, seen) => {
    assert.ok(!out.has(`${lo}:${hi}`), 'a series is stored twice');
    out.set(`${lo}:${hi}`, { metricRef, seen });
  });
  return out;
}

const METRIC_REFS = 4;

/*
 * Keys crowd a few home slots at the end of every table size the test reaches (16, 32, 64):
 * low bits 13–15, 29–31 and 61–63 collide modulo 16 and wrap around to slot 0, while the
 * high bits vary. Some keys share `lo` and differ only in `hi`, or share the tag bits of `hi`.
 */
const keyArb = fc.record({
  low: fc.constantFrom(13, 14, 15, 29, 30, 31, 61, 62, 63, 0, 1),
  upper: fc.integer({ min: 0, max: 3 }),
  hi: fc.constantFrom(0, 1, 0x80000000, 0xffffffff, 0x12345678, 0x12345679),
});

type Command =
  | { readonly op: 'insert'; readonly key: number; readonly metricRef: number }
  | { readonly op: 'touch'; readonly key: number }
  | { readonly op: 'advance'; readonly ms: number }
  | { readonly op: 'sweep'; readonly windowMs: number };

const commandArb = (keys: number): fc.Arbitrary<Command> =>
  fc.oneof(
    { weight: 5, arbitrary: fc.record({ op: fc.constant('insert' as const), key: fc.nat(keys - 1), metricRef: fc.nat(METRIC_REFS - 1) }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant('touch' as const), key: fc.nat(keys - 1) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 4000 }) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('sweep' as const), windowMs: fc.integer({ min: 0, max: 6000 }) }) },
  );

test('series table agrees with a Map model under random insert/touch/sweep, clusters wrapping around', () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(keyArb, { minLength: 2, maxLength: 40, selector: (k) => `${k.low}:${k.upper}:${k.hi}` }),
      fc.integer({ min: 1, max: 40 }),
      fc.integer({ min: 1, max: 8 }),
      fc.array(commandArb(40), { minLength: 1, maxLength: 150 }),
      (keySpecs, maxEntries, initialEntries, commands) => {
        const keys = keySpecs.map((k) => ({ lo: ((k.upper << 6) | k.low) >>> 0, hi: k.hi >>> 0 }));
        const table = new SeriesTable({ maxEntries, initialEntries });
        const model = new ModelTable(maxEntries);
        let now = 1_700_000_000_000;
        for (const command of commands) {
          if (command.op === 'advance') now += command.ms;
          else if (command.op === 'insert') {
            const { lo, hi } = keys[command.key % keys.length];
            assert.equal(table.insert(lo, hi, command.metricRef, now), model.insert(lo, hi, command.metricRef, now));
          } else if (command.op === 'touch') {
            const { lo, hi } = keys[command.key % keys.length];
            assert.equal(table.touch(lo, hi, now), model.touch(lo, hi, now));
          } else {
            const reported = new Map<number, number>();
            const removed = table.sweep(now, command.windowMs, (ref, n) => {
              assert.ok(!reported.has(ref), 'a metricRef is reported twice in one sweep');
              reported.set(ref, n);
            });
            const expected = model.sweep(now, command.windowMs);
            assert.deepEqual(reported, expected);
            assert.equal(removed, [...expected.values()].reduce((a, b) => a + b, 0));
          }
          assert.equal(table.size, model.entries.size);
          assert.ok(table.size <= table.capacity * 0.75);
          for (let ref = 0; ref < METRIC_REFS; ref++) assert.equal(table.countFor(ref), model.countFor(ref));
          for (const { lo, hi } of keys) assert.equal(table.has(lo, hi), model.entries.has(`${lo}:${hi}`));
        }
        assert.deepEqual(contents(table), model.entries);
        assert.equal(table.fullRefusals, model.fullRefusals);
      },
    ),
    { numRuns: 300, seed: 20240601 },
  );
});

test('a full table refuses new series with a counted "full", keeps serving existing ones, and accepts again after expiry', () => {
  const table = new SeriesTable({ maxEntries: 3 });
  const t0 = 1_700_000_000_000;
  assert.equal(table.insert(1, 10, 0, t0), 'inserted');
  assert.equal(table.insert(2, 20, 0, t0), 'inserted');
  assert.equal(table.insert(3, 30, 1, t0 + 5000), 'inserted');
  assert.equal(table.insert(4, 40, 1, t0 + 5000), 'full');
  assert.equal(table.insert(5, 50, 1, t0 + 5000), 'full');
  assert.equal(table.fullRefusals, 2);
  // An existing series is never refused, and is not counted as a refusal.
  assert.equal(table.insert(1, 10, 0, t0 + 5000), 'present');
  assert.equal(table.touch(2, 20, t0 + 5000), true);
  assert.equal(table.fullRefusals, 2);
  assert.equal(table.size, 3);
  assert.equal(table.has(4, 40), false);

  // Series 3 was seen at t0+5s, the others were refreshed then too: nothing expires at t0+6s.
  assert.equal(table.sweep(t0 + 6000, 2000), 0);
  table.touch(1, 10, t0 + 10_000);
  const expired: [number, number][] = [];
  assert.equal(table.sweep(t0 + 12_000, 3000, (ref, n) => expired.push([ref, n])), 2);
  assert.deepEqual(expired.sort(), [[0, 1], [1, 1]]);
  assert.equal(table.countFor(0), 1);
  assert.equal(table.countFor(1), 0);
  assert.equal(table.insert(4, 40, 1, t0 + 12_000), 'inserted');
  assert.equal(table.insert(5, 50, 1, t0 + 12_000), 'inserted');
  assert.equal(table.insert(6, 60, 1, t0 + 12_000), 'full');
  assert.equal(table.fullRefusals, 3);
});

test('expiry honours the window at one-second resolution', () => {
  const table = new SeriesTable({ maxEntries: 8 });
  const seen = 1_700_000_000_400; // .4 s into a second
  table.insert(7, 7, 0, seen);
  const window = 60_000;
  // Still within the window: kept.
  assert.equal(table.sweep(seen + window, window), 0);
  assert.equal(table.has(7, 7), true);
  // More than window + 1 s since it was seen: gone.
  assert.equal(table.sweep(seen + window + 1001, window), 1);
  assert.equal(table.has(7, 7), false);
});

test('the index doubles while load would exceed 0.75 and never grows past what maxEntries needs', () => {
  const table = new SeriesTable({ maxEntries: 100, initialEntries: 1 });
  assert.equal(table.capacity, 16);
  const capacities = new Set<number>();
  for (let i = 0; i < 100; i++) {
    assert.equal(table.insert(fmix32(i), fmix32(i + 1000), i % 3, 0), 'inserted');
    assert.ok(table.size / table.capacity <= 0.75, `load ${table.size}/${table.capacity}`);
    capacities.add(table.capacity);
  }
  // 100 series need ⌈100/0.75⌉ = 134 slots, so 256 is the cap, reached by doubling from 16.
  assert.deepEqual([...capacities], [16, 32, 64, 128, 256]);
  assert.equal(table.insert(fmix32(100), 1, 0, 0), 'full');
  assert.equal(table.capacity, 256);
  for (let i = 0; i < 100; i++) assert.ok(table.has(fmix32(i), fmix32(i + 1000)));
  assert.equal(table.countFor(0) + table.countFor(1) + table.countFor(2), 100);
  assert.equal(table.countFor(0), 34);
  assert.equal(table.countFor(99), 0);
});

test('serialize → deserialize restores every series with its metric and last-seen time', () => {
  const table = new SeriesTable({ maxEntries: 5000 });
  for (let i = 0; i < 3000; i++) table.insert(fmix32(i), fmix32(~i), i % 7, 1_700_000_000_000 + i * 1000);
  table.sweep(1_700_000_000_000 + 2000 * 1000, 1000 * 1000); // drops some, so entries were moved around
  const bytes = table.serialize();
  const restored = SeriesTable.deserialize(bytes);
  assert.equal(restored.maxEntries, 5000);
  assert.equal(restored.size, table.size);
  assert.deepEqual(contents(restored), contents(table));
  for (let ref = 0; ref < 7; ref++) assert.equal(restored.countFor(ref), table.countFor(ref));
  assert.equal(restored.droppedOnRestore, 0);
  // The restored table is fully functional: lookups hit, new inserts work, the format is stable.
  assert.equal(restored.touch(fmix32(2999), fmix32(~2999), 1_700_000_000_000 + 3000 * 1000), true);
  assert.equal(restored.insert(1, 2, 3, 0), 'inserted');
  assert.deepEqual(SeriesTable.deserialize(table.serialize()).serialize(), bytes);

  // The header is the documented one.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  assert.equal(new TextDecoder().decode(bytes.subarray(0, 4)), 'TGST');
  assert.equal(view.getUint16(4, true), 1);
  assert.equal(view.getUint32(12, true), table.size);
  assert.equal(bytes.length, 16 + 16 * table.size);

  // A lower cap on restore keeps what fits and counts the rest.
  const smaller = SeriesTable.deserialize(bytes, { maxEntries: 100 });
  assert.equal(smaller.size, 100);
  assert.equal(smaller.droppedOnRestore, table.size - 100);
  assert.equal(smaller.insert(9, 9, 0, 0), 'full');
});

test('deserialize rejects malformed snapshots', () => {
  const table = new SeriesTable({ maxEntries: 10 });
  table.insert(1, 2, 0, 5000);
  table.insert(3, 4, 0, 5000);
  const good = table.serialize();
  const corrupt = (edit: (b: Uint8Array) => Uint8Array): Uint8Array => edit(good.slice());
  const cases: Uint8Array[] = [
    good.subarray(0, 10),
    good.subarray(0, good.length - 1),
    corrupt((b) => ((b[0] = 0), b)),
    corrupt((b) => ((b[4] = 9), b)),
    // The second entry made a copy of the first: a duplicate series id.
    corrupt((b) => (b.copyWithin(32, 16, 24), b)),
  ];
  for (const bytes of cases) assert.throws(() => SeriesTable.deserialize(bytes), SeriesTableFormatError);
});

test('bad arguments are programmer errors and throw', () => {
  assert.throws(() => new SeriesTable({ maxEntries: 0 }), RangeError);
  assert.throws(() => new SeriesTable({ maxEntries: 2 ** 27 }), RangeError);
  const table = new SeriesTable({ maxEntries: 4 });
  assert.throws(() => table.insert(1, 1, -1, 0), RangeError);
  assert.throws(() => table.insert(1, 1, 1.5, 0), RangeError);
  assert.equal(table.size, 0);
});

test('1 M series: ≤ 32 bytes each, memoryBytes() is the arrays it holds, every series found, sweep empties it', () => {
  const n = 1_000_000;
  const table = new SeriesTable({ maxEntries: 4_000_000 });
  const t0 = 1_700_000_000_000;
  for (let i = 0; i < n; i++) assert.equal(table.insert(fmix32(i), fmix32(i ^ 0x5bd1e995), i & 63, i < n / 2 ? t0 : t0 + 60_000), 'inserted');
  assert.equal(table.size, n);
  let arrayBytes = 0;
  for (const value of Object.values(table)) if (ArrayBuffer.isView(value)) arrayBytes += value.byteLength;
  assert.equal(table.memoryBytes(), arrayBytes);
  const perSeries = table.memoryBytes() / n;
  assert.ok(perSeries <= 32, `${perSeries.toFixed(1)} bytes per series`);
  let found = 0;
  for (let i = 0; i < n; i += 7) if (table.has(fmix32(i), fmix32(i ^ 0x5bd1e995))) found++;
  assert.equal(found, Math.ceil(n / 7));
  assert.equal(table.has(fmix32(n), fmix32(n ^ 0x5bd1e995)), false);
  // Half was last seen a minute earlier: a 30 s window removes exactly that half.
  assert.equal(table.sweep(t0 + 60_000, 30_000), n / 2);
  assert.equal(table.size, n / 2);
  for (let i = 0; i < n; i += 1001) assert.equal(table.has(fmix32(i), fmix32(i ^ 0x5bd1e995)), i >= n / 2);
  let survivorsOfRef5 = 0;
  for (let i = n / 2; i < n; i++) if ((i & 63) === 5) survivorsOfRef5++;
  assert.equal(table.countFor(5), survivorsOfRef5);
  assert.equal(table.sweep(t0 + 200_000, 30_000), n / 2);
  assert.equal(table.size, 0);
});
