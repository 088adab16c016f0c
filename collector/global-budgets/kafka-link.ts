/**
 * What the sidecar and the aggregator share on the Kafka side: the client, the two topics
 * (created if missing, the state topic compacted so it keeps each team's latest state), and a
 * connect loop that keeps retrying in the background, so a broker that is down at start never
 * stops Tollgate from starting; budgets stay local until it connects.
 */
import type { Admin, Consumer, Kafka, KafkaMessage, Producer } from 'kafkajs';
import type { Counter } from 'prom-client';
import type { GlobalBudgetsConfig } from '../config/config.js';
import { createKafkaClient, kafkaErrorMessage } from '../exporters/kafka-client.js';
import type { Logger } from '../telemetry/logger.js';
import { GlobalFormatError } from './bytes.js';

const REQUEST_TIMEOUT_MS = 5000;
const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 10_000;

export function createGlobalKafka(config: GlobalBudgetsConfig, logger: Logger): Kafka {
  return createKafkaClient({ brokers: config.brokers, clientId: config.client_id, requestTimeoutMs: REQUEST_TIMEOUT_MS, retries: 2 }, logger);
}

/** Creates the usage topic and the compacted state topic unless they exist (existing topics are left as they are). */
export async function ensureGlobalTopics(admin: Admin, config: GlobalBudgetsConfig): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const topics = [
    { topic: config.usage_topic, numPartitions: config.aggregator.topic_partitions, configEntries: [] },
    { topic: config.state_topic, numPartitions: config.aggregator.topic_partitions, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] },
  ].filter((t) => !existing.has(t.topic));
  if (topics.length > 0) await admin.createTopics({ topics, waitForLeaders: true });
}

export interface LinkParts {
  readonly producer: Producer;
  readonly consumer: Consumer;
}

/** What the link's consumer reads and how each message is applied. */
export interface LinkConsumption {
  readonly topic: string;
  readonly fromBeginning: boolean;
  /** Names the messages in logs ("usage report"). */
  readonly noun: string;
  /** Applies one message value; throws GlobalFormatError for a malformed one, which is then counted, logged and skipped. */
  apply(value: Buffer): void;
  /** Gets `malformed` for each skipped message (apply counts its own outcomes). */
  readonly outcomes: Counter<'outcome'>;
}

export interface KafkaLink {
  readonly connected: boolean;
  stop(): Promise<void>;
}

/**
 * Connects (topics, producer, consumer reading `consumption`) and retries with backoff until it works or
 * `stop()` is called; a consumer that crashes for good is reconnected the same way.
 */
export function startKafkaLink(kafka: Kafka, config: GlobalBudgetsConfig, parts: LinkParts, consumption: LinkConsumption, logger: Logger, what: string): KafkaLink {
  let connected = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let delay = RECONNECT_MIN_MS;

  /** A tombstone (value null) is ignored. */
  const applyMessage = (message: KafkaMessage, partition: number): void => {
    if (message.value === null) return;
    try {
      consumption.apply(message.value);
    } catch (error) {
      if (!(error instanceof GlobalFormatError)) throw error;
      consumption.outcomes.inc({ outcome: 'malformed' });
      logger.warn(`malformed ${consumption.noun} skipped`, { topic: consumption.topic, partition, offset: message.offset, error: error.message });
    }
  };

  const disconnect = async (): Promise<void> => {
    connected = false;
    await Promise.allSettled([parts.consumer.disconnect(), parts.producer.disconnect()]);
  };

  const attempt = async (): Promise<void> => {
    timer = undefined;
    if (stopped) return;
    const admin = kafka.admin();
    try {
      await admin.connect();
      await ensureGlobalTopics(admin, config);
      await parts.producer.connect();
      await parts.consumer.connect();
      await parts.consumer.subscribe({ topics: [consumption.topic], fromBeginning: consumption.fromBeginning });
      await parts.consumer.run({
        eachMessage: ({ message, partition }) => {
          applyMessage(message, partition);
          return Promise.resolve();
        },
      });
      // stop() may have run while connecting: its disconnect came too early for these clients.
      if (stopped) return await disconnect();
      connected = true;
      delay = RECONNECT_MIN_MS;
      logger.info(`${what}: connected to Kafka`, { brokers: config.brokers });
    } catch (error) {
      if (stopped) return await disconnect();
      logger.warn(`${what}: Kafka unavailable, retrying`, { error: kafkaErrorMessage(error), retryInMs: delay });
      await disconnect();
      schedule();
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  };

  function schedule(): void {
    if (stopped || timer !== undefined) return;
    timer = setTimeout(() => void attempt(), delay);
    timer.unref();
    delay = Math.min(delay * 2, RECONNECT_MAX_MS);
  }

  parts.consumer.on(parts.consumer.events.CRASH, (event) => {
    // kafkajs restarts the consumer itself after retriable failures; a crash it gives up on is ours to retry.
    if (event.payload.restart) return;
    logger.warn(`${what}: Kafka consumer stopped, reconnecting`, { error: kafkaErrorMessage(event.payload.error) });
    void disconnect().then(schedule);
  });

  void attempt();
  return {
    get connected() {
      return connected;
    },
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      await disconnect();
    },
  };
}

export interface KeyedMessage {
  readonly key: string;
  readonly value: Buffer;
}

/** Encoded bytes as a Kafka message value, without copying. */
export function keyedMessage(key: string, bytes: Uint8Array): KeyedMessage {
  return { key, value: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
}

export interface RoundPublisher {
  /** The round being sent, if one is: a new round waits for it instead of piling up behind a slow broker. */
  readonly inFlight: Promise<void> | undefined;
  /** Sends one round; failures are counted and logged, never thrown (the next round carries fresher data anyway). */
  publish(messages: readonly KeyedMessage[]): Promise<void>;
}

export function createRoundPublisher(producer: Producer, topic: string, outcomes: Counter<'outcome'>, logger: Logger, what: string): RoundPublisher {
  let inFlight: Promise<void> | undefined;
  const send = async (messages: readonly KeyedMessage[]): Promise<void> => {
    try {
      await producer.send({ topic, messages: [...messages] });
      outcomes.inc({ outcome: 'sent' }, messages.length);
    } catch (error) {
      outcomes.inc({ outcome: 'failed' }, messages.length);
      logger.warn(`${what} not published`, { error: kafkaErrorMessage(error), messages: messages.length });
    }
  };
  return {
    get inFlight() {
      return inFlight;
    },
    publish(messages) {
      inFlight = send(messages).finally(() => {
        inFlight = undefined;
      });
      return inFlight;
    },
  };
}
