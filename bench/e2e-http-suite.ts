import { setTimeout as sleep } from 'node:timers/promises';
import { scanRequest } from '../collector/otlp/scanner.js';
import { WireIndex } from '../collector/otlp/wire-index.js';
import type { CoreShare } from './cpu-usage.js';
import { createWindowMeter, ownCpuSeconds } from './cpu-usage.js';
import type { LoadResult, LoadTarget, WindowProbe } from './load.js';
import { createTarget, runClosedLoop, runPaced } from './load.js';
import { BENCH_CORE, canPin, SERVICE_CORE } from './machine.js';
import type { Figure } from './report.js';
import { printTable } from './report.js';
import type { Sink } from './sink.js';
import { DIRECT_PATH, startSink } from './sink.js';
import { formatFixed, formatInteger, median, percentile, toMebibytes, toMegabytes } from './stats.js';
import type { TollgateProcess } from './tollgate-process.js';
import { startTollgate } from './tollgate-process.js';
import { metricsRequest } from './workloads.js';

/**
 * `e2e-http`: the whole service — receiver, scan, pipeline, OTLP/HTTP exporter — as a separate
 * process on core 0, fed by a load generator and drained by a sink that share core 1.
 *
 *   1. idle RSS after start, before any load;
 *   2. saturation: closed loop at fixed concurrency → data points/s end to end;
 *   3. latency at half that rate, paced: once straight to the sink (baseline), once through
 *      Tollgate; the difference is the latency Tollgate adds;
 *   4. peak RSS (VmHWM) over all of it.
 */

const SUITE = 'e2e-http';
/** Eight SDK exporters sending at once: enough to keep Tollgate busy while one request is on the wire. */
const CONCURRENCY = 8;
const SATURATION_WARMUP_MS = 2_000;
const SATURATION_MS = 10_000;
const LATENCY_LOAD_FRACTION = 0.5;
const LATENCY_WARMUP_MS = 1_000;
const BASELINE_MS = 5_000;
const LATENCY_MS = 8_000;
/** Open-loop sending may need more connections than the closed loop when answers bunch up. */
const PACED_MAX_SOCKETS = 32;
/** Lets start-up garbage be collected before the idle reading. */
const IDLE_SETTLE_MS = 1_000;
const TARGET_POINTS_PER_SECOND = 400_000;
const TARGET_IDLE_RSS_BYTES = 100 * 1024 * 1024;

export interface E2eOptions {
  /** Directory for a CPU profile of the Tollgate process (`--profile DIR`). */
  readonly profileDir?: string;
  /** Governance rules Tollgate runs with; undefined = the embedded default rules. */
  readonly rulesYaml?: string;
  /** Names the run in the figures: `e2e-http` (the pipeline's figure, with its target) or another suite name. */
  readonly suite?: string;
  /** More top-level config for Tollgate (YAML). */
  readonly extraConfig?: string;
}

/** Rules with no policy and no budget: the pipeline with no-op processors, the figure issue 2 set a target for. */
export const NO_GOVERNANCE_RULES = 'version: 1\n';

interface Measurements {
  readonly points: number;
  readonly requestBytes: number;
  readonly idleRssBytes: number;
  readonly peakRssBytes: number;
  readonly saturation: LoadResult;
  readonly saturationCpu: CpuShares;
  readonly sinkRequestsInWindow: number;
  readonly pacedRate: number;
  readonly baseline: LoadResult;
  readonly viaTollgate: LoadResult;
  readonly arrivedAtSink: number;
  /** Bodies that differ from the request sent: processors edited them (none are configured today). */
  readonly changedAtSink: number;
}

