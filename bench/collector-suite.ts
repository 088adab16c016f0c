import { setTimeout as sleep } from 'node:timers/promises';
import type { MemoryReading } from './tollgate-process.js';
import { startTollgate } from './tollgate-process.js';
import { OTLP_HTTP_RECEIVER_YAML, startCollector } from './collector-process.js';
import { describeFailures, withTarget } from './e2e-http-suite.js';
import type { LoadResult, WindowProbe } from './load.js';
import { createTarget, runClosedLoop, runPaced } from './load.js';
import { createCoreMeter, ownCpuSeconds } from './cpu-usage.js';
import { BENCH_CORE, canPin, SERVICE_CORE } from './machine.js';
import type { Figure } from './report.js';
import { printTable } from './report.js';
import { startSink } from './sink.js';
import type { Sink } from './sink.js';
import { formatFixed, formatInteger, median, percentile, toMebibytes } from './stats.js';
import { metricsRequest, tracesRequest } from './workloads.js';

/**
 * `vs-collector`: Tollgate and the OpenTelemetry Collector (the ocb build of
 * test/interop/builder-config.yaml) doing the same governance job, in turn, on the same load:
 *
 *   - metrics: the e2e-http request (1,000 points, 6–10 attributes) with two attribute keys
 *     dropped from every point;
 *   - traces: 500 spans a request, two attribute keys dropped and 25 % probability sampling.
 *
 * Each service runs alone on core 0 (the collector with GOMAXPROCS=1); the load generator and
 * the sink (bench/sink.ts, which only counts) share core 1. Both acknowledge a request only once
 * their exporter delivered it (the collector's sending queue is off, as Tollgate's exporter
 * answers the client after delivery), so the figures compare the same promise. Per workload:
 * saturation (closed loop), then p99 latency at 50 % of that service's own saturation (open loop).
 *
 * Tollgate merges the points that dropping the keys made one series; the collector's
 * `attributes` processor does not. A third run, "collector + merge", adds the transform
 * processor's `aggregate_on_attributes` on metrics, the collector's own way of doing that part.
 * Throughput per core is reported both per wall second at saturation and per CPU-second the
 * service used: the latter holds when a busy machine starves the load generator.
 */

const SUITE = 'vs-collector';
const CONCURRENCY = 8;
const SATURATION_WARMUP_MS = 2_000;
const SATURATION_MS = 8_000;
const LATENCY_LOAD_FRACTION = 0.5;
const LATENCY_WARMUP_MS = 1_000;
const LATENCY_MS = 6_000;
const PACED_MAX_SOCKETS = 32;
const SETTLE_MS = 500;
/** The goal for Tollgate's throughput per core relative to the collector's. */
const TARGET_RATIO = 1.5;
const SAMPLING_PERCENT = 25;

/** Dropped by both services: present on most metric points, and on every span. */
const DROPPED_KEYS = { metrics: ['user_id', 'request_id'], traces: ['client.address', 'user_agent.original'] } as const;

type Workload = 'metrics' | 'traces';
const WORKLOADS: readonly Workload[] = ['metrics', 'traces'];

const TOLLGATE_RULES = `version: 1
mode: enforce
teams:
  - name: shop
    match:
      service.namespace: shop
    tier: bench
  - name: others
    tier: bench
tiers:
  bench:
    trace_probability: ${SAMPLING_PERCENT / 100}
attribute_policies:
  - name: drop-metric-keys
    signals: [metrics]
    keys: [${DROPPED_KEYS.metrics.join(', ')}]
    action: drop
  - name: drop-span-keys
    signals: [traces]
    keys: [${DROPPED_KEYS.traces.join(', ')}]
    action: drop
# Probability sampling only, like the collector's probabilistic_sampler (no keep rules).
sampling:
  rules:
    - { name: sample-everything, action: sample }
`;

function deleteActions(keys: readonly string[]): string {
  return keys.map((key) => `      - { key: ${key}, action: delete }`).join('\n');
}

/**
 * The collector's `attributes` processor leaves points that dropping a key made equal as
 * duplicate series; `aggregate_on_attributes` (transform processor) merges them, as Tollgate
 * does: sums and histograms add, gauges keep the largest (OTTL has no "latest").
 */
const MERGE_PROCESSOR = `  transform/merge:
    error_mode: ignore
    metric_statements:
      - context: metric
        statements:
          - aggregate_on_attributes("sum") where type == METRIC_DATA_TYPE_SUM or type == METRIC_DATA_TYPE_HISTOGRAM
          - aggregate_on_attributes("max") where type == METRIC_DATA_TYPE_GAUGE
`;

