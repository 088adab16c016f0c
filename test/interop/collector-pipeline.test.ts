// Interop with the real OpenTelemetry Collector, end to end:
//
//   app (real OTel SDK) ──OTLP/HTTP + OTLP/gRPC──▶ collector "agent"
//       ──otlp_grpc (traces) / otlp_http (metrics, logs), gzip──▶ tollgate serve (drop policy)
//       ──otlphttp──▶ collector "backend" ──file exporter──▶ traces.json, metrics.json, logs.json
//
// What the backend collector wrote (OTLP/JSON, decoded and normalized) must equal what the SDK
// produced (built independently from its in-memory data by test/support/sdk-expected.ts) with
// exactly the edits the rules ask for: two attribute keys dropped, dropped_attributes_count
// raised by one on each span and log record that lost one, and the documented `th:0` on the
// error span the default keep-errors sampling rule keeps.
//
// The same comparison runs on a second path: app → tollgate serve → Kafka (Tollgate's kafka
// exporter, a real broker) → the collector's kafka receiver (otlp_proto) → file exporter, where
// the collector must also consume and commit every message Tollgate produced, compressed with
// Tollgate's default zstd.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import type { OtlpObject, OtlpValue } from '../../collector/otlp/object-codec.js';
import type { Signal } from '../../collector/otlp/signal.js';
import { COLLECTOR_BUILD_TIMEOUT_MS, collectorSkipReason, ensureCollectorBinary, OTLP_HTTP_RECEIVER_YAML, readFileExport, startCollector, waitUntil } from '../support/collector.js';
import type { CollectorProcess } from '../support/collector.js';
import { kafkaSkipReason, startKafkaBroker } from '../support/kafka-broker.js';
import { topicBatchCodecs } from './kafka-log-segments.js';
import { EXPORT_SUCCESS, produceTelemetry, startSdkApp, stopE2eParts, withTimeout, WORKLOAD } from '../support/sdk-app.js';
import type { SdkApp } from '../support/sdk-app.js';
import { dataPointCount, expectedLogItems, expectedMetricItems, expectedSpanItems, flattenRequests, sortItems, stableJson } from '../support/sdk-expected.js';
import type { FlatItem } from '../support/sdk-expected.js';
import { startTollgate } from '../support/tollgate-process.js';
import type { TollgateProcess } from '../support/tollgate-process.js';

/** Present in the workload: on the "SELECT orders" span and log record 2, and on the counter's points. */
const DROPPED_KEYS = ['db.system.name', 'http.request.method'] as const;

const RULES = `version: 1
mode: enforce
teams:
  # Tier critical keeps every span and log record and writes no sampling threshold: this test is
  # about the OTLP path and one attribute policy, not about sampling.
  - name: shop
    match:
      service.namespace: shop
    tier: critical
  - name: others
    tier: critical
attribute_policies:
  - name: interop-drop
    signals: [metrics, traces, logs]
    keys: [${DROPPED_KEYS.join(', ')}]
    action: drop
`;

/** opentelemetry-proto Status.StatusCode ERROR. */
const STATUS_ERROR = 2;

const SIGNALS: readonly Signal[] = ['traces', 'metrics', 'logs'];

/** The last collector: OTLP/HTTP in, one file per signal out (OTLP/JSON lines). */
const BACKEND_CONFIG = `
${OTLP_HTTP_RECEIVER_YAML}exporters:
${SIGNALS.map((s) => `  file/${s}:\n    path: {{dir}}/${s}.json\n    format: json\n    flush_interval: 100ms`).join('\n')}
service:
  pipelines:
${SIGNALS.map((s) => `    ${s}:\n      receivers: [otlp]\n      exporters: [file/${s}]`).join('\n')}
`;

/** The first collector: the app's agent. Traces go on to Tollgate over gRPC, metrics and logs over HTTP; both gzip. */
function agentConfig(tollgate: TollgateProcess): string {
  return `
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{{port:otlp_grpc}}
      http:
        endpoint: 127.0.0.1:{{port:otlp_http}}
exporters:
  otlp_grpc:
    endpoint: ${tollgate.grpc}
    compression: gzip
    tls:
      insecure: true
  otlp_http:
    endpoint: http://${tollgate.http}
    compression: gzip
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlp_grpc]
    metrics:
      receivers: [otlp]
      exporters: [otlp_http]
    logs:
      receivers: [otlp]
      exporters: [otlp_http]
`;
}

function attributesOf(owner: OtlpObject): OtlpObject[] {
  return (owner.attributes as OtlpObject[] | undefined) ?? [];
}

/**
 * What the drop policy must do to an item, written from the rules above and the OTLP data model:
 * the keys disappear wherever they are an item's (or a data point's) attribute, and spans and log
 * records, which have dropped_attributes_count, count each attribute removed.
 */
