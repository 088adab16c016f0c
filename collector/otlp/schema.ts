// A declarative description of every OTLP v1 message reachable from the three Export*Service
// requests and responses (opentelemetry-proto v1.x), plus google.rpc.Status. The object codec
// and the OTLP/JSON parser are driven by this table alone, so a field added upstream is one line
// here. Field numbers were checked against opentelemetry-proto and the generated decoders in
// @opentelemetry/otlp-transformer (the test oracle).
//
// Fields are written with their proto (snake_case) names; the OTLP/JSON name is derived the way
// protoc derives json_name (lowerCamelCase).

import type { Signal } from './signal.js';

/** How a scalar is represented on the wire and in the canonical object / OTLP/JSON form. */
export type ScalarType =
  | 'string'
  | 'bytes' // base64 in JSON
  | 'id' // bytes, but lowercase hex in OTLP/JSON (trace and span ids)
  | 'bool'
  | 'int32'
  | 'sint32'
  | 'uint32'
  | 'int64'
  | 'uint64'
  | 'fixed32'
  | 'fixed64'
  | 'sfixed64'
  | 'double'
  | 'enum';

export type FieldType = ScalarType | 'message';

export type OtlpMessageName =
  | 'ExportMetricsServiceRequest'
  | 'ExportTraceServiceRequest'
  | 'ExportLogsServiceRequest'
  | 'ExportMetricsServiceResponse'
  | 'ExportTraceServiceResponse'
  | 'ExportLogsServiceResponse'
  | 'ExportMetricsPartialSuccess'
  | 'ExportTracePartialSuccess'
  | 'ExportLogsPartialSuccess'
  | 'AnyValue'
  | 'ArrayValue'
  | 'KeyValueList'
  | 'KeyValue'
  | 'InstrumentationScope'
  | 'EntityRef'
  | 'Resource'
  | 'ResourceMetrics'
  | 'ScopeMetrics'
  | 'Metric'
  | 'Gauge'
  | 'Sum'
  | 'Histogram'
  | 'ExponentialHistogram'
  | 'Summary'
  | 'NumberDataPoint'
  | 'HistogramDataPoint'
  | 'ExponentialHistogramDataPoint'
  | 'ExponentialHistogramDataPoint.Buckets'
  | 'SummaryDataPoint'
  | 'SummaryDataPoint.ValueAtQuantile'
  | 'Exemplar'
  | 'ResourceSpans'
  | 'ScopeSpans'
  | 'Span'
  | 'Span.Event'
  | 'Span.Link'
  | 'Status'
  | 'ResourceLogs'
  | 'ScopeLogs'
  | 'LogRecord'
  | 'RpcStatus';

/** Enum value names by number; every OTLP enum is dense from 0. */
export const OTLP_ENUMS = {
  SpanKind: [
    'SPAN_KIND_UNSPECIFIED',
    'SPAN_KIND_INTERNAL',
    'SPAN_KIND_SERVER',
    'SPAN_KIND_CLIENT',
    'SPAN_KIND_PRODUCER',
    'SPAN_KIND_CONSUMER',
  ],
  StatusCode: ['STATUS_CODE_UNSET', 'STATUS_CODE_OK', 'STATUS_CODE_ERROR'],
  AggregationTemporality: [
    'AGGREGATION_TEMPORALITY_UNSPECIFIED',
    'AGGREGATION_TEMPORALITY_DELTA',
    'AGGREGATION_TEMPORALITY_CUMULATIVE',
  ],
  SeverityNumber: [
    'SEVERITY_NUMBER_UNSPECIFIED',
    ...['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'].flatMap((level) =>
      ['', '2', '3', '4'].map((n) => `SEVERITY_NUMBER_${level}${n}`),
    ),
  ],
} as const satisfies Record<string, readonly string[]>;

export type OtlpEnumName = keyof typeof OTLP_ENUMS;

