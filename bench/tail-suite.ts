import { scanRequest } from '../collector/otlp/scanner.js';
import { WireIndex } from '../collector/otlp/wire-index.js';
import { createTailSampler, TAIL_DEFAULTS } from '../collector/processors/sampling/tail-sampler.js';
import { parseRules } from '../rules/load.js';
import type { Figure } from './report.js';
import { printTable } from './report.js';
import { exposeGc, usedBytes } from './budget-suite.js';
import { SAMPLING_BENCH_RULES } from './sampling-suite.js';
import { formatFixed, formatInteger, toMebibytes } from './stats.js';
import { shopTracesRequest } from './workloads.js';

/**
 * `tail`: tail sampling's memory under a burst, in this (pinned) process. The tail sampler with
 * the default settings (5 s decision wait, 64 MiB buffer) is fed on a simulated clock: 10 s at a
 * steady 10,000 spans/s (about half the buffer), 10 s at ten times that (the burst), 10 s steady
 * again. Trace ids are made unique per request by rewriting their first bytes (their last 7
 * bytes, the sampling randomness, stay as generated). Reports the peak of the buffer's own byte
 * count against its limit, the process heap and RSS at the steady state and at the burst's peak,
 * how many spans fell back to the head decision, and spans per CPU-second.
 */

const SUITE = 'tail';
const SPANS = 500;
const REQUESTS = 8;
const STEADY_SPANS_PER_SECOND = 10_000;
const BURST_FACTOR = 10;
const PHASE_SECONDS = 10;

/** Offsets of every span's trace id in a request, to make them new per use. */
function traceIdOffsets(request: Uint8Array): Int32Array {
  const index = scanRequest(new WireIndex(), 'traces', request);
  return Int32Array.from({ length: index.itemCount }, (_, i) => index.itemTraceId[i]);
}

/** JS heap plus ArrayBuffer backing stores (the buffered span bytes live there, outside the heap). */
function heap(): { heapUsed: number; rss: number } {
  const { heapUsed, arrayBuffers, rss } = process.memoryUsage();
  return { heapUsed: heapUsed + arrayBuffers, rss };
}

