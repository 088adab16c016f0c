// The Kafka receiver against a real broker, feeding a real pipeline whose OTLP/HTTP exporter
// posts to a real downstream: messages arrive byte for byte, a poison message is skipped and
// counted without blocking the one behind it, and offsets are committed only past what the
// downstream accepted, so a refused message comes again after a restart.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { createOtlpHttpExporter } from '../../../collector/exporters/otlp-http.js';
import { encodeRequest } from '../../../collector/otlp/object-codec.js';
import type { OtlpObject } from '../../../collector/otlp/object-codec.js';
import { createPipeline } from '../../../collector/pipeline/pipeline.js';
import { createKafkaReceiver } from '../../../collector/receivers/kafka.js';
import type { KafkaReceiverSettings } from '../../../collector/receivers/kafka.js';
import type { Receiver } from '../../../collector/receivers/otlp-http.js';
import type { Logger } from '../../../collector/telemetry/logger.js';
import { createSelfMetrics } from '../../../collector/telemetry/metrics.js';
import type { SelfMetrics } from '../../../collector/telemetry/metrics.js';
import { startDownstream } from '../../support/downstream.js';
import type { Downstream } from '../../support/downstream.js';
import { kafkaSkipReason, produceTo, startKafkaBroker } from '../../support/kafka-broker.js';
import type { KafkaBroker } from '../../support/kafka-broker.js';
import { sampleIn } from '../../support/prometheus.js';

function gauge(service: string, value: number): Uint8Array {
  const request: OtlpObject = {
    resourceMetrics: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
        scopeMetrics: [{ scope: { name: 'm' }, metrics: [{ name: 'queue_depth', gauge: { dataPoints: [{ asInt: String(value), timeUnixNano: '9' }] } }] }],
      },
    ],
  };
  return encodeRequest('metrics', request);
}

function logRecord(text: string): Uint8Array {
  return encodeRequest('logs', { resourceLogs: [{ resource: {}, scopeLogs: [{ scope: {}, logRecords: [{ timeUnixNano: '3', body: { stringValue: text } }] }] }] });
}

interface LogLine {
  readonly level: string;
  readonly msg: string;
  readonly fields: Record<string, unknown>;
}

