import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeRequest, encodeRequest } from '../../../collector/otlp/object-codec.js';
import {
  normalizeOtlpJson,
  OtlpJsonError,
  parseOtlpJson,
  parseOtlpJsonObject,
  quoteLongIntegers,
  toOtlpJson,
} from '../../../collector/otlp/otlp-json.js';
import { REQUEST_MESSAGE } from '../../../collector/otlp/schema.js';
import { SIGNALS } from '../../../collector/otlp/signal.js';
import { WireError } from '../../../collector/otlp/wire.js';
import { arbRequest } from './arbitraries.js';
import { oracleDecode } from './oracle.js';

/** Walks into a decoded object by keys and indexes (test-only convenience). */
function dig(value: unknown, ...path: (string | number)[]): Record<string, unknown> {
  let current = value;
  for (const key of path) current = (current as Record<string | number, unknown>)[key];
  return current as Record<string, unknown>;
}

// An OTLP/JSON trace export in the shape the OTLP specification's examples use.
const TRACE_JSON = `{
  "resourceSpans": [{
    "resource": { "attributes": [{ "key": "service.name", "value": { "stringValue": "my.service" } }] },
    "scopeSpans": [{
      "scope": { "name": "my.library", "version": "1.0.0",
                 "attributes": [{ "key": "my.scope.attribute", "value": { "stringValue": "some scope attribute" } }] },
      "spans": [{
        "traceId": "5B8EFFF798038103D269B633813FC60C",
        "spanId": "EEE19B7EC3C1B174",
        "parentSpanId": "EEE19B7EC3C1B173",
        "name": "I'm a server span",
        "startTimeUnixNano": "1544712660000000000",
        "endTimeUnixNano": 1544712661000000000,
        "kind": 2,
        "attributes": [
          { "key": "my.span.attr", "value": { "stringValue": "some value" } },
          { "key": "count", "value": { "intValue": 42 } },
          { "key": "big", "value": { "intValue": "-9223372036854775808" } },
          { "key": "ratio", "value": { "doubleValue": "NaN" } },
          { "key": "raw", "value": { "bytesValue": "AAEC_w" } }
        ],
        "status": { "code": "STATUS_CODE_ERROR", "message": "boom" },
        "unknownField": { "ignored": true }
      }]
    }]
  }]
}`;

test('a spec-style trace JSON body becomes the protobuf the oracle reads back', () => {
  const bytes = parseOtlpJson('traces', TRACE_JSON);
  const decoded = oracleDecode('ExportTraceServiceRequest', bytes);
  const span = dig(decoded, 'resourceSpans', 0, 'scopeSpans', 0, 'spans', 0);
  assert.equal(span.traceId, '5b8efff798038103d269b633813fc60c');
  assert.equal(span.spanId, 'eee19b7ec3c1b174');
  assert.equal(span.parentSpanId, 'eee19b7ec3c1b173');
  assert.equal(span.startTimeUnixNano, '1544712660000000000');
  assert.equal(span.endTimeUnixNano, '1544712661000000000', 'a number above 2^53 stays exact');
  assert.equal(span.kind, 2);
  assert.deepEqual(span.status, { code: 2, message: 'boom' });
  assert.deepEqual(
    (span.attributes as { value: unknown }[]).map((a) => a.value),
    [{ stringValue: 'some value' }, { intValue: '42' }, { intValue: '-9223372036854775808' }, { doubleValue: 'NaN' }, { bytesValue: 'AAEC/w==' }],
  );
  assert.deepEqual(Object.keys(span).includes('unknownField'), false);
});

test('toOtlpJson writes canonical OTLP/JSON on one line', () => {
  const text = toOtlpJson('traces', parseOtlpJson('traces', TRACE_JSON));
  assert.ok(!text.includes('\n'));
  const span = JSON.parse(text).resourceSpans[0].scopeSpans[0].spans[0];
  assert.equal(span.traceId, '5b8efff798038103d269b633813fc60c');
  assert.equal(span.endTimeUnixNano, '1544712661000000000');
  assert.deepEqual(span.status, { message: 'boom', code: 2 });
  assert.deepEqual(span.attributes[1], { key: 'count', value: { intValue: '42' } });
});

