// The Kafka exporter against a real single-node broker: topics, keys, byte-identical
// messages, and the acknowledgement rule (accepted only once the broker has the message; busy
// when the buffer is full; failed, never accepted, while the broker is down).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createKafkaExporter } from '../../../collector/exporters/kafka.js';
import type { KafkaExporterObserver } from '../../../collector/exporters/kafka.js';
import { splitByKey } from '../../../collector/exporters/kafka-keys.js';
import { decodeRequest, encodeRequest } from '../../../collector/otlp/object-codec.js';
import type { OtlpObject } from '../../../collector/otlp/object-codec.js';
import type { Signal } from '../../../collector/otlp/signal.js';
import type { ExportOutcome, ExportRequest, Exporter } from '../../../collector/pipeline/contracts.js';
import { kafkaSkipReason, readTopic, startKafkaBroker, topicMessageCount } from '../../support/kafka-broker.js';
import type { KafkaBroker } from '../../support/kafka-broker.js';
import { topicBatchCodecs } from '../../interop/kafka-log-segments.js';

const TRACE_A = 'aa'.repeat(16);
const TRACE_B = 'bb'.repeat(16);
const TRACE_C = '0123456789abcdef'.repeat(2);

function resource(service: string): OtlpObject {
  return { attributes: [{ key: 'service.name', value: { stringValue: service } }] };
}

function span(traceId: string, n: number): OtlpObject {
  return { traceId, spanId: n.toString(16).padStart(16, '0'), name: `op-${n}`, kind: 2, startTimeUnixNano: String(1_000 + n), endTimeUnixNano: String(2_000 + n) };
}

/** Two services; trace A spans both, B and C one each; spans of a trace interleaved. */
function tracesRequest(): OtlpObject {
  return {
    resourceSpans: [
      { resource: resource('checkout'), scopeSpans: [{ scope: { name: 'http' }, spans: [span(TRACE_A, 1), span(TRACE_B, 2), span(TRACE_A, 3)] }] },
      { resource: resource('payments'), scopeSpans: [{ scope: { name: 'db' }, spans: [span(TRACE_C, 4), span(TRACE_A, 5)] }] },
    ],
  };
}

function metricsRequest(service: string, points: number): OtlpObject {
  return {
    resourceMetrics: [
      {
        resource: resource(service),
        scopeMetrics: [
          {
            scope: { name: 'meter' },
            metrics: [
              {
                name: 'requests',
                sum: {
                  aggregationTemporality: 2,
                  isMonotonic: true,
                  dataPoints: Array.from({ length: points }, (_, i) => ({ asInt: String(i + 1), timeUnixNano: '5', attributes: [{ key: 'route', value: { stringValue: `/r${i}` } }] })),
                },
              },
            ],
          },
        ],
      },
    ],
  };
}

function logsRequest(): OtlpObject {
  return {
    resourceLogs: [
      { resource: resource('checkout'), scopeLogs: [{ scope: { name: 'log' }, logRecords: [{ timeUnixNano: '7', severityNumber: 9, body: { stringValue: 'hello' } }] }] },
      { resource: resource('payments'), scopeLogs: [{ scope: { name: 'log' }, logRecords: [{ timeUnixNano: '8', severityNumber: 13, body: { stringValue: 'careful' } }] }] },
    ],
  };
}

function request(signal: Signal, obj: OtlpObject, items: number): ExportRequest {
  return { signal, body: encodeRequest(signal, obj), items };
}

interface Recorded {
  readonly outcomes: ExportOutcome[];
  readonly errors: string[];
  readonly retries: number[];
}

function recordingObserver(): KafkaExporterObserver & Recorded {
  const outcomes: ExportOutcome[] = [];
  const errors: string[] = [];
  const retries: number[] = [];
  return {
    outcomes,
    errors,
    retries,
    onAttempt: () => undefined,
    onOutcome: (_signal, _items, outcome) => outcomes.push(outcome),
    onRetry: (_signal, delayMs) => retries.push(delayMs),
    onPartialSuccess: () => undefined,
    onSendError: (error) => errors.push(error),
  };
}

function spanNames(obj: OtlpObject): string[] {
  const names: string[] = [];
  for (const rs of (obj.resourceSpans ?? []) as OtlpObject[]) {
    for (const ss of (rs.scopeSpans ?? []) as OtlpObject[]) for (const s of (ss.spans ?? []) as OtlpObject[]) names.push(s.name as string);
  }
  return names;
}

