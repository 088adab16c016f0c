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

function collectorConfig(sinkUrl: string): string {
  return `
${OTLP_HTTP_RECEIVER_YAML}processors:
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
      processors: [attributes/metrics]
      exporters: [otlp_http]
    traces:
      receivers: [otlp]
      processors: [attributes/traces, probabilistic_sampler]
      exporters: [otlp_http]
`;
}

/** A service under test, whichever it is. */
interface Service {
  readonly name: 'Tollgate' | 'collector';
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
  readonly name: Service['name'];
  readonly workloads: Readonly<Record<Workload, WorkloadResult>>;
  readonly peakRssBytes: number;
  readonly arrivedAtSink: number;
}

const REQUESTS: Readonly<Record<Workload, { body: Uint8Array; items: number }>> = {
  metrics: { body: metricsRequest(1000), items: 1000 },
  traces: { body: tracesRequest(500), items: 500 },
};

async function startService(name: Service['name'], sink: Sink): Promise<Service> {
  if (name === 'Tollgate') {
    const tollgate = await startTollgate({ downstream: sink.url, rulesYaml: TOLLGATE_RULES });
    return {
      name,
      otlpHttpUrl: tollgate.otlpHttpUrl,
      memory: () => tollgate.memory(),
      cpuSeconds: () => tollgate.cpuSeconds(),
      stderr: () => tollgate.stderr(),
      stop: () => tollgate.stop(),
    };
  }
  const collector = await startCollector({ config: collectorConfig(sink.url), core: SERVICE_CORE, env: { GOMAXPROCS: '1' } });
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

async function measureService(name: Service['name']): Promise<ServiceResult> {
  const sink = await startSink(0);
  let service: Service | undefined;
  try {
    service = await startService(name, sink);
    await sleep(SETTLE_MS);
    const workloads = {} as Record<Workload, WorkloadResult>;
    for (const workload of WORKLOADS) workloads[workload] = await measureWorkload(service, sink, workload);
    const peakRssBytes = service.memory().peakRssBytes;
    // Both acknowledge only after delivery: a throughput built on requests that never arrived would be a lie.
    const acknowledged = WORKLOADS.reduce((n, w) => n + workloads[w].saturation.completedTotal + workloads[w].latency.completedTotal, 0);
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

function p99(result: WorkloadResult): number {
  return percentile(result.latency.latenciesMs, 99);
}

const UNIT: Readonly<Record<Workload, string>> = { metrics: 'data points/s', traces: 'spans/s' };

function otherLoad(cpu: WindowCpu): string {
  return canPin() ? `${formatFixed(cpu.serviceCoreOtherPercent, 0)} / ${formatFixed(cpu.benchCoreOtherPercent, 0)}` : 'n/a (unpinned)';
}

function printResults(tollgate: ServiceResult, collector: ServiceResult): void {
  const ratio = (a: number, b: number): string => `${formatFixed(a / b, 2)}×`;
  const rows: string[][] = [];
  for (const workload of WORKLOADS) {
    const [t, c] = [tollgate.workloads[workload], collector.workloads[workload]];
    rows.push([`${workload}: ${UNIT[workload]} at saturation`, formatInteger(itemsPerSecond(t)), formatInteger(itemsPerSecond(c)), ratio(itemsPerSecond(t), itemsPerSecond(c))]);
    rows.push([`${workload}: p99 ms at 50 % of own saturation`, formatFixed(p99(t), 2), formatFixed(p99(c), 2), ratio(p99(t), p99(c))]);
    rows.push([`${workload}: service CPU at saturation (% of core ${SERVICE_CORE})`, formatFixed(t.cpu.servicePercent, 0), formatFixed(c.cpu.servicePercent, 0), '']);
    rows.push([`${workload}: other processes on core ${SERVICE_CORE} / ${BENCH_CORE} (%)`, otherLoad(t.cpu), otherLoad(c.cpu), '']);
    rows.push([`${workload}: bytes out / bytes in per request`, formatFixed(t.bytesOutPerIn, 3), formatFixed(c.bytesOutPerIn, 3), '']);
    rows.push([`${workload}: failed requests (saturation / latency)`, `${describeFailures(t.saturation)} / ${describeFailures(t.latency)}`, `${describeFailures(c.saturation)} / ${describeFailures(c.latency)}`, '']);
  }
  rows.push(['peak RSS (VmHWM), MiB', formatFixed(toMebibytes(tollgate.peakRssBytes), 1), formatFixed(toMebibytes(collector.peakRssBytes), 1), ratio(tollgate.peakRssBytes, collector.peakRssBytes)]);
  printTable(`${SUITE}: same job, same load, one core each (collector GOMAXPROCS=1)`, ['figure', 'Tollgate', 'collector', 'Tollgate/collector'], rows);
}

function figures(tollgate: ServiceResult, collector: ServiceResult): Figure[] {
  const out: Figure[] = [];
  for (const workload of WORKLOADS) {
    const [t, c] = [tollgate.workloads[workload], collector.workloads[workload]];
    const throughput = itemsPerSecond(t) / itemsPerSecond(c);
    out.push({
      suite: SUITE,
      name: `${UNIT[workload]} per core, Tollgate/collector`,
      value: throughput,
      display: `${formatFixed(throughput, 2)}× (${formatInteger(itemsPerSecond(t))} vs ${formatInteger(itemsPerSecond(c))})`,
      target: { op: '>=', value: TARGET_RATIO, text: `≥ ${TARGET_RATIO}×` },
    });
    const latency = p99(t) / p99(c);
    out.push({ suite: SUITE, name: `${workload} p99 at 50 % load, Tollgate/collector`, value: latency, display: `${formatFixed(latency, 2)}× (${formatFixed(p99(t), 2)} vs ${formatFixed(p99(c), 2)} ms)` });
  }
  const rss = tollgate.peakRssBytes / collector.peakRssBytes;
  out.push({
    suite: SUITE,
    name: 'peak RSS, Tollgate/collector',
    value: rss,
    display: `${formatFixed(rss, 2)}× (${formatFixed(toMebibytes(tollgate.peakRssBytes), 1)} vs ${formatFixed(toMebibytes(collector.peakRssBytes), 1)} MiB)`,
  });
  return out;
}

export async function runCollectorSuite(): Promise<Figure[]> {
  const describe = (workload: Workload): string => `${REQUESTS[workload].items} ${workload === 'metrics' ? 'points' : 'spans'}, ${formatInteger(REQUESTS[workload].body.length)} bytes`;
  console.log(`\n[${SUITE}] requests: metrics ${describe('metrics')}; traces ${describe('traces')}; application/x-protobuf, keep-alive`);
  console.log(`[${SUITE}] job: drop ${DROPPED_KEYS.metrics.join(' + ')} from metric points, drop ${DROPPED_KEYS.traces.join(' + ')} from spans, sample traces at ${SAMPLING_PERCENT} %`);
  const tollgate = await measureService('Tollgate');
  const collector = await measureService('collector');
  printResults(tollgate, collector);
  return figures(tollgate, collector);
}