test('metrics JSON: enum names, snake_case aliases, numbers as strings, defaults and nulls dropped', () => {
  const obj = parseOtlpJsonObject(
    'metrics',
    JSON.stringify({
      resource_metrics: [
        {
          resource: null,
          scopeMetrics: [
            {
              scope: { name: '' },
              metrics: [
                {
                  name: 'requests',
                  description: '',
                  sum: {
                    aggregationTemporality: 'AGGREGATION_TEMPORALITY_CUMULATIVE',
                    is_monotonic: true,
                    dataPoints: [{ asInt: 5, timeUnixNano: 0, flags: '1', exemplars: [] }],
                  },
                },
                {
                  name: 'latency',
                  histogram: {
                    dataPoints: [{ count: '2', sum: 0, bucketCounts: [1, '1'], explicitBounds: ['0.25'], min: '-Infinity' }],
                  },
                },
              ],
            },
          ],
        },
      ],
    }),
  );
  assert.deepStrictEqual(obj, {
    resourceMetrics: [
      {
        scopeMetrics: [
          {
            scope: {},
            metrics: [
              {
                name: 'requests',
                sum: { dataPoints: [{ asInt: '5', flags: 1 }], aggregationTemporality: 2, isMonotonic: true },
              },
              {
                name: 'latency',
                histogram: { dataPoints: [{ count: '2', sum: 0, bucketCounts: ['1', '1'], explicitBounds: [0.25], min: '-Infinity' }] },
              },
            ],
          },
        ],
      },
    ],
  });
});

test('logs JSON: an empty id means absent, severity names are accepted, bodies of several kinds', () => {
  const obj = parseOtlpJsonObject(
    'logs',
    JSON.stringify({
      resourceLogs: [
        {
          scopeLogs: [
            {
              logRecords: [
                { traceId: '', spanId: '', severityNumber: 'SEVERITY_NUMBER_WARN2', body: { stringValue: 'hello' } },
                { body: { kvlistValue: { values: [{ key: 'k', value: { arrayValue: { values: [{ boolValue: false }, {}] } } }] } } },
                { body: { arrayValue: {} } },
              ],
            },
          ],
        },
      ],
    }),
  );
  assert.deepStrictEqual(dig(obj, 'resourceLogs', 0, 'scopeLogs', 0, 'logRecords'), [
    { severityNumber: 14, body: { stringValue: 'hello' } },
    { body: { kvlistValue: { values: [{ key: 'k', value: { arrayValue: { values: [{ boolValue: false }, {}] } } }] } } },
    { body: { arrayValue: {} } },
  ]);
});

function jsonErrorAt(path: string, reason: RegExp) {
  return (error: unknown): boolean =>
    error instanceof OtlpJsonError && error.path === path && reason.test(error.reason) && error.message.startsWith(`${path === '' ? 'request' : path}: `);
}

test('wrong types are OtlpJsonErrors naming the JSON path', () => {
  const spans = (span: object, index = 3) => ({
    resourceSpans: [{ scopeSpans: [{}, { spans: [...Array.from({ length: index }, () => ({})), span] }] }],
  });
  const cases: [object, string, RegExp][] = [
    [spans({ traceId: 'abc' }), 'resourceSpans[0].scopeSpans[1].spans[3].traceId', /must be 32 hex characters/],
    [spans({ spanId: 'zzzzzzzzzzzzzzzz' }), 'resourceSpans[0].scopeSpans[1].spans[3].spanId', /must be 16 hex characters/],
    [spans({ name: 5 }, 0), 'resourceSpans[0].scopeSpans[1].spans[0].name', /must be a string/],
    [spans({ startTimeUnixNano: '-1' }, 0), 'resourceSpans[0].scopeSpans[1].spans[0].startTimeUnixNano', /unsigned 64-bit/],
    [spans({ startTimeUnixNano: '18446744073709551616' }, 0), 'resourceSpans[0].scopeSpans[1].spans[0].startTimeUnixNano', /unsigned 64-bit/],
    [spans({ startTimeUnixNano: 1.5 }, 0), 'resourceSpans[0].scopeSpans[1].spans[0].startTimeUnixNano', /unsigned 64-bit/],
    [spans({ kind: 'SERVER' }, 0), 'resourceSpans[0].scopeSpans[1].spans[0].kind', /SPAN_KIND_SERVER/],
    [spans({ flags: -1 }, 0), 'resourceSpans[0].scopeSpans[1].spans[0].flags', /unsigned 32-bit/],
    [spans({ attributes: {} }, 0), 'resourceSpans[0].scopeSpans[1].spans[0].attributes', /must be an array/],
    [spans({ attributes: [{ key: 'a', value: { intValue: 'x' } }] }, 0), 'resourceSpans[0].scopeSpans[1].spans[0].attributes[0].value.intValue', /signed 64-bit/],
    [spans({ attributes: [{ key: 'a', value: { bytesValue: 'not base64!' } }] }, 0), 'resourceSpans[0].scopeSpans[1].spans[0].attributes[0].value.bytesValue', /base64/],
    [spans({ attributes: [{ key: 'a', value: { stringValue: 'a', intValue: 1 } }] }, 0), 'resourceSpans[0].scopeSpans[1].spans[0].attributes[0].value.intValue', /together with stringValue/],
    [spans({ status: [] }, 0), 'resourceSpans[0].scopeSpans[1].spans[0].status', /must be an object/],
    [{ resourceSpans: [7] }, 'resourceSpans[0]', /must be an object/],
    [[], '', /JSON object/],
  ];
  for (const [body, path, reason] of cases) {
    assert.throws(() => parseOtlpJson('traces', JSON.stringify(body)), jsonErrorAt(path, reason), path);
  }
  assert.throws(() => parseOtlpJson('traces', '{"resourceSpans": ['), jsonErrorAt('', /invalid JSON/));
  assert.throws(
    () => parseOtlpJson('metrics', '{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"gauge":{"dataPoints":[{"asDouble":true}]}}]}]}]}'),
    jsonErrorAt('resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[0].asDouble', /must be a number/),
  );
});

