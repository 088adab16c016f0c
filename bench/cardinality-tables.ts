
import { pathToFileURL } from 'node:url';
import { fmix32 } from '../collector/otlp/hash.js';
import { scanRequest } from '../collector/otlp/scanner.js';
import { WireIndex } from '../collector/otlp/wire-index.js';
import { HyperLogLog } from '../collector/processors/cardinality/hll.js';
import { SeriesIdHasher } from '../collector/processors/cardinality/series-id.js';
import { SeriesTable } from '../collector/processors/cardinality/series-table.js';
import type { Figure } from './report.js';
import { printTable } from './report.js';
import { formatFixed, median } from './stats.js';
import { metricsRequest } from './workloads.js';

/**
 * `cardinality-tables`: the pure cores of cardinality budgets on their own — series table
 * insert / lookup / sweep and bytes per series at 1 M series, HyperLogLog adds, and series ids
 * per data point of the realistic 1,000-point request. Not wired into `npm run bench`; run it as
 *   npx tsc -p tsconfig.bench.json && taskset -c 1 node --expose-gc dist/bench/bench/cardinality-tables.js
 */

const SUITE = 'cardinality-tables';
const SERIES = 1_000_000;
const ROUNDS = 5;
const TARGET_BYTES_PER_SERIES = 32;

export interface CardinalityTablesResult {
  readonly insertNs: number;
  readonly insertPresizedNs: number;
  readonly touchHitNs: number;
  readonly lookupMissNs: number;
  readonly sweepNsPerSeries: number;
  readonly bytesPerSeries: number;
  /** process.memoryUsage() heap + array buffers grown by building the table, per series. */
  readonly measuredBytesPerSeries: number;
  readonly hllAddDenseNs: number;
  readonly hllAddSparseNs: number;
  readonly hllEstimateUs: number;
  readonly seriesIdNsPerPoint: number;
}

/** A random permutation of 0..n-1 (fixed seed), so lookups hit the table in no useful order. */
function shuffledOrder(n: number): Uint32Array {
  const order = Uint32Array.from({ length: n }, (_, i) => i);
  let state = 0x9e3779b9;
  for (let i = n - 1; i > 0; i--) {
    state = fmix32(state + i);
    const j = state % (i + 1);
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

/** Median over rounds of nanoseconds per operation; `round` returns the operations it did. */
function nsPerOp(round: () => number): number {
  const samples: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const start = process.hrtime.bigint();
    const ops = round();
    samples.push(Number(process.hrtime.bigint() - start) / ops);
  }
  return median(samples);
}

function usedBytes(): number {
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

/** Needs node --expose-gc for the heap figure to mean anything (run() warns otherwise). */
function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
}

export function measureCardinalityTables(): CardinalityTablesResult {
  const lo = Uint32Array.from({ length: SERIES }, (_, i) => fmix32(i));
  const hi = Uint32Array.from({ length: SERIES }, (_, i) => fmix32(i ^ 0x5bd1e995));
  const missLo = Uint32Array.from({ length: SERIES }, (_, i) => fmix32(i + SERIES));
  const order = shuffledOrder(SERIES);
  const now = Date.now();
  let sink = 0;

  // Memory as the process sees it, measured first, before other tables leave garbage whose
  // array buffers are released lazily: heap + array buffers grown by building one table.
  collectGarbage();
  const before = usedBytes();
  const measured = new SeriesTable({ maxEntries: 4 * SERIES });
  for (let i = 0; i < SERIES; i++) measured.insert(lo[i], hi[i], i & 255, now);
  collectGarbage();
  const measuredBytesPerSeries = (usedBytes() - before) / measured.size;
  sink += measured.size;

  // Inserts into a table that grows from its default size, the usual case after a start.
  let table = new SeriesTable({ maxEntries: 4 * SERIES });
  const insertNs = nsPerOp(() => {
    table = new SeriesTable({ maxEntries: 4 * SERIES });
    for (let i = 0; i < SERIES; i++) if (table.insert(lo[i], hi[i], i & 255, now) === 'inserted') sink++;
    return SERIES;
  });
  const insertPresizedNs = nsPerOp(() => {
    const presized = new SeriesTable({ maxEntries: 4 * SERIES, initialEntries: SERIES });
    for (let i = 0; i < SERIES; i++) if (presized.insert(lo[i], hi[i], i & 255, now) === 'inserted') sink++;
    return SERIES;
  });
  const touchHitNs = nsPerOp(() => {
    for (let k = 0; k < SERIES; k++) {
      const i = order[k];
      if (table.touch(lo[i], hi[i], now)) sink++;
    }
    return SERIES;
  });
  const lookupMissNs = nsPerOp(() => {
    for (let k = 0; k < SERIES; k++) if (table.has(missLo[order[k]], 7)) sink++;
    return SERIES;
  });
  const bytesPerSeries = table.memoryBytes() / table.size;

  // Sweep: half the series are a minute old and expire; only the sweep itself is timed.
  const sweepSamples: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const swept = new SeriesTable({ maxEntries: 4 * SERIES });
    for (let i = 0; i < SERIES; i++) swept.insert(lo[i], hi[i], i & 255, i & 1 ? now : now - 60_000);
    const start = process.hrtime.bigint();
    sink += swept.sweep(now, 30_000);
    sweepSamples.push(Number(process.hrtime.bigint() - start) / SERIES);
  }
  const sweepNsPerSeries = median(sweepSamples);

  const dense = new HyperLogLog({ sparse: false });
  const hllAddDenseNs = nsPerOp(() => {
    for (let i = 0; i < SERIES; i++) dense.add(lo[i], hi[i]);
    return SERIES;
  });
  const hllAddSparseNs = nsPerOp(() => {
    // 200 distinct values repeated: a status-code-like label that stays sparse.
    const sparse = new HyperLogLog();
    for (let i = 0; i < SERIES; i++) sparse.add(lo[i % 200], hi[i % 200]);
    sink += sparse.isSparse ? 1 : 0;
    return SERIES;
  });
  const hllEstimateUs =
    nsPerOp(() => {
      for (let i = 0; i < 100; i++) sink += dense.estimate();
      return 100;
    }) / 1000;

  const request = metricsRequest();
  const ix = scanRequest(new WireIndex(), 'metrics', request);
  const hasher = new SeriesIdHasher();
  const ids = new Uint32Array(2 * ix.itemCount);
  const seriesIdNsPerPoint = nsPerOp(() => {
    for (let r = 0; r < 1000; r++) {
      // seriesIds prepares the per-metric and per-resource parts each time, as it would per request.
      hasher.seriesIds(ix, ids);
      sink ^= ids[0];
    }
    return 1000 * ix.itemCount;
  });

  if (sink === 0.5) console.log(sink); // keeps the work observable
  return { insertNs, insertPresizedNs, touchHitNs, lookupMissNs, sweepNsPerSeries, bytesPerSeries, measuredBytesPerSeries, hllAddDenseNs, hllAddSparseNs, hllEstimateUs, seriesIdNsPerPoint };
}