export async function runE2eHttpSuite(options: E2eOptions = {}): Promise<Figure[]> {
  const suite = options.suite ?? SUITE;
  const request = metricsRequest();
  const points = scanRequest(new WireIndex(), 'metrics', request).itemCount;
  console.log(`\n[${suite}] rules: ${options.rulesYaml === undefined ? 'the embedded default (audit policies and budget)' : options.rulesYaml === NO_GOVERNANCE_RULES ? 'none (no-op processors)' : 'custom'}`);
  console.log(`[${suite}] request: ${points} data points, ${formatInteger(request.length)} bytes, application/x-protobuf, keep-alive`);
  const sink = await startSink(request.length);
  let tollgate: TollgateProcess | undefined;
  try {
    tollgate = await startTollgate({ downstream: sink.url, profileDir: options.profileDir, rulesYaml: options.rulesYaml, extraConfig: options.extraConfig });
    const measured = await measure(tollgate, sink, request, points);
    checkEveryAcknowledgedRequestArrived(measured, sink);
    printE2eTables(measured);
    warnAboutInterference(measured.saturationCpu);
    await printStoreFlushes(tollgate);
    printTollgateStderr(tollgate);
    return figures(measured, suite);
  } finally {
    await tollgate?.stop();
    await sink.close();
  }
}

async function measure(tollgate: TollgateProcess, sink: Sink, request: Uint8Array, points: number): Promise<Measurements> {
  await sleep(IDLE_SETTLE_MS);
  const idleRssBytes = tollgate.memory().rssBytes;
  const metricsUrl = `${tollgate.otlpHttpUrl}/v1/metrics`;

  const probe = createCpuProbe(tollgate, sink);
  console.log(`[e2e-http] saturation: ${CONCURRENCY} connections, ${SATURATION_WARMUP_MS / 1000} s warm-up + ${SATURATION_MS / 1000} s`);
  const saturation = await withTarget(createTarget(metricsUrl, request, CONCURRENCY), (target) =>
    runClosedLoop(target, CONCURRENCY, SATURATION_WARMUP_MS, SATURATION_MS, probe),
  );
  const saturatedRate = saturation.completed / saturation.windowSeconds;
  if (saturatedRate === 0) throw new Error(`e2e-http: no request succeeded at saturation; failures ${describeFailures(saturation)}\n${tollgate.stderr()}`);

  const pacedRate = saturatedRate * LATENCY_LOAD_FRACTION;
  console.log(`[e2e-http] latency at ${formatFixed(pacedRate, 0)} requests/s: baseline straight to the sink, then through Tollgate`);
  const baseline = await withTarget(createTarget(`${sink.url}${DIRECT_PATH}`, request, PACED_MAX_SOCKETS), (target) =>
    runPaced(target, pacedRate, LATENCY_WARMUP_MS, BASELINE_MS),
  );
  const viaTollgate = await withTarget(createTarget(metricsUrl, request, PACED_MAX_SOCKETS), (target) =>
    runPaced(target, pacedRate, LATENCY_WARMUP_MS, LATENCY_MS),
  );
  return {
    points,
    requestBytes: request.length,
    idleRssBytes,
    peakRssBytes: tollgate.memory().peakRssBytes,
    saturation,
    saturationCpu: probe.shares(),
    sinkRequestsInWindow: probe.sinkRequests(),
    pacedRate,
    baseline,
    viaTollgate,
    arrivedAtSink: sink.viaTollgate.requests,
    changedAtSink: sink.viaTollgate.changedBodies,
  };
}

/** Closes the target's keep-alive connections after use, so phases do not share sockets. */
export async function withTarget<T>(target: LoadTarget, run: (target: LoadTarget) => Promise<T>): Promise<T> {
  try {
    return await run(target);
  } finally {
    target.agent.destroy();
  }
}

/** CPU each side used during the measured window, and what else ran on its core: tells which side was the limit. */
interface CpuShares {
  readonly tollgatePercent: number;
  readonly benchPercent: number;
  readonly serviceCore: CoreShare;
  readonly benchCore: CoreShare;
}

function createCpuProbe(tollgate: TollgateProcess, sink: Sink): WindowProbe & { shares(): CpuShares; sinkRequests(): number } {
  const meter = createWindowMeter(
    () => ({ tollgate: tollgate.cpuSeconds(), bench: ownCpuSeconds(), sink: sink.viaTollgate.requests }),
    new Map([
      [SERVICE_CORE, ['tollgate'] as const],
      [BENCH_CORE, ['bench'] as const],
    ]),
  );
  return {
    begin: meter.begin,
    end: meter.end,
    shares: () => {
      const { seconds, growth, cores } = meter.window();
      return {
        tollgatePercent: (growth.tollgate / seconds) * 100,
        benchPercent: (growth.bench / seconds) * 100,
        serviceCore: cores.get(SERVICE_CORE)!,
        benchCore: cores.get(BENCH_CORE)!,
      };
    },
    sinkRequests: () => meter.window().growth.sink,
  };
}

