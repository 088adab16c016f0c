/** The three OTLP signals Tollgate governs. */
export type Signal = 'metrics' | 'traces' | 'logs';

export const SIGNALS: readonly Signal[] = ['metrics', 'traces', 'logs'];

/** OTLP/HTTP paths and gRPC service names per signal (OTLP specification, v1). */
export const SIGNAL_HTTP_PATH: Readonly<Record<Signal, string>> = {
  metrics: '/v1/metrics',
  traces: '/v1/traces',
  logs: '/v1/logs',
};

export const SIGNAL_GRPC_SERVICE: Readonly<Record<Signal, string>> = {
  metrics: 'opentelemetry.proto.collector.metrics.v1.MetricsService',
  traces: 'opentelemetry.proto.collector.trace.v1.TraceService',
  logs: 'opentelemetry.proto.collector.logs.v1.LogsService',
};

/** What one item is called per signal, in partial-success responses and self-metrics. */
export const SIGNAL_ITEM: Readonly<Record<Signal, string>> = {
  metrics: 'data_points',
  traces: 'spans',
  logs: 'log_records',
};
