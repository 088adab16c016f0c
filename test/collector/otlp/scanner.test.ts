import { test } from 'node:test';
import assert from 'node:assert/strict';
import { metricsRequestObject, tracesRequestObject } from '../../../bench/workloads.js';
import { encodeRequest } from '../../../collector/otlp/object-codec.js';
import type { OtlpObject } from '../../../collector/otlp/object-codec.js';
import { MAX_ANY_VALUE_DEPTH, scanRequest } from '../../../collector/otlp/scanner.js';
import { METRIC_DATA, NODE, VALUE, WireIndex } from '../../../collector/otlp/wire-index.js';
import { ByteWriter, varintSize, WireError } from '../../../collector/otlp/wire.js';

const kv = (key: string, value: OtlpObject): OtlpObject => ({ key, value });

/** Every attribute the scanner indexed, as "owner-kind key=value-type" strings in order. */
function indexedAttributes(ix: WireIndex): string[] {
  const out: string[] = [];
  for (let a = 0; a < ix.attrCount; a++) out.push(`${ix.nodeKind[ix.attrOwner[a]]} ${ix.attrKey(a)}=${ix.attrValueType[a]}`);
  return out;
}

test('indexes every metric, point and attribute of a realistic request', () => {
  const object = metricsRequestObject(1000, 7);
  const ix = scanRequest(new WireIndex(), 'metrics', encodeRequest('metrics', object));
  const resourceMetrics = (object.resourceMetrics as OtlpObject[])[0];
  const metrics = ((resourceMetrics.scopeMetrics as OtlpObject[])[0].metrics as OtlpObject[]);
  assert.equal(ix.metricCount, metrics.length);
  assert.equal(ix.itemCount, 1000);
  const expected: string[] = [];
  for (const a of (resourceMetrics.resource as OtlpObject).attributes as OtlpObject[]) expected.push(`${NODE.RESOURCE} ${a.key as string}=${VALUE.STRING}`);
  for (const metric of metrics) {
    const data = (metric.sum ?? metric.gauge ?? metric.histogram) as OtlpObject;
    for (const point of data.dataPoints as OtlpObject[]) {
      for (const a of point.attributes as OtlpObject[]) {
        const type = 'intValue' in (a.value as OtlpObject) ? VALUE.INT : VALUE.STRING;
        expected.push(`${NODE.POINT} ${a.key as string}=${type}`);
      }
    }
  }
  assert.deepEqual(indexedAttributes(ix), expected);
  assert.equal(ix.text(ix.metricNameStart[0], ix.metricNameEnd[0]), metrics[0].name);
  assert.equal(ix.metricDataKind[0], METRIC_DATA.SUM);
  assert.equal(ix.metricTemporality[0], 2);
  assert.equal(ix.metricMonotonic[0], 1);
  assert.equal(ix.metricDataKind[2], METRIC_DATA.HISTOGRAM);
  // A point knows its metric and its resource's attributes.
  assert.equal(ix.itemParent[250], 2);
  const resourceNode = ix.groupInner[ix.itemResourceGroup[250]];
  assert.equal(ix.nodeKind[resourceNode], NODE.RESOURCE);
  assert.equal(ix.nodeAttrCount[resourceNode], 5);
});

test('indexes span ids, names, times, status and trace state', () => {
  const object = tracesRequestObject(20, 3);
  const spans = ((object.resourceSpans as OtlpObject[])[0].scopeSpans as OtlpObject[])[0].spans as OtlpObject[];
  spans[4].traceState = 'ot=th:8;rv:0123456789abcd,vendor=x';
  spans[5].status = { code: 2 };
  const ix = scanRequest(new WireIndex(), 'traces', encodeRequest('traces', object));
  assert.equal(ix.itemCount, 20);
  for (let i = 0; i < 20; i++) {
    const traceId = Buffer.from(ix.buf.subarray(ix.itemTraceId[i], ix.itemTraceId[i] + 16)).toString('hex');
    const spanId = Buffer.from(ix.buf.subarray(ix.itemSpanId[i], ix.itemSpanId[i] + 8)).toString('hex');
    assert.equal(traceId, spans[i].traceId);
    assert.equal(spanId, spans[i].spanId);
    assert.equal(ix.text(ix.itemNameStart[i], ix.itemNameEnd[i]), spans[i].name);
    assert.equal(ix.itemKind[i], 2);
    assert.equal(BigInt(Math.round(ix.itemEndTime[i] - ix.itemTime[i])) / 1_000_000n, (BigInt(spans[i].endTimeUnixNano as string) - BigInt(spans[i].startTimeUnixNano as string)) / 1_000_000n);
  }
  assert.equal(ix.itemStatus[5], 2);
  assert.equal(ix.itemTraceStateStart[3], -1);
  // The recorded trace_state range is the whole field: tag (field 3, LEN = 0x1a), length, text.
  assert.equal(ix.buf[ix.itemTraceStateStart[4]], 0x1a);
  assert.equal(ix.text(ix.itemTraceStateStart[4] + 2, ix.itemTraceStateEnd[4]), 'ot=th:8;rv:0123456789abcd,vendor=x');
});

