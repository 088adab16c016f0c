import { EditList, NO_BYTES, rewrite } from '../collector/otlp/rewriter.js';
import { scanRequest } from '../collector/otlp/scanner.js';
import { WireIndex } from '../collector/otlp/wire-index.js';
import { createCoreMeter, ownCpuSeconds } from './cpu-usage.js';
import { BENCH_CORE, canPin } from './machine.js';
import type { Figure } from './report.js';
import { printTable } from './report.js';
import { formatFixed, formatInteger, median, toMegabytes } from './stats.js';
import { metricsRequest } from './workloads.js';

/**
 * `wire`: the hot path without I/O — scan, and scan + rewrite — on the realistic 1,000-point
 * metrics request, in this (pinned) process. It answers "how much can one core govern" before
 * HTTP, queues and the exporter take their share.
 */

const SUITE = 'wire';
const WARMUP_MS = 1000;
const ROUNDS = 5;
const ROUND_MS = 1000;
/** The unbounded labels the default rules deny; present on ~80 % / ~60 % of the points. */
const DROPPED_KEYS = ['user_id', 'request_id'];
const TARGET_POINTS_PER_SECOND = 1_000_000;
const INTERFERENCE_WARNING_PERCENT = 10;

export interface Case {
  readonly name: string;
  /** Processes the request once; returns a number folded into a checksum so no work is optimised away. */
  readonly run: () => number;
}

export interface CaseResult {
  readonly name: string;
  readonly requestsPerSecond: readonly number[];
  /**
   * Requests per second of this process's own CPU time, per round: what one core does when it is
   * not shared. Unlike the wall-clock rate it barely moves when other processes take the core.
   */
  readonly requestsPerCpuSecond: readonly number[];
  /** The largest share of this core other processes took in any round, %. */
  readonly otherLoadPercent: number;
}

export function runWireSuite(): Figure[] {
  const request = metricsRequest();
  const index = new WireIndex();
  const edits = new EditList();
  const points = scanRequest(index, 'metrics', request).itemCount;
  const droppedKeys = DROPPED_KEYS.map((key) => new TextEncoder().encode(key));
  checkDropCase(request, droppedKeys);

  const cases: Case[] = [
    { name: 'scan', run: () => scanRequest(index, 'metrics', request).itemCount },
    {
      name: 'scan + rewrite (no edits)',
      run: () => {
        scanRequest(index, 'metrics', request);
        edits.clear();
        return rewrite(index, edits).items;
      },
    },
    {
      name: `scan + rewrite (drop ${DROPPED_KEYS.join(', ')})`,
      run: () => {
        scanRequest(index, 'metrics', request);
        edits.clear();
        recordKeyDrops(index, edits, droppedKeys);
        return rewrite(index, edits).bytes.length;
      },
    },
  ];
  console.log(`\n[wire] request: ${points} data points, ${formatInteger(request.length)} bytes; ${ROUNDS} rounds of ≥${ROUND_MS} ms after ${WARMUP_MS} ms warm-up per case`);
  const results = cases.map((c) => measureCase(c));
  printWireTable(results, points, request.length);
  return results.map((result) => {
    const pointsPerSecond = median(result.requestsPerSecond) * points;
    const isRewrite = result.name.startsWith('scan + rewrite');
    return {
      suite: SUITE,
      name: `${result.name}, points/s`,
      value: pointsPerSecond,
      display: formatInteger(pointsPerSecond),
      target: isRewrite ? { op: '>=', value: TARGET_POINTS_PER_SECOND, text: `≥ ${formatInteger(TARGET_POINTS_PER_SECOND)}` } : undefined,
    };
  });
}

/**
 * Records a deletion for every attribute whose key is one of `keys`, comparing key bytes in
 * place: the length first (most keys differ in length, so most comparisons stop there), then
 * the bytes. No string is built per attribute — that is what a policy on the hot path must do.
 */
