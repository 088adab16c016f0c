// Kafka end to end, with real `tollgate serve` processes, the real OTel SDK and a real broker:
//   SDK → tollgate (kafka exporter, policies applied) → Kafka → tollgate (kafka receiver) → downstream,
// and a broker outage in the middle of a stream: every request a client had acknowledged is
// in Kafka at the end; refused requests were answered 503, never 200.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SpanStatusCode } from '@opentelemetry/api';
import { decodeRequest, encodeRequest } from '../../collector/otlp/object-codec.js';
import type { OtlpObject } from '../../collector/otlp/object-codec.js';
import { startDownstream } from '../support/downstream.js';
import type { Downstream } from '../support/downstream.js';
import { kafkaSkipReason, readTopic, startKafkaBroker } from '../support/kafka-broker.js';
import type { KafkaBroker } from '../support/kafka-broker.js';
import { sampleIn } from '../support/prometheus.js';
import { startSdkClient } from '../support/sdk-client.js';
import { startTollgate } from '../support/tollgate-process.js';
import type { TollgateProcess } from '../support/tollgate-process.js';

const EMAIL = 'jane.doe@example.com';

// Tier critical keeps every span and log record: this test is about transport and policies, not sampling.
const RULES = `version: 1
mode: enforce
teams:
  - name: shop
    tier: critical
attribute_policies:
  - name: redact-email
    signals: [traces, logs]
    targets: [attributes, body]
    values: [email]
    action: redact
  - name: no-user-id-in-metrics
    signals: [metrics]
    keys: [user_id]
    action: drop
`;

function spansOf(request: OtlpObject): OtlpObject[] {
  return ((request.resourceSpans ?? []) as OtlpObject[]).flatMap((rs) => ((rs.scopeSpans ?? []) as OtlpObject[]).flatMap((ss) => (ss.spans ?? []) as OtlpObject[]));
}

function attributesOf(item: OtlpObject): Record<string, unknown> {
  return Object.fromEntries(((item.attributes ?? []) as OtlpObject[]).map((kv) => [kv.key as string, kv.value]));
}

function counterRequest(seq: number, extra: OtlpObject[] = []): Uint8Array {
  return encodeRequest('metrics', {
    resourceMetrics: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'orders' } }] },
        scopeMetrics: [
          {
            scope: { name: 'e2e' },
            metrics: [{ name: 'orders.placed', sum: { aggregationTemporality: 1, isMonotonic: true, dataPoints: [{ asInt: '1', timeUnixNano: String(1_000 + seq), attributes: [{ key: 'seq', value: { intValue: String(seq) } }, ...extra] }] } }],
          },
        ],
      },
    ],
  });
}

function seqsOf(body: Uint8Array): number[] {
  const request = decodeRequest('metrics', body);
  const seqs: number[] = [];
  for (const rm of (request.resourceMetrics ?? []) as OtlpObject[]) {
    for (const sm of (rm.scopeMetrics ?? []) as OtlpObject[]) {
      for (const metric of (sm.metrics ?? []) as OtlpObject[]) {
        for (const point of ((metric.sum as OtlpObject | undefined)?.dataPoints ?? []) as OtlpObject[]) seqs.push(Number((attributesOf(point).seq as OtlpObject).intValue));
      }
    }
  }
  return seqs;
}

