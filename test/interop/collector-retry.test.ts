// Interop with the real OpenTelemetry Collector as Tollgate's client:
//
//   test ──OTLP/HTTP──▶ collector ──otlp_http, gzip──▶ [tap] ──▶ tollgate serve ──otlphttp──▶ downstream
//                                 ──otlp_grpc, gzip──▶ [tap] ──▶
//
// - both OTLP transports with gzip are accepted, and the data arrives unchanged;
// - while the downstream is down Tollgate answers 503 + Retry-After (HTTP) and UNAVAILABLE
//   (gRPC); the collector logs and retries as it documents ("Exporting failed. Will retry the
//   request after interval.", honouring Retry-After), and once the downstream is back every
//   item arrives, exactly once;
// - a rule that rejects a log record makes Tollgate answer partial success; the collector logs
//   "Partial success response" with the rejected count and does not retry.
// The taps (wire-tap.ts) show what was on the wire: compression and each attempt's status.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { metricsRequestObject, tracesRequestObject } from '../../bench/workloads.js';
import { decodeRequest, encodeRequest } from '../../collector/otlp/object-codec.js';
import type { OtlpObject } from '../../collector/otlp/object-codec.js';
import type { Signal } from '../../collector/otlp/signal.js';
import { COLLECTOR_BUILD_TIMEOUT_MS, collectorSkipReason, ensureCollectorBinary, OTLP_HTTP_RECEIVER_YAML, startCollector, waitUntil } from '../support/collector.js';
import type { CollectorProcess } from '../support/collector.js';
import { startDownstream } from '../support/downstream.js';
import type { Downstream } from '../support/downstream.js';
import { flattenRequests, sortItems } from '../support/sdk-expected.js';
import { startTollgate } from '../support/tollgate-process.js';
import type { TollgateProcess } from '../support/tollgate-process.js';
import { startGrpcTap, startHttpTap } from './wire-tap.js';
import type { TappedRequest, WireTap } from './wire-tap.js';

const RULES = `version: 1
mode: enforce
teams:
  - name: everyone
    tier: critical
attribute_policies:
  - name: no-passwords-in-logs
    signals: [logs]
    keys: [password]
    action: reject
`;

const SEQ_KEY = 'interop.seq';
const RESOURCE_KEY: Readonly<Record<Signal, string>> = { metrics: 'resourceMetrics', traces: 'resourceSpans', logs: 'resourceLogs' };
const GRPC_UNAVAILABLE = '14';
const GRPC_OK = '0';
const RETRY_MESSAGE = 'Exporting failed. Will retry the request after interval.';

/** A small request whose resource carries `interop.seq`, so arrivals can be told apart. */
function numbered(signal: 'metrics' | 'traces', seq: number): OtlpObject {
  const object = signal === 'metrics' ? metricsRequestObject(30, seq + 1) : tracesRequestObject(20, seq + 1);
  const resource = (object[RESOURCE_KEY[signal]] as OtlpObject[])[0].resource as { attributes: OtlpObject[] };
  resource.attributes.push({ key: SEQ_KEY, value: { intValue: String(seq) } });
  // Through the codec once, so the object is in the canonical form decoded requests are compared in.
  return decodeRequest(signal, encodeRequest(signal, object));
}

function seqsIn(signal: Signal, requests: readonly OtlpObject[]): number[] {
  return requests.flatMap((request) =>
    ((request[RESOURCE_KEY[signal]] as OtlpObject[] | undefined) ?? []).flatMap((level) =>
      (((level.resource as OtlpObject | undefined)?.attributes as OtlpObject[] | undefined) ?? []).filter((kv) => kv.key === SEQ_KEY).map((kv) => Number((kv.value as OtlpObject).intValue)),
    ),
  );
}

function logsRequest(): OtlpObject {
  const record = (seq: number, attributes: OtlpObject[]): OtlpObject => ({
    timeUnixNano: String(1_732_000_000_000_000_000n + BigInt(seq)),
    severityNumber: 9,
    body: { stringValue: `record ${seq}` },
    attributes: [{ key: 'log.seq', value: { intValue: String(seq) } }, ...attributes],
  });
  return {
    resourceLogs: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'login' } }] },
        scopeLogs: [
          {
            scope: { name: 'interop' },
            logRecords: [record(1, []), record(2, [{ key: 'password', value: { stringValue: 'hunter2' } }]), record(3, [{ key: 'user.name', value: { stringValue: 'jane' } }])],
          },
        ],
      },
    ],
  };
}

