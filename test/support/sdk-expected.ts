// Builds the canonical OTLP objects (the object codec's form: lowerCamelCase, 64-bit integers
// as decimal strings, ids as lowercase hex, enums as numbers, proto3 defaults omitted, oneof and
// `optional` members kept) that an OpenTelemetry JS SDK export *should* put on the wire, straight
// from the SDK's in-memory data (ReadableSpan, ReadableLogRecord, ResourceMetrics). The mapping
// is written out here from the OTLP proto and the JS SDK's documented value mapping, not taken
// from Tollgate or from the SDK's own transformer, so the end-to-end tests compare against an
// independent expectation.
import { SpanKind, SpanStatusCode, ValueType } from '@opentelemetry/api';
import type { HrTime, Link, SpanContext, SpanStatus } from '@opentelemetry/api';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import type { DataPoint, Histogram, MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace-base';
import type { Resource } from '@opentelemetry/resources';
import type { OtlpObject, OtlpValue } from '../../collector/otlp/object-codec.js';
import type { Signal } from '../../collector/otlp/signal.js';

type Scope = ReadableSpan['instrumentationScope'] & { attributes?: Record<string, unknown>; droppedAttributesCount?: number };

/** One span, log record or metric with the resource and scope it was sent under. */
export interface FlatItem {
  readonly resource?: OtlpValue;
  readonly resourceSchemaUrl?: OtlpValue;
  readonly scope?: OtlpValue;
  readonly scopeSchemaUrl?: OtlpValue;
  readonly item: OtlpObject;
}

// ─── Scalars ───────────────────────────────────────────────────────────────────────────────────

/** HrTime [seconds, nanoseconds] → fixed64 nanoseconds as a decimal string, exactly (BigInt). */
export function nanos(time: HrTime): string {
  return (BigInt(time[0]) * 1_000_000_000n + BigInt(time[1])).toString();
}

/** OTLP/JSON doubles: numbers, except NaN and the infinities, which are spelled as strings. */
function double(value: number): number | string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return 'Infinity';
  if (value === -Infinity) return '-Infinity';
  return value;
}

/** Sets a non-oneof proto3 scalar or repeated field, leaving it out when it holds the default. */
function put(target: Record<string, unknown>, key: string, value: unknown): void {
  if (value === undefined || value === null || value === '' || value === 0 || value === '0' || value === false) return;
  if (Array.isArray(value) && value.length === 0) return;
  target[key] = value;
}

const INT64_MIN = -(2 ** 63);
const INT64_MAX_EXCLUSIVE = 2 ** 63;

/**
 * The JS SDK's attribute/AnyValue mapping: integral numbers within int64 become int_value, other
 * numbers double_value; Uint8Array is bytes; arrays and plain objects nest. AnyValue members are
 * a oneof, so they are kept even when they hold a default ("", 0, false).
 */
