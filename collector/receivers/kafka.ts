// Kafka receiver: a consumer group on the signal topics; each message is one
// Export*ServiceRequest (the Collector's `otlp_proto` encoding) and goes through the pipeline
// like a request from an OTLP client.
//
// At least once: a partition's offset is committed only past messages the pipeline accepted
// (or that can never be accepted, see below). When the pipeline pushes back (an exporter busy
// or failing, the memory limit, shutdown) the message is retried in place with backoff and
// nothing after it is committed; kafkajs runs one partition at a time, so the whole consumer
// waits behind it. Stopping in the middle, or a rebalance (a failed heartbeat), leaves the
// message uncommitted, so the group redelivers it after a restart or rebalance.
//
// Never stuck: a message the wire scanner rejects (a poison message) or one the downstream
// refused for good is counted, logged with its topic/partition/offset, and committed past.
import type { Consumer, EachBatchPayload, KafkaMessage } from 'kafkajs';
import type { TollgateError } from '../errors/codes.js';
import { createKafkaClient, kafkaErrorMessage } from '../exporters/kafka-client.js';
import { abortableSleep } from '../exporters/retry.js';
import type { Signal } from '../otlp/signal.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import type { Logger } from '../telemetry/logger.js';
import type { SelfMetrics } from '../telemetry/metrics.js';
import type { Receiver } from './otlp-http.js';
import { asTollgateError } from './otlp-http.js';
import { recordOutcome } from './outcome.js';

export interface KafkaReceiverSettings {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly groupId: string;
  /** Topic per signal; a signal without a topic is not consumed. */
  readonly topics: Readonly<Partial<Record<Signal, string>>>;
  /** Where a group without a committed offset starts: `latest` (as the Collector) or `earliest`. */
  readonly initialOffset: 'latest' | 'earliest';
  readonly sessionTimeoutMs: number;
  /** Backoff while the pipeline refuses a message: doubles from initial to max. */
  readonly retryInitialMs: number;
  readonly retryMaxMs: number;
}

export interface KafkaReceiverOptions extends KafkaReceiverSettings {
  readonly pipeline: Pipeline;
  readonly metrics: SelfMetrics;
  readonly logger: Logger;
}

export const KAFKA_RECEIVER_DEFAULTS = Object.freeze({
  clientId: 'tollgate',
  groupId: 'tollgate',
  topics: Object.freeze({ traces: 'otlp_spans', metrics: 'otlp_metrics', logs: 'otlp_logs' }),
  initialOffset: 'latest',
  sessionTimeoutMs: 30_000,
  retryInitialMs: 1000,
  retryMaxMs: 30_000,
} as const);

const TRANSPORT = 'kafka';
/** How long start() waits for the group to form before Tollgate carries on starting without it. */
const FIRST_START_WAIT_MS = 10_000;

/** One batch's stop signal (the receiver stopping, or a heartbeat failure) and the heartbeat error to rethrow. */
interface BatchState {
  readonly abort: AbortController;
  heartbeatFailure?: { readonly error: unknown };
}

/** What became of one message. `stopped`: the receiver is stopping and the message stays uncommitted. */
export type MessageVerdict = 'accepted' | 'poison' | 'rejected' | 'stopped';

/** The next offset to commit after `offset` (Kafka commits name the next message to read). */
export function nextOffset(offset: string): string {
  return (BigInt(offset) + 1n).toString();
}

/** Doubling backoff, capped. */
export function backoffDelay(initialMs: number, maxMs: number, attempt: number): number {
  return Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
}

