// fast-check generators of valid OTLP export requests in canonical object form (see
// collector/otlp/object-codec.ts): every value they produce satisfies
// decodeRequest(encodeRequest(x)) deep-equals x. Shared by the codec tests and by the scanner /
// rewriter property tests, so they cover every metric kind, every AnyValue kind (nested arrays
// and kvlists included), spans with events/links/status, and logs with varied bodies.

import fc from 'fast-check';
import type { OtlpObject, OtlpValue } from '../../../collector/otlp/object-codec.js';
import type { Signal } from '../../../collector/otlp/signal.js';

type Model = Record<string, fc.Arbitrary<OtlpValue>>;

/** A message whose fields are each present or absent (absent = default, as canonical form wants). */
function message(model: Model, required: readonly string[] = []): fc.Arbitrary<OtlpObject> {
  // fast-check builds records without a prototype; spread them into plain objects so they
  // deep-equal what the decoder returns.
  return fc.record(model, { requiredKeys: [...required] }).map((fields) => ({ ...fields }));
}

/** Repeated field: when present it is non-empty (canonical form omits empty repeated fields). */
function list<T extends OtlpValue>(element: fc.Arbitrary<T>, maxLength = 3): fc.Arbitrary<T[]> {
  return fc.array(element, { minLength: 1, maxLength });
}

/** A message plus at most one member of a oneof, chosen from `choices`. */
function withOneof(base: fc.Arbitrary<OtlpObject>, choices: fc.Arbitrary<OtlpObject>[]): fc.Arbitrary<OtlpObject> {
  return fc.tuple(base, fc.option(fc.oneof(...choices), { nil: undefined })).map(([fields, member]) => ({ ...fields, ...member }));
}

function single(field: string, value: fc.Arbitrary<OtlpValue>): fc.Arbitrary<OtlpObject> {
  return value.map((v) => ({ [field]: v }));
}

// --- scalars -----------------------------------------------------------------------------------

/** Any string, empty included (for oneof members and repeated elements). */
export const anyString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 6 }),
  fc.constantFrom('service.name', 'user_id', 'http.request.method', 'user@example.com'),
);
export const nonEmptyString: fc.Arbitrary<string> = anyString.filter((s) => s !== '');

const UINT64_MAX = (1n << 64n) - 1n;
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

/** Unsigned 64-bit decimal, zero included (repeated elements). */
const anyUint64 = fc.oneof(fc.bigInt({ min: 0n, max: UINT64_MAX }), fc.bigInt({ min: 0n, max: 1000n })).map(String);
/** Non-zero unsigned 64-bit decimal, often a realistic nanosecond timestamp. */
export const timestamp: fc.Arbitrary<string> = fc
  .oneof(fc.bigInt({ min: 1n, max: UINT64_MAX }), fc.bigInt({ min: 1_600_000_000_000_000_000n, max: 1_900_000_000_000_000_000n }))
  .map(String);
const nonZeroUint64 = fc.bigInt({ min: 1n, max: UINT64_MAX }).map(String);
/** Signed 64-bit decimal, zero included (oneof members). */
const anyInt64 = fc.oneof(fc.bigInt({ min: INT64_MIN, max: INT64_MAX }), fc.bigInt({ min: -5n, max: 5n })).map(String);

const nonZeroUint32 = fc.integer({ min: 1, max: 2 ** 32 - 1 });
const nonZeroInt32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }).filter((n) => n !== 0);
const smallCount = fc.integer({ min: 1, max: 1000 });

/** A double in canonical form: NaN/±Infinity as strings; -0 becomes 0 (JSON cannot carry -0). */
export const anyDouble: fc.Arbitrary<number | string> = fc.double().map((d) => {
  if (Number.isNaN(d)) return 'NaN';
  if (d === Infinity) return 'Infinity';
  if (d === -Infinity) return '-Infinity';
  return d === 0 ? 0 : d;
});
const nonZeroDouble = anyDouble.filter((d) => d !== 0);

function hexBytes(length: number): fc.Arbitrary<string> {
  return fc.uint8Array({ minLength: length, maxLength: length }).map((b) => Buffer.from(b).toString('hex'));
}
export const traceId: fc.Arbitrary<string> = hexBytes(16);
export const spanId: fc.Arbitrary<string> = hexBytes(8);