function afterDropPolicy(signal: Signal, flat: FlatItem): FlatItem {
  const dropped = new Set<string>(DROPPED_KEYS);
  const strip = (owner: OtlpObject): { owner: OtlpObject; removed: number } => {
    const kept = attributesOf(owner).filter((kv) => !dropped.has(kv.key as string));
    const removed = attributesOf(owner).length - kept.length;
    const copy: OtlpObject = { ...owner };
    if (kept.length > 0) copy.attributes = kept;
    else delete copy.attributes;
    return { owner: copy, removed };
  };
  if (signal === 'metrics') {
    const metric: OtlpObject = { ...flat.item };
    for (const kind of ['sum', 'gauge', 'histogram', 'exponentialHistogram', 'summary']) {
      const data = metric[kind] as OtlpObject | undefined;
      if (data === undefined) continue;
      metric[kind] = { ...data, dataPoints: ((data.dataPoints as OtlpObject[] | undefined) ?? []).map((p) => strip(p).owner) };
    }
    return { ...flat, item: metric };
  }
  const { owner, removed } = strip(flat.item);
  if (removed > 0) owner.droppedAttributesCount = Number(owner.droppedAttributesCount ?? 0) + removed;
  if (signal === 'traces' && (owner.status as OtlpObject | undefined)?.code === STATUS_ERROR) {
    // docs/sampling.md: a rules file without `sampling` gets the `keep-errors` rule, and a span a
    // keep rule kept "gets th:0 (adjusted count 1) when it had none". The workload's one error span has none.
    assert.equal(owner.traceState, undefined, 'the error span arrives without a tracestate');
    owner.traceState = 'ot=th:0';
  }
  return { ...flat, item: owner };
}

function keysIn(items: readonly FlatItem[]): Set<string> {
  const keys = new Set<string>();
  const visit = (value: OtlpValue | undefined): void => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (typeof value === 'object' && value !== null) {
      if (typeof value.key === 'string') keys.add(value.key);
      Object.values(value).forEach(visit);
    }
  };
  items.forEach((flat) => visit(flat.item));
  return keys;
}

/**
 * The collector's data model (pdata) has no "absent" log body: a record sent without one is
 * written back as `"body":{}`, an AnyValue with no value set, which OTLP reads as the same empty
 * value. Semantically equal, so compare it as absent.
 */
function withoutEmptyBody(flat: FlatItem): FlatItem {
  const body = flat.item.body;
  if (typeof body !== 'object' || body === null || Array.isArray(body) || Object.keys(body).length > 0) return flat;
  const item: OtlpObject = { ...flat.item };
  delete item.body;
  return { ...flat, item };
}

/** The items on each side without an equal partner on the other, as stable JSON: a readable diff of two multisets. */
function unmatched(actual: readonly FlatItem[], expected: readonly FlatItem[]): string {
  const remaining = actual.map((item) => stableJson(item));
  const missing: string[] = [];
  for (const item of expected) {
    const at = remaining.indexOf(stableJson(item));
    if (at >= 0) remaining.splice(at, 1);
    else missing.push(stableJson(item));
  }
  return `expected but not written:\n${missing.join('\n')}\nwritten but not expected:\n${remaining.join('\n')}`;
}

type Cleanups = Array<() => Promise<unknown>>;

async function startGovernedTollgate(exportersYaml: string, cleanups: Cleanups): Promise<TollgateProcess> {
  const rulesDir = mkdtempSync(join(tmpdir(), 'tollgate-interop-rules-'));
  cleanups.push(() => Promise.resolve(rmSync(rulesDir, { recursive: true, force: true })));
  const rulesPath = join(rulesDir, 'rules.yaml');
  writeFileSync(rulesPath, RULES);
  const tollgate = await startTollgate(`rules: ${rulesPath}\n${exportersYaml}`);
  cleanups.push(async () => {
    await tollgate.stop();
    rmSync(tollgate.dataDir, { recursive: true, force: true });
  });
  return tollgate;
}

/**
 * Runs the SDK workload against `http` / `grpc` (host:port) and returns what must arrive at the
 * end of the path: the SDK's own data (traces twice: over HTTP and over gRPC) after the policy.
 */
