import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeMessage, decodeRequest, encodeMessage, encodeRequest, OtlpObjectError } from '../../../collector/otlp/object-codec.js';
import type { OtlpObject } from '../../../collector/otlp/object-codec.js';
import { OTLP_SCHEMA, REQUEST_MESSAGE } from '../../../collector/otlp/schema.js';
import { SIGNALS } from '../../../collector/otlp/signal.js';
import { ByteWriter, WireError, WIRE_I64, WIRE_LEN, WIRE_VARINT } from '../../../collector/otlp/wire.js';
import { arbRequest } from './arbitraries.js';
import { oracleDecode, oracleEncode } from './oracle.js';

const RUNS = 60;

// --- round trips and the oracle ------------------------------------------------------------------

for (const signal of SIGNALS) {
  test(`${signal}: decode(encode(x)) equals x for generated canonical requests`, () => {
    fc.assert(
      fc.property(arbRequest(signal), (request) => {
        assert.deepStrictEqual(decodeRequest(signal, encodeRequest(signal, request)), request);
      }),
      { numRuns: RUNS },
    );
  });

  test(`${signal}: the oracle decodes our encoding to the same object`, () => {
    fc.assert(
      fc.property(arbRequest(signal), (request) => {
        assert.deepStrictEqual(oracleDecode(REQUEST_MESSAGE[signal], encodeRequest(signal, request)), request);
      }),
      { numRuns: RUNS },
    );
  });

  test(`${signal}: we decode the oracle's encoding to the same object`, () => {
    fc.assert(
      fc.property(arbRequest(signal), (request) => {
        assert.deepStrictEqual(decodeRequest(signal, oracleEncode(REQUEST_MESSAGE[signal], request)), request);
      }),
      { numRuns: RUNS },
    );
  });
}

test('a hand-built metrics request decodes to the expected canonical object', () => {
  const request: OtlpObject = {
    resourceMetrics: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'checkout' } }] },
        scopeMetrics: [
          {
            scope: {},
            metrics: [
              {
                name: 'http.server.duration',
                histogram: {
                  aggregationTemporality: 2,
                  dataPoints: [
                    {
                      timeUnixNano: '1700000000123456789',
                      count: '3',
                      sum: 0,
                      bucketCounts: ['1', '0', '2'],
                      explicitBounds: [0.5, 'Infinity'],
                      min: 'NaN',
                    },
                  ],
                },
              },
              { name: 'up', gauge: { dataPoints: [{ asInt: '0' }, { asDouble: 0 }, { asInt: '-9223372036854775808' }] } },
            ],
          },
        ],
      },
    ],
  };
  const bytes = encodeRequest('metrics', request);
  assert.deepStrictEqual(decodeRequest('metrics', bytes), request);
  assert.deepStrictEqual(oracleDecode('ExportMetricsServiceRequest', bytes), request);
});

test('ids are lowercase hex and other bytes base64; 64-bit integers are decimal strings', () => {
  const request: OtlpObject = {
    resourceSpans: [
      {
        scopeSpans: [
          {
            spans: [
              {
                traceId: '5b8efff798038103d269b633813fc60c',
                spanId: 'eee19b7ec3c1b174',
                name: 'GET /',
                kind: 2,
                startTimeUnixNano: '18446744073709551615',
                attributes: [{ key: 'blob', value: { bytesValue: 'AAEC/w==' } }, { key: 'n', value: { intValue: '-1' } }],
                status: { code: 2 },
              },
            ],
          },
        ],
      },
    ],
  };
  const decoded = decodeRequest('traces', encodeRequest('traces', request));
  assert.deepStrictEqual(decoded, request);
});

test('proto3 defaults are omitted on decode, oneof members and optional fields are kept', () => {
  // name = "" and flags = 0 written explicitly; asDouble = 0 (oneof); sum = 0 (optional).
  const point = new ByteWriter().tag(8, WIRE_VARINT).varint(0).tag(4, WIRE_I64).double(0).finish();
  const gauge = new ByteWriter().fork().raw(point).join(1).finish();
  const metric = new ByteWriter().tag(1, WIRE_LEN).string('').fork().raw(gauge).join(5).finish();
  assert.deepStrictEqual(decodeMessage('Metric', metric), { gauge: { dataPoints: [{ asDouble: 0 }] } });

  const histogramPoint = new ByteWriter().tag(5, WIRE_I64).double(0).tag(4, WIRE_I64).fixed64(0n).finish();
  assert.deepStrictEqual(decodeMessage('HistogramDataPoint', histogramPoint), { sum: 0 });

  const emptyString = new ByteWriter().tag(1, WIRE_LEN).string('').finish();
  assert.deepStrictEqual(decodeMessage('AnyValue', emptyString), { stringValue: '' });
});