export interface FieldSchema {
  readonly number: number;
  /** Name in the proto file (snake_case); OTLP/JSON parsers accept it as an alias. */
  readonly protoName: string;
  /** Name in OTLP/JSON and in the canonical object form (lowerCamelCase). */
  readonly jsonName: string;
  readonly type: FieldType;
  /** Target message, when type is 'message'. */
  readonly message?: OtlpMessageName;
  /** Enum definition, when type is 'enum'. */
  readonly enumType?: OtlpEnumName;
  /** Expected length in bytes of a valid id ('id' fields): 16 for trace ids, 8 for span ids. */
  readonly idLength?: 8 | 16;
  readonly repeated: boolean;
  /** Repeated numeric scalars are packed in proto3; the encoder writes them packed. */
  readonly packed: boolean;
  /** Name of the oneof group the field belongs to, if any. */
  readonly oneof?: string;
  /**
   * True when presence is tracked (oneof members and proto3 `optional`): such a field is kept
   * even when it holds the default value.
   */
  readonly explicitPresence: boolean;
  /** Wire type of one element (for packed fields, of each packed element). */
  readonly wireType: number;
}

export interface MessageSchema {
  readonly name: OtlpMessageName;
  /** Sorted by field number: the encoder writes fields in this order. */
  readonly fields: readonly FieldSchema[];
  readonly byNumber: ReadonlyMap<number, FieldSchema>;
  readonly byJsonName: ReadonlyMap<string, FieldSchema>;
  readonly byProtoName: ReadonlyMap<string, FieldSchema>;
  /** Members of each oneof group (proto3 `optional` fields are not listed: they are alone). */
  readonly oneofs: ReadonlyMap<string, readonly FieldSchema[]>;
}

interface FieldOptions {
  readonly repeated?: boolean;
  readonly oneof?: string;
  /** proto3 `optional`: explicit presence without a oneof. */
  readonly optional?: boolean;
  readonly enumType?: OtlpEnumName;
  readonly idLength?: 8 | 16;
}

interface FieldSpec extends FieldOptions {
  readonly number: number;
  readonly protoName: string;
  readonly type: FieldType;
  readonly message?: OtlpMessageName;
}

function scalar(number: number, protoName: string, type: ScalarType, options: FieldOptions = {}): FieldSpec {
  return { number, protoName, type, ...options };
}

function message(number: number, protoName: string, target: OtlpMessageName, options: FieldOptions = {}): FieldSpec {
  return { number, protoName, type: 'message', message: target, ...options };
}

function enumField(number: number, protoName: string, enumType: OtlpEnumName): FieldSpec {
  return { number, protoName, type: 'enum', enumType };
}

function traceIdField(number: number, protoName: string): FieldSpec {
  return scalar(number, protoName, 'id', { idLength: 16 });
}

function spanIdField(number: number, protoName: string): FieldSpec {
  return scalar(number, protoName, 'id', { idLength: 8 });
}

const repeated = { repeated: true } as const;

// Fields shared by several messages, spelled once.
const attributes = (number: number, name = 'attributes'): FieldSpec => message(number, name, 'KeyValue', repeated);
const droppedAttributesCount = (number: number): FieldSpec => scalar(number, 'dropped_attributes_count', 'uint32');
const schemaUrl = (number: number): FieldSpec => scalar(number, 'schema_url', 'string');
const startTime = (number: number): FieldSpec => scalar(number, 'start_time_unix_nano', 'fixed64');
const time = (number: number): FieldSpec => scalar(number, 'time_unix_nano', 'fixed64');
const temporality = (number: number): FieldSpec => enumField(number, 'aggregation_temporality', 'AggregationTemporality');

