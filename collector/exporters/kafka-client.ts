// What the Kafka exporter and receiver share: building a kafkajs client whose own log goes
// through Tollgate's logger (kafkajs prints to the console otherwise), naming kafkajs errors
// for bounded metric labels, and telling retryable failures from permanent ones.
import { Kafka, logLevel } from 'kafkajs';
import type { LogEntry, logCreator } from 'kafkajs';
import { registerKafkaCodecs } from './kafka-codecs.js';
import type { ExporterLogger } from './observer.js';

export interface KafkaClientOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  /** Client-side wait for any one broker request. */
  readonly requestTimeoutMs: number;
  /** Retries kafkajs makes inside one call (metadata refreshes, leader moves) before the call fails. */
  readonly retries: number;
}

/** Where kafkajs's own log goes; `warn` is for what the exporter and receiver decide themselves. */
export interface KafkaLogger extends ExporterLogger {
  debug(message: string, fields?: Readonly<Record<string, unknown>>): void;
}

/**
 * kafkajs logs every retriable hiccup (a new topic's leader not elected yet, a reconnect) as an
 * error. Those are expected and handled: the exporter and receiver count and log the failures
 * that matter, so kafkajs's own warnings and errors go to debug, and its chatter nowhere.
 */
function logCreatorFor(logger: KafkaLogger): logCreator {
  return () =>
    ({ namespace, level, log }: LogEntry) => {
      if (level > logLevel.WARN) return;
      const { message, broker, error } = log as { message: string; broker?: unknown; error?: unknown };
      logger.debug(`kafka client: ${message}`, { namespace, broker, error });
    };
}

export function createKafkaClient(options: KafkaClientOptions, logger: KafkaLogger): Kafka {
  // Before any client exists: kafkajs's codec table is global and read at every send and fetch.
  registerKafkaCodecs();
  return new Kafka({
    brokers: [...options.brokers],
    clientId: options.clientId,
    connectionTimeout: Math.min(options.requestTimeoutMs, 3000),
    requestTimeout: options.requestTimeoutMs,
    // Short inner retries: longer outages are the caller's retry loop's business.
    retry: { retries: options.retries, initialRetryTime: 100, maxRetryTime: 1000 },
    logLevel: logLevel.WARN,
    logCreator: logCreatorFor(logger),
  });
}

interface ErrorLike {
  readonly name?: unknown;
  readonly type?: unknown;
  readonly retriable?: unknown;
  readonly cause?: unknown;
  readonly originalError?: unknown;
}

/** The innermost error kafkajs wrapped (retries exceeded → the last real failure). */
function rootCause(error: unknown): ErrorLike | undefined {
  let current = error as ErrorLike | undefined;
  for (let depth = 0; depth < 5 && current !== undefined && current !== null; depth++) {
    const inner = (current.cause ?? current.originalError) as ErrorLike | undefined;
    if (inner === undefined || inner === null || typeof inner !== 'object') break;
    current = inner;
  }
  return current ?? undefined;
}

/**
 * A short, bounded name for a kafkajs failure: the broker's error type (`MESSAGE_TOO_LARGE`)
 * when the broker answered, else the kafkajs error class (`KafkaJSConnectionError`).
 */
export function kafkaErrorKind(error: unknown): string {
  const root = rootCause(error);
  if (root !== undefined && typeof root.type === 'string' && /^[A-Z_]{1,64}$/.test(root.type)) return root.type;
  const name = root?.name ?? (error as ErrorLike | undefined)?.name;
  return typeof name === 'string' && /^\w{1,64}$/.test(name) ? name : 'unknown';
}

/**
 * Only a broker that answered "never" (a protocol error kafkajs marks not retriable, such as
 * MESSAGE_TOO_LARGE or TOPIC_AUTHORIZATION_FAILED) makes a failure permanent; lost connections,
 * timeouts and leader moves may pass.
 */
export function isPermanentKafkaError(error: unknown): boolean {
  const root = rootCause(error);
  return root !== undefined && typeof root.type === 'string' && root.retriable === false;
}

export function kafkaErrorMessage(error: unknown): string {
  const root = rootCause(error);
  const outer = error instanceof Error ? error.message : String(error);
  const inner = root instanceof Error ? root.message : undefined;
  return inner !== undefined && inner !== outer ? `${outer} (${inner})` : outer;
}