function collectorConfig(sinkUrl: string, merge: boolean): string {
  return `
${OTLP_HTTP_RECEIVER_YAML}processors:
${merge ? MERGE_PROCESSOR : ''}
  attributes/metrics:
    actions:
${deleteActions(DROPPED_KEYS.metrics)}
  attributes/traces:
    actions:
${deleteActions(DROPPED_KEYS.traces)}
  probabilistic_sampler:
    sampling_percentage: ${SAMPLING_PERCENT}
exporters:
  otlp_http:
    endpoint: ${sinkUrl}
    compression: none
    sending_queue:
      enabled: false
    retry_on_failure:
      enabled: false
service:
  telemetry:
    logs:
      level: warn
  pipelines:
    metrics:
      receivers: [otlp]
      processors: [attributes/metrics${merge ? ', transform/merge' : ''}]
      exporters: [otlp_http]
    traces:
      receivers: [otlp]
      processors: [attributes/traces, probabilistic_sampler]
      exporters: [otlp_http]
`;
}

type ServiceName = 'Tollgate' | 'collector' | 'collector + merge';

/** What each service is measured on: merging only changes the metrics job. */
const SERVICE_WORKLOADS: Readonly<Record<ServiceName, readonly Workload[]>> = {
  Tollgate: WORKLOADS,
  collector: WORKLOADS,
  'collector + merge': ['metrics'],
};

/** A service under test, whichever it is. */
interface Service {
  readonly name: ServiceName;
  readonly otlpHttpUrl: string;
  memory(): MemoryReading;
  cpuSeconds(): number;
  stderr(): string;
  stop(): Promise<unknown>;
}

interface WorkloadResult {
  readonly itemsPerRequest: number;
  readonly saturation: LoadResult;
  readonly cpu: WindowCpu;
  /** Bytes the sink received per request, over bytes sent per request: shows that the job was done (keys dropped, spans sampled). */
  readonly bytesOutPerIn: number;
  readonly pacedRate: number;
  readonly latency: LoadResult;
}

interface ServiceResult {
  readonly name: ServiceName;
  readonly workloads: Readonly<Partial<Record<Workload, WorkloadResult>>>;
  readonly peakRssBytes: number;
  readonly arrivedAtSink: number;
}

const REQUESTS: Readonly<Record<Workload, { body: Uint8Array; items: number }>> = {
  metrics: { body: metricsRequest(1000), items: 1000 },
  traces: { body: tracesRequest(500), items: 500 },
};

async function startService(name: ServiceName, sink: Sink, profileDir: string | undefined): Promise<Service> {
  if (name === 'Tollgate') {
    const tollgate = await startTollgate({ downstream: sink.url, rulesYaml: TOLLGATE_RULES, profileDir });
    return {
      name,
      otlpHttpUrl: tollgate.otlpHttpUrl,
      memory: () => tollgate.memory(),
      cpuSeconds: () => tollgate.cpuSeconds(),
      stderr: () => tollgate.stderr(),
      stop: () => tollgate.stop(),
    };
  }
  const collector = await startCollector({ config: collectorConfig(sink.url, name === 'collector + merge'), core: SERVICE_CORE, env: { GOMAXPROCS: '1' } });
  return {
    name,
    otlpHttpUrl: `http://127.0.0.1:${collector.port('otlp_http')}`,
    memory: () => collector.memory(),
    cpuSeconds: () => collector.cpuSeconds(),
    stderr: () => collector.stderr(),
    stop: () => collector.remove(),
  };
}

/** CPU the service used in the measured window, and how much of each core other processes took meanwhile (a shared machine shows here). */
interface WindowCpu {
  readonly servicePercent: number;
  readonly serviceCoreOtherPercent: number;
  readonly benchCoreOtherPercent: number;
}

function cpuProbe(service: Service): WindowProbe & { result(): WindowCpu } {
  const serviceCore = createCoreMeter(SERVICE_CORE);
  const benchCore = createCoreMeter(BENCH_CORE);
  let begin = { at: 0, service: 0, bench: 0 };
  let result: WindowCpu | undefined;
  return {
    begin: () => {
      begin = { at: performance.now(), service: service.cpuSeconds(), bench: ownCpuSeconds() };
      serviceCore.begin();
      benchCore.begin();
    },
    end: () => {
      const serviceSeconds = service.cpuSeconds() - begin.service;
      result = {
        servicePercent: (serviceSeconds / ((performance.now() - begin.at) / 1000)) * 100,
        serviceCoreOtherPercent: serviceCore.end(serviceSeconds).otherPercent,
        benchCoreOtherPercent: benchCore.end(ownCpuSeconds() - begin.bench).otherPercent,
      };
    },
    result: () => {
      if (!result) throw new Error(`${SUITE}: the measured window never closed`);
      return result;
    },
  };
}