export function recordKeyDrops(index: WireIndex, edits: EditList, keys: readonly Uint8Array[]): number {
  const buf = index.buf;
  let dropped = 0;
  for (let a = 0; a < index.attrCount; a++) {
    const start = index.attrKeyStart[a];
    const length = index.attrKeyEnd[a] - start;
    for (let k = 0; k < keys.length; k++) {
      const key = keys[k];
      if (key.length === length && bytesEqualAt(buf, start, key)) {
        edits.replace(index.attrOwner[a], index.attrKvStart[a], index.attrKvEnd[a], NO_BYTES);
        dropped++;
        break;
      }
    }
  }
  return dropped;
}

function bytesEqualAt(buf: Uint8Array, start: number, key: Uint8Array): boolean {
  for (let i = 0; i < key.length; i++) if (buf[start + i] !== key[i]) return false;
  return true;
}

/** A fast wrong answer is worth nothing: check once that the drop case really drops the keys and keeps every point. */
function checkDropCase(request: Uint8Array, keys: readonly Uint8Array[]): void {
  const index = new WireIndex();
  const edits = new EditList();
  const before = scanRequest(index, 'metrics', request).itemCount;
  const dropped = recordKeyDrops(index, edits, keys);
  const { bytes, items } = rewrite(index, edits);
  const after = scanRequest(new WireIndex(), 'metrics', bytes);
  const left = recordKeyDrops(after, new EditList(), keys);
  if (dropped === 0 || left !== 0 || items !== before || after.itemCount !== before) {
    throw new Error(`wire: drop check failed (dropped ${dropped}, left ${left}, points ${before} → ${items}/${after.itemCount})`);
  }
}

/** Runs a case for ROUNDS rounds after a warm-up, on this (pinned) core. */
export function measureCase(c: Case): CaseResult {
  let checksum = 0;
  const warmupEnd = performance.now() + WARMUP_MS;
  while (performance.now() < warmupEnd) checksum += c.run();
  const requestsPerSecond: number[] = [];
  const requestsPerCpuSecond: number[] = [];
  const core = createCoreMeter(BENCH_CORE);
  let otherLoadPercent = 0;
  for (let round = 0; round < ROUNDS; round++) {
    let iterations = 0;
    const cpuAtStart = ownCpuSeconds();
    core.begin();
    const start = performance.now();
    let elapsed = 0;
    // One clock read per request is ~0.01 % of a request's cost, so no batching is needed.
    while (elapsed < ROUND_MS) {
      checksum += c.run();
      iterations++;
      elapsed = performance.now() - start;
    }
    requestsPerSecond.push((iterations * 1000) / elapsed);
    const cpuSeconds = ownCpuSeconds() - cpuAtStart;
    requestsPerCpuSecond.push(iterations / cpuSeconds);
    otherLoadPercent = Math.max(otherLoadPercent, core.end(cpuSeconds).otherPercent);
  }
  if (checksum === 0) throw new Error(`${c.name} did no work`);
  return { name: c.name, requestsPerSecond, requestsPerCpuSecond, otherLoadPercent };
}

export function printWireTable(results: readonly CaseResult[], points: number, requestBytes: number, title = 'wire'): void {
  const rows = results.map((result) => {
    const perSecond = median(result.requestsPerSecond);
    const spread = `${formatInteger(Math.min(...result.requestsPerSecond) * points)}–${formatInteger(Math.max(...result.requestsPerSecond) * points)}`;
    const otherLoad = canPin() ? formatFixed(result.otherLoadPercent, 0) : 'n/a';
    return [result.name, formatInteger(perSecond * points), spread, formatFixed(toMegabytes(perSecond * requestBytes), 1), formatFixed(1_000_000 / perSecond, 1), otherLoad];
  });
  printTable(`${title} (core ${BENCH_CORE}, in process; medians)`, ['case', 'points/s', 'range over rounds', 'MB/s', 'µs/request', 'other load %'], rows);
  const disturbed = results.filter((r) => canPin() && r.otherLoadPercent > INTERFERENCE_WARNING_PERCENT);
  if (disturbed.length > 0) {
    console.log(`WARNING: other processes took >${INTERFERENCE_WARNING_PERCENT} % of core ${BENCH_CORE} in some rounds (${disturbed.map((r) => r.name).join('; ')}); re-run on a quiet machine.`);
  }
}