async function post(tollgate: TollgateProcess, body: Uint8Array): Promise<number> {
  const response = await fetch(`http://${tollgate.http}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body, signal: AbortSignal.timeout(20_000) });
  await response.arrayBuffer();
  return response.status;
}

describe('kafka end to end', { skip: kafkaSkipReason() }, () => {
  let broker: KafkaBroker;
  let dir: string;
  let rulesPath: string;
  const processes: TollgateProcess[] = [];
  const downstreams: Downstream[] = [];

  const kafkaExporterYaml = (suffix: string, extra: string[] = []): string[] => [
    'exporters:',
    '  kafka:',
    `    brokers: [${broker.bootstrap}]`,
    `    topics: { traces: ${suffix}_spans, metrics: ${suffix}_metrics, logs: ${suffix}_logs }`,
    ...extra,
  ];

  before(async () => {
    broker = await startKafkaBroker();
    dir = mkdtempSync(join(tmpdir(), 'tollgate-kafka-e2e-'));
    rulesPath = join(dir, 'rules.yaml');
    writeFileSync(rulesPath, RULES);
  });
  after(async () => {
    for (const process of processes) {
      await process.stop('SIGKILL');
      rmSync(process.dataDir, { recursive: true, force: true });
    }
    for (const downstream of downstreams) await downstream.close();
    await broker?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('SDK → tollgate → Kafka (policies applied, keyed) → tollgate → downstream, byte for byte', async () => {
    const producer = await startTollgate([`rules: ${rulesPath}`, ...kafkaExporterYaml('e1'), ''].join('\n'));
    processes.push(producer);
    const sdk = startSdkClient({ http: producer.http, resourceAttributes: { 'service.name': 'checkout' } });
    const root = sdk.tracer.startSpan('POST /orders', { attributes: { 'customer.email': EMAIL, 'http.route': '/orders' } });
    root.end();
    const other = sdk.tracer.startSpan('GET /cart');
    other.setStatus({ code: SpanStatusCode.ERROR });
    other.end();
    sdk.logger.emit({ body: `order placed by ${EMAIL}`, severityNumber: 9 });
    await sdk.flush();
    const sentSpans = sdk.finished().spans;
    await sdk.shutdown();
    assert.ok(sdk.exports.length >= 2 && sdk.exports.every((e) => e.code === 0), JSON.stringify(sdk.exports));
    assert.equal(await post(producer, counterRequest(1, [{ key: 'user_id', value: { stringValue: 'u-42' } }])), 200);

    // What Tollgate put in Kafka: one message per trace, keyed by its trace id, the email redacted.
    const spanMessages = await readTopic(broker.bootstrap, 'e1_spans', 2, { settleMs: 500 });
    assert.equal(spanMessages.length, 2);
    for (const message of spanMessages) {
      const spans = spansOf(decodeRequest('traces', message.value));
      assert.equal(spans.length, 1);
      assert.equal(message.key, spans[0].traceId);
    }
    assert.deepEqual(
      spanMessages.map((m) => spansOf(decodeRequest('traces', m.value))[0].traceId).sort(),
      sentSpans.map((s) => s.spanContext().traceId).sort(),
    );
    const rootSpan = spanMessages.map((m) => spansOf(decodeRequest('traces', m.value))[0]).find((s) => s.name === 'POST /orders');
    assert.ok(rootSpan);
    const rootAttributes = attributesOf(rootSpan);
    assert.deepEqual(rootAttributes['http.route'], { stringValue: '/orders' });
    assert.ok(rootAttributes['customer.email'] !== undefined && JSON.stringify(rootAttributes['customer.email']) !== JSON.stringify({ stringValue: EMAIL }), 'redacted');
    const [logMessage] = await readTopic(broker.bootstrap, 'e1_logs', 1, { settleMs: 300 });
    assert.equal(logMessage.key, 'checkout');
    assert.ok(!logMessage.value.includes(EMAIL), 'the log body is redacted before it reaches Kafka');
    const [metricMessage] = await readTopic(broker.bootstrap, 'e1_metrics', 1, { settleMs: 300 });
    assert.equal(metricMessage.key, 'orders');
    assert.deepEqual(seqsOf(metricMessage.value), [1]);
    assert.ok(!metricMessage.value.includes('u-42'), 'the user_id label was dropped');

    // A second Tollgate consumes the topics and forwards to a downstream: the same bytes arrive.
    const downstream = await startDownstream();
    downstreams.push(downstream);
    const consumer = await startTollgate(
      [
        `rules: ${rulesPath}`,
        'receivers:',
        '  otlp: { protocols: { http: { endpoint: 127.0.0.1:0 }, grpc: { enabled: false } } }',
        '  kafka:',
        `    brokers: [${broker.bootstrap}]`,
        '    group_id: e2e-forwarder',
        '    initial_offset: earliest',
        '    topics: { traces: e1_spans, metrics: e1_metrics, logs: e1_logs }',
        'exporters:',
        '  otlphttp:',
        `    endpoint: ${downstream.url}`,
        '',
      ].join('\n'),
    );
    processes.push(consumer);
    const until = Date.now() + 30_000;
    while (downstream.requests.length < 4 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 100));
    const inKafka = [...spanMessages, logMessage, metricMessage].map((m) => Buffer.from(m.value).toString('hex')).sort();
    const arrived = downstream.requests.map((r) => Buffer.from(r.body).toString('hex')).sort();
    assert.deepEqual(arrived, inKafka);
    const metrics = await (await fetch(`http://${consumer.api}/metrics`)).text();
    assert.equal(sampleIn(metrics, 'tollgate_kafka_receiver_messages_total', { outcome: 'accepted' }), 4);
  });

  it('broker down mid-stream: clients get 503, never 200 for what Kafka did not take, and every acknowledged request is in Kafka', async () => {
    const producer = await startTollgate(
      [
        `rules: ${rulesPath}`,
        ...kafkaExporterYaml('e2', [
          '    timeout: 1s',
          '    retry_on_failure: { initial_interval: 100ms, max_interval: 400ms, max_elapsed_time: 2s }',
          '    sending_queue: { queue_size: 8 }',
        ]),
        '',
      ].join('\n'),
    );
    processes.push(producer);
    const total = 60;
    const answers = new Map<number, number>();
    let next = 0;
    let outage: Promise<void> | undefined;
    const client = async (): Promise<void> => {
      while (next < total) {
        const seq = next++;
        if (seq === 15) outage = broker.halt().then(() => new Promise((resolve) => setTimeout(resolve, 4000))).then(() => broker.start());
        answers.set(seq, await post(producer, counterRequest(seq)));
        await new Promise((resolve) => setTimeout(resolve, seq >= 15 && seq < 45 ? 150 : 20));
      }
    };
    await Promise.all([client(), client(), client()]);
    await outage;

    const statuses = [...answers.values()];
    assert.ok(statuses.every((s) => s === 200 || s === 503), `statuses: ${[...new Set(statuses)].join(',')}`);
    const acknowledged = [...answers].filter(([, status]) => status === 200).map(([seq]) => seq);
    assert.ok(statuses.includes(503), 'the outage was visible to clients as 503');
    assert.ok(acknowledged.length >= 20, `${acknowledged.length} acknowledged`);

    const messages = await readTopic(broker.bootstrap, 'e2_metrics', acknowledged.length, { settleMs: 2000, timeoutMs: 60_000 });
    const inKafka = messages.flatMap((m) => seqsOf(m.value));
    const unique = new Set(inKafka);
    for (const seq of acknowledged) assert.ok(unique.has(seq), `acknowledged request ${seq} is missing from Kafka`);
    // Refused requests may still reach Kafka (the broker took them after we gave up): at least once.
    const duplicates = inKafka.length - unique.size;
    assert.ok(duplicates <= 8, `${duplicates} duplicates`);

    const metrics = await (await fetch(`http://${producer.api}/metrics`)).text();
    assert.ok(sampleIn(metrics, 'tollgate_kafka_exporter_errors_total', {}) > 0, 'send failures counted');
    assert.equal(sampleIn(metrics, 'tollgate_exporter_items_total', { exporter: 'kafka', outcome: 'sent' }), acknowledged.length);
    console.log(`kafka outage: ${acknowledged.length}/${total} acknowledged, ${statuses.filter((s) => s === 503).length} refused with 503, ${duplicates} duplicates in Kafka`);
  });
});