const anyBase64 = fc.uint8Array({ maxLength: 12 }).map((b) => Buffer.from(b).toString('base64'));

function enumValue(max: number): fc.Arbitrary<number> {
  return fc.integer({ min: 1, max });
}

// --- common ------------------------------------------------------------------------------------

const valueArbs = fc.letrec<{ anyValue: OtlpObject; keyValue: OtlpObject }>((tie) => ({
  // The leaf comes first: at the depth limit fast-check falls back to the first choice.
  anyValue: fc.oneof(
    { depthIdentifier: 'anyValue', maxDepth: 4 },
    single('stringValue', anyString),
    single('boolValue', fc.boolean()),
    single('intValue', anyInt64),
    single('doubleValue', anyDouble),
    single('bytesValue', anyBase64),
    fc.constant({}),
    single('arrayValue', message({ values: list(tie('anyValue'), 3) })),
    single('kvlistValue', message({ values: list(tie('keyValue'), 3) })),
  ),
  keyValue: message({ key: nonEmptyString, value: tie('anyValue') }, ['key']),
}));

/** AnyValue of every kind, nested arrays and kvlists included (up to 4 levels). */
export const arbAnyValue: fc.Arbitrary<OtlpObject> = valueArbs.anyValue;
export const arbKeyValue: fc.Arbitrary<OtlpObject> = valueArbs.keyValue;
const attributes = list(arbKeyValue, 4);

const entityRef = message({
  schemaUrl: nonEmptyString,
  type: nonEmptyString,
  idKeys: list(anyString),
  descriptionKeys: list(anyString),
});

export const arbResource: fc.Arbitrary<OtlpObject> = message({
  attributes,
  droppedAttributesCount: nonZeroUint32,
  entityRefs: list(entityRef, 2),
});

export const arbScope: fc.Arbitrary<OtlpObject> = message({
  name: nonEmptyString,
  version: nonEmptyString,
  attributes,
  droppedAttributesCount: nonZeroUint32,
});

// --- metrics -----------------------------------------------------------------------------------

const numberValue = [single('asDouble', anyDouble), single('asInt', anyInt64)];

const exemplar = withOneof(
  message({ filteredAttributes: attributes, timeUnixNano: timestamp, spanId, traceId }),
  numberValue,
);

const numberDataPoint = withOneof(
  message({
    attributes,
    startTimeUnixNano: timestamp,
    timeUnixNano: timestamp,
    exemplars: list(exemplar, 2),
    flags: nonZeroUint32,
  }),
  numberValue,
);

const histogramDataPoint = message({
  attributes,
  startTimeUnixNano: timestamp,
  timeUnixNano: timestamp,
  count: nonZeroUint64,
  sum: anyDouble, // proto3 `optional`: kept even when 0
  bucketCounts: list(anyUint64, 6),
  explicitBounds: list(anyDouble, 5),
  exemplars: list(exemplar, 2),
  flags: nonZeroUint32,
  min: anyDouble,
  max: anyDouble,
});

const buckets = message({ offset: nonZeroInt32, bucketCounts: list(anyUint64, 6) });

const exponentialHistogramDataPoint = message({
  attributes,
  startTimeUnixNano: timestamp,
  timeUnixNano: timestamp,
  count: nonZeroUint64,
  sum: anyDouble,
  scale: fc.oneof(fc.integer({ min: -10, max: 20 }).filter((n) => n !== 0), nonZeroInt32),
  zeroCount: nonZeroUint64,
  positive: buckets,
  negative: buckets,
  flags: nonZeroUint32,
  exemplars: list(exemplar, 2),
  min: anyDouble,
  max: anyDouble,
  zeroThreshold: nonZeroDouble,
});

const summaryDataPoint = message({
  attributes,
  startTimeUnixNano: timestamp,
  timeUnixNano: timestamp,
  count: nonZeroUint64,
  sum: nonZeroDouble,
  quantileValues: list(message({ quantile: nonZeroDouble, value: nonZeroDouble }), 4),
  flags: nonZeroUint32,
});

