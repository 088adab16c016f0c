// Kafka exporter: each Export*ServiceRequest becomes one message (the Collector's `otlp_proto`
// encoding) on its signal's topic, keyed so a trace or a service's stream stays in one partition.
//
// Acknowledgement: export() answers `accepted` only after the broker acknowledged the message
// with acks=-1 (every in-sync replica has it). Until then the request is held in a bounded
// queue; past the bounds export() answers `busy` at once, which the receivers turn into
// 503 / UNAVAILABLE, so an unreachable broker pushes back on clients instead of filling memory.
//
// Batching and order: one send is in flight at a time; whatever queued up meanwhile goes out
// together in the next send (one produce request per broker). A failed send is retried whole,
// with backoff (retry.ts), and blocks the requests behind it, so per-key order holds. A retry
// after a send that half succeeded can duplicate messages: delivery is at least once.
import type { Producer, TopicMessages } from 'kafkajs';
import { CompressionTypes, Partitioners } from 'kafkajs';
import type { Signal } from '../otlp/signal.js';
import type { ExportOutcome, ExportRequest, Exporter } from '../pipeline/contracts.js';
import { createKafkaClient, isPermanentKafkaError, kafkaErrorKind, kafkaErrorMessage } from './kafka-client.js';
import type { KafkaLogger } from './kafka-client.js';
import { splitByKey } from './kafka-keys.js';
import type { KafkaMessageKey } from './kafka-keys.js';
import type { ExporterObserver } from './observer.js';
import { createHoldings } from './holdings.js';
import { NOOP_EXPORTER_OBSERVER } from './observer.js';
import type { AttemptResult, RetryPolicy, RetryRuntime } from './retry.js';
import { resolveRetryPolicy, runWithRetry, SYSTEM_RETRY_RUNTIME, undeliveredOutcome } from './retry.js';

export type KafkaCompression = 'zstd' | 'gzip' | 'none';

const COMPRESSION_TYPES: Readonly<Record<KafkaCompression, CompressionTypes>> = {
  zstd: CompressionTypes.ZSTD,
  gzip: CompressionTypes.GZIP,
  none: CompressionTypes.None,
};

export interface KafkaExporterOptions {
  /** Exporter name for metrics and logs. Default `kafka`. */
  readonly name?: string;
  /** Bootstrap brokers, `host:port`. */
  readonly brokers: readonly string[];
  readonly clientId?: string;
  /** Topic per signal; defaults are those of the Collector's Kafka receiver and exporter. */
  readonly topics?: Readonly<Partial<Record<Signal, string>>>;
  /** Message key per signal; defaults: trace_id for traces, service.name for metrics and logs. */
  readonly keys?: Readonly<Partial<Record<Signal, KafkaMessageKey>>>;
  /** Default `zstd` (registered with kafkajs by kafka-codecs.ts; needs Kafka 2.1 or later). */
  readonly compression?: KafkaCompression;
  /** How long the broker may take to acknowledge one send (and the client waits for any request). Default 10 000 ms. */
  readonly timeoutMs?: number;
  /** Overrides of the Collector-compatible retry defaults (see retry.ts). */
  readonly retry?: Partial<RetryPolicy>;
  /** Request bytes held (queued or being sent) before answering busy. Default 64 MiB. */
  readonly maxInFlightBytes?: number;
  /** Requests held before answering busy. Default 1000. */
  readonly maxQueuedRequests?: number;
  /**
   * Request bytes (uncompressed) gathered into one send. Default 1 MiB, the broker's default
   * largest record batch, so a send never trips it unless one request alone does.
   */
  readonly maxBatchBytes?: number;
}

/** The exporter observer plus the one thing only Kafka reports: why a send attempt failed. */
export interface KafkaExporterObserver extends ExporterObserver {
  /** `error`: a bounded name (broker error type or kafkajs error class), see kafkaErrorKind. */
  onSendError(error: string): void;
}

export interface KafkaExporterDeps {
  readonly observer?: KafkaExporterObserver;
  readonly logger?: KafkaLogger;
  /** Clock, sleep and random source for the retry loop. */
  readonly runtime?: RetryRuntime;
}

export const KAFKA_EXPORTER_DEFAULTS = Object.freeze({
  name: 'kafka',
  clientId: 'tollgate',
  topics: Object.freeze({ traces: 'otlp_spans', metrics: 'otlp_metrics', logs: 'otlp_logs' }),
  keys: Object.freeze({ traces: 'trace_id', metrics: 'service.name', logs: 'service.name' }),
  compression: 'zstd',
  timeoutMs: 10_000,
  maxInFlightBytes: 64 * 1024 * 1024,
  maxQueuedRequests: 1000,
  maxBatchBytes: 1024 * 1024,
} as const);