describe('splitByKey (no broker)', () => {
  it('keeps a request with one key byte for byte and splits one with several keys per key, in order', () => {
    const metrics = request('metrics', metricsRequest('checkout', 3), 3);
    const whole = splitByKey('metrics', metrics.body, 3, 'service.name');
    assert.equal(whole.length, 1);
    assert.equal(whole[0].key, 'checkout');
    assert.equal(whole[0].body, metrics.body);

    const traces = request('traces', tracesRequest(), 5);
    const parts = splitByKey('traces', traces.body, 5, 'trace_id');
    assert.deepEqual(
      parts.map((p) => [p.key, p.items, spanNames(decodeRequest('traces', p.body))]),
      [
        [TRACE_A, 3, ['op-1', 'op-3', 'op-5']],
        [TRACE_B, 1, ['op-2']],
        [TRACE_C, 1, ['op-4']],
      ],
    );
    // Trace A's last span keeps its own resource: the split keeps each span under the resource it came with.
    const a = decodeRequest('traces', parts[0].body);
    assert.deepEqual(
      (a.resourceSpans as OtlpObject[]).map((rs) => ((rs.resource as OtlpObject).attributes as OtlpObject[])[0].value),
      [{ stringValue: 'checkout' }, { stringValue: 'payments' }],
    );

    const logs = splitByKey('logs', encodeRequest('logs', logsRequest()), 2, 'service.name');
    assert.deepEqual(logs.map((p) => [p.key, p.items]), [['checkout', 1], ['payments', 1]]);
    // Each part is its service's resource group as it came.
    const groups = logsRequest().resourceLogs as OtlpObject[];
    assert.deepEqual(logs.map((p) => decodeRequest('logs', p.body)), [{ resourceLogs: [groups[0]] }, { resourceLogs: [groups[1]] }]);
    assert.deepEqual(splitByKey('logs', encodeRequest('logs', logsRequest()), 2, 'none').map((p) => p.key), [null]);
  });

  it('keys a request by service.name from its resources alone when they agree, and item by item when they do not', () => {
    const resourceMetrics = (service: OtlpObject | undefined, points: number): OtlpObject => {
      const group = (metricsRequest('unused', points).resourceMetrics as OtlpObject[])[0];
      const withResource: OtlpObject = service === undefined ? { scopeMetrics: group.scopeMetrics } : { ...group, resource: service };
      return points === 0 ? { ...withResource, scopeMetrics: [] } : withResource;
    };
    const split = (groups: OtlpObject[], items: number) => {
      const body = encodeRequest('metrics', { resourceMetrics: groups });
      return { body, parts: splitByKey('metrics', body, items, 'service.name') };
    };
    // Two resources of one service: one message, the request as it came.
    const same = split([resourceMetrics(resource('checkout'), 2), resourceMetrics(resource('checkout'), 3)], 5);
    assert.deepEqual(same.parts.map((p) => [p.key, p.items]), [['checkout', 5]]);
    assert.equal(same.parts[0].body, same.body);
    // No service.name anywhere (no resource, or one without it): one unkeyed message.
    const none = split([resourceMetrics(undefined, 1), resourceMetrics({ attributes: [{ key: 'host.name', value: { stringValue: 'h' } }] }, 1)], 2);
    assert.deepEqual(none.parts.map((p) => [p.key, p.items]), [[null, 2]]);
    assert.equal(none.parts[0].body, none.body);
    // A second service with no items: the resources disagree, but every item has the same key.
    const empty = split([resourceMetrics(resource('checkout'), 2), resourceMetrics(resource('payments'), 0)], 2);
    assert.deepEqual(empty.parts.map((p) => [p.key, p.items]), [['checkout', 2]]);
    // A service.name that is not a string counts as none, as the scanner reads it.
    const intName = { attributes: [{ key: 'service.name', value: { intValue: '7' } }] };
    const mixed = split([resourceMetrics(intName, 1), resourceMetrics(resource('checkout'), 2)], 3);
    assert.deepEqual(mixed.parts.map((p) => [p.key, p.items]), [[null, 1], ['checkout', 2]]);
  });
});