export function runCardinalityTablesBench(): Figure[] {
  if ((globalThis as { gc?: unknown }).gc === undefined) console.warn('[cardinality-tables] run node with --expose-gc for the heap + array buffers figure');
  const r = measureCardinalityTables();
  const rows: [string, string][] = [
    ['series table: insert (growing from default size)', `${formatFixed(r.insertNs, 1)} ns`],
    ['series table: insert (pre-sized)', `${formatFixed(r.insertPresizedNs, 1)} ns`],
    ['series table: touch, hit (random order)', `${formatFixed(r.touchHitNs, 1)} ns`],
    ['series table: lookup, miss (random order)', `${formatFixed(r.lookupMissNs, 1)} ns`],
    ['series table: sweep, per series scanned', `${formatFixed(r.sweepNsPerSeries, 1)} ns`],
    ['series table: bytes per series, memoryBytes()', formatFixed(r.bytesPerSeries, 1)],
    ['series table: bytes per series, heap + array buffers', formatFixed(r.measuredBytesPerSeries, 1)],
    ['HyperLogLog p=14: add, dense', `${formatFixed(r.hllAddDenseNs, 1)} ns`],
    ['HyperLogLog p=14: add, sparse (200 values)', `${formatFixed(r.hllAddSparseNs, 1)} ns`],
    ['HyperLogLog p=14: estimate', `${formatFixed(r.hllEstimateUs, 1)} µs`],
    ['series id per data point (1,000-point request, 6–10 attrs)', `${formatFixed(r.seriesIdNsPerPoint, 1)} ns`],
  ];
  printTable(`[${SUITE}] ${SERIES.toLocaleString('en-US')} series, median of ${ROUNDS} rounds`, ['measure', 'value'], rows);
  return [
    {
      suite: SUITE,
      name: 'bytes per tracked series at 1 M',
      value: r.bytesPerSeries,
      display: formatFixed(r.bytesPerSeries, 1),
      target: { op: '<', value: TARGET_BYTES_PER_SERIES + 1e-9, text: `≤ ${TARGET_BYTES_PER_SERIES}` },
    },
    { suite: SUITE, name: 'series table touch (hit), ns', value: r.touchHitNs, display: formatFixed(r.touchHitNs, 1) },
    { suite: SUITE, name: 'series id per point, ns', value: r.seriesIdNsPerPoint, display: formatFixed(r.seriesIdNsPerPoint, 1) },
  ];
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) runCardinalityTablesBench();