const MESSAGE_SPECS: Record<OtlpMessageName, readonly FieldSpec[]> = {
  // collector/*/v1/*_service.proto
  ExportMetricsServiceRequest: [message(1, 'resource_metrics', 'ResourceMetrics', repeated)],
  ExportTraceServiceRequest: [message(1, 'resource_spans', 'ResourceSpans', repeated)],
  ExportLogsServiceRequest: [message(1, 'resource_logs', 'ResourceLogs', repeated)],
  ExportMetricsServiceResponse: [message(1, 'partial_success', 'ExportMetricsPartialSuccess')],
  ExportTraceServiceResponse: [message(1, 'partial_success', 'ExportTracePartialSuccess')],
  ExportLogsServiceResponse: [message(1, 'partial_success', 'ExportLogsPartialSuccess')],
  ExportMetricsPartialSuccess: [scalar(1, 'rejected_data_points', 'int64'), scalar(2, 'error_message', 'string')],
  ExportTracePartialSuccess: [scalar(1, 'rejected_spans', 'int64'), scalar(2, 'error_message', 'string')],
  ExportLogsPartialSuccess: [scalar(1, 'rejected_log_records', 'int64'), scalar(2, 'error_message', 'string')],

  // common/v1/common.proto
  AnyValue: [
    scalar(1, 'string_value', 'string', { oneof: 'value' }),
    scalar(2, 'bool_value', 'bool', { oneof: 'value' }),
    scalar(3, 'int_value', 'int64', { oneof: 'value' }),
    scalar(4, 'double_value', 'double', { oneof: 'value' }),
    message(5, 'array_value', 'ArrayValue', { oneof: 'value' }),
    message(6, 'kvlist_value', 'KeyValueList', { oneof: 'value' }),
    scalar(7, 'bytes_value', 'bytes', { oneof: 'value' }),
    // Profiling-only string-table reference (opentelemetry-proto ≥ 1.8); other signals should
    // not carry it, but decoding it keeps it visible instead of silently unknown.
    scalar(8, 'string_value_strindex', 'int32', { oneof: 'value' }),
  ],
  ArrayValue: [message(1, 'values', 'AnyValue', repeated)],
  KeyValueList: [message(1, 'values', 'KeyValue', repeated)],
  KeyValue: [
    scalar(1, 'key', 'string'),
    message(2, 'value', 'AnyValue'),
    scalar(3, 'key_strindex', 'int32'), // profiling-only, see AnyValue.string_value_strindex
  ],
  InstrumentationScope: [
    scalar(1, 'name', 'string'),
    scalar(2, 'version', 'string'),
    attributes(3),
    droppedAttributesCount(4),
  ],
  EntityRef: [
    schemaUrl(1),
    scalar(2, 'type', 'string'),
    scalar(3, 'id_keys', 'string', repeated),
    scalar(4, 'description_keys', 'string', repeated),
  ],

  // resource/v1/resource.proto
  Resource: [attributes(1), droppedAttributesCount(2), message(3, 'entity_refs', 'EntityRef', repeated)],

  // metrics/v1/metrics.proto (fields 4, 6 and 8 of Metric are reserved)
  ResourceMetrics: [message(1, 'resource', 'Resource'), message(2, 'scope_metrics', 'ScopeMetrics', repeated), schemaUrl(3)],
  ScopeMetrics: [message(1, 'scope', 'InstrumentationScope'), message(2, 'metrics', 'Metric', repeated), schemaUrl(3)],
  Metric: [
    scalar(1, 'name', 'string'),
    scalar(2, 'description', 'string'),
    scalar(3, 'unit', 'string'),
    message(5, 'gauge', 'Gauge', { oneof: 'data' }),
    message(7, 'sum', 'Sum', { oneof: 'data' }),
    message(9, 'histogram', 'Histogram', { oneof: 'data' }),
    message(10, 'exponential_histogram', 'ExponentialHistogram', { oneof: 'data' }),
    message(11, 'summary', 'Summary', { oneof: 'data' }),
    attributes(12, 'metadata'),
  ],
  Gauge: [message(1, 'data_points', 'NumberDataPoint', repeated)],
  Sum: [message(1, 'data_points', 'NumberDataPoint', repeated), temporality(2), scalar(3, 'is_monotonic', 'bool')],
  Histogram: [message(1, 'data_points', 'HistogramDataPoint', repeated), temporality(2)],
  ExponentialHistogram: [message(1, 'data_points', 'ExponentialHistogramDataPoint', repeated), temporality(2)],
  Summary: [message(1, 'data_points', 'SummaryDataPoint', repeated)],
  NumberDataPoint: [
    startTime(2),
    time(3),
    scalar(4, 'as_double', 'double', { oneof: 'value' }),
    message(5, 'exemplars', 'Exemplar', repeated),
    scalar(6, 'as_int', 'sfixed64', { oneof: 'value' }),
    attributes(7),
    scalar(8, 'flags', 'uint32'),
  ],
  HistogramDataPoint: [
    startTime(2),
    time(3),
    scalar(4, 'count', 'fixed64'),
    scalar(5, 'sum', 'double', { optional: true }),
    scalar(6, 'bucket_counts', 'fixed64', repeated),
    scalar(7, 'explicit_bounds', 'double', repeated),
    message(8, 'exemplars', 'Exemplar', repeated),
    attributes(9),
    scalar(10, 'flags', 'uint32'),
    scalar(11, 'min', 'double', { optional: true }),
    scalar(12, 'max', 'double', { optional: true }),
  ],
  ExponentialHistogramDataPoint: [
    attributes(1),
    startTime(2),
    time(3),
    scalar(4, 'count', 'fixed64'),
    scalar(5, 'sum', 'double', { optional: true }),
    scalar(6, 'scale', 'sint32'),
    scalar(7, 'zero_count', 'fixed64'),
    message(8, 'positive', 'ExponentialHistogramDataPoint.Buckets'),
    message(9, 'negative', 'ExponentialHistogramDataPoint.Buckets'),
    scalar(10, 'flags', 'uint32'),
    message(11, 'exemplars', 'Exemplar', repeated),
    scalar(12, 'min', 'double', { optional: true }),
    scalar(13, 'max', 'double', { optional: true }),
    scalar(14, 'zero_threshold', 'double'),
  ],
  'ExponentialHistogramDataPoint.Buckets': [scalar(1, 'offset', 'sint32'), scalar(2, 'bucket_counts', 'uint64', repeated)],
  SummaryDataPoint: [
    startTime(2),
    time(3),
    scalar(4, 'count', 'fixed64'),
    scalar(5, 'sum', 'double'),
    message(6, 'quantile_values', 'SummaryDataPoint.ValueAtQuantile', repeated),
    attributes(7),
    scalar(8, 'flags', 'uint32'),
  ],
  'SummaryDataPoint.ValueAtQuantile': [scalar(1, 'quantile', 'double'), scalar(2, 'value', 'double')],
  Exemplar: [
    time(2),
    scalar(3, 'as_double', 'double', { oneof: 'value' }),
    spanIdField(4, 'span_id'),
    traceIdField(5, 'trace_id'),
    scalar(6, 'as_int', 'sfixed64', { oneof: 'value' }),
    attributes(7, 'filtered_attributes'),
  ],

  // trace/v1/trace.proto
  ResourceSpans: [message(1, 'resource', 'Resource'), message(2, 'scope_spans', 'ScopeSpans', repeated), schemaUrl(3)],
  ScopeSpans: [message(1, 'scope', 'InstrumentationScope'), message(2, 'spans', 'Span', repeated), schemaUrl(3)],
  Span: [
    traceIdField(1, 'trace_id'),
    spanIdField(2, 'span_id'),
    scalar(3, 'trace_state', 'string'),
    spanIdField(4, 'parent_span_id'),
    scalar(5, 'name', 'string'),
    enumField(6, 'kind', 'SpanKind'),
    startTime(7),
    scalar(8, 'end_time_unix_nano', 'fixed64'),
    attributes(9),
    droppedAttributesCount(10),
    message(11, 'events', 'Span.Event', repeated),
    scalar(12, 'dropped_events_count', 'uint32'),
    message(13, 'links', 'Span.Link', repeated),
    scalar(14, 'dropped_links_count', 'uint32'),
    message(15, 'status', 'Status'),
    scalar(16, 'flags', 'fixed32'),
  ],
  'Span.Event': [time(1), scalar(2, 'name', 'string'), attributes(3), droppedAttributesCount(4)],
  'Span.Link': [
    traceIdField(1, 'trace_id'),
    spanIdField(2, 'span_id'),
    scalar(3, 'trace_state', 'string'),
    attributes(4),
    droppedAttributesCount(5),
    scalar(6, 'flags', 'fixed32'),
  ],
  // Field 1 (deprecated_code) is reserved.
  Status: [scalar(2, 'message', 'string'), enumField(3, 'code', 'StatusCode')],

  // logs/v1/logs.proto (LogRecord field 4 is reserved)
  ResourceLogs: [message(1, 'resource', 'Resource'), message(2, 'scope_logs', 'ScopeLogs', repeated), schemaUrl(3)],
  ScopeLogs: [message(1, 'scope', 'InstrumentationScope'), message(2, 'log_records', 'LogRecord', repeated), schemaUrl(3)],
  LogRecord: [
    time(1),
    enumField(2, 'severity_number', 'SeverityNumber'),
    scalar(3, 'severity_text', 'string'),
    message(5, 'body', 'AnyValue'),
    attributes(6),
    droppedAttributesCount(7),
    scalar(8, 'flags', 'fixed32'),
    traceIdField(9, 'trace_id'),
    spanIdField(10, 'span_id'),
    scalar(11, 'observed_time_unix_nano', 'fixed64'),
    scalar(12, 'event_name', 'string'),
  ],

  // google/rpc/status.proto: details (3, repeated google.protobuf.Any) is left out on purpose;
  // Tollgate never writes it and a decoder skips it as an unknown field.
  RpcStatus: [scalar(1, 'code', 'int32'), scalar(2, 'message', 'string')],
};