test('AnyValue nesting deeper than 64 is refused by the JSON parser too', () => {
  const nested = (levels: number): object => {
    let value: object = { stringValue: 'leaf' };
    for (let i = 1; i < levels; i++) value = { arrayValue: { values: [value] } };
    return value;
  };
  const body = (levels: number) => JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: nested(levels) }] }] }] });
  assert.ok(parseOtlpJson('logs', body(64)).length > 0);
  assert.throws(() => parseOtlpJson('logs', body(65)), (e: unknown) => e instanceof OtlpJsonError && /nesting deeper than 64/.test(e.message));
});

test('quoteLongIntegers quotes only long integer literals outside strings', () => {
  assert.equal(quoteLongIntegers('{"a":1,"b":2.5}'), '{"a":1,"b":2.5}');
  assert.equal(
    quoteLongIntegers('{"t":1544712661000000001,"s":"x 1544712661000000001 \\" 1234567890123456789","d":1.2345678901234567e30,"n":-9223372036854775808}'),
    '{"t":"1544712661000000001","s":"x 1544712661000000001 \\" 1234567890123456789","d":1.2345678901234567e30,"n":"-9223372036854775808"}',
  );
  // A long integer in a double field still parses (proto3 JSON allows numbers as strings).
  const obj = normalizeOtlpJson('NumberDataPoint', JSON.parse(quoteLongIntegers('{"asDouble":12345678901234567890}')));
  assert.deepStrictEqual(obj, { asDouble: 12345678901234567000 });
});

test('toOtlpJson rejects malformed protobuf with WireError', () => {
  assert.throws(() => toOtlpJson('metrics', Uint8Array.of(0x0a, 0x05)), WireError);
});

for (const signal of SIGNALS) {
  test(`${signal}: parseOtlpJson(JSON.stringify(x)) produces exactly encodeRequest(x)`, () => {
    fc.assert(
      fc.property(arbRequest(signal), (request) => {
        const fromJson = parseOtlpJson(signal, JSON.stringify(request));
        assert.deepStrictEqual(fromJson, encodeRequest(signal, request));
      }),
      { numRuns: 60 },
    );
  });

  test(`${signal}: toOtlpJson is canonical: parsing it gives x back, and the oracle agrees`, () => {
    fc.assert(
      fc.property(arbRequest(signal), (request) => {
        const bytes = encodeRequest(signal, request);
        const text = toOtlpJson(signal, bytes);
        assert.deepStrictEqual(JSON.parse(text), request);
        assert.deepStrictEqual(normalizeOtlpJson(REQUEST_MESSAGE[signal], JSON.parse(text)), request);
        assert.deepStrictEqual(oracleDecode(REQUEST_MESSAGE[signal], parseOtlpJson(signal, text)), decodeRequest(signal, bytes));
      }),
      { numRuns: 40 },
    );
  });
}
