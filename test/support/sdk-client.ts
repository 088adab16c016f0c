// A traces-and-logs OpenTelemetry SDK client for end-to-end tests that need several of them in
// one process (one per service or per Tollgate instance): a real BasicTracerProvider and
// LoggerProvider with their own resource, batch processors into the real OTLP/HTTP protobuf
// exporters, in-memory copies of everything produced, nothing registered globally. Spans are
// parented and log records attached to spans through explicit contexts (no context manager).
import type { Attributes, Tracer } from '@opentelemetry/api';
import type { Logger } from '@opentelemetry/api-logs';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import type { LogRecordExporter, ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { BasicTracerProvider, BatchSpanProcessor, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { withTimeout } from './sdk-app.js';
import type { ExportRecord } from './sdk-app.js';

export interface SdkClientOptions {
  /** host:port of the OTLP/HTTP receiver. */
  readonly http: string;
  readonly resourceAttributes: Attributes;
  /** Spans or log records per export (default 512). */
  readonly batchSize?: number;
}

export interface SdkClient {
  readonly tracer: Tracer;
  readonly logger: Logger;
  /** Every export the OTLP exporters finished, with its result (`traces/http`, `logs/http`). */
  readonly exports: readonly ExportRecord[];
  /** Spans and log records ended so far, as the SDK produced them. */
  finished(): { spans: readonly ReadableSpan[]; logs: readonly ReadableLogRecord[] };
  /** Exports everything ended so far and waits for the exports to finish. */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

const EXPORT_TIMEOUT_MS = 5_000;
/** Large enough that a test's burst is never dropped by a full queue. */
const MAX_QUEUE = 100_000;

type ExportCallback = Parameters<SpanExporter['export']>[1];

function describe(result: Parameters<ExportCallback>[0]): string | undefined {
  return result.error === undefined ? undefined : `${result.error.name}: ${result.error.message}`;
}

export function startSdkClient(options: SdkClientOptions): SdkClient {
  const exports: ExportRecord[] = [];
  const resource = resourceFromAttributes(options.resourceAttributes);
  const batch = { maxQueueSize: MAX_QUEUE, maxExportBatchSize: options.batchSize ?? 512, scheduledDelayMillis: 100, exportTimeoutMillis: EXPORT_TIMEOUT_MS };

  const spanExporter = new OTLPTraceExporter({ url: `http://${options.http}/v1/traces`, timeoutMillis: EXPORT_TIMEOUT_MS });
  const recordingSpans: SpanExporter = {
    export(spans, done) {
      spanExporter.export(spans, (result) => {
        exports.push({ exporter: 'traces/http', items: spans.length, code: result.code, error: describe(result) });
        done(result);
      });
    },
    shutdown: () => spanExporter.shutdown(),
    forceFlush: () => spanExporter.forceFlush(),
  };
  const logExporter = new OTLPLogExporter({ url: `http://${options.http}/v1/logs`, timeoutMillis: EXPORT_TIMEOUT_MS });
  const recordingLogs: LogRecordExporter = {
    export(records, done) {
      logExporter.export(records, (result) => {
        exports.push({ exporter: 'logs/http', items: records.length, code: result.code, error: describe(result) });
        done(result);
      });
    },
    shutdown: () => logExporter.shutdown(),
    forceFlush: () => logExporter.forceFlush(),
  };

  const memorySpans = new InMemorySpanExporter();
  const memoryLogs = new InMemoryLogRecordExporter();
  const tracerProvider = new BasicTracerProvider({ resource, spanProcessors: [new SimpleSpanProcessor(memorySpans), new BatchSpanProcessor(recordingSpans, batch)] });
  const loggerProvider = new LoggerProvider({ resource, processors: [new SimpleLogRecordProcessor({ exporter: memoryLogs }), new BatchLogRecordProcessor({ exporter: recordingLogs, ...batch })] });
  let shutdown: Promise<void> | undefined;
  return {
    tracer: tracerProvider.getTracer('tollgate.e2e.client', '1.0.0'),
    logger: loggerProvider.getLogger('tollgate.e2e.client', '1.0.0'),
    exports,
    finished: () => ({ spans: [...memorySpans.getFinishedSpans()], logs: [...memoryLogs.getFinishedLogRecords()] }),
    flush: () => withTimeout(Promise.all([tracerProvider.forceFlush(), loggerProvider.forceFlush()]).then(() => undefined), 4 * EXPORT_TIMEOUT_MS, 'SDK client flush'),
    shutdown: () => (shutdown ??= withTimeout(Promise.all([tracerProvider.shutdown(), loggerProvider.shutdown()]).then(() => undefined), 4 * EXPORT_TIMEOUT_MS, 'SDK client shutdown')),
  };
}