function recordingLogger(lines: LogLine[]): Logger {
  const log = (level: string) => (msg: string, fields: Record<string, unknown> = {}) => {
    lines.push({ level, msg, fields });
  };
  const logger: Logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), child: () => logger };
  return logger;
}

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('kafka receiver against a real broker', { skip: kafkaSkipReason() }, () => {
  let broker: KafkaBroker;
  let downstream: Downstream;
  const running: Array<{ receiver: Receiver; shutdown: () => Promise<void> }> = [];

  /** A receiver feeding a fresh pipeline that exports to the downstream without retries of its own. */
  async function startReceiver(settings: Partial<KafkaReceiverSettings> & Pick<KafkaReceiverSettings, 'groupId' | 'topics'>, metrics: SelfMetrics, logs: LogLine[]): Promise<{ receiver: Receiver; stop: () => Promise<void> }> {
    const exporter = createOtlpHttpExporter({ endpoint: downstream.url, compression: 'none', retry: { enabled: false } });
    const pipeline = createPipeline({ processors: [], exporters: [exporter], metrics, memoryLimitBytes: 64 * 1024 * 1024 });
    const receiver = createKafkaReceiver({
      brokers: [broker.bootstrap],
      clientId: 'receiver-test',
      initialOffset: 'earliest',
      sessionTimeoutMs: 10_000,
      retryInitialMs: 200,
      retryMaxMs: 500,
      pipeline,
      metrics,
      logger: recordingLogger(logs),
      ...settings,
    });
    await receiver.start();
    const entry = { receiver, shutdown: async () => {
      await receiver.stop(Date.now() + 10_000);
      await pipeline.shutdown(Date.now() + 1000);
    } };
    running.push(entry);
    return {
      receiver,
      stop: async () => {
        running.splice(running.indexOf(entry), 1);
        await entry.shutdown();
      },
    };
  }

  async function committedOffsets(groupId: string, topic: string): Promise<number[]> {
    const admin = new Kafka({ brokers: [broker.bootstrap], clientId: 'offsets-reader', logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
      return entry.partitions.sort((a, b) => a.partition - b.partition).map((p) => Number(p.offset));
    } finally {
      await admin.disconnect();
    }
  }

  before(async () => {
    broker = await startKafkaBroker({ partitions: 1 });
    downstream = await startDownstream();
  });
  after(async () => {
    for (const entry of running.splice(0)) await entry.shutdown();
    await downstream?.close();
    await broker?.stop();
  });

  it('delivers each message to the pipeline byte for byte, skips and counts a poison message, and commits past all of them', async () => {
    const metrics = createSelfMetrics({ defaultMetrics: false });
    const logs: LogLine[] = [];
    const first = gauge('checkout', 1);
    const second = gauge('checkout', 2);
    const poison = Buffer.from([0x0a, 0x05, 0x01]); // a ResourceMetrics field claiming 5 bytes with 1 left
    await produceTo(broker.bootstrap, 'r1_metrics', [{ value: Buffer.from(first) }, { value: poison }, { value: Buffer.from(second) }]);
    await produceTo(broker.bootstrap, 'r1_logs', [{ value: Buffer.from(logRecord('hello')) }]);
    const before = downstream.requests.length;
    await startReceiver({ groupId: 'r1', topics: { metrics: 'r1_metrics', logs: 'r1_logs' } }, metrics, logs);

    await waitFor('three requests downstream', () => downstream.requests.length - before >= 3);
    const arrived = downstream.requests.slice(before);
    assert.deepEqual(arrived.filter((r) => r.signal === 'metrics').map((r) => r.body), [first, second], 'in partition order, the poison message between them skipped');
    assert.deepEqual(arrived.filter((r) => r.signal === 'logs').map((r) => r.body), [logRecord('hello')]);

    const text = await metrics.registry.metrics();
    assert.equal(sampleIn(text, 'tollgate_kafka_receiver_messages_total', { signal: 'metrics', outcome: 'poison' }), 1);
    assert.equal(sampleIn(text, 'tollgate_kafka_receiver_messages_total', { signal: 'metrics', outcome: 'accepted' }), 2);
    assert.equal(sampleIn(text, 'tollgate_receiver_items_total', { signal: 'metrics', transport: 'kafka', outcome: 'accepted' }), 2);
    const poisonLog = logs.find((line) => line.level === 'warn' && line.msg.includes('poison'));
    assert.deepEqual(poisonLog && { topic: poisonLog.fields.topic, partition: poisonLog.fields.partition, offset: poisonLog.fields.offset }, { topic: 'r1_metrics', partition: 0, offset: '1' });
    await waitFor('offsets committed past the last message', async () => (await committedOffsets('r1', 'r1_metrics'))[0] === 3);
  });

  it('does not commit a message the downstream refuses, retries it in place, and it comes again after a restart', async () => {
    const metrics = createSelfMetrics({ defaultMetrics: false });
    const logs: LogLine[] = [];
    const accepted = gauge('payments', 10);
    const refused = gauge('payments', 11);
    await produceTo(broker.bootstrap, 'r2_metrics', [{ value: Buffer.from(accepted) }, { value: Buffer.from(refused) }]);
    const isRefused = (body: Uint8Array): boolean => Buffer.from(body).equals(Buffer.from(refused));
    let refusals = 0;
    // The responder sees the request's index, not its body: accept the first request, refuse the rest.
    const start = downstream.requests.length;
    downstream.setResponder(({ index }) => {
      if (index === start) return { status: 200 };
      refusals++;
      return { status: 503 };
    });
    const first = await startReceiver({ groupId: 'r2', topics: { metrics: 'r2_metrics' } }, metrics, logs);
    await waitFor('the refused message tried three times', () => refusals >= 3);
    assert.deepEqual(downstream.requests[start].body, accepted);
    assert.ok(downstream.requests.slice(start + 1).every((r) => isRefused(r.body)), 'only the refused message is retried, nothing after it');
    await waitFor('the accepted message committed', async () => (await committedOffsets('r2', 'r2_metrics'))[0] === 1);
    assert.equal(sampleIn(await metrics.registry.metrics(), 'tollgate_kafka_receiver_messages_total', { signal: 'metrics', outcome: 'retried' }) >= 3, true);

    await first.stop();
    assert.deepEqual(await committedOffsets('r2', 'r2_metrics'), [1], 'stopping while refused leaves the message uncommitted');

    downstream.setResponder(() => ({ status: 200 }));
    const restartAt = downstream.requests.length;
    await startReceiver({ groupId: 'r2', topics: { metrics: 'r2_metrics' } }, createSelfMetrics({ defaultMetrics: false }), []);
    await waitFor('the refused message delivered after the restart', () => downstream.requests.slice(restartAt).some((r) => r.status === 200 && isRefused(r.body)));
    assert.equal(downstream.requests.slice(restartAt).filter((r) => r.status === 200).length, 1, 'the accepted message is not delivered again');
    await waitFor('offset committed past it', async () => (await committedOffsets('r2', 'r2_metrics'))[0] === 2);
  });

  it('rejoins at once when a rebalance starts while a message waits, leaving that message uncommitted', async () => {
    const logs: LogLine[] = [];
    const refused = gauge('inventory', 20);
    await produceTo(broker.bootstrap, 'r3_metrics', [{ value: Buffer.from(refused) }]);
    let refusals = 0;
    downstream.setResponder(() => {
      refusals++;
      return { status: 503 };
    });
    // Short session: the receiver heartbeats every 1.2 s while the message waits.
    await startReceiver({ groupId: 'r3', topics: { metrics: 'r3_metrics' }, sessionTimeoutMs: 6000 }, createSelfMetrics({ defaultMetrics: false }), logs);
    await waitFor('the message refused twice', () => refusals >= 2);

    // A second member joins: the group rebalances, and it can only finish once the waiting
    // receiver rejoins (without the fix it stalled until the 60 s rebalance timeout).
    const other = new Kafka({ brokers: [broker.bootstrap], clientId: 'r3-other', logLevel: logLevel.NOTHING }).consumer({ groupId: 'r3', sessionTimeout: 6000, rebalanceTimeout: 20_000 });
    let joined = false;
    other.on(other.events.GROUP_JOIN, () => {
      joined = true;
    });
    try {
      await other.connect();
      await other.subscribe({ topics: ['r3_metrics'], fromBeginning: true });
      const joinStarted = Date.now();
      // Never commits: whoever owns the partition, the refused message must stay uncommitted.
      await other.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: () => Promise.resolve() });
      await waitFor('the second member in the group', () => joined, 15_000);
      assert.ok(Date.now() - joinStarted < 15_000);
      assert.ok(logs.some((line) => line.msg.includes('heartbeat failed')), 'the receiver saw the failed heartbeat and rejoined');
      assert.ok((await committedOffsets('r3', 'r3_metrics')).every((offset) => offset <= 0), 'the refused message is not committed');
    } finally {
      await other.disconnect();
      downstream.setResponder(() => ({ status: 200 }));
    }
  });
});