/**
 * Tollgate answers 200 only after the exporter delivered, so every 200 the client saw must
 * have reached the sink. A throughput built on lost data would be a lie.
 */
function checkEveryAcknowledgedRequestArrived(m: Measurements, sink: Sink): void {
  const acknowledged = m.saturation.completedTotal + m.viaTollgate.completedTotal;
  if (sink.viaTollgate.requests < acknowledged) {
    throw new Error(`e2e-http: client saw ${acknowledged} acknowledgements, sink received only ${sink.viaTollgate.requests} requests`);
  }
}

export function describeFailures(result: LoadResult): string {
  if (result.failures.size === 0) return 'none';
  return [...result.failures].map(([status, count]) => `${count}× ${status === 0 ? 'network error' : `HTTP ${status}`}`).join(', ');
}

/** Median over one-second slices: robust to a GC pause or a hiccup in one slice. */
function pointsPerSecond(m: Measurements): number {
  return median(m.saturation.completedPerSecond) * m.points;
}

function printE2eTables(m: Measurements): void {
  const requestsPerSecond = m.saturation.completed / m.saturation.windowSeconds;
  printTable(
    `e2e-http saturation (closed loop, ${CONCURRENCY} connections, ${m.saturation.windowSeconds} s)`,
    ['figure', 'value'],
    [
      ['data points/s (median of 1-s slices)', formatInteger(pointsPerSecond(m))],
      ['data points/s (whole window)', formatInteger(requestsPerSecond * m.points)],
      ['data points/s (arrived at sink)', formatInteger((m.sinkRequestsInWindow / m.saturation.windowSeconds) * m.points)],
      ['requests/s', formatFixed(requestsPerSecond, 1)],
      ['MB/s in (= MB/s out)', formatFixed(toMegabytes(requestsPerSecond * m.requestBytes), 1)],
      ['client latency p50 / p99 (ms)', `${formatFixed(percentile(m.saturation.latenciesMs, 50), 2)} / ${formatFixed(percentile(m.saturation.latenciesMs, 99), 2)}`],
      [`Tollgate CPU (% of core ${SERVICE_CORE})`, formatFixed(m.saturationCpu.tollgatePercent, 0)],
      [`load generator + sink CPU (% of core ${BENCH_CORE})`, formatFixed(m.saturationCpu.benchPercent, 0)],
      [`core ${SERVICE_CORE} busy / other processes (%)`, coreShareText(m.saturationCpu.serviceCore)],
      [`core ${BENCH_CORE} busy / other processes (%)`, coreShareText(m.saturationCpu.benchCore)],
      ['failed requests', describeFailures(m.saturation)],
      ['requests edited on the way (whole run)', `${formatInteger(m.changedAtSink)} of ${formatInteger(m.arrivedAtSink)}`],
    ],
  );
  const latencyRow = (name: string, result: LoadResult): string[] => [
    name,
    formatFixed(percentile(result.latenciesMs, 50), 2),
    formatFixed(percentile(result.latenciesMs, 99), 2),
    formatInteger(result.completed),
    describeFailures(result),
  ];
  const added = (p: number): string => formatFixed(percentile(m.viaTollgate.latenciesMs, p) - percentile(m.baseline.latenciesMs, p), 2);
  printTable(
    `e2e-http latency (open loop at ${formatFixed(m.pacedRate, 0)} requests/s = ${LATENCY_LOAD_FRACTION * 100} % of saturation; ms from when each request was due)`,
    ['path', 'p50 ms', 'p99 ms', 'requests', 'failed'],
    [latencyRow('client → sink (baseline)', m.baseline), latencyRow('client → Tollgate → sink', m.viaTollgate), ['added by Tollgate', added(50), added(99), '', '']],
  );
  printTable(
    'e2e-http memory (Tollgate process)',
    ['figure', 'MiB'],
    [
      ['idle RSS after start (VmRSS)', formatFixed(toMebibytes(m.idleRssBytes), 1)],
      ['peak RSS over the run (VmHWM)', formatFixed(toMebibytes(m.peakRssBytes), 1)],
    ],
  );
}

