// The broker harness itself: a fresh KRaft broker takes produced messages, hands them to a
// consumer group, and keeps them (and the group's offsets) across a halt and restart.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import type { Consumer } from 'kafkajs';
import { kafkaSkipReason, startKafkaBroker } from '../support/kafka-broker.js';
import type { KafkaBroker } from '../support/kafka-broker.js';

async function readMessages(consumer: Consumer, topic: string, count: number, timeoutMs = 30_000): Promise<string[]> {
  const values: string[] = [];
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`got ${values.length} of ${count} messages`)), timeoutMs);
    void consumer.run({
      eachMessage: ({ message }) => {
        values.push(message.value?.toString() ?? '');
        if (values.length >= count) {
          clearTimeout(timer);
          resolve();
        }
        return Promise.resolve();
      },
    });
  });
  return values;
}

describe('kafka broker harness', { skip: kafkaSkipReason() }, () => {
  let broker: KafkaBroker;
  before(async () => {
    broker = await startKafkaBroker();
    console.log(`kafka broker: storage format ${broker.formatMs} ms, started in ${broker.startMs} ms on ${broker.bootstrap}`);
  });
  after(async () => {
    await broker?.stop();
  });

  it('stores produced messages across a restart and resumes the group at its committed offset', async () => {
    const kafka = new Kafka({ brokers: [broker.bootstrap], clientId: 'harness-test', logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ allowAutoTopicCreation: true });
    await producer.connect();
    await producer.send({ topic: 'harness', acks: -1, messages: [{ value: 'one' }, { value: 'two' }] });
    await producer.disconnect();

    const first = kafka.consumer({ groupId: 'harness-group' });
    await first.connect();
    assert.deepEqual((await readMessages(first, 'harness', 2)).sort(), ['one', 'two']);
    await first.disconnect(); // commits the offsets of what eachMessage returned from

    await broker.halt();
    await broker.start();
    console.log(`kafka broker restarted in ${broker.startMs} ms`);

    const again = new Kafka({ brokers: [broker.bootstrap], clientId: 'harness-test-2', logLevel: logLevel.NOTHING });
    const producer2 = again.producer();
    await producer2.connect();
    await producer2.send({ topic: 'harness', acks: -1, messages: [{ value: 'three' }] });
    await producer2.disconnect();
    const second = again.consumer({ groupId: 'harness-group' });
    await second.connect();
    // Only the message after the committed offsets arrives: the offsets survived the restart.
    assert.deepEqual(await readMessages(second, 'harness', 1), ['three']);
    await second.disconnect();

    const admin = again.admin();
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets('harness');
    await admin.disconnect();
    assert.equal(offsets.reduce((sum, p) => sum + Number(p.high), 0), 3);
  });
});
