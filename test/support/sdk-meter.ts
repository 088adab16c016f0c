// A metrics-only OpenTelemetry SDK client for the end-to-end tests that need several of them in
// one process (one per team or instance) and full control of the collection cycles: a real
// MeterProvider with its own resource, read by a real PeriodicExportingMetricReader into the real
// OTLP/HTTP protobuf exporter, nothing registered globally. `collect()` runs one collection and
// export cycle on demand (the reader's forceFlush), so a test can send exactly two exports of a
// cumulative or delta stream without shutting the provider down.
import type { Attributes, Meter } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { recordingMetricExporter, withTimeout } from './sdk-app.js';
import type { ExportRecord } from './sdk-app.js';

export interface SdkMeterOptions {
  /** host:port of the OTLP/HTTP receiver. */
  readonly http: string;
  readonly resourceAttributes: Attributes;
  /** The exporter's temporality preference for counters and histograms (the SDK default: cumulative). */
  readonly temporality?: 'cumulative' | 'delta';
}

export interface SdkMeter {
  readonly meter: Meter;
  /** Every export the OTLP exporter finished, with its result. */
  readonly exports: readonly ExportRecord[];
  /** What the reader handed to the OTLP exporter, one entry per export: the exact data sent. */
  readonly metricExports: readonly ResourceMetrics[];
  /** One collection and export cycle; resolves once the export finished (successfully or not: see `exports`). */
  collect(): Promise<void>;
  shutdown(): Promise<void>;
}

const EXPORT_TIMEOUT_MS = 5_000;

export function startSdkMeter(options: SdkMeterOptions): SdkMeter {
  const exports: ExportRecord[] = [];
  const metricExports: ResourceMetrics[] = [];
  const temporalityPreference = options.temporality === 'delta' ? AggregationTemporality.DELTA : AggregationTemporality.CUMULATIVE;
  const reader = new PeriodicExportingMetricReader({
    exporter: recordingMetricExporter(
      'metrics/http',
      new OTLPMetricExporter({ url: `http://${options.http}/v1/metrics`, timeoutMillis: EXPORT_TIMEOUT_MS, temporalityPreference }),
      exports,
      metricExports,
    ),
    // Never fires during a test: collections happen when the test asks for them.
    exportIntervalMillis: 10 * 60_000,
    exportTimeoutMillis: EXPORT_TIMEOUT_MS,
  });
  const provider = new MeterProvider({ resource: resourceFromAttributes(options.resourceAttributes), readers: [reader] });
  let shutdown: Promise<void> | undefined;
  return {
    meter: provider.getMeter('tollgate.e2e.budgets', '1.0.0'),
    exports,
    metricExports,
    collect: () => withTimeout(reader.forceFlush(), 2 * EXPORT_TIMEOUT_MS, 'metric collection'),
    shutdown: () => (shutdown ??= withTimeout(provider.shutdown(), 2 * EXPORT_TIMEOUT_MS, 'meter provider shutdown')),
  };
}