function coreShareText(share: CoreShare): string {
  return canPin() ? `${formatFixed(share.busyPercent, 0)} / ${formatFixed(share.otherPercent, 0)}` : 'n/a (unpinned)';
}

/** Interference this large makes the throughput figure a measurement of the neighbours. */
const INTERFERENCE_WARNING_PERCENT = 10;

export function warnAboutInterference(cpu: Pick<CpuShares, 'serviceCore' | 'benchCore'>, window = 'the saturation window'): void {
  if (!canPin()) return;
  for (const [core, share] of [
    [SERVICE_CORE, cpu.serviceCore],
    [BENCH_CORE, cpu.benchCore],
  ] as const) {
    if (share.otherPercent > INTERFERENCE_WARNING_PERCENT) {
      console.log(`WARNING: other processes used ${formatFixed(share.otherPercent, 0)} % of core ${core} during ${window}; the throughput figure is low. Re-run on a quiet machine.`);
    }
  }
}

function printTollgateStderr(tollgate: TollgateProcess): void {
  const text = tollgate.stderr().trim();
  if (text !== '') console.log(`\n[e2e-http] Tollgate wrote on stderr (last lines):\n${text.split('\n').slice(-10).join('\n')}`);
}

function figures(m: Measurements, suite: string): Figure[] {
  // Only the pipeline's own run carries issue 2's targets; governed runs report their cost.
  const withTarget = suite === SUITE;
  const throughput = pointsPerSecond(m);
  const addedP50 = percentile(m.viaTollgate.latenciesMs, 50) - percentile(m.baseline.latenciesMs, 50);
  const addedP99 = percentile(m.viaTollgate.latenciesMs, 99) - percentile(m.baseline.latenciesMs, 99);
  const mib = (bytes: number): string => `${formatFixed(toMebibytes(bytes), 1)} MiB`;
  return [
    {
      suite,
      name: 'data points/s end to end',
      value: throughput,
      display: formatInteger(throughput),
      target: withTarget ? { op: '>=', value: TARGET_POINTS_PER_SECOND, text: `≥ ${formatInteger(TARGET_POINTS_PER_SECOND)}` } : undefined,
    },
    { suite, name: 'added latency p50 at 50 % load', value: addedP50, display: `${formatFixed(addedP50, 2)} ms` },
    { suite, name: 'added latency p99 at 50 % load', value: addedP99, display: `${formatFixed(addedP99, 2)} ms` },
    {
      suite,
      name: 'idle RSS',
      value: m.idleRssBytes,
      display: mib(m.idleRssBytes),
      target: withTarget ? { op: '<', value: TARGET_IDLE_RSS_BYTES, text: '< 100 MiB' } : undefined,
    },
    { suite, name: 'peak RSS', value: m.peakRssBytes, display: mib(m.peakRssBytes) },
  ];
}

/**
 * The usage store writes synchronously on Tollgate's event loop: how many flushes ran during the
 * run and how long they held it, from Tollgate's own histogram. The longest is bounded by the
 * first bucket that holds every flush.
 */
async function printStoreFlushes(tollgate: TollgateProcess): Promise<void> {
  const text = await (await fetch(`${tollgate.apiUrl}/metrics`)).text();
  const value = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  const count = value('tollgate_usage_store_flush_duration_seconds_count');
  if (!(count > 0)) {
    console.log('[e2e-http] usage store: no flush wrote rows during the run');
    return;
  }
  const mean = (value('tollgate_usage_store_flush_duration_seconds_sum') / count) * 1000;
  const buckets = [...text.matchAll(/^tollgate_usage_store_flush_duration_seconds_bucket\{le="([^"]+)"\} (\S+)$/gm)].map((m) => ({ le: Number(m[1]), n: Number(m[2]) }));
  const bound = buckets.find((b) => b.n >= count)?.le ?? Infinity;
  console.log(`[e2e-http] usage store: ${count} flushes, mean ${formatFixed(mean, 2)} ms, longest ≤ ${formatFixed(bound * 1000, 2)} ms`);
}