test('indexes log records with severity, body and trace context', () => {
  const object: OtlpObject = {
    resourceLogs: [
      {
        resource: { attributes: [kv('service.name', { stringValue: 'api' })] },
        scopeLogs: [
          {
            logRecords: [
              { timeUnixNano: '1732000000000000000', severityNumber: 17, severityText: 'ERROR', body: { stringValue: 'payment failed for a@b.io' }, attributes: [kv('user_id', { stringValue: 'u1' })], traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', droppedAttributesCount: 2 },
              { body: { kvlistValue: { values: [kv('a', { intValue: '1' })] } } },
            ],
          },
        ],
      },
    ],
  };
  const ix = scanRequest(new WireIndex(), 'logs', encodeRequest('logs', object));
  assert.equal(ix.itemCount, 2);
  assert.equal(ix.itemKind[0], 17);
  assert.equal(ix.itemBodyType[0], VALUE.STRING);
  assert.equal(ix.text(ix.itemBodyStart[0], ix.itemBodyEnd[0]), 'payment failed for a@b.io');
  assert.equal(Buffer.from(ix.buf.subarray(ix.itemTraceId[0], ix.itemTraceId[0] + 16)).toString('hex'), '0af7651916cd43dd8448eb211c80319c');
  assert.equal(ix.nodeDroppedValue[ix.itemNode[0]], 2);
  assert.equal(ix.itemBodyType[1], VALUE.KVLIST);
  assert.equal(ix.itemTraceId[1], -1);
});

function nestedArray(depth: number): OtlpObject {
  let value: OtlpObject = { stringValue: 'leaf' };
  for (let i = 1; i < depth; i++) value = { arrayValue: { values: [value] } };
  return value;
}

test(`AnyValue nesting is accepted to depth ${MAX_ANY_VALUE_DEPTH} and rejected beyond`, () => {
  const request = (depth: number): Uint8Array =>
    encodeRequest('traces', { resourceSpans: [{ scopeSpans: [{ spans: [{ name: 's', attributes: [kv('deep', nestedArray(depth))] }] }] }] });
  assert.doesNotThrow(() => scanRequest(new WireIndex(), 'traces', request(MAX_ANY_VALUE_DEPTH)));
  assert.throws(() => scanRequest(new WireIndex(), 'traces', request(MAX_ANY_VALUE_DEPTH + 1)), /nesting deeper than 64/);
});

test('malformed input is a WireError: truncation anywhere, bad varints, lengths past the end, groups, wrong wire types', () => {
  const valid = encodeRequest('metrics', metricsRequestObject(12, 5));
  const ix = new WireIndex();
  let rejected = 0;
  for (let cut = 1; cut < valid.length; cut++) {
    try {
      scanRequest(ix, 'metrics', valid.subarray(0, cut));
    } catch (error) {
      assert.ok(error instanceof WireError, `cut at ${cut}: ${String(error)}`);
      rejected++;
    }
  }
  // Only cuts at the boundary between two top-level ResourceMetrics could be valid; there is one group.
  assert.equal(rejected, valid.length - 1);
  assert.throws(() => scanRequest(ix, 'metrics', Uint8Array.of(0x0a, 0xff)), WireError); // truncated length varint
  assert.throws(() => scanRequest(ix, 'metrics', Uint8Array.of(0x0a, 0x05, 0x00)), /past the end/);
  assert.throws(() => scanRequest(ix, 'metrics', Uint8Array.of(0x0b, 0x0c)), /group/); // field 1, start group
  assert.throws(() => scanRequest(ix, 'metrics', Uint8Array.of(0x08, 0x01)), /wire type 0, expected 2/);
  assert.throws(() => scanRequest(ix, 'metrics', Uint8Array.of(0x0a, 0x0b, ...new Array(11).fill(0xff))), WireError);
  assert.throws(() => scanRequest(ix, 'metrics', Uint8Array.of(0x00)), /invalid field tag/);
});

test('unknown fields are skipped, an empty request has no items', () => {
  const ix = new WireIndex();
  assert.equal(scanRequest(ix, 'logs', new Uint8Array(0)).itemCount, 0);
  const withUnknown = new ByteWriter().tag(99, 0).varint(5).tag(100, 2).string('future').finish();
  assert.equal(scanRequest(ix, 'logs', withUnknown).itemCount, 0);
});

/** A traces request of one span whose one attribute is the given KeyValue message bytes. */
function spanWithKeyValue(keyValue: Uint8Array): Uint8Array {
  const w = new ByteWriter();
  w.fork().fork().fork(); // ResourceSpans(1) > ScopeSpans(2) > Span(2)
  w.tag(5, 2).string('op').tag(9, 2).bytes(keyValue);
  return w.join(2).join(2).join(1).finish();
}

const keyField = (key: string): ByteWriter => new ByteWriter().tag(1, 2).string(key);
const stringAnyValue = (text: string): Uint8Array => new ByteWriter().tag(1, 2).string(text).finish();

test('attributes of every wire shape index alike: the short-string fast path and the general field loop', () => {
  const long = 'k'.repeat(130);
  const shapes: Array<{ name: string; bytes: Uint8Array; key: string; type: number; value: string }> = [
    { name: 'short key, short string', bytes: keyField('http.route').tag(2, 2).bytes(stringAnyValue('/cart')).finish(), key: 'http.route', type: VALUE.STRING, value: '/cart' },
    { name: 'empty key and value', bytes: keyField('').tag(2, 2).bytes(stringAnyValue('')).finish(), key: '', type: VALUE.STRING, value: '' },
    { name: 'key of 130 bytes', bytes: keyField(long).tag(2, 2).bytes(stringAnyValue('v')).finish(), key: long, type: VALUE.STRING, value: 'v' },
    { name: 'value of 200 bytes', bytes: keyField('k').tag(2, 2).bytes(stringAnyValue('v'.repeat(200))).finish(), key: 'k', type: VALUE.STRING, value: 'v'.repeat(200) },
    { name: 'value before key', bytes: new ByteWriter().tag(2, 2).bytes(stringAnyValue('late')).tag(1, 2).string('k').finish(), key: 'k', type: VALUE.STRING, value: 'late' },
    { name: 'unknown field after the value', bytes: keyField('k').tag(2, 2).bytes(stringAnyValue('v')).tag(7, 0).varint(1).finish(), key: 'k', type: VALUE.STRING, value: 'v' },
    {
      name: 'unknown field inside the AnyValue',
      bytes: keyField('k').tag(2, 2).bytes(new ByteWriter().tag(9, 0).varint(3).tag(1, 2).string('v').finish()).finish(),
      key: 'k',
      type: VALUE.STRING,
      value: 'v',
    },
    { name: 'bytes value', bytes: keyField('k').tag(2, 2).bytes(new ByteWriter().tag(7, 2).string('raw').finish()).finish(), key: 'k', type: VALUE.BYTES, value: 'raw' },
  ];
  for (const shape of shapes) {
    const ix = scanRequest(new WireIndex(), 'traces', spanWithKeyValue(shape.bytes));
    assert.equal(ix.attrCount, 1, shape.name);
    assert.equal(ix.attrKey(0), shape.key, shape.name);
    assert.equal(ix.attrValueType[0], shape.type, shape.name);
    assert.equal(ix.text(ix.attrValueStart[0], ix.attrValueEnd[0]), shape.value, shape.name);
    assert.equal(ix.attrKvEnd[0] - ix.attrKvStart[0], 1 + varintSize(shape.bytes.length) + shape.bytes.length, `${shape.name}: the KeyValue field spans its tag, length and message`);
  }
  const intValue = scanRequest(new WireIndex(), 'traces', spanWithKeyValue(keyField('code').tag(2, 2).bytes(new ByteWriter().tag(3, 0).varint(503).finish()).finish()));
  assert.equal(intValue.attrValueType[0], VALUE.INT);
  // A string whose length runs past its AnyValue is malformed, whichever path reads it.
  const overrun = Uint8Array.of(0x0a, 0x01, 0x6b, 0x12, 0x03, 0x0a, 0x05, 0x76);
  assert.throws(() => scanRequest(new WireIndex(), 'traces', spanWithKeyValue(overrun)), WireError);
});