export function createKafkaReceiver(options: KafkaReceiverOptions): Receiver {
  const { pipeline, metrics, logger } = options;
  const signalByTopic = new Map<string, Signal>();
  for (const [signal, topic] of Object.entries(options.topics) as [Signal, string | undefined][]) if (topic) signalByTopic.set(topic, signal);
  const kafka = createKafkaClient({ brokers: options.brokers, clientId: options.clientId, requestTimeoutMs: 30_000, retries: 5 }, logger);
  const stopController = new AbortController();
  let consumer: Consumer | undefined;
  let starting: Promise<void> | undefined;

  function count(signal: Signal, outcome: 'accepted' | 'poison' | 'rejected' | 'retried'): void {
    metrics.kafkaReceiverMessages.inc({ signal, outcome });
  }

  /**
   * Keeps the group membership alive while one message waits on the pipeline or a backoff. A
   * heartbeat that fails (in a rebalance it throws, and that throw is how kafkajs learns to
   * rejoin) is handed to the batch, which stops and rethrows it.
   */
  function keepAlive(payload: EachBatchPayload, batch: BatchState): () => void {
    const timer = setInterval(() => {
      payload.heartbeat().catch((error: unknown) => {
        if (batch.heartbeatFailure !== undefined) return;
        batch.heartbeatFailure = { error };
        batch.abort.abort();
      });
    }, Math.max(1000, Math.floor(options.sessionTimeoutMs / 5)));
    return () => clearInterval(timer);
  }

  /**
   * Takes one message through the pipeline, retrying while it is refused for now.
   * `beforeWaiting` runs once, before the first wait, so the messages before this one are
   * committed while it waits.
   */
  async function handleMessage(
    signal: Signal,
    where: { topic: string; partition: number },
    message: KafkaMessage,
    payload: EachBatchPayload,
    batch: BatchState,
    beforeWaiting: () => Promise<void>,
  ): Promise<MessageVerdict> {
    const context = { topic: where.topic, partition: where.partition, offset: message.offset };
    if (message.value === null) {
      count(signal, 'poison');
      logger.warn('skipped a Kafka message without a value (tombstone)', context);
      return 'poison';
    }
    const body = new Uint8Array(message.value.buffer, message.value.byteOffset, message.value.byteLength);
    // One keep-alive for all tries: each try and each backoff may be shorter than its interval.
    const stopKeepAlive = keepAlive(payload, batch);
    try {
      return await retryMessage(signal, context, body, payload, batch, beforeWaiting);
    } finally {
      stopKeepAlive();
    }
  }

  /** The tries of one message: stops (uncommitted) once the receiver stops, a heartbeat fails or the batch went stale. */
  async function retryMessage(
    signal: Signal,
    context: { topic: string; partition: number; offset: string },
    body: Uint8Array,
    payload: EachBatchPayload,
    batch: BatchState,
    beforeWaiting: () => Promise<void>,
  ): Promise<MessageVerdict> {
    for (let attempt = 0; ; attempt++) {
      // A failed heartbeat or a stale batch: the partition may belong to another member now.
      if (!payload.isRunning() || stopController.signal.aborted || batch.abort.signal.aborted || payload.isStale()) return 'stopped';
      let failure: TollgateError;
      try {
        const result = await pipeline.consume(signal, body);
        recordOutcome(metrics, signal, TRANSPORT, result);
        count(signal, 'accepted');
        return 'accepted';
      } catch (error) {
        failure = asTollgateError(error, logger);
      }
      if (failure.code === 'malformed_request') {
        metrics.receiverItems.inc({ signal, transport: TRANSPORT, outcome: 'rejected' }, failure.items);
        count(signal, 'poison');
        logger.warn('skipped a Kafka message that is not a valid OTLP request (poison message)', { ...context, error: failure.message });
        return 'poison';
      }
      if (!failure.spec.retryable) {
        metrics.receiverItems.inc({ signal, transport: TRANSPORT, outcome: 'rejected' }, failure.items);
        count(signal, 'rejected');
        logger.warn('skipped a Kafka message the pipeline refused for good', { ...context, code: failure.code, error: failure.message });
        return 'rejected';
      }
      metrics.receiverItems.inc({ signal, transport: TRANSPORT, outcome: 'refused' }, failure.items);
      count(signal, 'retried');
      if (attempt === 0) await beforeWaiting();
      const delayMs = backoffDelay(options.retryInitialMs, options.retryMaxMs, attempt);
      logger.debug('pipeline refused a Kafka message for now; retrying it', { ...context, code: failure.code, delayMs });
      await abortableSleep(delayMs, batch.abort.signal);
    }
  }

  async function eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const signal = signalByTopic.get(batch.topic);
    if (signal === undefined) return;
    const where = { topic: batch.topic, partition: batch.partition };
    const state: BatchState = { abort: new AbortController() };
    const stopping = (): void => state.abort.abort();
    stopController.signal.addEventListener('abort', stopping, { once: true });
    let done: string | undefined;
    const commit = async (): Promise<void> => {
      if (done === undefined) return;
      const offset = nextOffset(done);
      done = undefined;
      try {
        await payload.commitOffsetsIfNecessary({ topics: [{ topic: where.topic, partitions: [{ partition: where.partition, offset }] }] });
      } catch (error) {
        // Not fatal: the messages stay uncommitted and come again, which at-least-once allows.
        logger.warn('could not commit Kafka offsets; the messages will be delivered again', { ...where, offset, error: kafkaErrorMessage(error) });
      }
    };
    try {
      for (const message of batch.messages) {
        // A rebalance took the partition away, or a seek moved it: the new owner starts from the last commit.
        if (!payload.isRunning() || payload.isStale()) break;
        const verdict = await handleMessage(signal, where, message, payload, state, commit);
        if (verdict === 'stopped') break;
        payload.resolveOffset(message.offset);
        done = message.offset;
      }
    } finally {
      stopController.signal.removeEventListener('abort', stopping);
      await commit();
    }
    if (state.heartbeatFailure !== undefined) {
      logger.info('Kafka heartbeat failed while a message waited; leaving it uncommitted and rejoining the group', { ...where, error: kafkaErrorMessage(state.heartbeatFailure.error) });
      throw state.heartbeatFailure.error;
    }
  }

  async function connectAndRun(): Promise<void> {
    const next = kafka.consumer({
      groupId: options.groupId,
      sessionTimeout: options.sessionTimeoutMs,
      heartbeatInterval: Math.max(1000, Math.floor(options.sessionTimeoutMs / 10)),
      allowAutoTopicCreation: true,
      // Telemetry wants low latency, and stopping waits for the fetch in flight (5 s by default).
      maxWaitTimeInMs: 500,
    });
    consumer = next;
    next.on(next.events.CRASH, (event) => {
      // kafkajs restarts the consumer itself after retriable failures; one it gives up on would
      // leave the receiver dead, so it goes back to the start loop.
      if (event.payload.restart || consumer !== next || stopController.signal.aborted) return;
      metrics.kafkaReceiverRestarts.inc();
      logger.warn('Kafka receiver consumer crashed; reconnecting', { error: kafkaErrorMessage(event.payload.error) });
      starting = (async () => {
        await starting;
        await next.disconnect().catch(() => undefined);
        // A pause first, so a crash that comes back at once does not spin.
        await abortableSleep(options.retryInitialMs, stopController.signal);
        await startLoop();
      })();
    });
    await next.connect();
    await next.subscribe({ topics: [...signalByTopic.keys()], fromBeginning: options.initialOffset === 'earliest' });
    await next.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch });
  }

  /** Connects, and while Kafka cannot be reached keeps trying in the background until stopped. */
  async function startLoop(): Promise<void> {
    for (let attempt = 0; !stopController.signal.aborted; attempt++) {
      try {
        await connectAndRun();
        logger.info('Kafka receiver consuming', { topics: [...signalByTopic.keys()], groupId: options.groupId });
        return;
      } catch (error) {
        await consumer?.disconnect().catch(() => undefined);
        const delayMs = backoffDelay(options.retryInitialMs, options.retryMaxMs, attempt);
        logger.warn('Kafka receiver could not join its group; retrying', { error: kafkaErrorMessage(error), delayMs });
        await abortableSleep(delayMs, stopController.signal);
      }
    }
  }

  return {
    async start(): Promise<void> {
      // The first attempt is awaited so a healthy start is consuming when start() returns; an
      // unreachable Kafka does not stop the other receivers from serving.
      let first: () => void = () => undefined;
      const firstDone = new Promise<void>((resolve) => (first = resolve));
      starting = (async () => {
        const run = startLoop();
        await Promise.race([run, abortableSleep(FIRST_START_WAIT_MS, stopController.signal)]);
        first();
        await run;
      })();
      await firstDone;
    },
    address: () => `kafka://${options.brokers.join(',')}/${[...signalByTopic.keys()].join(',')}`,
    async stop(deadline: number): Promise<void> {
      stopController.abort();
      const stopped = (async () => {
        await starting;
        // Waits for the batch in hand: its accepted messages are committed, the rest are not.
        await consumer?.disconnect();
      })();
      await Promise.race([stopped.catch((error: unknown) => logger.warn('Kafka receiver did not stop cleanly', { error: kafkaErrorMessage(error) })), abortableSleep(Math.max(0, deadline - Date.now()), new AbortController().signal)]);
    },
  };
}