async function sendWorkload(http: string, grpc: string, cleanups: Cleanups): Promise<Record<Signal, FlatItem[]>> {
  let app: SdkApp | undefined = startSdkApp({
    http,
    grpc,
    resourceAttributes: { 'service.name': 'checkout', 'service.namespace': 'shop', 'deployment.environment.name': 'interop' },
    resourceSchemaUrl: 'https://opentelemetry.io/schemas/1.30.0',
  });
  cleanups.push(() => stopE2eParts({ app }));
  produceTelemetry();
  const produced = await app.snapshot();
  await withTimeout(app.shutdown(), 20_000, 'SDK shutdown');
  const metricExports = app.metricExports;
  assert.deepEqual(app.exports.filter((e) => e.code !== EXPORT_SUCCESS), [], 'every SDK export was accepted');
  app.dispose();
  app = undefined;

  const sent: Record<Signal, FlatItem[]> = {
    // The SDK sends every span twice: once over OTLP/HTTP, once over OTLP/gRPC.
    traces: [...expectedSpanItems(produced.spans), ...expectedSpanItems(produced.spans)],
    metrics: expectedMetricItems(metricExports),
    logs: expectedLogItems(produced.logs),
  };
  // The workload really carries the keys, so the comparison can tell a drop from a no-op.
  for (const signal of SIGNALS) {
    const present = DROPPED_KEYS.filter((key) => keysIn(sent[signal]).has(key));
    assert.ok(present.length > 0, `the ${signal} the app sent carry at least one of ${DROPPED_KEYS.join(', ')}`);
  }
  assert.equal(sent.traces.length, 2 * WORKLOAD.spans);
  assert.equal(sent.logs.length, WORKLOAD.logs);
  assert.equal(dataPointCount(metricExports), 6);
  return { traces: sent.traces.map((f) => afterDropPolicy('traces', f)), metrics: sent.metrics.map((f) => afterDropPolicy('metrics', f)), logs: sent.logs.map((f) => afterDropPolicy('logs', f)) };
}

/** Waits for the backend collector's files to hold every item, then compares them with `expected`. */
async function assertBackendWrote(backend: CollectorProcess, expected: Record<Signal, FlatItem[]>, context: () => string): Promise<void> {
  const written = (signal: Signal): FlatItem[] => flattenRequests(signal, readFileExport(signal, join(backend.dir, `${signal}.json`))).map(withoutEmptyBody);
  await waitUntil('the backend collector to write every span, metric and log record', () => SIGNALS.every((signal) => written(signal).length >= expected[signal].length), 45_000).catch(
    (error: Error) => {
      throw new Error(`${error.message}\nwritten: ${SIGNALS.map((s) => `${s} ${written(s).length}/${expected[s].length}`).join(', ')}\n${context()}\nbackend log:\n${backend.stderr().slice(-3000)}`);
    },
  );
  for (const signal of SIGNALS) {
    const actual = written(signal);
    assert.equal(actual.length, expected[signal].length, `${signal}: items written by the backend collector`);
    for (const key of DROPPED_KEYS) assert.ok(!keysIn(actual).has(key), `${signal}: "${key}" was dropped`);
    assert.deepStrictEqual(sortItems(actual), sortItems(expected[signal]), `${signal}: written by the backend collector = sent by the app after the drop policy\n${unmatched(actual, expected[signal])}`);
  }
}

/** Tollgate counted what it dropped: one attribute on one span (×2 copies), one on one log record, one on each of the counter's two points. */
async function assertDropsCounted(tollgate: TollgateProcess): Promise<void> {
  const text = await (await fetch(`http://${tollgate.api}/metrics`)).text();
  const dropped = [...text.matchAll(/^tollgate_attribute_actions_total\{([^}]*)\} (\S+)$/gm)].filter((m) => m[1].includes('action="drop"')).reduce((n, m) => n + Number(m[2]), 0);
  assert.equal(dropped, 2 + 1 + 2, `attribute drops counted by Tollgate:\n${text.split('\n').filter((l) => l.startsWith('tollgate_attribute_actions_total')).join('\n')}`);
}

function assertQuiet(name: string, collector: CollectorProcess): void {
  const problems = collector.logEntries().filter((entry) => entry.level === 'warn' || entry.level === 'error');
  assert.deepEqual(problems, [], `${name} collector warnings and errors`);
}

/** Skips are set on the tests, not the suites, so the run's summary counts them. */
const SKIP = collectorSkipReason();
const SKIP_KAFKA = SKIP ?? kafkaSkipReason();

describe('real SDK → collector → tollgate serve → collector → file exporter', () => {
  // A cold build takes minutes (CI builds it beforehand in .ci/setup-collector.sh); later runs reuse the cache.
  before(() => void (SKIP ?? ensureCollectorBinary()), { timeout: COLLECTOR_BUILD_TIMEOUT_MS });
  const cleanups: Cleanups = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  test('the last collector writes what the app sent, minus exactly what the drop policy removed', { skip: SKIP, timeout: 120_000 }, async () => {
    const backend = await startCollector({ config: BACKEND_CONFIG });
    cleanups.push(() => backend.remove());
    const tollgate = await startGovernedTollgate(`exporters:\n  otlphttp:\n    endpoint: http://127.0.0.1:${backend.port('otlp_http')}\n    compression: gzip\n`, cleanups);
    const agent = await startCollector({ config: agentConfig(tollgate) });
    cleanups.push(() => agent.remove());

    const expected = await sendWorkload(`127.0.0.1:${agent.port('otlp_http')}`, `127.0.0.1:${agent.port('otlp_grpc')}`, cleanups);
    await assertBackendWrote(backend, expected, () => `agent log:\n${agent.stderr().slice(-3000)}\ntollgate log:\n${tollgate.stderr().slice(-3000)}`);
    await assertDropsCounted(tollgate);
    assertQuiet('agent', agent);
    assertQuiet('backend', backend);
  });
});