async function measureWorkload(service: Service, sink: Sink, workload: Workload): Promise<WorkloadResult> {
  const { body, items } = REQUESTS[workload];
  const sinkBefore = { ...sink.viaTollgate };
  const url = `${service.otlpHttpUrl}/v1/${workload}`;
  const probe = cpuProbe(service);
  console.log(`[${SUITE}] ${service.name}, ${workload}: saturation, ${CONCURRENCY} connections, ${SATURATION_WARMUP_MS / 1000} s warm-up + ${SATURATION_MS / 1000} s`);
  const saturation = await withTarget(createTarget(url, body, CONCURRENCY), (target) => runClosedLoop(target, CONCURRENCY, SATURATION_WARMUP_MS, SATURATION_MS, probe));
  const saturatedRate = saturation.completed / saturation.windowSeconds;
  if (saturatedRate === 0) throw new Error(`${SUITE}: ${service.name} completed no ${workload} request at saturation; failures ${describeFailures(saturation)}\n${service.stderr().slice(-3000)}`);
  const pacedRate = saturatedRate * LATENCY_LOAD_FRACTION;
  console.log(`[${SUITE}] ${service.name}, ${workload}: latency at ${formatFixed(pacedRate, 1)} requests/s`);
  await sleep(SETTLE_MS);
  const latency = await withTarget(createTarget(url, body, PACED_MAX_SOCKETS), (target) => runPaced(target, pacedRate, LATENCY_WARMUP_MS, LATENCY_MS));
  const arrived = { requests: sink.viaTollgate.requests - sinkBefore.requests, bytes: sink.viaTollgate.bytes - sinkBefore.bytes };
  return { itemsPerRequest: items, saturation, cpu: probe.result(), pacedRate, latency, bytesOutPerIn: arrived.bytes / arrived.requests / body.length };
}

async function measureService(name: ServiceName, profileDir: string | undefined): Promise<ServiceResult> {
  const sink = await startSink(0);
  let service: Service | undefined;
  try {
    service = await startService(name, sink, profileDir);
    await sleep(SETTLE_MS);
    const workloads: Partial<Record<Workload, WorkloadResult>> = {};
    const measured: WorkloadResult[] = [];
    for (const workload of SERVICE_WORKLOADS[name]) measured.push((workloads[workload] = await measureWorkload(service, sink, workload)));
    const peakRssBytes = service.memory().peakRssBytes;
    // All acknowledge only after delivery: a throughput built on requests that never arrived would be a lie.
    const acknowledged = measured.reduce((n, w) => n + w.saturation.completedTotal + w.latency.completedTotal, 0);
    if (sink.viaTollgate.requests < acknowledged) throw new Error(`${SUITE}: ${name} acknowledged ${acknowledged} requests, the sink received ${sink.viaTollgate.requests}`);
    return { name, workloads, peakRssBytes, arrivedAtSink: sink.viaTollgate.requests };
  } finally {
    await service?.stop();
    await sink.close();
  }
}

/** Items per second at saturation: median of the one-second slices, like the other suites. */
function itemsPerSecond(result: WorkloadResult): number {
  return median(result.saturation.completedPerSecond) * result.itemsPerRequest;
}

/**
 * Items per CPU-second the service used at saturation (whole window): "per core" even when the
 * load generator, starved on a busy machine, could not keep the service's core full.
 */
function itemsPerCpuSecond(result: WorkloadResult): number {
  const itemsPerWallSecond = (result.saturation.completed * result.itemsPerRequest) / result.saturation.windowSeconds;
  return itemsPerWallSecond / (result.cpu.servicePercent / 100);
}

function p99(result: WorkloadResult): number {
  return percentile(result.latency.latenciesMs, 99);
}

const UNIT: Readonly<Record<Workload, string>> = { metrics: 'data points/s', traces: 'spans/s' };
const CPU_UNIT: Readonly<Record<Workload, string>> = { metrics: 'data points per CPU-second', traces: 'spans per CPU-second' };

function otherLoad(cpu: WindowCpu): string {
  return canPin() ? `${formatFixed(cpu.serviceCoreOtherPercent, 0)} / ${formatFixed(cpu.benchCoreOtherPercent, 0)}` : 'n/a (unpinned)';
}

const ratio = (a: number, b: number): string => `${formatFixed(a / b, 2)}×`;