test('packed and unpacked repeated scalars both decode', () => {
  const packed = new ByteWriter().fork().fixed64(1n).fixed64(0n).fixed64(7n).join(6).finish();
  const unpacked = new ByteWriter()
    .tag(6, WIRE_I64).fixed64(1n)
    .tag(6, WIRE_I64).fixed64(0n)
    .tag(6, WIRE_I64).fixed64(7n)
    .finish();
  const expected = { bucketCounts: ['1', '0', '7'] };
  assert.deepStrictEqual(decodeMessage('HistogramDataPoint', packed), expected);
  assert.deepStrictEqual(decodeMessage('HistogramDataPoint', unpacked), expected);
  // The encoder writes them packed: one tag, one length.
  assert.deepStrictEqual(encodeMessage('HistogramDataPoint', expected), packed);

  const mixed = new ByteWriter().fork().varint(3).join(2).tag(2, WIRE_VARINT).varint(4).finish();
  assert.deepStrictEqual(decodeMessage('ExponentialHistogramDataPoint.Buckets', mixed), { bucketCounts: ['3', '4'] });
});

test('negative int32, sint32 and enum values survive the round trip', () => {
  const buckets = { offset: -3 };
  assert.deepStrictEqual(Array.from(encodeMessage('ExponentialHistogramDataPoint.Buckets', buckets)), [0x08, 5]);
  const status = { code: -1, message: 'x' };
  const bytes = encodeMessage('RpcStatus', status);
  assert.equal(bytes.length, 1 + 10 + 3, 'negative int32 is a 10-byte varint');
  assert.deepStrictEqual(decodeMessage('RpcStatus', bytes), status);
  assert.deepStrictEqual(decodeMessage('Span', encodeMessage('Span', { kind: 99 })), { kind: 99 });
});

test('unknown fields are skipped, and the last of repeated oneof members wins', () => {
  const bytes = new ByteWriter()
    .tag(99, WIRE_VARINT).varint(5)
    .tag(100, WIRE_LEN).string('ignored')
    .tag(101, WIRE_I64).fixed64(1n)
    .tag(102, 5).fixed32(1)
    .tag(1, WIRE_LEN).string('a')
    .tag(3, WIRE_VARINT).varint(7)
    .finish();
  assert.deepStrictEqual(decodeMessage('AnyValue', bytes), { intValue: '7' });
});

test('a singular sub-message seen twice is merged', () => {
  const bytes = new ByteWriter()
    .fork().tag(1, WIRE_LEN).string('svc').join(1)
    .fork().tag(2, WIRE_LEN).string('1.0').join(1)
    .finish();
  assert.deepStrictEqual(decodeMessage('ScopeSpans', bytes), { scope: { name: 'svc', version: '1.0' } });
});

test('fields are encoded in field-number order', () => {
  const bytes = encodeMessage('LogRecord', { eventName: 'e', observedTimeUnixNano: '5', timeUnixNano: '4', severityNumber: 9 });
  const tags: number[] = [];
  for (let pos = 0; pos < bytes.length; ) {
    const tag = bytes[pos];
    tags.push(tag >> 3);
    const wireType = tag & 7;
    pos += 1 + (wireType === WIRE_I64 ? 8 : wireType === WIRE_VARINT ? 1 : 1 + bytes[pos + 1]);
  }
  assert.deepStrictEqual(tags, [1, 2, 11, 12]);
});

test('AnyValue nesting: 64 levels decode, 65 are a WireError', () => {
  const nested = (levels: number): OtlpObject => {
    let value: OtlpObject = { stringValue: 'leaf' };
    for (let i = 1; i < levels; i++) value = { arrayValue: { values: [value] } };
    return value;
  };
  const ok = { resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: nested(64) }] }] }] };
  assert.deepStrictEqual(decodeRequest('logs', encodeRequest('logs', ok)), ok);

  // Build 65 levels by hand: our encoder refuses to write them.
  let value = new ByteWriter().tag(1, WIRE_LEN).string('leaf').finish();
  for (let i = 1; i < 65; i++) {
    const array = new ByteWriter().fork().raw(value).join(1).finish();
    value = new ByteWriter().fork().raw(array).join(5).finish();
  }
  const record = new ByteWriter().fork().raw(value).join(5).finish();
  const scopeLogs = new ByteWriter().fork().raw(record).join(2).finish();
  const resourceLogs = new ByteWriter().fork().raw(scopeLogs).join(2).finish();
  const request = new ByteWriter().fork().raw(resourceLogs).join(1).finish();
  assert.throws(() => decodeRequest('logs', request), (e: unknown) => e instanceof WireError && /nesting deeper than 64/.test(e.message));
  assert.throws(() => encodeRequest('logs', { resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: nested(65) }] }] }] }), OtlpObjectError);
});

test('the encoder rejects values of the wrong type with the field name', () => {
  assert.throws(() => encodeMessage('Span', { traceId: 'xyz' }), /Span\.traceId: expected a hex string/);
  assert.throws(() => encodeMessage('Span', { startTimeUnixNano: '-1' }), /Span\.startTimeUnixNano/);
  assert.throws(() => encodeMessage('Span', { attributes: {} }), /expected an array/);
  assert.throws(() => encodeMessage('Span', { droppedAttributesCount: 1.5 }), OtlpObjectError);
});