describe('splitByKey at scale (no broker)', () => {
  it('splits 4,000 one-span traces in one pass, each part holding exactly its trace under its resource and scope', () => {
    const traces = 4000;
    const traceIdOf = (n: number): string => n.toString(16).padStart(32, '0');
    // Two resources, two scopes each, spans spread round-robin so every part has to pick its envelopes.
    const services = ['checkout', 'payments'];
    const scopes = ['http', 'db'];
    const owner = (n: number): [number, number] => [n % 2, Math.floor(n / 2) % 2];
    const obj: OtlpObject = {
      resourceSpans: services.map((service, r) => ({
        resource: resource(service),
        scopeSpans: scopes.map((scope, c) => ({
          scope: { name: scope, version: '1' },
          spans: Array.from({ length: traces }, (_, n) => n)
            .filter((n) => owner(n)[0] === r && owner(n)[1] === c)
            .map((n) => ({ ...span(traceIdOf(n), n), attributes: [{ key: 'i', value: { intValue: String(n) } }] })),
        })),
      })),
    };
    const body = encodeRequest('traces', obj);
    splitByKey('traces', body, traces, 'trace_id'); // warm up the scanner's tables and the JIT
    const started = performance.now();
    const parts = splitByKey('traces', body, traces, 'trace_id');
    const elapsedMs = performance.now() - started;
    assert.equal(parts.length, traces);
    assert.ok(elapsedMs < 100, `split took ${elapsedMs.toFixed(1)} ms`);
    const seen = new Set<string>();
    for (const part of parts) {
      assert.equal(part.items, 1);
      const decoded = decodeRequest('traces', part.body);
      const groups = decoded.resourceSpans as OtlpObject[];
      assert.equal(groups.length, 1);
      const scopeGroups = groups[0].scopeSpans as OtlpObject[];
      assert.equal(scopeGroups.length, 1);
      const spans = scopeGroups[0].spans as OtlpObject[];
      assert.equal(spans.length, 1);
      const n = Number(((spans[0].attributes as OtlpObject[])[0].value as OtlpObject).intValue);
      assert.equal(part.key, traceIdOf(n));
      assert.equal(spans[0].traceId, traceIdOf(n));
      assert.equal(spans[0].name, `op-${n}`);
      const [r, c] = owner(n);
      assert.deepEqual(groups[0].resource, resource(services[r]));
      assert.deepEqual(scopeGroups[0].scope, { name: scopes[c], version: '1' });
      seen.add(part.key);
    }
    assert.equal(seen.size, traces);
  });
});