/** One row per figure: a cell per service (blank where it did not run the workload), then Tollgate over each collector. */
function printResults(tollgate: ServiceResult, collectors: readonly ServiceResult[]): void {
  const rows: string[][] = [];
  const row = (label: string, cell: (w: WorkloadResult) => string, workload: Workload, compare?: (w: WorkloadResult) => number): void => {
    const t = tollgate.workloads[workload];
    const cells = [tollgate, ...collectors].map((service) => {
      const result = service.workloads[workload];
      return result ? cell(result) : '';
    });
    const ratios = collectors.map((c) => {
      const result = c.workloads[workload];
      return compare && t && result ? ratio(compare(t), compare(result)) : '';
    });
    rows.push([`${workload}: ${label}`, ...cells, ...ratios]);
  };
  for (const workload of WORKLOADS) {
    row(`${UNIT[workload]} at saturation`, (w) => formatInteger(itemsPerSecond(w)), workload, itemsPerSecond);
    row(CPU_UNIT[workload], (w) => formatInteger(itemsPerCpuSecond(w)), workload, itemsPerCpuSecond);
    row('p99 ms at 50 % of own saturation', (w) => formatFixed(p99(w), 2), workload, p99);
    row(`service CPU at saturation (% of core ${SERVICE_CORE})`, (w) => formatFixed(w.cpu.servicePercent, 0), workload);
    row(`other processes on core ${SERVICE_CORE} / ${BENCH_CORE} (%)`, (w) => otherLoad(w.cpu), workload);
    row('bytes out / bytes in per request', (w) => formatFixed(w.bytesOutPerIn, 3), workload);
    row('failed requests (saturation / latency)', (w) => `${describeFailures(w.saturation)} / ${describeFailures(w.latency)}`, workload);
  }
  rows.push([
    'peak RSS (VmHWM), MiB',
    ...[tollgate, ...collectors].map((service) => formatFixed(toMebibytes(service.peakRssBytes), 1)),
    ...collectors.map((c) => ratio(tollgate.peakRssBytes, c.peakRssBytes)),
  ]);
  const headers = ['figure', tollgate.name, ...collectors.map((c) => c.name), ...collectors.map((c) => `Tollgate/${c.name}`)];
  printTable(`${SUITE}: same job, same load, one core each (collector GOMAXPROCS=1)`, headers, rows);
}

function figures(tollgate: ServiceResult, collectors: readonly ServiceResult[]): Figure[] {
  const out: Figure[] = [];
  for (const collector of collectors) {
    for (const workload of SERVICE_WORKLOADS[collector.name]) {
      const [t, c] = [tollgate.workloads[workload], collector.workloads[workload]];
      if (!t || !c) continue;
      const throughput = itemsPerCpuSecond(t) / itemsPerCpuSecond(c);
      out.push({
        suite: SUITE,
        name: `${CPU_UNIT[workload]}, Tollgate/${collector.name}`,
        value: throughput,
        display: `${formatFixed(throughput, 2)}× (${formatInteger(itemsPerCpuSecond(t))} vs ${formatInteger(itemsPerCpuSecond(c))})`,
        target: { op: '>=', value: TARGET_RATIO, text: `≥ ${TARGET_RATIO}×` },
      });
      const latency = p99(t) / p99(c);
      out.push({ suite: SUITE, name: `${workload} p99 at 50 % load, Tollgate/${collector.name}`, value: latency, display: `${formatFixed(latency, 2)}× (${formatFixed(p99(t), 2)} vs ${formatFixed(p99(c), 2)} ms)` });
    }
    const rss = tollgate.peakRssBytes / collector.peakRssBytes;
    out.push({
      suite: SUITE,
      name: `peak RSS, Tollgate/${collector.name}`,
      value: rss,
      display: `${formatFixed(rss, 2)}× (${formatFixed(toMebibytes(tollgate.peakRssBytes), 1)} vs ${formatFixed(toMebibytes(collector.peakRssBytes), 1)} MiB)`,
    });
  }
  return out;
}

/** `profileDir`: where Tollgate writes a V8 CPU profile of its whole run (both workloads). */
export async function runCollectorSuite(options: { readonly profileDir?: string } = {}): Promise<Figure[]> {
  const describe = (workload: Workload): string => `${REQUESTS[workload].items} ${workload === 'metrics' ? 'points' : 'spans'}, ${formatInteger(REQUESTS[workload].body.length)} bytes`;
  console.log(`\n[${SUITE}] requests: metrics ${describe('metrics')}; traces ${describe('traces')}; application/x-protobuf, keep-alive`);
  console.log(`[${SUITE}] job: drop ${DROPPED_KEYS.metrics.join(' + ')} from metric points, drop ${DROPPED_KEYS.traces.join(' + ')} from spans, sample traces at ${SAMPLING_PERCENT} %`);
  const tollgate = await measureService('Tollgate', options.profileDir);
  const collectors = [await measureService('collector', undefined), await measureService('collector + merge', undefined)];
  printResults(tollgate, collectors);
  return figures(tollgate, collectors);
}