// --- malformed input -------------------------------------------------------------------------

function isWireError(error: unknown): boolean {
  return error instanceof WireError;
}

test('malformed input of every named kind is a WireError', () => {
  const cases: Record<string, Uint8Array> = {
    'truncated string': Uint8Array.of(0x0a, 0x05, 0x61),
    'truncated fixed64': Uint8Array.of(0x11, 1, 2, 3),
    'bad varint (11 bytes)': Uint8Array.of(0x08, ...new Array<number>(11).fill(0x80)),
    'truncated varint': Uint8Array.of(0x08, 0x80),
    'truncated tag': Uint8Array.of(0x80),
    'length past the end': Uint8Array.of(0x0a, 0x7f, 0x00),
    'start group': Uint8Array.of(0x0b),
    'end group': Uint8Array.of(0x0c),
    'invalid wire type 6': Uint8Array.of(0x0e),
    'invalid wire type 7 on an unknown field': Uint8Array.of(0xff, 0x01),
    'field number 0': Uint8Array.of(0x00, 0x00),
    'wrong wire type for a message field': Uint8Array.of(0x08, 0x01),
  };
  for (const [name, bytes] of Object.entries(cases)) {
    assert.throws(() => decodeRequest('traces', bytes), isWireError, name);
  }
  assert.throws(() => decodeMessage('Span', Uint8Array.of(0x85, 0x01, 1, 2)), /truncated fixed32/);
  const spanWithVarintTraceId = new ByteWriter().tag(1, WIRE_VARINT).varint(1).finish();
  assert.throws(() => decodeMessage('Span', spanWithVarintTraceId), /wrong wire type 0 for Span\.traceId/);
  const doubleAsVarint = new ByteWriter().tag(4, WIRE_VARINT).varint(1).finish();
  assert.throws(() => decodeMessage('NumberDataPoint', doubleAsVarint), isWireError);
  const packedTruncated = new ByteWriter().fork().raw(Uint8Array.of(1, 2, 3, 4, 5)).join(6).finish();
  assert.throws(() => decodeMessage('HistogramDataPoint', packedTruncated), /truncated fixed64/);
  const packedBadVarint = new ByteWriter().fork().raw(Uint8Array.of(0x80)).join(2).finish();
  assert.throws(() => decodeMessage('ExponentialHistogramDataPoint.Buckets', packedBadVarint), isWireError);
  const nestedLengthPastParent = new ByteWriter().fork().raw(Uint8Array.of(0x0a, 0x05, 1)).join(1).finish();
  assert.throws(() => decodeRequest('metrics', nestedLengthPastParent), /past the end/);
});

type Mutation = { kind: 'flip'; at: number; value: number } | { kind: 'truncate'; at: number } | { kind: 'insert'; at: number; bytes: Uint8Array } | { kind: 'delete'; at: number; count: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 6 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 4 }) }),
);

function mutate(bytes: Uint8Array, mutations: Mutation[]): Uint8Array {
  let out = Uint8Array.from(bytes);
  for (const m of mutations) {
    const at = out.length === 0 ? 0 : m.at % out.length;
    if (m.kind === 'flip' && out.length > 0) out[at] = m.value;
    else if (m.kind === 'truncate') out = out.subarray(0, at);
    else if (m.kind === 'insert') out = Uint8Array.from([...out.subarray(0, at), ...m.bytes, ...out.subarray(at)]);
    else if (m.kind === 'delete') out = Uint8Array.from([...out.subarray(0, at), ...out.subarray(at + m.count)]);
  }
  return out;
}

for (const signal of SIGNALS) {
  test(`${signal}: mutated or truncated encodings decode or throw WireError, nothing else`, () => {
    let rejected = 0;
    fc.assert(
      fc.property(arbRequest(signal), fc.array(mutation, { minLength: 1, maxLength: 3 }), (request, mutations) => {
        const bytes = mutate(encodeRequest(signal, request), mutations);
        try {
          const decoded = decodeRequest(signal, bytes);
          // Whatever decodes must re-encode and decode to itself (it is canonical).
          assert.deepStrictEqual(decodeRequest(signal, encodeRequest(signal, decoded)), decoded);
        } catch (error) {
          if (!(error instanceof WireError)) throw error;
          rejected++;
        }
      }),
      { numRuns: 150 },
    );
    assert.ok(rejected > 0, 'some mutations must be rejected');
  });
}

test('random bytes never crash the decoder with anything but WireError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.constantFrom(...(Object.keys(OTLP_SCHEMA) as (keyof typeof OTLP_SCHEMA)[])), (bytes, name) => {
      try {
        decodeMessage(name, bytes);
      } catch (error) {
        if (!(error instanceof WireError)) throw error;
      }
    }),
    { numRuns: 500 },
  );
});
