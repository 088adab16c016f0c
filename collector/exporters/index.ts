export type { AttemptStatus, ExporterLogger, ExporterObserver } from './observer.js';
export { NOOP_EXPORTER_LOGGER, NOOP_EXPORTER_OBSERVER } from './observer.js';
export type {
  AttemptResult,
  HttpStatusClass,
  RetryDecision,
  RetryLoopOptions,
  RetryOutcome,
  RetryPolicy,
  RetryRuntime,
  RetryState,
} from './retry.js';
export {
  abortableSleep,
  classifyHttpStatus,
  decideRetry,
  DEFAULT_RETRY_POLICY,
  honoursRetryAfter,
  nextDelay,
  parseRetryAfter,
  resolveRetryPolicy,
  runWithRetry,
  SYSTEM_RETRY_RUNTIME,
} from './retry.js';
export type { OtlpHttpCompression, OtlpHttpExporterDeps, OtlpHttpExporterOptions, PartialSuccess } from './otlp-http.js';
export { createOtlpHttpExporter, describeErrorBody, OTLP_HTTP_DEFAULTS, parsePartialSuccess, signalUrls } from './otlp-http.js';
export type { FileExporterDeps, FileExporterOptions } from './file.js';
export { activeFileName, createFileExporter, FILE_EXPORTER_DEFAULTS, rotatedFileName, rotatedFilesOf, rotatedFileTime } from './file.js';
export type { KafkaCompression, KafkaExporterDeps, KafkaExporterObserver, KafkaExporterOptions } from './kafka.js';
export { createKafkaExporter, KAFKA_EXPORTER_DEFAULTS, takeBatch } from './kafka.js';
export type { KafkaMessageKey, KeyedRequest } from './kafka-keys.js';
export { KAFKA_MESSAGE_KEYS, splitByKey } from './kafka-keys.js';
export type { KafkaClientOptions, KafkaLogger } from './kafka-client.js';
export { createKafkaClient, isPermanentKafkaError, kafkaErrorKind, kafkaErrorMessage } from './kafka-client.js';
