import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfig } from '../../../collector/config/config.js';
import { SILENT_LOGGER } from '../../../collector/telemetry/logger.js';
import { aggregate } from '../../../cli/aggregate.js';

function issues(text: string): string[] {
  try {
    parseConfig(text, 'tollgate.yaml', {});
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.issues.map((issue) => `${issue.path}: ${issue.message}`);
  }
  return assert.fail('expected the config to be rejected');
}

test('global_budgets: absent by default; present, every default filled in (durations in ms, sizes in bytes)', () => {
  assert.equal(parseConfig('', 'empty.yaml', {}).global_budgets, undefined);
  const config = parseConfig('global_budgets:\n  brokers: [kafka-0:9092]\n', 'tollgate.yaml', {});
  assert.deepEqual(config.global_budgets, {
    brokers: ['kafka-0:9092'],
    client_id: 'tollgate',
    usage_topic: 'tollgate.usage',
    state_topic: 'tollgate.budget-state',
    report_interval: 10_000,
    max_state_age: 60_000,
    max_message_size: 900 * 1024,
    aggregator: { group_id: 'tollgate-aggregator', publish_interval: 10_000, report_ttl: 60_000, topic_partitions: 3 },
  });
});

test('global_budgets: errors name their key path, cross-key rules included', () => {
  assert.deepEqual(issues('global_budgets: {}\n'), ['global_budgets.brokers: is required']);
  assert.deepEqual(
    issues(`global_budgets:
  brokers: ["kafka 0"]
  usage_topic: "bad topic"
  instance_id: "has space"
`),
    // In file order.
    [
      'global_budgets.brokers[0]: must be host:port',
      'global_budgets.usage_topic: must be a Kafka topic name (letters, digits, ".", "_", "-"; at most 249)',
      'global_budgets.instance_id: must be 1–200 characters without whitespace',
    ],
  );
  assert.deepEqual(
    issues(`global_budgets:
  brokers: [k:9092]
  report_interval: 30s
  max_state_age: 5s
  state_topic: tollgate.usage
  aggregator:
    report_ttl: 40s
`).sort(),
    [
      'global_budgets.aggregator.report_ttl: must be at least twice report_interval (30s)',
      'global_budgets.max_state_age: must be at least twice aggregator.publish_interval (10s)',
      'global_budgets.state_topic: must differ from usage_topic',
    ],
  );
  assert.match(issues('global_budgets:\n  brokers: [k:9092]\n  report_intervall: 1s\n')[0], /unknown key "report_intervall" \(did you mean "report_interval"\?\)/);
});

test('tollgate aggregate refuses a config without global_budgets, naming the key', async () => {
  const config = parseConfig('', 'plain.yaml', {});
  await assert.rejects(aggregate(config, SILENT_LOGGER, { configSource: 'plain.yaml' }), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.equal(error.issues[0].path, 'global_budgets');
    assert.match(error.message, /plain\.yaml: global_budgets: is required by `tollgate aggregate`/);
    return true;
  });
});