/** The request message of each signal's Export call. */
export const REQUEST_MESSAGE: Readonly<Record<Signal, OtlpMessageName>> = {
  metrics: 'ExportMetricsServiceRequest',
  traces: 'ExportTraceServiceRequest',
  logs: 'ExportLogsServiceRequest',
};

/** The response message of each signal's Export call. */
export const RESPONSE_MESSAGE: Readonly<Record<Signal, OtlpMessageName>> = {
  metrics: 'ExportMetricsServiceResponse',
  traces: 'ExportTraceServiceResponse',
  logs: 'ExportLogsServiceResponse',
};

/** JSON name of the `rejected_<items>` field in each signal's partial-success message. */
export const REJECTED_FIELD: Readonly<Record<Signal, string>> = {
  metrics: 'rejectedDataPoints',
  traces: 'rejectedSpans',
  logs: 'rejectedLogRecords',
};

/** The only message that nests recursively (through ArrayValue / KeyValueList). */
export const NESTING_MESSAGE: OtlpMessageName = 'AnyValue';
/** How deeply AnyValues may nest before a decoder or parser refuses the input. */
export const MAX_ANY_VALUE_DEPTH = 64;

export function wireTypeOf(type: FieldType): number {
  switch (type) {
    case 'bool':
    case 'int32':
    case 'sint32':
    case 'uint32':
    case 'int64':
    case 'uint64':
    case 'enum':
      return 0;
    case 'fixed64':
    case 'sfixed64':
    case 'double':
      return 1;
    case 'fixed32':
      return 5;
    case 'string':
    case 'bytes':
    case 'id':
    case 'message':
      return 2;
  }
}

