import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { scanRequest } from '../collector/otlp/scanner.js';
import { WireIndex } from '../collector/otlp/wire-index.js';
import type { KafkaBroker } from '../test/support/kafka-broker.js';
import { startKafkaBroker, topicMessageCount } from '../test/support/kafka-broker.js';
import type { CoreShare } from './cpu-usage.js';
import { createWindowMeter, ownCpuSeconds } from './cpu-usage.js';
import { describeFailures, NO_GOVERNANCE_RULES, warnAboutInterference, withTarget } from './e2e-http-suite.js';
import type { LoadResult, WindowProbe } from './load.js';
import { createTarget, runClosedLoop } from './load.js';
import { BENCH_CORE, canPin, SERVICE_CORE } from './machine.js';
import type { Figure } from './report.js';
import { printTable } from './report.js';
import { formatFixed, formatInteger, median, percentile, toMegabytes } from './stats.js';
import { readCpuSeconds, startTollgate } from './tollgate-process.js';
import type { TollgateProcess } from './tollgate-process.js';
import { metricsRequest } from './workloads.js';

/**
 * `kafka`: Tollgate with the Kafka exporter as its only exporter and no governance rules, fed
 * e2e-http-shaped metrics requests (1,000 points each, six seeds sent in turn, so a batch of
 * several requests is not one request repeated, which zstd's long window would compress away)
 * closed-loop at saturation, once per compression (zstd, the default, first).
 *
 * Tollgate runs on core 0; a real single-node broker (KRaft, the test harness's) runs on core 1
 * with the load generator, so the broker's work never lands on Tollgate's core. The per-core
 * figure is points accepted per CPU-second Tollgate itself used (all its threads, zlib's pool
 * included): it holds whether or not core 1 kept Tollgate saturated.
 *
 * Every figure is checked against the topic: the broker must hold at least one message per
 * acknowledged request (a 1,000-point request with one service.name is one message).
 */

const SUITE = 'kafka';
const CONCURRENCY = 8;
const WARMUP_MS = 2_000;
const MEASURE_MS = 10_000;
const TARGET_POINTS_PER_CORE_SECOND = 300_000;
const COMPRESSIONS = ['zstd', 'gzip', 'none'] as const;
type Compression = (typeof COMPRESSIONS)[number];

interface KafkaRun {
  readonly compression: Compression;
  readonly load: LoadResult;
  readonly cpu: CpuWindow;
  /** Messages on the topic after Tollgate stopped. */
  readonly messages: number;
  /** Bytes of the topic's log segments on the broker: what the records take after compression. */
  readonly storedBytes: number;
}

interface CpuWindow {
  readonly seconds: number;
  readonly tollgateSeconds: number;
  readonly brokerSeconds: number;
  readonly benchSeconds: number;
  readonly serviceCore: CoreShare;
  readonly benchCore: CoreShare;
}

/** Seeds of the requests sent in turn. */
const DISTINCT_SEEDS = [1, 2, 3, 4, 5, 6];

export async function runKafkaSuite(options: { readonly profileDir?: string } = {}): Promise<Figure[]> {
  const requests = DISTINCT_SEEDS.map((seed) => metricsRequest(1000, seed));
  const points = scanRequest(new WireIndex(), 'metrics', requests[0]).itemCount;
  if (requests.some((r) => scanRequest(new WireIndex(), 'metrics', r).itemCount !== points)) throw new Error(`${SUITE}: the requests differ in points`);
  const meanBytes = requests.reduce((sum, r) => sum + r.length, 0) / requests.length;
  console.log(`\n[${SUITE}] requests: ${requests.length} distinct, ${points} data points, ${formatInteger(meanBytes)} bytes on average; Tollgate: kafka exporter only, no governance rules`);
  console.log(`[${SUITE}] starting a single-node Kafka broker${canPin() ? ` on core ${BENCH_CORE}` : ''}`);
  // One partition: every request carries one service.name, so all messages share one key anyway.
  const broker = await startKafkaBroker({ partitions: 1, core: canPin() ? BENCH_CORE : undefined });
  console.log(`[${SUITE}] broker ready in ${formatFixed(broker.startMs / 1000, 1)} s (storage format ${formatFixed(broker.formatMs / 1000, 1)} s)`);
  try {
    const runs: KafkaRun[] = [];
    for (const compression of COMPRESSIONS) {
      runs.push(await runOne(broker, compression, requests, options.profileDir && join(options.profileDir, compression)));
    }
    printRuns(runs, points, meanBytes);
    return runs.flatMap((run) => figures(run, points));
  } finally {
    await broker.stop();
  }
}