async function post(collector: CollectorProcess, signal: Signal, request: OtlpObject): Promise<void> {
  const response = await fetch(`http://127.0.0.1:${collector.port('otlp_http')}/v1/${signal}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-protobuf' },
    body: encodeRequest(signal, request),
  });
  assert.equal(response.status, 200, `the collector accepted the ${signal} request`);
  await response.arrayBuffer();
}

function senderConfig(httpTap: WireTap, grpcTap: WireTap): string {
  // Short backoff so the test is quick; max_elapsed_time far beyond the outage so nothing is dropped.
  const retry = ['    retry_on_failure:', '      enabled: true', '      initial_interval: 200ms', '      max_interval: 1s', '      max_elapsed_time: 60s'].join('\n');
  return `
${OTLP_HTTP_RECEIVER_YAML}exporters:
  otlp_http:
    endpoint: http://${httpTap.address}
    compression: gzip
${retry}
  otlp_grpc:
    endpoint: ${grpcTap.address}
    compression: gzip
    tls:
      insecure: true
${retry}
service:
  pipelines:
    metrics:
      receivers: [otlp]
      exporters: [otlp_http]
    traces:
      receivers: [otlp]
      exporters: [otlp_grpc]
    logs:
      receivers: [otlp]
      exporters: [otlp_http, otlp_grpc]
`;
}

/** The collector's log entries from `component` (an exporter id) whose message is `msg`. */
function logsOf(collector: CollectorProcess, component: string, msg: string): Record<string, unknown>[] {
  return collector.logEntries().filter((entry) => entry.msg === msg && entry['otelcol.component.id'] === component);
}

/** A Go duration as the collector logs it ("1s", "350ms", "1.2s") → milliseconds. */
function durationMs(text: unknown): number {
  const match = /^([\d.]+)(ms|s|m)$/.exec(String(text));
  if (!match) return Number.NaN;
  return Number(match[1]) * { ms: 1, s: 1000, m: 60_000 }[match[2] as 'ms' | 's' | 'm'];
}

function statusesOf(tap: WireTap, pathPart: string): string[] {
  return tap.requests.filter((r) => r.path.includes(pathPart)).map((r) => r.status ?? 'pending');
}

function describeTaps(httpTap: WireTap, grpcTap: WireTap): string {
  const show = (requests: readonly TappedRequest[]): string => requests.map((r) => `${r.path} ${r.encoding ?? 'identity'} ${r.status ?? 'pending'}`).join('\n');
  return `HTTP tap:\n${show(httpTap.requests)}\ngRPC tap:\n${show(grpcTap.requests)}`;
}

/** Skips are set on the tests, not the suite, so the run's summary counts them. */
const SKIP = collectorSkipReason();

describe('the real collector as Tollgate client: gzip on both transports, throttling, partial success', () => {
  let downstream: Downstream;
  let tollgate: TollgateProcess;
  let httpTap: WireTap;
  let grpcTap: WireTap;
  let collector: CollectorProcess;
  let down = false;
  const cleanups: Array<() => Promise<unknown>> = [];

  // A cold build takes minutes (CI builds it beforehand in .ci/setup-collector.sh); later runs reuse the cache.
  before(() => void (SKIP ?? ensureCollectorBinary()), { timeout: COLLECTOR_BUILD_TIMEOUT_MS });
  before(async () => {
    if (SKIP !== undefined) return;
    downstream = await startDownstream(() => ({ status: down ? 503 : 200 }));
    cleanups.push(() => downstream.close());
    const rulesDir = mkdtempSync(join(tmpdir(), 'tollgate-interop-rules-'));
    cleanups.push(() => Promise.resolve(rmSync(rulesDir, { recursive: true, force: true })));
    writeFileSync(join(rulesDir, 'rules.yaml'), RULES);
    // No retries inside Tollgate: a downstream failure goes straight back to the collector as throttling.
    tollgate = await startTollgate(
      [`rules: ${join(rulesDir, 'rules.yaml')}`, 'exporters:', '  otlphttp:', `    endpoint: ${downstream.url}`, '    timeout: 2s', '    retry_on_failure:', '      enabled: false', ''].join('\n'),
    );
    cleanups.push(async () => {
      await tollgate.stop();
      rmSync(tollgate.dataDir, { recursive: true, force: true });
    });
    httpTap = await startHttpTap(tollgate.http);
    cleanups.push(() => httpTap.close());
    grpcTap = await startGrpcTap(tollgate.grpc);
    cleanups.push(() => grpcTap.close());
    collector = await startCollector({ config: senderConfig(httpTap, grpcTap) });
    cleanups.push(() => collector.remove());
  });

  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  test('gRPC with gzip and HTTP/protobuf with gzip: both accepted, the data arrives unchanged', { skip: SKIP, timeout: 60_000 }, async () => {
    const metrics = numbered('metrics', 0);
    const traces = numbered('traces', 0);
    await post(collector, 'metrics', metrics);
    await post(collector, 'traces', traces);
    await waitUntil('metrics and traces at the downstream', () => downstream.accepted('metrics').length >= 1 && downstream.accepted('traces').length >= 1, 20_000);

    assert.deepEqual(sortItems(flattenRequests('metrics', downstream.accepted('metrics'))), sortItems(flattenRequests('metrics', [metrics])), 'metrics as sent to the collector');
    // Spans are compared by identity and count: Tollgate's keep-errors rule may add `th:0` to error spans (docs/sampling.md).
    const spanIds = (requests: readonly OtlpObject[]): string[] => flattenRequests('traces', requests).map((flat) => flat.item.spanId as string).sort();
    assert.deepEqual(spanIds(downstream.accepted('traces')), spanIds([traces]), 'spans as sent to the collector');

    const metricsOnWire = httpTap.requests.filter((r) => r.path === '/v1/metrics');
    const tracesOnWire = grpcTap.requests.filter((r) => r.path.endsWith('TraceService/Export'));
    assert.equal(metricsOnWire.length, 1, describeTaps(httpTap, grpcTap));
    assert.equal(tracesOnWire.length, 1, describeTaps(httpTap, grpcTap));
    assert.deepEqual({ ...metricsOnWire[0] }, { path: '/v1/metrics', encoding: 'gzip', compressed: true, status: '200' }, 'OTLP/HTTP: gzip body, 200');
    assert.deepEqual({ ...tracesOnWire[0] }, { path: tracesOnWire[0].path, encoding: 'gzip', compressed: true, status: GRPC_OK }, 'OTLP/gRPC: gzip message, OK');
  });

  test('throttling: the collector retries as it documents, and nothing is lost once the downstream is back', { skip: SKIP, timeout: 90_000 }, async () => {
    const httpBefore = httpTap.requests.length;
    const grpcBefore = grpcTap.requests.length;
    down = true;
    const sent = [1, 2, 3];
    for (const seq of sent) {
      await post(collector, 'metrics', numbered('metrics', seq));
      await post(collector, 'traces', numbered('traces', seq));
    }
    const throttled = (tap: WireTap, from: number, status: string): number => tap.requests.slice(from).filter((r) => r.status === status).length;
    // Every request is refused at least twice before the downstream comes back.
    await waitUntil('Tollgate to refuse each request at least twice', () => throttled(httpTap, httpBefore, '503') >= 2 * sent.length && throttled(grpcTap, grpcBefore, GRPC_UNAVAILABLE) >= 2 * sent.length, 30_000).catch(
      (error: Error) => {
        throw new Error(`${error.message}\n${describeTaps(httpTap, grpcTap)}\ncollector log:\n${collector.stderr().slice(-4000)}`);
      },
    );
    assert.equal(downstream.accepted('metrics').length + downstream.accepted('traces').length, 2, 'nothing but the first test’s requests was delivered while the downstream was down');
    down = false;

    await waitUntil(
      'every throttled request to reach the downstream',
      () => sent.every((seq) => seqsIn('metrics', downstream.accepted('metrics')).includes(seq) && seqsIn('traces', downstream.accepted('traces')).includes(seq)),
      30_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n${describeTaps(httpTap, grpcTap)}\ncollector log:\n${collector.stderr().slice(-4000)}`);
    });
    // Exactly once: Tollgate acknowledged nothing it had not delivered, so no retry duplicated data.
    assert.deepEqual(seqsIn('metrics', downstream.accepted('metrics')).sort(), [0, ...sent], 'metrics delivered exactly once each');
    assert.deepEqual(seqsIn('traces', downstream.accepted('traces')).sort(), [0, ...sent], 'traces delivered exactly once each');

    // On the wire: every attempt gzip; the refusals were 503 / UNAVAILABLE and the last attempt of each succeeded.
    const httpAttempts = httpTap.requests.slice(httpBefore);
    const grpcAttempts = grpcTap.requests.slice(grpcBefore);
    assert.ok(httpAttempts.every((r) => r.encoding === 'gzip' && r.compressed), 'every HTTP attempt was gzip');
    assert.ok(grpcAttempts.every((r) => r.encoding === 'gzip' && r.compressed), 'every gRPC attempt was gzip');
    assert.deepEqual([...new Set(httpAttempts.map((r) => r.status))].sort(), ['200', '503'], describeTaps(httpTap, grpcTap));
    assert.deepEqual([...new Set(grpcAttempts.map((r) => r.status))].sort(), [GRPC_OK, GRPC_UNAVAILABLE], describeTaps(httpTap, grpcTap));
    assert.equal(httpAttempts.filter((r) => r.status === '200').length, sent.length, 'each metrics request succeeded once');
    assert.equal(grpcAttempts.filter((r) => r.status === GRPC_OK).length, sent.length, 'each traces request succeeded once');

    // The collector's own account: the retry log line of its exporter helper, per exporter.
    const httpRetries = logsOf(collector, 'otlp_http', RETRY_MESSAGE);
    const grpcRetries = logsOf(collector, 'otlp_grpc', RETRY_MESSAGE);
    assert.ok(httpRetries.length >= 2 * sent.length, `otlp_http logged ${httpRetries.length} retries:\n${describeTaps(httpTap, grpcTap)}`);
    assert.ok(grpcRetries.length >= 2 * sent.length, `otlp_grpc logged its retries:\n${collector.stderr().slice(-4000)}`);
    assert.ok(
      httpRetries.every((entry) => String(entry.error).includes('503')),
      `otlp_http retries name HTTP 503: ${JSON.stringify(httpRetries[0])}`,
    );
    assert.ok(
      grpcRetries.every((entry) => /Unavailable/i.test(String(entry.error))),
      `otlp_grpc retries name UNAVAILABLE: ${JSON.stringify(grpcRetries[0])}`,
    );
    // Tollgate sends Retry-After: 1 with its 503; the collector waits at least that long (its backoff alone starts at 200 ms).
    assert.ok(
      httpRetries.every((entry) => durationMs(entry.interval) >= 1000),
      `otlp_http honoured Retry-After: intervals ${httpRetries.map((e) => String(e.interval)).join(', ')}`,
    );
    assert.deepEqual(collector.logEntries().filter((entry) => entry.level === 'error'), [], 'no data dropped by the collector (it logs an error when it gives up)');
  });

  test('partial success: the collector logs the rejected count and does not retry', { skip: SKIP, timeout: 60_000 }, async () => {
    const httpBefore = httpTap.requests.length;
    const grpcBefore = grpcTap.requests.length;
    await post(collector, 'logs', logsRequest());
    await waitUntil('the log records at the downstream over both transports', () => downstream.accepted('logs').length >= 2, 20_000);
    await waitUntil(
      'the collector to log both partial successes',
      () => logsOf(collector, 'otlp_http', 'Partial success response').length >= 1 && logsOf(collector, 'otlp_grpc', 'Partial success response').length >= 1,
      10_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}\ncollector log:\n${collector.stderr().slice(-4000)}`);
    });
    for (const exporter of ['otlp_http', 'otlp_grpc']) {
      const [entry, ...more] = logsOf(collector, exporter, 'Partial success response');
      assert.equal(more.length, 0, `${exporter}: one partial success`);
      assert.equal(entry.level, 'warn');
      assert.equal(entry.dropped_log_records, 1, `${exporter}: the rejected count Tollgate reported: ${JSON.stringify(entry)}`);
      assert.ok(String(entry.message).length > 0, `${exporter}: Tollgate's error message is passed on: ${JSON.stringify(entry)}`);
    }
    // Give a wrongly scheduled retry time to show up, then count attempts: one per transport.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.deepEqual(statusesOf({ ...httpTap, requests: httpTap.requests.slice(httpBefore) }, '/v1/logs'), ['200'], 'one OTLP/HTTP attempt, answered 200');
    assert.deepEqual(statusesOf({ ...grpcTap, requests: grpcTap.requests.slice(grpcBefore) }, 'LogsService/Export'), [GRPC_OK], 'one OTLP/gRPC attempt, answered OK');
    // What arrived: records 1 and 3 from each transport; the one with a password from neither.
    const seqs = flattenRequests('logs', downstream.accepted('logs'))
      .map((flat) => ((flat.item.attributes as OtlpObject[]).find((kv) => kv.key === 'log.seq')?.value as OtlpObject).intValue)
      .sort();
    assert.deepEqual(seqs, ['1', '1', '3', '3']);
  });
});