const KAFKA_TOPICS: Readonly<Record<Signal, string>> = { traces: 'interop_spans', metrics: 'interop_metrics', logs: 'interop_logs' };
const KAFKA_GROUP = 'interop-collector';

/** The last collector reading Kafka: the kafka receiver (otlp_proto, the Collector's default encoding) → files. */
function kafkaBackendConfig(bootstrap: string): string {
  return `
receivers:
  kafka:
    brokers: [${bootstrap}]
    group_id: ${KAFKA_GROUP}
    initial_offset: earliest
${SIGNALS.map((s) => `    ${s}:\n      topics: [${KAFKA_TOPICS[s]}]\n      encoding: otlp_proto`).join('\n')}
exporters:
${SIGNALS.map((s) => `  file/${s}:\n    path: {{dir}}/${s}.json\n    format: json\n    flush_interval: 100ms`).join('\n')}
service:
  pipelines:
${SIGNALS.map((s) => `    ${s}:\n      receivers: [kafka]\n      exporters: [file/${s}]`).join('\n')}
`;
}

/** Messages in each partition (high watermarks) and how far the group committed, summed over the topics. */
async function kafkaProgress(bootstrap: string): Promise<{ produced: number; committed: number; perTopic: string }> {
  const admin = new Kafka({ brokers: [bootstrap], clientId: 'interop-probe', logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const topics = Object.values(KAFKA_TOPICS);
    let produced = 0;
    let committed = 0;
    const lines: string[] = [];
    const groupOffsets = await admin.fetchOffsets({ groupId: KAFKA_GROUP, topics });
    for (const topic of topics) {
      const high = (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0);
      const done = (groupOffsets.find((t) => t.topic === topic)?.partitions ?? []).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
      produced += high;
      committed += done;
      lines.push(`${topic}: ${done}/${high}`);
    }
    return { produced, committed, perTopic: lines.join(', ') };
  } finally {
    await admin.disconnect();
  }
}

describe('real SDK → tollgate serve → Kafka → collector kafka receiver → file exporter', () => {
  before(() => void (SKIP_KAFKA ?? ensureCollectorBinary()), { timeout: COLLECTOR_BUILD_TIMEOUT_MS });
  const cleanups: Cleanups = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  test('the collector decodes every message Tollgate produced, and writes what the app sent after the policy', { skip: SKIP_KAFKA, timeout: 240_000 }, async () => {
    const broker = await startKafkaBroker();
    cleanups.push(() => broker.stop());
    const topics = SIGNALS.map((s) => `      ${s}: ${KAFKA_TOPICS[s]}`).join('\n');
    const tollgate = await startGovernedTollgate(`exporters:\n  kafka:\n    brokers: [${broker.bootstrap}]\n    topics:\n${topics}\n`, cleanups);
    // Tollgate answers the SDK once the broker acknowledged, so the topics hold everything before the collector starts.
    const expected = await sendWorkload(tollgate.http, tollgate.grpc, cleanups);
    const before = await kafkaProgress(broker.bootstrap);
    assert.ok(before.produced >= SIGNALS.length, `Tollgate produced messages to every topic: ${before.perTopic}`);
    // Tollgate's default compression: the collector must decode zstd batches.
    for (const topic of Object.values(KAFKA_TOPICS)) assert.deepEqual(new Set(topicBatchCodecs(broker.dir, topic)), new Set(['zstd']), `${topic}: every batch zstd`);

    const backend = await startCollector({ config: kafkaBackendConfig(broker.bootstrap) });
    cleanups.push(() => backend.remove());
    await assertBackendWrote(backend, expected, () => `tollgate log:\n${tollgate.stderr().slice(-3000)}`);
    // Every message consumed and committed by the collector's group: none skipped or left undecoded.
    let progress = before;
    await waitUntil('the collector to commit every message', async () => {
      progress = await kafkaProgress(broker.bootstrap);
      return progress.committed === progress.produced;
    }, 20_000).catch((error: Error) => {
      throw new Error(`${error.message}: ${progress.perTopic}\n${backend.stderr().slice(-3000)}`);
    });
    assert.equal(progress.produced, before.produced, 'no message appeared after Tollgate acknowledged the SDK');
    await assertDropsCounted(tollgate);
    assertQuiet('backend', backend);
  });
});