/** snake_case → lowerCamelCase, as protoc derives json_name. */
export function jsonNameOf(protoName: string): string {
  return protoName.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function compileField(spec: FieldSpec): FieldSchema {
  const wireType = wireTypeOf(spec.type);
  const repeated = spec.repeated ?? false;
  return {
    number: spec.number,
    protoName: spec.protoName,
    jsonName: jsonNameOf(spec.protoName),
    type: spec.type,
    message: spec.message,
    enumType: spec.enumType,
    idLength: spec.idLength,
    repeated,
    // Only numeric scalars can be packed; strings, bytes and messages never are.
    packed: repeated && wireType !== 2,
    oneof: spec.oneof,
    explicitPresence: spec.oneof !== undefined || spec.optional === true,
    wireType,
  };
}

function compileMessage(name: OtlpMessageName, specs: readonly FieldSpec[]): MessageSchema {
  const fields = specs.map(compileField).sort((a, b) => a.number - b.number);
  const oneofs = new Map<string, FieldSchema[]>();
  for (const field of fields) {
    if (field.oneof === undefined) continue;
    const group = oneofs.get(field.oneof) ?? [];
    group.push(field);
    oneofs.set(field.oneof, group);
  }
  return {
    name,
    fields,
    byNumber: new Map(fields.map((f) => [f.number, f])),
    byJsonName: new Map(fields.map((f) => [f.jsonName, f])),
    byProtoName: new Map(fields.map((f) => [f.protoName, f])),
    oneofs,
  };
}

export const OTLP_SCHEMA: Readonly<Record<OtlpMessageName, MessageSchema>> = Object.fromEntries(
  (Object.keys(MESSAGE_SPECS) as OtlpMessageName[]).map((name) => [name, compileMessage(name, MESSAGE_SPECS[name])]),
) as Record<OtlpMessageName, MessageSchema>;

export function messageSchema(name: OtlpMessageName): MessageSchema {
  return OTLP_SCHEMA[name];
}
