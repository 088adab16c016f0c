// A small "instrumented application" for the end-to-end tests: the real NodeSDK with the real
// OTLP exporters (HTTP/protobuf for traces, metrics and logs; gRPC for traces), plus in-memory
// exporters and recording wrappers that tell the test exactly what the SDK produced and whether
// each export succeeded. `produceTelemetry()` then emits a fixed workload through the global
// OpenTelemetry APIs, the way application code does.
import { context, createTraceState, diag, DiagLogLevel, metrics, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags, ValueType } from '@opentelemetry/api';
import type { Attributes, SpanContext } from '@opentelemetry/api';
import { logs, SeverityNumber } from '@opentelemetry/api-logs';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter as OTLPGrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as OTLPProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { defaultResource, hostDetector, processDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, InMemoryLogRecordExporter, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import type { LogRecordExporter, LogRecordProcessor, ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import type { PushMetricExporter, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';

type ExportResult = Parameters<Parameters<SpanExporter['export']>[1]>[0];
/** ExportResultCode.SUCCESS of @opentelemetry/core. */
export const EXPORT_SUCCESS = 0;

/** One export call an OTLP exporter finished. */
export interface ExportRecord {
  /** Which exporter: `traces/http`, `traces/grpc`, `metrics/http`, `logs/http`. */
  readonly exporter: string;
  readonly items: number;
  readonly code: number;
  readonly error?: string;
}

export interface SdkAppOptions {
  /** host:port of the OTLP/HTTP receiver: traces, metrics and logs go there as protobuf. */
  readonly http: string;
  /** host:port of the OTLP/gRPC receiver: when given, traces are sent there as well. */
  readonly grpc?: string;
  readonly resourceAttributes: Attributes;
  readonly resourceSchemaUrl?: string;
  /** Request compression of every OTLP exporter (the SDK's default is none). */
  readonly compression?: 'gzip' | 'none';
}

export interface SdkSnapshot {
  readonly spans: readonly ReadableSpan[];
  readonly logs: readonly ReadableLogRecord[];
}

export interface SdkApp {
  /** Every export the OTLP exporters finished, with its result. */
  readonly exports: readonly ExportRecord[];
  /** What the metric reader handed to the OTLP metric exporter, one entry per export. */
  readonly metricExports: readonly ResourceMetrics[];
  /** Warnings and errors the SDK reported through `diag`. */
  readonly diagnostics: readonly string[];
  /** Waits for the in-memory exporters and copies what they hold (spans and logs ended so far). */
  snapshot(): Promise<SdkSnapshot>;
  /** NodeSDK.shutdown(): flushes every processor and reader, then shuts the exporters down. */
  shutdown(): Promise<void>;
  /** Removes the global providers this app registered; safe to call more than once. */
  dispose(): void;
}

const EXPORT_TIMEOUT_MS = 5_000;

/** The exporters' CompressionAlgorithm enum (of @opentelemetry/otlp-exporter-base), whose values are these strings. */
type Compression = NonNullable<NonNullable<ConstructorParameters<typeof OTLPProtoTraceExporter>[0]>['compression']>;

function describeError(result: ExportResult): string | undefined {
  return result.error === undefined ? undefined : `${result.error.name}: ${result.error.message}`;
}

/** Passes spans through to `inner` and records how each export ended. */
function recordingSpanExporter(name: string, inner: SpanExporter, records: ExportRecord[]): SpanExporter {
  return {
    export(spans, done) {
      inner.export(spans, (result) => {
        records.push({ exporter: name, items: spans.length, code: result.code, error: describeError(result) });
        done(result);
      });
    },
    shutdown: () => inner.shutdown(),
    forceFlush: () => inner.forceFlush?.() ?? Promise.resolve(),
  };
}

function recordingLogExporter(name: string, inner: LogRecordExporter, records: ExportRecord[]): LogRecordExporter {
  return {
    export(logRecords, done) {
      inner.export(logRecords, (result) => {
        records.push({ exporter: name, items: logRecords.length, code: result.code, error: describeError(result) });
        done(result);
      });
    },
    shutdown: () => inner.shutdown(),
    forceFlush: () => inner.forceFlush?.() ?? Promise.resolve(),
  };
}

/** Also keeps each ResourceMetrics it exports: the exact data (values and timestamps) that was sent. */
export function recordingMetricExporter(name: string, inner: PushMetricExporter, records: ExportRecord[], sent: ResourceMetrics[]): PushMetricExporter {
  const exporter: PushMetricExporter = {
    export(resourceMetrics, done) {
      sent.push(resourceMetrics);
      const items = resourceMetrics.scopeMetrics.reduce((n, sm) => n + sm.metrics.reduce((m, metric) => m + metric.dataPoints.length, 0), 0);
      inner.export(resourceMetrics, (result) => {
        records.push({ exporter: name, items, code: result.code, error: describeError(result) });
        done(result);
      });
    },
    forceFlush: () => inner.forceFlush(),
    shutdown: () => inner.shutdown(),
  };
  // The reader asks the exporter which temporality and aggregation it wants.
  if (inner.selectAggregationTemporality) exporter.selectAggregationTemporality = inner.selectAggregationTemporality.bind(inner);
  if (inner.selectAggregation) exporter.selectAggregation = inner.selectAggregation.bind(inner);
  return exporter;
}

/** Builds and starts the NodeSDK (registering the global providers). */
export function startSdkApp(options: SdkAppOptions): SdkApp {
  const exports: ExportRecord[] = [];
  const metricExports: ResourceMetrics[] = [];
  const diagnostics: string[] = [];
  const note =
    (level: string) =>
    (message: string, ...args: unknown[]): void => {
      diagnostics.push(`${level}: ${message} ${args.map((a) => (a instanceof Error ? a.message : String(a))).join(' ')}`.trim());
    };

  const compression = (options.compression ?? 'none') as Compression;
  const memorySpans = new InMemorySpanExporter();
  const memoryLogs = new InMemoryLogRecordExporter();
  const memorySpanProcessor = new SimpleSpanProcessor(memorySpans);
  const memoryLogProcessor = new SimpleLogRecordProcessor({ exporter: memoryLogs });

  const spanProcessors: SpanProcessor[] = [
    memorySpanProcessor,
    new BatchSpanProcessor(
      recordingSpanExporter('traces/http', new OTLPProtoTraceExporter({ url: `http://${options.http}/v1/traces`, timeoutMillis: EXPORT_TIMEOUT_MS, compression }), exports),
    ),
  ];
  if (options.grpc !== undefined) {
    spanProcessors.push(
      new BatchSpanProcessor(recordingSpanExporter('traces/grpc', new OTLPGrpcTraceExporter({ url: `http://${options.grpc}`, timeoutMillis: EXPORT_TIMEOUT_MS, compression }), exports)),
    );
  }
  const logRecordProcessors: LogRecordProcessor[] = [
    memoryLogProcessor,
    new BatchLogRecordProcessor({
      exporter: recordingLogExporter('logs/http', new OTLPLogExporter({ url: `http://${options.http}/v1/logs`, timeoutMillis: EXPORT_TIMEOUT_MS, compression }), exports),
    }),
  ];
  const metricReader = new PeriodicExportingMetricReader({
    exporter: recordingMetricExporter(
      'metrics/http',
      new OTLPMetricExporter({ url: `http://${options.http}/v1/metrics`, timeoutMillis: EXPORT_TIMEOUT_MS, compression }),
      exports,
      metricExports,
    ),
    // Long enough never to fire during a test: metrics are exported by shutdown's final flush.
    exportIntervalMillis: 10 * 60_000,
    exportTimeoutMillis: EXPORT_TIMEOUT_MS,
  });

  const sdk = new NodeSDK({
    resource: defaultResource().merge(resourceFromAttributes(options.resourceAttributes, { schemaUrl: options.resourceSchemaUrl })),
    resourceDetectors: [hostDetector, processDetector],
    spanProcessors,
    metricReaders: [metricReader],
    logRecordProcessors,
  });
  // After the constructor (which installs a console logger of its own when OTEL_LOG_LEVEL is
  // set), before start(): everything the SDK reports from here on is recorded.
  diag.setLogger({ error: note('error'), warn: note('warn'), info: () => {}, debug: () => {}, verbose: () => {} }, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
  sdk.start();

  let disposed = false;
  return {
    exports,
    metricExports,
    diagnostics,
    async snapshot() {
      await Promise.all([memorySpanProcessor.forceFlush(), memoryLogProcessor.forceFlush()]);
      // Copies: shutting the in-memory exporters down empties them.
      return { spans: [...memorySpans.getFinishedSpans()], logs: [...memoryLogs.getFinishedLogRecords()] };
    },
    shutdown: () => sdk.shutdown(),
    dispose() {
      if (disposed) return;
      disposed = true;
      trace.disable();
      metrics.disable();
      logs.disable();
      propagation.disable();
      context.disable();
      diag.disable();
    },
  };
}

/** Rejects when `promise` has not settled within `ms`, so a hung flush fails the test instead of stalling it. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

// ─── The workload ──────────────────────────────────────────────────────────────────────────────

export const SCOPE = { name: 'tollgate.e2e.shop', version: '1.4.2', schemaUrl: 'https://opentelemetry.io/schemas/1.26.0' } as const;
export const LOG_SCOPE = { name: 'tollgate.e2e.shop.logs', version: '0.9.0' } as const;

/** A propagated parent, as if extracted from a traceparent/tracestate header. */
export const REMOTE_PARENT: SpanContext = {
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  spanId: '00f067aa0ba902b7',
  traceFlags: TraceFlags.SAMPLED,
  isRemote: true,
  traceState: createTraceState('congo=t61rcWkgMzE,rojo=00f067aa0ba902b7'),
};

/** A span in another (unsampled) trace that one of ours links to. */
export const LINKED_CONTEXT: SpanContext = {
  traceId: '0af7651916cd43dd8448eb211c80319c',
  spanId: 'b7ad6b7169203331',
  traceFlags: TraceFlags.NONE,
  isRemote: true,
  traceState: createTraceState('vendor=opaque'),
};

/** Every attribute value type the API has, with the edge values of each. */
export const EVERY_ATTRIBUTE_TYPE: Attributes = {
  'attr.string': 'checkout',
  'attr.string.empty': '',
  'attr.string.unicode': 'Grüße, 世界 🚀 "quoted" \\ back\nslash',
  'attr.int': 42,
  'attr.int.zero': 0,
  'attr.int.negative': -42,
  'attr.int.large': 2 ** 60,
  'attr.double': 3.25,
  'attr.double.negative': -0.5,
  'attr.double.tiny': 5e-324,
  'attr.double.infinity': Infinity,
  'attr.bool': true,
  'attr.bool.false': false,
  'attr.string.array': ['a', 'b', ''],
  'attr.int.array': [1, -2, 3],
  'attr.double.array': [1.5, -2.25],
  'attr.bool.array': [true, false],
};

/** Explicit, sub-millisecond timestamps whose nanosecond values do not fit a double (> 2^53). */
export const PRECISE_TIMES = {
  start: [1_700_000_000, 123_456_789],
  event: [1_700_000_001, 1],
  end: [1_700_000_002, 987_654_321],
  log: [1_700_000_003, 999_999_999],
} as const satisfies Record<string, [number, number]>;

/** What the workload records on each instrument, for checks that do not go through the SDK's aggregation. */
export const KNOWN_METRICS = {
  counter: { name: 'shop.requests', unit: '{request}', description: 'Requests served.', points: [{ attributes: { 'http.route': '/checkout', 'http.request.method': 'GET' }, value: '7' }, { attributes: { 'http.route': '/cart', 'http.request.method': 'POST' }, value: '1' }] },
  histogram: {
    name: 'shop.request.duration',
    unit: 'ms',
    description: 'Request latency.',
    attributes: { 'http.route': '/checkout' },
    bounds: [10, 50, 100, 500],
    // 3 | 42 42 | - | 120 | 1000.5
    bucketCounts: ['1', '2', '0', '1', '1'],
    count: '5',
    sum: 1207.5,
    min: 3,
    max: 1000.5,
  },
  upDownCounter: { name: 'shop.queue.depth', unit: '{message}', description: 'Messages waiting.', attributes: { 'messaging.destination.name': 'orders' }, value: 2.5 },
  gauge: { name: 'shop.temperature', unit: 'Cel', description: 'Room temperature.', points: [{ attributes: { room: 'a' }, value: 21.5 }, { attributes: { room: 'b' }, value: -3 }] },
} as const;

/**
 * Emits the workload through the global APIs: six spans (server → client child with an
 * exception, error status and a link; producer; internal; a consumer under a remote parent; one
 * with explicit nanosecond times), four instruments and four log records (one outside any span,
 * three inside spans).
 */
export function produceTelemetry(): void {
  // The provider's getTracer takes the schema URL; the `trace.getTracer` shorthand does not.
  const tracer = trace.getTracerProvider().getTracer(SCOPE.name, SCOPE.version, { schemaUrl: SCOPE.schemaUrl });
  const meter = metrics.getMeter(SCOPE.name, SCOPE.version, { schemaUrl: SCOPE.schemaUrl });
  const logger = logs.getLogger(LOG_SCOPE.name, LOG_SCOPE.version);

  const { counter: c, histogram: h, upDownCounter: u, gauge: g } = KNOWN_METRICS;
  const requests = meter.createCounter(c.name, { description: c.description, unit: c.unit, valueType: ValueType.INT });
  const duration = meter.createHistogram(h.name, { description: h.description, unit: h.unit, advice: { explicitBucketBoundaries: [...h.bounds] } });
  const queueDepth = meter.createUpDownCounter(u.name, { description: u.description, unit: u.unit });
  meter.createObservableGauge(g.name, { description: g.description, unit: g.unit }).addCallback((result) => {
    for (const point of g.points) result.observe(point.value, point.attributes);
  });

  logger.emit({ severityNumber: SeverityNumber.INFO, severityText: 'INFO', body: 'service started', attributes: { 'log.seq': 1, 'app.ready': true } });

  tracer.startActiveSpan('GET /checkout', { kind: SpanKind.SERVER, attributes: EVERY_ATTRIBUTE_TYPE }, (root) => {
    root.addEvent('cache.miss', { 'cache.key': 'cart:42', 'cache.attempt': 2, 'cache.ratio': 0.25 });
    requests.add(3, c.points[0].attributes);
    requests.add(4, c.points[0].attributes);
    requests.add(1, c.points[1].attributes);
    for (const value of [3, 42, 42, 120, 1000.5]) duration.record(value, h.attributes);
    queueDepth.add(5, u.attributes);
    queueDepth.add(-2.5, u.attributes);

    tracer.startActiveSpan(
      'SELECT orders',
      { kind: SpanKind.CLIENT, attributes: { 'db.system.name': 'postgresql', 'db.query.text': 'SELECT * FROM orders WHERE id = $1' }, links: [{ context: LINKED_CONTEXT, attributes: { 'link.reason': 'fan-in', 'link.index': 0 } }] },
      (query) => {
        logger.emit({
          severityNumber: SeverityNumber.ERROR,
          severityText: 'ERROR',
          body: {
            message: 'query failed',
            code: 503,
            retryable: true,
            ratio: 0.75,
            tags: ['db', 'timeout'],
            detail: { attempt: 3, host: 'db-1', empty: '' },
            raw: new Uint8Array([0, 1, 2, 0xfe, 0xff]),
          },
          attributes: { 'log.seq': 2, 'db.system.name': 'postgresql', 'log.tags': ['a', 'b'], 'log.map': { inner: 1.5 } },
        });
        query.recordException(new TypeError('connection reset by peer'));
        query.setStatus({ code: SpanStatusCode.ERROR, message: 'connection reset by peer' });
        query.end();
      },
    );

    const publish = tracer.startSpan('orders publish', { kind: SpanKind.PRODUCER, attributes: { 'messaging.system': 'kafka' } });
    publish.setStatus({ code: SpanStatusCode.OK });
    publish.end();

    tracer.startSpan('render receipt').end();
    logger.emit({ severityNumber: SeverityNumber.DEBUG, attributes: { 'log.seq': 3 } });
    root.end();
  });

  const consumer = tracer.startSpan('orders process', { kind: SpanKind.CONSUMER, attributes: { 'messaging.operation.type': 'process' } }, trace.setSpanContext(ROOT_CONTEXT, REMOTE_PARENT));
  context.with(trace.setSpan(context.active(), consumer), () => {
    logger.emit({ severityNumber: SeverityNumber.WARN2, severityText: 'warning', eventName: 'order.retried', body: '', timestamp: [...PRECISE_TIMES.log], attributes: { 'log.seq': 4 } });
  });
  consumer.end();

  const job = tracer.startSpan('nightly job', { startTime: [...PRECISE_TIMES.start] });
  job.addEvent('checkpoint', { 'job.progress': 0.5 }, [...PRECISE_TIMES.event]);
  job.end([...PRECISE_TIMES.end]);
}

/** Spans and log records `produceTelemetry` emits. */
export const WORKLOAD = { spans: 6, logs: 4 } as const;

/** What an end-to-end test started; any part may be missing when the test failed early. */
export interface E2eParts {
  readonly app?: SdkApp;
  readonly tollgate?: { stop(): Promise<unknown> };
  readonly downstream?: { close(): Promise<void> };
}

/** Cleans up whatever happened: the SDK first (it may still hold gRPC/HTTP clients), then the process and the server. */
export async function stopE2eParts({ app, tollgate, downstream }: E2eParts): Promise<void> {
  try {
    if (app) await withTimeout(app.shutdown(), 5_000, 'SDK shutdown').catch(() => undefined);
    app?.dispose();
  } finally {
    await tollgate?.stop();
    await downstream?.close();
  }
}