const NOOP_KAFKA_OBSERVER: KafkaExporterObserver = Object.freeze({ ...NOOP_EXPORTER_OBSERVER, onSendError: () => undefined });
const NOOP_KAFKA_LOGGER: KafkaLogger = Object.freeze({ warn: () => undefined, debug: () => undefined });

interface PendingExport {
  readonly request: ExportRequest;
  readonly resolve: (outcome: ExportOutcome) => void;
}

/** The longest prefix of `queue` within `maxBytes` (at least one request, however large). */
export function takeBatch<T extends { readonly request: ExportRequest }>(queue: readonly T[], maxBytes: number): T[] {
  let bytes = 0;
  let count = 0;
  while (count < queue.length) {
    const size = queue[count].request.body.length;
    if (count > 0 && bytes + size > maxBytes) break;
    bytes += size;
    count++;
  }
  return queue.slice(0, count);
}

export function createKafkaExporter(options: KafkaExporterOptions, deps: KafkaExporterDeps = {}): Exporter {
  const name = options.name ?? KAFKA_EXPORTER_DEFAULTS.name;
  const topics: Readonly<Record<Signal, string>> = { ...KAFKA_EXPORTER_DEFAULTS.topics, ...options.topics };
  const keys: Readonly<Record<Signal, KafkaMessageKey>> = { ...KAFKA_EXPORTER_DEFAULTS.keys, ...options.keys };
  const compression = COMPRESSION_TYPES[options.compression ?? KAFKA_EXPORTER_DEFAULTS.compression];
  const timeoutMs = options.timeoutMs ?? KAFKA_EXPORTER_DEFAULTS.timeoutMs;
  const maxInFlightBytes = options.maxInFlightBytes ?? KAFKA_EXPORTER_DEFAULTS.maxInFlightBytes;
  const maxQueuedRequests = options.maxQueuedRequests ?? KAFKA_EXPORTER_DEFAULTS.maxQueuedRequests;
  const maxBatchBytes = options.maxBatchBytes ?? KAFKA_EXPORTER_DEFAULTS.maxBatchBytes;
  const policy = resolveRetryPolicy(options.retry);
  const observer = deps.observer ?? NOOP_KAFKA_OBSERVER;
  const logger = deps.logger ?? NOOP_KAFKA_LOGGER;
  const runtime = deps.runtime ?? SYSTEM_RETRY_RUNTIME;

  const kafka = createKafkaClient(
    { brokers: options.brokers, clientId: options.clientId ?? KAFKA_EXPORTER_DEFAULTS.clientId, requestTimeoutMs: timeoutMs + 1000, retries: 2 },
    logger,
  );
  // Idempotent: kafkajs re-sends a whole produce request when one partition in it failed (a new
  // topic's leader not yet elected); the producer's sequence numbers let the broker drop the
  // batches it already had instead of storing them twice.
  // But a send that failed on our side may still have been written; the same producer would
  // then give the next, different batch the same sequence numbers, and the broker would take it
  // for a duplicate (dropped, yet acknowledged) or refuse it as out of order for good. So after
  // any failed send the producer is replaced: a new producer id starts a fresh sequence, and a
  // retry can at worst write a duplicate (at least once), never lose one.
  let producer: Producer | undefined;

  async function connectedProducer(): Promise<Producer> {
    if (producer !== undefined) return producer;
    // The Java-compatible partitioner (murmur2 of the key), named to silence kafkajs's v2 notice.
    const next = kafka.producer({ allowAutoTopicCreation: true, idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
    try {
      await next.connect();
    } catch (error) {
      await next.disconnect().catch(() => undefined);
      throw error;
    }
    producer = next;
    return next;
  }

  async function discardProducer(): Promise<void> {
    const old = producer;
    producer = undefined;
    await old?.disconnect().catch(() => undefined);
  }

  const queue: PendingExport[] = [];
  let sending: Promise<void> | undefined;
  const shutdownController = new AbortController();
  let stopping = false;
  const held = createHoldings({ maxQueuedRequests, maxInFlightBytes });

  function answer(request: ExportRequest, outcome: ExportOutcome): ExportOutcome {
    observer.onOutcome(request.signal, request.items, outcome);
    return outcome;
  }

  function settle(batch: readonly PendingExport[], outcome: ExportOutcome): void {
    queue.splice(0, batch.length);
    for (const pending of batch) {
      held.release(pending.request);
      pending.resolve(answer(pending.request, outcome));
    }
  }

  async function drain(): Promise<void> {
    while (queue.length > 0) {
      const batch = takeBatch(queue, maxBatchBytes);
      const outcome = await deliver(batch.map((pending) => pending.request));
      // One request the broker refuses for good (too large) must not fail the others sent with it.
      if (outcome.kind === 'failed' && !outcome.retryable && batch.length > 1) {
        const single = batch[0];
        const own = await deliver([single.request]);
        settle([single], own);
        continue;
      }
      settle(batch, outcome);
    }
    sending = undefined;
  }

  function messagesOf(requests: readonly ExportRequest[]): TopicMessages[] {
    const byTopic = new Map<string, TopicMessages>();
    for (const request of requests) {
      const topic = topics[request.signal];
      let entry = byTopic.get(topic);
      if (entry === undefined) {
        entry = { topic, messages: [] };
        byTopic.set(topic, entry);
      }
      for (const part of splitOrWhole(request)) {
        entry.messages.push({ key: part.key, value: Buffer.from(part.body.buffer, part.body.byteOffset, part.body.byteLength) });
      }
    }
    return [...byTopic.values()];
  }

  function splitOrWhole(request: ExportRequest): ReturnType<typeof splitByKey> {
    try {
      return splitByKey(request.signal, request.body, request.items, keys[request.signal]);
    } catch (error) {
      // The pipeline hands over valid requests only; if one cannot be read, send it unkeyed rather than lose it.
      logger.warn('could not read a request to key it; sending it without a key', { exporter: name, signal: request.signal, error: kafkaErrorMessage(error) });
      return [{ key: null, body: request.body, items: request.items }];
    }
  }

  async function sendOnce(topicMessages: TopicMessages[]): Promise<AttemptResult<undefined>> {
    try {
      const ready = await connectedProducer();
      await ready.sendBatch({ topicMessages, acks: -1, timeout: timeoutMs, compression });
      return { kind: 'delivered', value: undefined };
    } catch (error) {
      await discardProducer();
      observer.onSendError(kafkaErrorKind(error));
      const reason = `kafka: ${kafkaErrorMessage(error)}`;
      return isPermanentKafkaError(error) ? { kind: 'permanent', reason } : { kind: 'retryable', reason };
    }
  }

  async function deliver(requests: readonly ExportRequest[]): Promise<ExportOutcome> {
    if (shutdownController.signal.aborted) return { kind: 'failed', retryable: true, reason: 'exporter shut down before delivery' };
    const topicMessages = messagesOf(requests);
    // Retries are reported under the first request's signal: the label stays bounded and a
    // mixed batch is one send.
    const signal = requests[0].signal;
    const result = await runWithRetry(() => sendOnce(topicMessages), {
      policy,
      runtime,
      signal: shutdownController.signal,
      onRetry: (delayMs, reason) => observer.onRetry(signal, delayMs, reason),
    });
    return result.kind === 'delivered' ? { kind: 'accepted' } : undeliveredOutcome(result);
  }

  return {
    name,

    async start(): Promise<void> {
      // A broker that is down at start is not fatal: requests wait, retry and push back as
      // they would in any later outage.
      try {
        await connectedProducer();
      } catch (error) {
        observer.onSendError(kafkaErrorKind(error));
        logger.warn('kafka exporter could not connect at start; will retry on the first export', { exporter: name, error: kafkaErrorMessage(error) });
      }
    },

    export(request: ExportRequest): Promise<ExportOutcome> {
      if (stopping) return Promise.resolve(answer(request, { kind: 'failed', retryable: true, reason: 'exporter is shutting down' }));
      const refusal = held.refusal(request);
      if (refusal !== undefined) return Promise.resolve(answer(request, { kind: 'busy', reason: `kafka ${refusal}` }));
      held.take(request);
      return new Promise<ExportOutcome>((resolve) => {
        queue.push({ request, resolve });
        sending ??= drain();
      });
    },

    queuedItems(): number {
      return held.items;
    },

    async shutdown(deadline: number): Promise<void> {
      stopping = true;
      const timer = new AbortController();
      const drainedInTime = await Promise.race([
        (sending ?? Promise.resolve()).then(() => true),
        runtime.sleep(Math.max(0, deadline - runtime.now()), timer.signal).then(() => false),
      ]);
      timer.abort();
      if (!drainedInTime) {
        // Wakes a sleeping retry; the send on the wire (if any) ends within its timeout, and
        // everything still queued then fails without an attempt.
        shutdownController.abort(new Error('exporter shut down before delivery'));
        await sending;
      }
      await discardProducer();
    },
  };
}
