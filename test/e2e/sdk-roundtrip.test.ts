// The flagship integration test, with real parts only: an application instrumented with the real
// @opentelemetry/sdk-node (OTLP/HTTP protobuf exporters for traces, metrics and logs, plus the
// OTLP/gRPC trace exporter) sends to a running `tollgate serve` child process, which forwards to
// a real OTLP/HTTP downstream. The downstream must receive exactly what the SDK produced,
// compared field by field against canonical objects built from the SDK's in-memory data.
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { decodeRequest } from '../../collector/otlp/object-codec.js';
import type { OtlpObject, OtlpValue } from '../../collector/otlp/object-codec.js';
import { REQUEST_MESSAGE } from '../../collector/otlp/schema.js';
import type { Signal } from '../../collector/otlp/signal.js';
import { oracleDecode } from '../collector/otlp/oracle.js';
import { startDownstream } from '../support/downstream.js';
import { parsePrometheus, sampleSum } from '../support/prometheus.js';
import type { Downstream } from '../support/downstream.js';
import { startTollgate } from '../support/tollgate-process.js';
import type { TollgateProcess } from '../support/tollgate-process.js';
import { EXPORT_SUCCESS, stopE2eParts, withTimeout, KNOWN_METRICS, LINKED_CONTEXT, LOG_SCOPE, PRECISE_TIMES, produceTelemetry, REMOTE_PARENT, SCOPE, startSdkApp, WORKLOAD } from '../support/sdk-app.js';
import type { SdkApp } from '../support/sdk-app.js';
import { dataPointCount, expectedLogItems, expectedMetricItems, expectedSpanItems, flattenRequests, nanos } from '../support/sdk-expected.js';
import type { FlatItem } from '../support/sdk-expected.js';

const RESOURCE_SCHEMA_URL = 'https://opentelemetry.io/schemas/1.30.0';

// ─── Small readers over canonical objects ──────────────────────────────────────────────────────

function valueIn(list: OtlpValue | undefined, key: string): OtlpObject | undefined {
  if (!Array.isArray(list)) return undefined;
  const found = (list as OtlpObject[]).find((kv) => kv.key === key);
  return found?.value as OtlpObject | undefined;
}

/** The AnyValue of attribute `key` of a span, event, data point, log record or resource. */
function attributeOf(owner: OtlpValue | undefined, key: string): OtlpObject | undefined {
  return valueIn((owner as OtlpObject | undefined)?.attributes, key);
}

/** The AnyValue under `key` in a kvlist_value. */
function entryOf(kvlist: OtlpValue | undefined, key: string): OtlpObject | undefined {
  return valueIn((kvlist as OtlpObject | undefined)?.values, key);
}

/** A canonical value for assertion messages. */
function label(value: OtlpValue | undefined): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function byName(items: readonly FlatItem[], name: string): FlatItem[] {
  return items.filter((flat) => flat.item.name === name);
}

// ─── The test ──────────────────────────────────────────────────────────────────────────────────

/** How the data is compressed on each hop. */
interface Variant {
  readonly name: string;
  /** The SDK's OTLP exporters → Tollgate (HTTP body and gRPC message compression). */
  readonly sdk: 'gzip' | 'none';
  /** Tollgate's otlphttp exporter → the downstream. */
  readonly tollgate: 'gzip' | 'none';
}

const VARIANTS: readonly Variant[] = [
  { name: 'uncompressed', sdk: 'none', tollgate: 'none' },
  { name: 'gzip on both hops', sdk: 'gzip', tollgate: 'gzip' },
];