export function runTailSuite(): Figure[] {
  const requests = Array.from({ length: REQUESTS }, (_, r) => shopTracesRequest(SPANS, r + 1));
  const offsets = requests.map(traceIdOffsets);
  const rules = parseRules(SAMPLING_BENCH_RULES, 'tail bench rules');
  let nowMs = 0;
  const paths = { buffered: 0, late: 0, fallback: 0, untraced: 0 };
  const tail = createTailSampler({
    rules: () => rules,
    clock: () => nowMs,
    settings: TAIL_DEFAULTS,
    tailObserver: {
      onIngest(result) {
        for (const key of Object.keys(paths) as (keyof typeof paths)[]) paths[key] += result[key];
      },
      onDecided() {},
    },
  });
  const limit = TAIL_DEFAULTS.maxBufferedBytes;
  const gc = exposeGc();
  const retainedAtStart = usedBytes(gc);
  const baseline = heap();
  let retainedAtBurstEnd = 0;
  let peakBuffered = 0;
  let peakHeap = baseline;
  let steadyHeap = baseline;
  let keptSpans = 0;
  let sent = 0;
  let fallbackInBurst = 0;
  let spansInBurst = 0;
  const cpuAtStart = process.cpuUsage();

  const phases = [
    { name: 'steady', spansPerSecond: STEADY_SPANS_PER_SECOND },
    { name: 'burst', spansPerSecond: STEADY_SPANS_PER_SECOND * BURST_FACTOR },
    { name: 'after', spansPerSecond: STEADY_SPANS_PER_SECOND },
  ];
  for (const phase of phases) {
    const requestsPerSecond = phase.spansPerSecond / SPANS;
    const total = requestsPerSecond * PHASE_SECONDS;
    const fallbackBefore = paths.fallback;
    for (let r = 0; r < total; r++) {
      nowMs += 1000 / requestsPerSecond;
      const k = sent % REQUESTS;
      const request = requests[k];
      // A new trace id prefix per use: bytes 0–3 carry the use number.
      const use = Math.floor(sent / REQUESTS) + 1;
      for (const offset of offsets[k]) {
        if (offset < 0) continue;
        request[offset] = use & 0xff;
        request[offset + 1] = (use >>> 8) & 0xff;
        request[offset + 2] = (use >>> 16) & 0xff;
        request[offset + 3] = 0x7f;
      }
      sent++;
      keptSpans += tail.ingest(request, nowMs)?.items ?? 0;
      for (const out of tail.due(nowMs)) keptSpans += out.items;
      peakBuffered = Math.max(peakBuffered, tail.bufferedBytes());
      if (r % 50 === 0) {
        const now = heap();
        if (now.heapUsed > peakHeap.heapUsed) peakHeap = now;
        if (phase.name === 'steady') steadyHeap = now;
      }
    }
    if (phase.name === 'burst') {
      // What the process still holds at the end of the burst, with the buffer full: garbage collected.
      retainedAtBurstEnd = usedBytes(gc) - retainedAtStart;
      fallbackInBurst = paths.fallback - fallbackBefore;
      spansInBurst = total * SPANS;
    }
  }
  for (const out of tail.drain()) keptSpans += out.items;
  const cpu = process.cpuUsage(cpuAtStart);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const spansPerCpuSecond = (sent * SPANS) / cpuSeconds;

  console.log(
    `\n[tail] ${formatInteger(sent)} requests of ${SPANS} spans; ${PHASE_SECONDS} s at ${formatInteger(STEADY_SPANS_PER_SECOND)} spans/s, ` +
      `${PHASE_SECONDS} s at ${BURST_FACTOR}×, ${PHASE_SECONDS} s steady (simulated clock); decision wait ${TAIL_DEFAULTS.decisionWaitMs} ms, buffer limit ${formatFixed(toMebibytes(limit), 0)} MiB`,
  );
  printTable(
    'tail sampling under a 10× burst (in process)',
    ['figure', 'value'],
    [
      ['peak buffered bytes (MiB)', formatFixed(toMebibytes(peakBuffered), 1)],
      ['buffer limit (MiB)', formatFixed(toMebibytes(limit), 1)],
      ['heap + array buffers: start / steady / peak (MiB)', `${formatFixed(toMebibytes(baseline.heapUsed), 0)} / ${formatFixed(toMebibytes(steadyHeap.heapUsed), 0)} / ${formatFixed(toMebibytes(peakHeap.heapUsed), 0)}`],
      ['retained after GC at the burst end, growth (MiB)', gc ? formatFixed(toMebibytes(retainedAtBurstEnd), 1) : 'n/a (no gc)'],
      ['RSS: start / at the heap peak (MiB)', `${formatFixed(toMebibytes(baseline.rss), 0)} / ${formatFixed(toMebibytes(peakHeap.rss), 0)}`],
      ['spans buffered / fell back to head', `${formatInteger(paths.buffered)} / ${formatInteger(paths.fallback)}`],
      ['burst spans that fell back (%)', formatFixed((fallbackInBurst / spansInBurst) * 100, 1)],
      ['spans kept', formatInteger(keptSpans)],
      ['spans per CPU-second', formatInteger(spansPerCpuSecond)],
    ],
  );
  return [
    {
      suite: SUITE,
      name: 'peak buffered MiB under a 10× burst',
      value: toMebibytes(peakBuffered),
      display: formatFixed(toMebibytes(peakBuffered), 1),
      target: { op: '<=', value: toMebibytes(limit), text: `≤ ${formatFixed(toMebibytes(limit), 0)}` },
    },
    { suite: SUITE, name: 'retained after GC at the burst end (growth), MiB', value: toMebibytes(retainedAtBurstEnd), display: formatFixed(toMebibytes(retainedAtBurstEnd), 1) },
    { suite: SUITE, name: 'spans per CPU-second', value: spansPerCpuSecond, display: formatInteger(spansPerCpuSecond) },
  ];
}
