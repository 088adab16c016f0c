// The Kafka receiver's and exporter's config keys: defaults, and errors that name the key path.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, parseConfig } from '../../../collector/config/config.js';

function issues(yaml: string): string[] {
  try {
    parseConfig(yaml, 'k.yaml', {});
  } catch (error) {
    if (error instanceof ConfigError) return error.issues.map((issue) => `${issue.path}: ${issue.message}`);
    throw error;
  }
  return [];
}

test('kafka exporter and receiver: defaults compatible with the Collector topics', () => {
  const config = parseConfig('receivers:\n  kafka: { brokers: [k1:9092, k2:9092] }\nexporters:\n  kafka: { brokers: [k1:9092] }\n', 'k.yaml', {});
  assert.deepEqual(config.receivers.kafka, {
    brokers: ['k1:9092', 'k2:9092'],
    client_id: 'tollgate',
    group_id: 'tollgate',
    topics: { traces: 'otlp_spans', metrics: 'otlp_metrics', logs: 'otlp_logs' },
    initial_offset: 'latest',
    session_timeout: 30_000,
    retry: { initial_interval: 1000, max_interval: 30_000 },
  });
  const exporter = config.exporters.kafka;
  assert.ok(exporter.type === 'kafka', exporter.type);
  assert.deepEqual(
    { topics: exporter.topics, keys: exporter.keys, compression: exporter.compression, timeout: exporter.timeout, max_batch_size: exporter.max_batch_size },
    {
      topics: { traces: 'otlp_spans', metrics: 'otlp_metrics', logs: 'otlp_logs' },
      keys: { traces: 'trace_id', metrics: 'service.name', logs: 'service.name' },
      compression: 'zstd',
      timeout: 10_000,
      max_batch_size: 1024 * 1024,
    },
  );
  assert.equal(parseConfig('exporters: { file: {} }\n', 'k.yaml', {}).receivers.kafka, undefined, 'no Kafka receiver unless configured');
});

test('kafka config errors name their key paths', () => {
  assert.deepEqual(
    issues(
      [
        'receivers:',
        '  kafka:',
        '    brokers: [no-port]',
        '    topics: { traces: otlp_x, metrics: otlp_x, logs: "bad topic" }',
        '    initial_offset: newest',
        '    retry: { initial_interval: 5s, max_interval: 1s }',
        'exporters:',
        '  kafka/backup:',
        '    brokers: []',
        '    keys: { metrics: trace_id }',
        '    compression: lz4',
        '',
      ].join('\n'),
    ),
    [
      'receivers.kafka.brokers[0]: must be host:port',
      'receivers.kafka.topics.logs: must be a Kafka topic name (letters, digits, ".", "_", "-"; at most 249)',
      'receivers.kafka.initial_offset: must be one of "latest", "earliest"',
      'exporters.kafka/backup.brokers: must have at least 1 item',
      'exporters.kafka/backup.keys.metrics: must be one of "service.name", "none"',
      'exporters.kafka/backup.compression: must be one of "zstd", "gzip", "none"',
    ],
  );
  assert.deepEqual(issues('receivers:\n  kafka: { brokers: [k:1], topics: { traces: a, metrics: a, logs: null } }\nexporters: { file: {} }\n'), [
    'receivers.kafka.topics: each signal needs its own topic (messages do not say which signal they carry)',
  ]);
  assert.deepEqual(issues('receivers:\n  kafka: { brokers: [k:1], topics: { traces: null, metrics: null, logs: null } }\nexporters: { file: {} }\n'), ['receivers.kafka.topics: must name at least one topic']);
  assert.deepEqual(issues('receivers:\n  kafka: { brokers: [k:1], retry: { initial_interval: 5s, max_interval: 1s } }\nexporters: { file: {} }\n'), [
    'receivers.kafka.retry.initial_interval: must not exceed max_interval (1s)',
  ]);
});