function kafkaExporter(bootstrap: string, topic: string, compression: Compression): string {
  return `  kafka:\n    brokers: [${bootstrap}]\n    topics: { metrics: ${topic} }\n    compression: ${compression}\n`;
}

async function runOne(broker: KafkaBroker, compression: Compression, requests: readonly Uint8Array[], profileDir: string | undefined): Promise<KafkaRun> {
  const topic = `bench_metrics_${compression}`;
  console.log(`[${SUITE}] compression ${compression}: ${CONCURRENCY} connections, ${WARMUP_MS / 1000} s warm-up + ${MEASURE_MS / 1000} s, topic ${topic}`);
  const tollgate = await startTollgate({ exporters: kafkaExporter(broker.bootstrap, topic, compression), rulesYaml: NO_GOVERNANCE_RULES, profileDir });
  let load: LoadResult;
  let cpu: CpuWindow;
  try {
    const probe = createProbe(tollgate, broker);
    load = await withTarget(createTarget(`${tollgate.otlpHttpUrl}/v1/metrics`, requests, CONCURRENCY), (target) =>
      runClosedLoop(target, CONCURRENCY, WARMUP_MS, MEASURE_MS, probe),
    );
    cpu = probe.window();
    const stderr = tollgate.stderr().trim();
    if (stderr !== '') console.log(`[${SUITE}] Tollgate wrote on stderr (last lines):\n${stderr.split('\n').slice(-10).join('\n')}`);
  } finally {
    await tollgate.stop();
  }
  if (load.completed === 0) throw new Error(`${SUITE}: no request succeeded with compression ${compression}; failures ${describeFailures(load)}`);
  // Counted after Tollgate stopped, so nothing is still on its way.
  const messages = await topicMessageCount(broker.bootstrap, topic);
  if (messages < load.completedTotal) {
    throw new Error(`${SUITE}: ${load.completedTotal} requests were acknowledged, the topic ${topic} holds only ${messages} messages`);
  }
  return { compression, load, cpu, messages, storedBytes: topicBytes(broker.dir, topic) };
}

function createProbe(tollgate: TollgateProcess, broker: KafkaBroker): WindowProbe & { window(): CpuWindow } {
  const brokerPid = broker.pid;
  const meter = createWindowMeter(
    () => ({ tollgate: tollgate.cpuSeconds(), broker: brokerPid === undefined ? Number.NaN : readCpuSeconds(brokerPid), bench: ownCpuSeconds() }),
    new Map([
      [SERVICE_CORE, ['tollgate'] as const],
      [BENCH_CORE, ['broker', 'bench'] as const],
    ]),
  );
  return {
    begin: meter.begin,
    end: meter.end,
    window: () => {
      const { seconds, growth, cores } = meter.window();
      return {
        seconds,
        tollgateSeconds: growth.tollgate,
        brokerSeconds: growth.broker,
        benchSeconds: growth.bench,
        serviceCore: cores.get(SERVICE_CORE)!,
        benchCore: cores.get(BENCH_CORE)!,
      };
    },
  };
}

/** Sum of the topic's log segment files (every partition). */
function topicBytes(brokerDir: string, topic: string): number {
  const data = join(brokerDir, 'data');
  let bytes = 0;
  for (const partition of readdirSync(data).filter((name) => name.startsWith(`${topic}-`))) {
    for (const file of readdirSync(join(data, partition)).filter((name) => name.endsWith('.log'))) bytes += statSync(join(data, partition, file)).size;
  }
  return bytes;
}

/** Median over one-second slices, like the other suites' throughput figures. */
function pointsPerSecond(run: KafkaRun, points: number): number {
  return median(run.load.completedPerSecond) * points;
}