describe('kafka exporter against a real broker', { skip: kafkaSkipReason() }, () => {
  let broker: KafkaBroker;
  const exporters: Exporter[] = [];
  const make = (options: Omit<Parameters<typeof createKafkaExporter>[0], 'brokers'>, observer = recordingObserver()): { exporter: Exporter; observer: ReturnType<typeof recordingObserver> } => {
    const exporter = createKafkaExporter({ brokers: [broker.bootstrap], ...options }, { observer });
    exporters.push(exporter);
    return { exporter, observer };
  };

  before(async () => {
    broker = await startKafkaBroker();
  });
  after(async () => {
    for (const exporter of exporters) await exporter.shutdown(Date.now() + 2000);
    await broker?.stop();
  });

  it('writes each signal to its topic as the request bytes, keyed by service.name or trace id', async () => {
    const { exporter, observer } = make({ topics: { traces: 't1_spans', metrics: 't1_metrics', logs: 't1_logs' } });
    await exporter.start();
    const metrics = request('metrics', metricsRequest('checkout', 4), 4);
    const logs = request('logs', logsRequest(), 2);
    const traces = request('traces', tracesRequest(), 5);
    const outcomes = await Promise.all([exporter.export(metrics), exporter.export(logs), exporter.export(traces)]);
    assert.deepEqual(outcomes, [{ kind: 'accepted' }, { kind: 'accepted' }, { kind: 'accepted' }]);
    assert.equal(observer.outcomes.length, 3);

    const [metricMessage] = await readTopic(broker.bootstrap, 't1_metrics', 1, { settleMs: 500 });
    assert.equal(metricMessage.key, 'checkout');
    assert.deepEqual(new Uint8Array(metricMessage.value), metrics.body, 'one service: the message is the request byte for byte');

    const logMessages = await readTopic(broker.bootstrap, 't1_logs', 2, { settleMs: 500 });
    assert.deepEqual(logMessages.map((m) => m.key).sort(), ['checkout', 'payments']);

    const spanMessages = await readTopic(broker.bootstrap, 't1_spans', 3, { settleMs: 500 });
    assert.equal(spanMessages.length, 3, 'one message per trace, no more');
    const byKey = new Map(spanMessages.map((m) => [m.key, spanNames(decodeRequest('traces', m.value)).sort()]));
    assert.deepEqual(byKey.get(TRACE_A), ['op-1', 'op-3', 'op-5']);
    assert.deepEqual(byKey.get(TRACE_B), ['op-2']);
    assert.deepEqual(byKey.get(TRACE_C), ['op-4']);
  });

  it('compresses batches with zstd by default, or gzip or none as configured; each message is still the request', async () => {
    const cases = [
      { compression: undefined, topic: 't5_default', codec: 'zstd' },
      { compression: 'gzip', topic: 't5_gzip', codec: 'gzip' },
      { compression: 'none', topic: 't5_none', codec: 'none' },
    ] as const;
    for (const { compression, topic, codec } of cases) {
      const { exporter } = make({ topics: { metrics: topic }, compression });
      const metrics = request('metrics', metricsRequest('checkout', 300), 300);
      assert.deepEqual(await exporter.export(metrics), { kind: 'accepted' }, topic);
      // On the broker's disk, read without the client library: the codec the batch really has.
      assert.deepEqual(topicBatchCodecs(broker.dir, topic), [codec], topic);
      const [message] = await readTopic(broker.bootstrap, topic, 1);
      assert.deepEqual(new Uint8Array(message.value), metrics.body, `${topic}: the request byte for byte`);
    }
  });

  it('sends a key of none unkeyed and uncompressed when configured so', async () => {
    const { exporter } = make({ topics: { logs: 't2_logs' }, keys: { logs: 'none' }, compression: 'none' });
    const logs = request('logs', logsRequest(), 2);
    assert.deepEqual(await exporter.export(logs), { kind: 'accepted' });
    const [message] = await readTopic(broker.bootstrap, 't2_logs', 1, { settleMs: 300 });
    assert.equal(message.key, null);
    assert.deepEqual(new Uint8Array(message.value), logs.body);
  });

  it('fails a request the broker refuses for good (over message.max.bytes) without retrying, and sends the rest', async () => {
    const { exporter, observer } = make({ topics: { metrics: 't3_metrics' }, compression: 'none', retry: { initialIntervalMs: 50, maxIntervalMs: 50, maxElapsedMs: 5000 } });
    // ~2 MB of incompressible-enough points: beyond the broker's default 1 MiB record batch limit.
    const huge = request('metrics', metricsRequest('checkout', 60_000), 60_000);
    assert.ok(huge.body.length > 1_100_000, `${huge.body.length} bytes`);
    const small = request('metrics', metricsRequest('payments', 2), 2);
    const [hugeOutcome, smallOutcome] = await Promise.all([exporter.export(huge), exporter.export(small)]);
    assert.equal(hugeOutcome.kind, 'failed');
    assert.equal(hugeOutcome.kind === 'failed' && hugeOutcome.retryable, false);
    assert.deepEqual(smallOutcome, { kind: 'accepted' });
    assert.ok(observer.errors.includes('MESSAGE_TOO_LARGE'), observer.errors.join(','));
    assert.deepEqual(observer.retries, [], 'a permanent refusal is not retried');
    const [message] = await readTopic(broker.bootstrap, 't3_metrics', 1, { settleMs: 500 });
    assert.equal(message.key, 'payments');
    assert.equal(await topicMessageCount(broker.bootstrap, 't3_metrics'), 1);
  });

  it('answers busy when its buffer is full and never accepts what the broker did not take while it is down', async () => {
    const { exporter, observer } = make({
      topics: { metrics: 't4_metrics' },
      maxQueuedRequests: 2,
      timeoutMs: 1000,
      retry: { initialIntervalMs: 100, maxIntervalMs: 200, maxElapsedMs: 3000, randomizationFactor: 0 },
    });
    assert.deepEqual(await exporter.export(request('metrics', metricsRequest('before', 1), 1)), { kind: 'accepted' });
    assert.equal(await topicMessageCount(broker.bootstrap, 't4_metrics'), 1);

    await broker.halt();
    const down1 = exporter.export(request('metrics', metricsRequest('down-1', 1), 1));
    const down2 = exporter.export(request('metrics', metricsRequest('down-2', 1), 1));
    // Two requests held: the third finds the buffer full and is refused at once.
    const third = await exporter.export(request('metrics', metricsRequest('down-3', 1), 1));
    assert.equal(third.kind, 'busy');
    assert.equal(exporter.queuedItems(), 2);
    const [outcome1, outcome2] = await Promise.all([down1, down2]);
    assert.equal(outcome1.kind, 'failed');
    assert.equal(outcome1.kind === 'failed' && outcome1.retryable, true, 'the broker being away is worth a later retry');
    assert.equal(outcome2.kind, 'failed');
    assert.ok(observer.retries.length > 0, 'retried with backoff before giving up');
    assert.ok(observer.errors.length > 0);
    assert.equal(exporter.queuedItems(), 0);

    await broker.start();
    assert.deepEqual(await exporter.export(request('metrics', metricsRequest('after', 1), 1)), { kind: 'accepted' });
    const messages = await readTopic(broker.bootstrap, 't4_metrics', 2, { settleMs: 1000 });
    // Exactly the two accepted requests are in the topic; nothing that was refused got there later.
    assert.deepEqual(messages.map((m) => m.key).sort(), ['after', 'before']);
  });
});