describe('real OpenTelemetry SDK → tollgate serve → OTLP/HTTP downstream', () => {
  let downstream: Downstream | undefined;
  let tollgate: TollgateProcess | undefined;
  let app: SdkApp | undefined;

  afterEach(async () => {
    await stopE2eParts({ app, tollgate, downstream });
    [app, tollgate, downstream] = [undefined, undefined, undefined];
  });

  for (const variant of VARIANTS) {
    test(`${variant.name}: the downstream receives every span (twice: HTTP and gRPC), data point and log record exactly as the SDK produced them`, { timeout: 30_000 }, async () => {
      await roundtrip(variant);
    });
  }

  async function roundtrip(variant: Variant): Promise<void> {
    downstream = await startDownstream();
    tollgate = await startTollgate(`exporters:\n  otlphttp:\n    endpoint: ${downstream.url}\n    compression: ${variant.tollgate}\n`);
    const runId = randomUUID();
    app = startSdkApp({
      http: tollgate.http,
      grpc: tollgate.grpc,
      resourceAttributes: { 'service.name': 'checkout', 'service.namespace': 'shop', 'deployment.environment.name': 'e2e', 'tollgate.e2e.run': runId },
      resourceSchemaUrl: RESOURCE_SCHEMA_URL,
      compression: variant.sdk,
    });

    produceTelemetry();
    const produced = await app.snapshot();
    // Flushes the batch processors and the metric reader; every export gets Tollgate's answer,
    // and Tollgate answers only once its exporter delivered the data downstream.
    await withTimeout(app.shutdown(), 20_000, 'SDK shutdown');

    // ── What the SDK produced and how its exports ended ──
    assert.equal(produced.spans.length, WORKLOAD.spans, 'spans in the in-memory exporter');
    assert.equal(produced.logs.length, WORKLOAD.logs, 'log records in the in-memory exporter');
    assert.equal(app.metricExports.length, 1, 'metric exports (only the shutdown flush)');
    const dataPoints = dataPointCount(app.metricExports);
    assert.equal(dataPoints, 6, 'data points: 2 counter + 1 histogram + 1 up-down counter + 2 gauge');
    const failedExports = app.exports.filter((e) => e.code !== EXPORT_SUCCESS);
    assert.deepEqual(failedExports, [], `failed SDK exports; Tollgate stderr:\n${tollgate.stderr()}`);
    const exportedItems = (exporter: string): number => app!.exports.filter((e) => e.exporter === exporter).reduce((n, e) => n + e.items, 0);
    assert.equal(exportedItems('traces/http'), WORKLOAD.spans, 'spans exported over OTLP/HTTP');
    assert.equal(exportedItems('traces/grpc'), WORKLOAD.spans, 'spans exported over OTLP/gRPC');
    assert.equal(exportedItems('logs/http'), WORKLOAD.logs, 'log records exported over OTLP/HTTP');
    assert.equal(exportedItems('metrics/http'), dataPoints, 'data points exported over OTLP/HTTP');
    assert.deepEqual(app.diagnostics, [], 'SDK diagnostics (warnings and errors)');

    // ── Downstream: every request answered 200 and decodable ──
    assert.deepEqual(
      downstream.requests.filter((r) => r.status !== 200 || r.headers['content-type'] !== 'application/x-protobuf'),
      [],
      'downstream requests that were not 200 application/x-protobuf',
    );
    const encodings = new Set(downstream.requests.map((r) => r.headers['content-encoding'] ?? 'none'));
    assert.deepEqual([...encodings], [variant.tollgate === 'gzip' ? 'gzip' : 'none'], 'content-encoding of the downstream requests');
    // The comparisons below read the downstream's bytes with Tollgate's object codec; check that
    // an independent protobuf decoder (protobufjs code generated from opentelemetry-proto) reads
    // the very same bytes identically, so a codec bug cannot hide a forwarding bug.
    for (const request of downstream.requests) {
      assert.deepStrictEqual(decodeRequest(request.signal, request.body), oracleDecode(REQUEST_MESSAGE[request.signal], request.body), `${request.signal} request decoded by the oracle`);
    }
    const received = (signal: Signal): FlatItem[] => flattenRequests(signal, downstream!.accepted(signal));

    // ── Traces: each span exactly twice, each copy equal to the SDK's span ──
    const spans = received('traces');
    const expectedSpans = expectedSpanItems(produced.spans);
    assert.equal(new Set(expectedSpans.map((s) => s.item.spanId)).size, WORKLOAD.spans, 'span ids are distinct');
    assert.equal(spans.length, 2 * WORKLOAD.spans, 'spans received downstream (HTTP + gRPC copies)');
    for (const expected of expectedSpans) {
      const copies = spans.filter((s) => s.item.spanId === expected.item.spanId);
      assert.equal(copies.length, 2, `copies of span "${label(expected.item.name)}"`);
      for (const copy of copies) assert.deepStrictEqual(copy, expected, `span "${label(expected.item.name)}" as received downstream`);
    }

    // Literal checks that do not depend on the conversion above.
    const span = (name: string): OtlpObject => {
      const found = byName(spans, name);
      assert.equal(found.length, 2, `received copies of span "${name}"`);
      return found[0].item;
    };
    const root = span('GET /checkout');
    const query = span('SELECT orders');
    const consumer = span('orders process');
    const job = span('nightly job');
    assert.equal(root.kind, 2, 'SERVER');
    assert.equal(root.parentSpanId, undefined, 'the root span has no parent');
    assert.deepEqual(root.status, {}, 'unset status');
    assert.equal(query.kind, 3, 'CLIENT');
    assert.equal(query.parentSpanId, root.spanId, 'the query span is a child of the server span');
    assert.equal(query.traceId, root.traceId);
    assert.deepEqual(query.status, { code: 2, message: 'connection reset by peer' });
    assert.equal((query.events as OtlpObject[])[0].name, 'exception');
    assert.deepEqual(attributeOf((query.events as OtlpObject[])[0], 'exception.type'), { stringValue: 'TypeError' });
    const [link] = query.links as OtlpObject[];
    assert.deepEqual(
      { traceId: link.traceId, spanId: link.spanId, traceState: link.traceState, flags: link.flags },
      { traceId: LINKED_CONTEXT.traceId, spanId: LINKED_CONTEXT.spanId, traceState: 'vendor=opaque', flags: 0x300 },
    );
    assert.equal(span('orders publish').kind, 4, 'PRODUCER');
    assert.deepEqual(span('orders publish').status, { code: 1 });
    assert.equal(span('render receipt').kind, 1, 'INTERNAL');
    assert.equal(consumer.kind, 5, 'CONSUMER');
    assert.equal(consumer.traceId, REMOTE_PARENT.traceId);
    assert.equal(consumer.parentSpanId, REMOTE_PARENT.spanId);
    assert.equal(consumer.traceState, 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7');
    assert.equal(consumer.flags, 0x301, 'sampled, parent known to be remote');
    assert.equal(root.flags, 0x101, 'sampled, parent known not to be remote');
    assert.equal(job.startTimeUnixNano, '1700000000123456789', 'start time to the nanosecond (beyond 2^53)');
    assert.equal(job.endTimeUnixNano, '1700000002987654321');
    assert.equal((job.events as OtlpObject[])[0].timeUnixNano, '1700000001000000001');
    assert.deepEqual(attributeOf(root, 'attr.string'), { stringValue: 'checkout' });
    assert.deepEqual(attributeOf(root, 'attr.string.empty'), { stringValue: '' });
    assert.deepEqual(attributeOf(root, 'attr.int.zero'), { intValue: '0' });
    assert.deepEqual(attributeOf(root, 'attr.int.negative'), { intValue: '-42' });
    assert.deepEqual(attributeOf(root, 'attr.int.large'), { intValue: '1152921504606846976' });
    assert.deepEqual(attributeOf(root, 'attr.double'), { doubleValue: 3.25 });
    assert.deepEqual(attributeOf(root, 'attr.double.infinity'), { doubleValue: 'Infinity' });
    assert.deepEqual(attributeOf(root, 'attr.bool.false'), { boolValue: false });
    assert.deepEqual(attributeOf(root, 'attr.string.array'), { arrayValue: { values: [{ stringValue: 'a' }, { stringValue: 'b' }, { stringValue: '' }] } });
    const first = spans[0];
    assert.deepEqual(attributeOf(first.resource, 'service.name'), { stringValue: 'checkout' });
    assert.deepEqual(attributeOf(first.resource, 'service.namespace'), { stringValue: 'shop' });
    assert.deepEqual(attributeOf(first.resource, 'tollgate.e2e.run'), { stringValue: runId });
    assert.equal(first.resourceSchemaUrl, RESOURCE_SCHEMA_URL);
    assert.deepEqual(first.scope, { name: SCOPE.name, version: SCOPE.version });
    assert.equal(first.scopeSchemaUrl, SCOPE.schemaUrl);

    // ── Metrics: each metric once, equal to what the reader exported ──
    const metrics = received('metrics');
    const expectedMetrics = expectedMetricItems(app.metricExports);
    assert.equal(metrics.length, expectedMetrics.length, 'metrics received downstream');
    for (const expected of expectedMetrics) {
      const copies = byName(metrics, label(expected.item.name));
      assert.equal(copies.length, 1, `copies of metric "${label(expected.item.name)}"`);
      assert.deepStrictEqual(copies[0], expected, `metric "${label(expected.item.name)}" as received downstream`);
    }
    const metric = (name: string): OtlpObject => byName(metrics, name)[0].item;
    const points = (data: OtlpValue): OtlpObject[] => (data as OtlpObject).dataPoints as OtlpObject[];
    const { counter, histogram, upDownCounter, gauge } = KNOWN_METRICS;
    const requests = metric(counter.name);
    assert.deepEqual({ unit: requests.unit, description: requests.description }, { unit: counter.unit, description: counter.description });
    assert.equal((requests.sum as OtlpObject).aggregationTemporality, 2, 'CUMULATIVE');
    assert.equal((requests.sum as OtlpObject).isMonotonic, true);
    for (const point of counter.points) {
      const found = points(requests.sum).filter((p) => Object.entries(point.attributes).every(([k, v]) => attributeOf(p, k)?.stringValue === v));
      assert.equal(found.length, 1, `counter point ${JSON.stringify(point.attributes)}`);
      assert.equal(found[0].asInt, point.value);
      assert.ok(BigInt(found[0].startTimeUnixNano as string) <= BigInt(found[0].timeUnixNano as string), 'start ≤ time');
    }
    const latency = metric(histogram.name);
    const [hp] = points(latency.histogram);
    assert.equal((latency.histogram as OtlpObject).aggregationTemporality, 2);
    assert.deepEqual(
      { unit: latency.unit, bounds: hp.explicitBounds, buckets: hp.bucketCounts, count: hp.count, sum: hp.sum, min: hp.min, max: hp.max },
      { unit: histogram.unit, bounds: histogram.bounds, buckets: histogram.bucketCounts, count: histogram.count, sum: histogram.sum, min: histogram.min, max: histogram.max },
    );
    assert.deepEqual(attributeOf(hp, 'http.route'), { stringValue: '/checkout' });
    const depth = metric(upDownCounter.name);
    assert.equal((depth.sum as OtlpObject).isMonotonic, undefined, 'an up-down counter is not monotonic');
    assert.equal(points(depth.sum)[0].asDouble, upDownCounter.value);
    const temperature = metric(gauge.name);
    assert.deepEqual(
      points(temperature.gauge).map((p) => [attributeOf(p, 'room')?.stringValue, p.asDouble]).sort(),
      gauge.points.map((p) => [p.attributes.room, p.value]).sort(),
    );

    // ── Logs: each record once, equal to the SDK's record ──
    const logs = received('logs');
    const expectedLogs = expectedLogItems(produced.logs);
    assert.equal(logs.length, WORKLOAD.logs, 'log records received downstream');
    const seqOf = (flat: FlatItem): OtlpValue | undefined => attributeOf(flat.item, 'log.seq')?.intValue;
    for (const expected of expectedLogs) {
      const copies = logs.filter((l) => seqOf(l) === seqOf(expected));
      assert.equal(copies.length, 1, `copies of log record ${label(seqOf(expected))}`);
      assert.deepStrictEqual(copies[0], expected, `log record ${label(seqOf(expected))} as received downstream`);
    }
    const log = (seq: number): OtlpObject => logs.find((l) => seqOf(l) === String(seq))!.item;
    assert.deepEqual(
      { severityNumber: log(1).severityNumber, severityText: log(1).severityText, body: log(1).body, traceId: log(1).traceId },
      { severityNumber: 9, severityText: 'INFO', body: { stringValue: 'service started' }, traceId: undefined },
    );
    assert.equal(log(2).severityNumber, 17);
    assert.equal(log(2).traceId, query.traceId, 'emitted inside the query span');
    assert.equal(log(2).spanId, query.spanId);
    assert.equal(log(2).flags, 1);
    const body = log(2).body as OtlpObject;
    assert.deepEqual(entryOf(body.kvlistValue, 'raw'), { bytesValue: Buffer.from([0, 1, 2, 0xfe, 0xff]).toString('base64') });
    assert.deepEqual(entryOf(body.kvlistValue, 'detail'), {
      kvlistValue: { values: [{ key: 'attempt', value: { intValue: '3' } }, { key: 'host', value: { stringValue: 'db-1' } }, { key: 'empty', value: { stringValue: '' } }] },
    });
    assert.equal(log(3).spanId, root.spanId, 'emitted inside the server span');
    assert.equal(log(3).body, undefined);
    assert.deepEqual(
      { spanId: log(4).spanId, eventName: log(4).eventName, time: log(4).timeUnixNano, body: log(4).body, severityNumber: log(4).severityNumber },
      { spanId: consumer.spanId, eventName: 'order.retried', time: nanos(PRECISE_TIMES.log), body: { stringValue: '' }, severityNumber: 14 },
    );
    assert.deepEqual(logs[0].scope, { name: LOG_SCOPE.name, version: LOG_SCOPE.version });

    // ── Tollgate's self-metrics ──
    const response = await fetch(`http://${tollgate.api}/metrics`);
    assert.equal(response.status, 200);
    const samples = parsePrometheus(await response.text());
    const receiverItems = (signal: Signal, transport: string, outcome: string): number =>
      sampleSum(samples, 'tollgate_receiver_items_total', { signal, transport, outcome });
    assert.equal(receiverItems('traces', 'grpc', 'accepted'), WORKLOAD.spans, 'traces accepted over gRPC');
    assert.equal(receiverItems('traces', 'http', 'accepted'), WORKLOAD.spans, 'traces accepted over HTTP');
    assert.equal(receiverItems('metrics', 'http', 'accepted'), dataPoints, 'data points accepted over HTTP');
    assert.equal(receiverItems('logs', 'http', 'accepted'), WORKLOAD.logs, 'log records accepted over HTTP');
    assert.equal(sampleSum(samples, 'tollgate_receiver_items_total', {}), 2 * WORKLOAD.spans + dataPoints + WORKLOAD.logs, 'no item counted under another outcome');
    const exporterItems = (signal: Signal, outcome: string): number => sampleSum(samples, 'tollgate_exporter_items_total', { exporter: 'otlphttp', signal, outcome });
    assert.equal(exporterItems('traces', 'sent'), 2 * WORKLOAD.spans, 'spans sent downstream');
    assert.equal(exporterItems('metrics', 'sent'), dataPoints, 'data points sent downstream');
    assert.equal(exporterItems('logs', 'sent'), WORKLOAD.logs, 'log records sent downstream');
    assert.equal(sampleSum(samples, 'tollgate_exporter_items_total', {}), 2 * WORKLOAD.spans + dataPoints + WORKLOAD.logs, 'no item failed, busy or dropped');

    // ── A clean, graceful stop ──
    assert.equal(await tollgate.stop(), 0, 'tollgate exit code after SIGTERM');
    const problems = tollgate
      .stderr()
      .split('\n')
      .filter((line) => /"level":"(warn|error)"/.test(line));
    assert.deepEqual(problems, [], 'warnings or errors in the Tollgate log');
  }
});