/** Points accepted in the window per CPU-second Tollgate used in it: what one core of Tollgate does. */
function pointsPerCpuSecond(run: KafkaRun, points: number): number {
  return (run.load.completed * points) / run.cpu.tollgateSeconds;
}

function printRuns(runs: readonly KafkaRun[], points: number, requestBytes: number): void {
  const share = (s: CoreShare): string => (canPin() ? `${formatFixed(s.busyPercent, 0)} / ${formatFixed(s.otherPercent, 0)}` : 'n/a (unpinned)');
  const rows: [string, (run: KafkaRun) => string][] = [
    ['data points/s accepted (median of 1-s slices)', (r) => formatInteger(pointsPerSecond(r, points))],
    ['data points/s accepted (whole window)', (r) => formatInteger((r.load.completed * points) / r.load.windowSeconds)],
    ['requests/s', (r) => formatFixed(r.load.completed / r.load.windowSeconds, 1)],
    ['MB/s in (uncompressed OTLP)', (r) => formatFixed(toMegabytes((r.load.completed * requestBytes) / r.load.windowSeconds), 1)],
    ['Tollgate CPU-seconds per second', (r) => formatFixed(r.cpu.tollgateSeconds / r.cpu.seconds, 2)],
    ['data points per Tollgate CPU-second', (r) => formatInteger(pointsPerCpuSecond(r, points))],
    ['broker CPU-seconds per second', (r) => formatFixed(r.cpu.brokerSeconds / r.cpu.seconds, 2)],
    ['load generator CPU-seconds per second', (r) => formatFixed(r.cpu.benchSeconds / r.cpu.seconds, 2)],
    [`core ${SERVICE_CORE} busy / other processes (%)`, (r) => share(r.cpu.serviceCore)],
    [`core ${BENCH_CORE} busy / other processes (%)`, (r) => share(r.cpu.benchCore)],
    ['client latency p50 / p99 (ms)', (r) => `${formatFixed(percentile(r.load.latenciesMs, 50), 1)} / ${formatFixed(percentile(r.load.latenciesMs, 99), 1)}`],
    ['failed requests', (r) => describeFailures(r.load)],
    ['messages on the topic / requests acknowledged', (r) => `${formatInteger(r.messages)} / ${formatInteger(r.load.completedTotal)}`],
    ['bytes stored on the broker per message', (r) => formatInteger(r.storedBytes / r.messages)],
  ];
  printTable(
    `${SUITE}: Kafka exporter at saturation (closed loop, ${CONCURRENCY} connections, ${MEASURE_MS / 1000} s; Tollgate on core ${SERVICE_CORE}, broker + load on core ${BENCH_CORE})`,
    ['figure', ...runs.map((run) => `compression ${run.compression}`)],
    rows.map(([name, value]) => [name, ...runs.map(value)]),
  );
  for (const run of runs) {
    warnAboutInterference(run.cpu, `the ${run.compression} run's window`);
    if (run.messages > run.load.completedTotal) {
      console.log(`[${SUITE}] compression ${run.compression}: ${run.messages - run.load.completedTotal} more messages than acknowledged requests (failed requests that reached the broker, or retried sends)`);
    }
  }
}

function figures(run: KafkaRun, points: number): Figure[] {
  const perSecond = pointsPerSecond(run, points);
  const perCore = pointsPerCpuSecond(run, points);
  const cpu = run.cpu.tollgateSeconds / run.cpu.seconds;
  return [
    { suite: SUITE, name: `data points/s accepted (${run.compression})`, value: perSecond, display: formatInteger(perSecond) },
    { suite: SUITE, name: `Tollgate CPU-s per s (${run.compression})`, value: cpu, display: formatFixed(cpu, 2) },
    {
      suite: SUITE,
      name: `data points per Tollgate CPU-second (${run.compression})`,
      value: perCore,
      display: formatInteger(perCore),
      target: { op: '>=', value: TARGET_POINTS_PER_CORE_SECOND, text: `≥ ${formatInteger(TARGET_POINTS_PER_CORE_SECOND)}` },
    },
  ];
}