const temporality = enumValue(2);

const metricData = [
  single('gauge', message({ dataPoints: list(numberDataPoint) })),
  single('sum', message({ dataPoints: list(numberDataPoint), aggregationTemporality: temporality, isMonotonic: fc.constant(true) })),
  single('histogram', message({ dataPoints: list(histogramDataPoint, 2), aggregationTemporality: temporality })),
  single(
    'exponentialHistogram',
    message({ dataPoints: list(exponentialHistogramDataPoint, 2), aggregationTemporality: temporality }),
  ),
  single('summary', message({ dataPoints: list(summaryDataPoint, 2) })),
];

/** A metric of any data kind (or none), with its metadata. */
export const arbMetric: fc.Arbitrary<OtlpObject> = withOneof(
  message({ name: nonEmptyString, description: nonEmptyString, unit: nonEmptyString, metadata: attributes }, ['name']),
  metricData,
);

export const arbMetricsRequest: fc.Arbitrary<OtlpObject> = message({
  resourceMetrics: list(
    message({
      resource: arbResource,
      scopeMetrics: list(message({ scope: arbScope, metrics: list(arbMetric, 3), schemaUrl: nonEmptyString }), 2),
      schemaUrl: nonEmptyString,
    }),
    2,
  ),
});

// --- traces ------------------------------------------------------------------------------------

const spanEvent = message({
  timeUnixNano: timestamp,
  name: nonEmptyString,
  attributes,
  droppedAttributesCount: smallCount,
});

const spanLink = message({
  traceId,
  spanId,
  traceState: fc.constantFrom('ot=th:8', 'vendor=x,ot=rv:0123456789abcd'),
  attributes,
  droppedAttributesCount: smallCount,
  flags: nonZeroUint32,
});

const spanStatus = message({ message: nonEmptyString, code: enumValue(2) });

export const arbSpan: fc.Arbitrary<OtlpObject> = message(
  {
    traceId,
    spanId,
    traceState: fc.constantFrom('ot=th:c', 'congo=t61rcWkgMzE'),
    parentSpanId: spanId,
    flags: nonZeroUint32,
    name: nonEmptyString,
    kind: enumValue(5),
    startTimeUnixNano: timestamp,
    endTimeUnixNano: timestamp,
    attributes,
    droppedAttributesCount: smallCount,
    events: list(spanEvent, 2),
    droppedEventsCount: smallCount,
    links: list(spanLink, 2),
    droppedLinksCount: smallCount,
    status: spanStatus,
  },
  ['traceId', 'spanId', 'name'],
);

export const arbTraceRequest: fc.Arbitrary<OtlpObject> = message({
  resourceSpans: list(
    message({
      resource: arbResource,
      scopeSpans: list(message({ scope: arbScope, spans: list(arbSpan, 3), schemaUrl: nonEmptyString }), 2),
      schemaUrl: nonEmptyString,
    }),
    2,
  ),
});

// --- logs --------------------------------------------------------------------------------------

export const arbLogRecord: fc.Arbitrary<OtlpObject> = message({
  timeUnixNano: timestamp,
  observedTimeUnixNano: timestamp,
  severityNumber: enumValue(24),
  severityText: fc.constantFrom('INFO', 'WARN', 'ERROR', 'debug'),
  body: arbAnyValue,
  attributes,
  droppedAttributesCount: smallCount,
  flags: nonZeroUint32,
  traceId,
  spanId,
  eventName: nonEmptyString,
});

export const arbLogsRequest: fc.Arbitrary<OtlpObject> = message({
  resourceLogs: list(
    message({
      resource: arbResource,
      scopeLogs: list(message({ scope: arbScope, logRecords: list(arbLogRecord, 3), schemaUrl: nonEmptyString }), 2),
      schemaUrl: nonEmptyString,
    }),
    2,
  ),
});

export function arbRequest(signal: Signal): fc.Arbitrary<OtlpObject> {
  switch (signal) {
    case 'metrics':
      return arbMetricsRequest;
    case 'traces':
      return arbTraceRequest;
    case 'logs':
      return arbLogsRequest;
  }
}