export function anyValue(value: unknown): OtlpObject {
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (typeof value === 'number') {
    return Number.isInteger(value) && value >= INT64_MIN && value < INT64_MAX_EXCLUSIVE ? { intValue: BigInt(value).toString() } : { doubleValue: double(value) };
  }
  if (value instanceof Uint8Array) return { bytesValue: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  if (Array.isArray(value)) {
    const list: OtlpObject = {};
    put(list, 'values', value.map(anyValue));
    return { arrayValue: list };
  }
  if (typeof value === 'object' && value !== null) {
    const list: OtlpObject = {};
    put(list, 'values', keyValues(value as Record<string, unknown>));
    return { kvlistValue: list };
  }
  return {};
}

export function keyValues(attributes: Readonly<Record<string, unknown>> | undefined): OtlpObject[] {
  return Object.entries(attributes ?? {}).map(([key, value]) => ({ key, value: anyValue(value) }));
}

// ─── Resource and scope ────────────────────────────────────────────────────────────────────────

export function expectedResource(resource: Resource): OtlpObject {
  const out: OtlpObject = {};
  put(out, 'attributes', keyValues(resource.attributes));
  return out;
}

export function expectedScope(scope: Scope): OtlpObject {
  const out: OtlpObject = {};
  put(out, 'name', scope.name);
  put(out, 'version', scope.version);
  put(out, 'attributes', keyValues(scope.attributes));
  put(out, 'droppedAttributesCount', scope.droppedAttributesCount);
  return out;
}

function flatItem(resource: Resource, scope: Scope, item: OtlpObject): FlatItem {
  const out: Record<string, OtlpValue> = { resource: expectedResource(resource), scope: expectedScope(scope), item };
  put(out, 'resourceSchemaUrl', resource.schemaUrl);
  put(out, 'scopeSchemaUrl', scope.schemaUrl);
  return out as unknown as FlatItem;
}

// ─── Traces ────────────────────────────────────────────────────────────────────────────────────

/** opentelemetry-proto Span.SpanKind: the API has no UNSPECIFIED, so every value shifts by one. */
const OTLP_SPAN_KIND: Readonly<Record<SpanKind, number>> = {
  [SpanKind.INTERNAL]: 1,
  [SpanKind.SERVER]: 2,
  [SpanKind.CLIENT]: 3,
  [SpanKind.PRODUCER]: 4,
  [SpanKind.CONSUMER]: 5,
};

/** opentelemetry-proto Status.StatusCode. */
const OTLP_STATUS_CODE: Readonly<Record<SpanStatusCode, number>> = {
  [SpanStatusCode.UNSET]: 0,
  [SpanStatusCode.OK]: 1,
  [SpanStatusCode.ERROR]: 2,
};

/** SpanFlags: W3C trace flags in bits 0-7, bit 8 "is_remote is known", bit 9 is_remote. */
function spanFlags(traceFlags: number, isRemote: boolean | undefined): number {
  return (traceFlags & 0xff) | 0x100 | (isRemote ? 0x200 : 0);
}

function expectedStatus(status: SpanStatus): OtlpObject {
  const out: OtlpObject = {};
  put(out, 'code', OTLP_STATUS_CODE[status.code]);
  put(out, 'message', status.message);
  return out;
}

function expectedEvent(event: TimedEvent): OtlpObject {
  const out: OtlpObject = {};
  put(out, 'timeUnixNano', nanos(event.time));
  put(out, 'name', event.name);
  put(out, 'attributes', keyValues(event.attributes));
  put(out, 'droppedAttributesCount', event.droppedAttributesCount);
  return out;
}

function expectedLink(link: Link): OtlpObject {
  const out: OtlpObject = {};
  put(out, 'traceId', link.context.traceId);
  put(out, 'spanId', link.context.spanId);
  put(out, 'traceState', link.context.traceState?.serialize());
  put(out, 'attributes', keyValues(link.attributes));
  put(out, 'droppedAttributesCount', link.droppedAttributesCount);
  put(out, 'flags', spanFlags(link.context.traceFlags, link.context.isRemote));
  return out;
}

export function expectedSpan(span: ReadableSpan): OtlpObject {
  const context: SpanContext = span.spanContext();
  const out: OtlpObject = {};
  put(out, 'traceId', context.traceId);
  put(out, 'spanId', context.spanId);
  put(out, 'traceState', context.traceState?.serialize());
  put(out, 'parentSpanId', span.parentSpanContext?.spanId);
  put(out, 'name', span.name);
  put(out, 'kind', OTLP_SPAN_KIND[span.kind]);
  put(out, 'startTimeUnixNano', nanos(span.startTime));
  put(out, 'endTimeUnixNano', nanos(span.endTime));
  put(out, 'attributes', keyValues(span.attributes));
  put(out, 'droppedAttributesCount', span.droppedAttributesCount);
  put(out, 'events', span.events.map(expectedEvent));
  put(out, 'droppedEventsCount', span.droppedEventsCount);
  put(out, 'links', span.links.map(expectedLink));
  put(out, 'droppedLinksCount', span.droppedLinksCount);
  out.status = expectedStatus(span.status);
  put(out, 'flags', spanFlags(context.traceFlags, span.parentSpanContext?.isRemote));
  return out;
}

export function expectedSpanItems(spans: readonly ReadableSpan[]): FlatItem[] {
  return spans.map((span) => flatItem(span.resource, span.instrumentationScope, expectedSpan(span)));
}

// ─── Logs ──────────────────────────────────────────────────────────────────────────────────────

export function expectedLogRecord(log: ReadableLogRecord): OtlpObject {
  const out: OtlpObject = {};
  put(out, 'timeUnixNano', nanos(log.hrTime));
  put(out, 'observedTimeUnixNano', nanos(log.hrTimeObserved));
  put(out, 'severityNumber', log.severityNumber);
  put(out, 'severityText', log.severityText);
  if (log.body !== undefined) out.body = anyValue(log.body);
  put(out, 'attributes', keyValues(log.attributes));
  put(out, 'droppedAttributesCount', log.droppedAttributesCount);
  put(out, 'flags', log.spanContext?.traceFlags);
  put(out, 'traceId', log.spanContext?.traceId);
  put(out, 'spanId', log.spanContext?.spanId);
  put(out, 'eventName', log.eventName);
  return out;
}

export function expectedLogItems(records: readonly ReadableLogRecord[]): FlatItem[] {
  return records.map((log) => flatItem(log.resource, log.instrumentationScope, expectedLogRecord(log)));
}

// ─── Metrics ───────────────────────────────────────────────────────────────────────────────────

/** opentelemetry-proto AggregationTemporality. */
const OTLP_TEMPORALITY: Readonly<Record<AggregationTemporality, number>> = {
  [AggregationTemporality.DELTA]: 1,
  [AggregationTemporality.CUMULATIVE]: 2,
};

function pointTimes(point: DataPoint<unknown>, out: OtlpObject): void {
  put(out, 'attributes', keyValues(point.attributes));
  put(out, 'startTimeUnixNano', nanos(point.startTime));
  put(out, 'timeUnixNano', nanos(point.endTime));
}

function numberPoint(point: DataPoint<number>, valueType: ValueType): OtlpObject {
  const out: OtlpObject = {};
  pointTimes(point, out);
  // as_int (sfixed64) and as_double are a oneof: kept even when zero.
  if (valueType === ValueType.INT) out.asInt = BigInt(point.value).toString();
  else out.asDouble = double(point.value);
  return out;
}

function histogramPoint(point: DataPoint<Histogram>): OtlpObject {
  const out: OtlpObject = {};
  pointTimes(point, out);
  const histogram = point.value;
  put(out, 'count', String(histogram.count));
  // sum, min and max are proto3 `optional`: present whenever the SDK has them.
  if (histogram.sum !== undefined) out.sum = double(histogram.sum);
  put(out, 'bucketCounts', histogram.buckets.counts.map(String));
  put(out, 'explicitBounds', histogram.buckets.boundaries.map(double));
  if (histogram.min !== undefined) out.min = double(histogram.min);
  if (histogram.max !== undefined) out.max = double(histogram.max);
  return out;
}

export function expectedMetric(metric: MetricData): OtlpObject {
  const out: OtlpObject = {};
  put(out, 'name', metric.descriptor.name);
  put(out, 'description', metric.descriptor.description);
  put(out, 'unit', metric.descriptor.unit);
  const valueType = metric.descriptor.valueType;
  switch (metric.dataPointType) {
    case DataPointType.SUM: {
      const sum: OtlpObject = {};
      put(sum, 'dataPoints', metric.dataPoints.map((point) => numberPoint(point, valueType)));
      put(sum, 'aggregationTemporality', OTLP_TEMPORALITY[metric.aggregationTemporality]);
      put(sum, 'isMonotonic', metric.isMonotonic);
      out.sum = sum;
      break;
    }
    case DataPointType.GAUGE: {
      const gauge: OtlpObject = {};
      put(gauge, 'dataPoints', metric.dataPoints.map((point) => numberPoint(point, valueType)));
      out.gauge = gauge;
      break;
    }
    case DataPointType.HISTOGRAM: {
      const histogram: OtlpObject = {};
      put(histogram, 'dataPoints', metric.dataPoints.map(histogramPoint));
      put(histogram, 'aggregationTemporality', OTLP_TEMPORALITY[metric.aggregationTemporality]);
      out.histogram = histogram;
      break;
    }
    default:
      throw new Error(`expectedMetric: data point type ${metric.dataPointType} is not covered by these tests`);
  }
  return out;
}

export function expectedMetricItems(exports: readonly ResourceMetrics[]): FlatItem[] {
  return exports.flatMap((resourceMetrics) =>
    resourceMetrics.scopeMetrics.flatMap((scopeMetrics) =>
      scopeMetrics.metrics.map((metric) => flatItem(resourceMetrics.resource, scopeMetrics.scope, expectedMetric(metric))),
    ),
  );
}

/** Data points in SDK metric exports (what Tollgate counts as metric items). */
export function dataPointCount(exports: readonly ResourceMetrics[]): number {
  return exports.reduce((n, rm) => n + rm.scopeMetrics.reduce((m, sm) => m + sm.metrics.reduce((k, metric) => k + metric.dataPoints.length, 0), 0), 0);
}

// ─── Received requests ─────────────────────────────────────────────────────────────────────────

const LEVELS: Readonly<Record<Signal, readonly [string, string, string]>> = {
  traces: ['resourceSpans', 'scopeSpans', 'spans'],
  logs: ['resourceLogs', 'scopeLogs', 'logRecords'],
  metrics: ['resourceMetrics', 'scopeMetrics', 'metrics'],
};

function objects(value: OtlpValue | undefined): OtlpObject[] {
  return Array.isArray(value) ? (value as OtlpObject[]) : [];
}

/** Flattens decoded Export*ServiceRequests into items, each with its resource and scope. */
export function flattenRequests(signal: Signal, requests: readonly OtlpObject[]): FlatItem[] {
  const [resourceKey, scopeKey, itemKey] = LEVELS[signal];
  const items: FlatItem[] = [];
  for (const request of requests) {
    for (const resourceLevel of objects(request[resourceKey])) {
      for (const scopeLevel of objects(resourceLevel[scopeKey])) {
        for (const item of objects(scopeLevel[itemKey])) {
          const flat: Record<string, OtlpValue> = { item };
          if (resourceLevel.resource !== undefined) flat.resource = resourceLevel.resource;
          if (resourceLevel.schemaUrl !== undefined) flat.resourceSchemaUrl = resourceLevel.schemaUrl;
          if (scopeLevel.scope !== undefined) flat.scope = scopeLevel.scope;
          if (scopeLevel.schemaUrl !== undefined) flat.scopeSchemaUrl = scopeLevel.schemaUrl;
          items.push(flat as unknown as FlatItem);
        }
      }
    }
  }
  return items;
}

/** JSON with object keys sorted, so equal values give equal text whatever their key order. */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    typeof v === 'object' && v !== null && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

/** Items in a canonical order, for comparing two collections as multisets. */
export function sortItems(items: readonly FlatItem[]): FlatItem[] {
  return [...items].map((item) => ({ item, key: stableJson(item) })).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).map(({ item }) => item);
}
