import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encodeRequest } from '../../../../collector/otlp/object-codec.js';
import type { OtlpObject } from '../../../../collector/otlp/object-codec.js';
import { scanRequest } from '../../../../collector/otlp/scanner.js';
import { WireIndex } from '../../../../collector/otlp/wire-index.js';
import { labelValueHash, murmur3x86_128_64, SeriesIdHasher } from '../../../../collector/processors/cardinality/series-id.js';

// ------------------------------------------------------------------ building requests

type Attr = readonly [key: string, value: OtlpObject];
const s = (value: string): OtlpObject => ({ stringValue: value });
const int = (value: number): OtlpObject => ({ intValue: String(value) });
const kvs = (attrs: readonly Attr[]): OtlpObject[] => attrs.map(([key, value]) => ({ key, value }));

type DataType = 'gauge' | 'sum' | 'histogram' | 'exponentialHistogram' | 'summary';

interface MetricSpec {
  readonly name: string;
  readonly unit?: string;
  readonly type?: DataType;
  readonly points: readonly (readonly Attr[])[];
}

interface ResourceSpec {
  readonly attrs: readonly Attr[];
  readonly metrics: readonly MetricSpec[];
}

function point(type: DataType, attributes: readonly Attr[]): OtlpObject {
  const common = { attributes: kvs(attributes), timeUnixNano: '1700000000000000000' };
  switch (type) {
    case 'histogram':
      return { ...common, count: '1', sum: 2, bucketCounts: ['1', '0'], explicitBounds: [5] };
    case 'exponentialHistogram':
      return { ...common, count: '1', scale: 1, positive: { offset: 0, bucketCounts: ['1'] } };
    case 'summary':
      return { ...common, count: '1', sum: 2 };
    default:
      return { ...common, asDouble: 1 };
  }
}

function metric(spec: MetricSpec): OtlpObject {
  const type = spec.type ?? 'gauge';
  const data: OtlpObject = { dataPoints: spec.points.map((attrs) => point(type, attrs)) };
  if (type === 'sum') Object.assign(data, { aggregationTemporality: 2, isMonotonic: true });
  return { name: spec.name, ...(spec.unit !== undefined ? { unit: spec.unit } : {}), [type]: data };
}

function request(resources: readonly ResourceSpec[]): Uint8Array {
  return encodeRequest('metrics', {
    resourceMetrics: resources.map((r) => ({
      resource: { attributes: kvs(r.attrs) },
      scopeMetrics: [{ scope: { name: 'test' }, metrics: r.metrics.map(metric) }],
    })),
  });
}

const hasher = new SeriesIdHasher();

/** Series ids of every point of a request, in scan order, as "lo:hi" strings. */
function ids(bytes: Uint8Array, idHasher = hasher): string[] {
  const ix = scanRequest(new WireIndex(), 'metrics', bytes);
  const out = new Uint32Array(2 * ix.itemCount);
  idHasher.seriesIds(ix, out);
  return Array.from({ length: ix.itemCount }, (_, i) => `${out[2 * i]}:${out[2 * i + 1]}`);
}

/** The id of the single point of a one-resource, one-metric request. */
function idOf(resourceAttrs: readonly Attr[], spec: Omit<MetricSpec, 'points'>, pointAttrs: readonly Attr[]): string {
  const all = ids(request([{ attrs: resourceAttrs, metrics: [{ ...spec, points: [pointAttrs] }] }]));
  assert.equal(all.length, 1);
  return all[0];
}

const RESOURCE: readonly Attr[] = [
  ['service.name', s('checkout')],
  ['host.name', s('node-1')],
];
const METRIC = { name: 'http.server.request.duration', unit: 's', type: 'histogram' } as const;

// ------------------------------------------------------------------ tests

test('attribute order does not change the id (point and resource attributes)', () => {
  const attrArb = fc.uniqueArray(
    fc.tuple(fc.string({ minLength: 0, maxLength: 12 }), fc.oneof(fc.string({ maxLength: 20 }).map(s), fc.integer().map(int))),
    { minLength: 1, maxLength: 10, selector: ([key]) => key },
  );
  fc.assert(
    fc.property(attrArb, attrArb, fc.array(fc.nat()), fc.array(fc.nat()), fc.constantFrom<DataType>('gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary'), (pointAttrs, resourceAttrs, pointOrder, resourceOrder, type) => {
      const permute = <T>(items: readonly T[], order: number[]): T[] => items.map((item, i) => [order[i] ?? i, i, item] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map(([, , item]) => item);
      const spec = { ...METRIC, type };
      const original = idOf(resourceAttrs, spec, pointAttrs);
      const shuffled = idOf(permute(resourceAttrs, resourceOrder), spec, permute(pointAttrs, pointOrder));
      assert.equal(shuffled, original);
    }),
    { numRuns: 200, seed: 11 },
  );
});

test('length-prefixed: {a="bc"} and {ab="c"} differ, as do other boundary shifts and value types', () => {
  const id = (attrs: readonly Attr[]): string => idOf(RESOURCE, METRIC, attrs);
  const variants = [
    id([['a', s('bc')]]),
    id([['ab', s('c')]]),
    id([['abc', s('')]]),
    id([]),
    id([['a', s('b')], ['c', s('')]]),
    id([['a', s('1')]]),
    id([['a', int(1)]]),
    id([['a', { boolValue: true }]]),
    id([['a', { doubleValue: 1 }]]),
    id([['a', { bytesValue: 'MQ==' }]]), // the byte "1"
    id([['a', {}]]),
    id([['a', { arrayValue: { values: [s('bc')] } }]]),
    id([['', s('abc')]]),
    // Trailing NULs: equal after zero-padding to whole words, told apart only by the lengths.
    id([['a\u0000', s('bc')]]),
    id([['a', s('bc\u0000')]]),
    // A repeated attribute neither cancels out nor counts once.
    id([['a', s('bc')], ['a', s('bc')]]),
    id([['a', s('bc')], ['a', s('bc')], ['a', s('bc')]]),
  ];
  assert.equal(new Set(variants).size, variants.length, variants.join('\n'));
  // The same attributes split differently between resource and point are different series too.
  assert.notEqual(idOf([['x', s('1')]], METRIC, [['y', s('2')]]), idOf([], METRIC, [['x', s('1')], ['y', s('2')]]));
});

test('name, unit, data type, resource and point attribute changes each change the id', () => {
  const point: Attr[] = [['http.route', s('/cart')], ['http.response.status_code', int(200)]];
  const base = idOf(RESOURCE, METRIC, point);
  const variants = [
    base,
    idOf(RESOURCE, { ...METRIC, name: 'http.server.request.duratioN' }, point),
    idOf(RESOURCE, { ...METRIC, unit: 'ms' }, point),
    idOf(RESOURCE, { name: METRIC.name, type: 'histogram' }, point), // no unit at all
    idOf(RESOURCE, { ...METRIC, type: 'exponentialHistogram' }, point),
    idOf(RESOURCE, { ...METRIC, type: 'gauge' }, point),
    idOf(RESOURCE, { ...METRIC, type: 'sum' }, point),
    idOf(RESOURCE, { ...METRIC, type: 'summary' }, point),
    idOf([['service.name', s('checkout')], ['host.name', s('node-2')]], METRIC, point),
    idOf([...RESOURCE, ['k8s.pod.name', s('p')]], METRIC, point),
    idOf([], METRIC, point),
    idOf(RESOURCE, METRIC, [['http.route', s('/cart')], ['http.response.status_code', int(500)]]),
    idOf(RESOURCE, METRIC, [['http.route', s('/cart')]]),
    // The name and unit are length-prefixed too.
    idOf(RESOURCE, { ...METRIC, name: 'http.server.request.duration', unit: '' }, point),
  ];
  // The unit-less histogram and the one with unit "" are the same on the wire (proto3 omits "").
  assert.equal(variants[3], variants[13]);
  variants.pop();
  assert.equal(new Set(variants).size, variants.length);
  assert.equal(idOf(RESOURCE, { name: 'ab', unit: 'c' }, point) === idOf(RESOURCE, { name: 'a', unit: 'bc' }, point), false);
});

test('the same series gets the same id in different requests, wherever it sits, with a reused or fresh hasher', () => {
  const target: Attr[] = [['http.route', s('/orders')], ['http.request.method', s('GET')]];
  const first = ids(request([{ attrs: RESOURCE, metrics: [{ ...METRIC, points: [target] }] }]));
  const second = ids(
    request([
      { attrs: [['service.name', s('other')]], metrics: [{ name: 'queue.depth', points: [[], [['q', s('a')]]] }] },
      {
        attrs: [...RESOURCE].reverse(),
        metrics: [
          { name: 'up', type: 'gauge', points: [[]] },
          { ...METRIC, points: [[['http.route', s('/cart')]], [...target].reverse(), []] },
        ],
      },
    ]),
  );
  assert.equal(second.length, 6);
  assert.equal(second[4], first[0]);
  assert.equal(new Set(second).size, 6);
  assert.deepEqual(ids(request([{ attrs: RESOURCE, metrics: [{ ...METRIC, points: [target] }] }]), new SeriesIdHasher()), first);
});

/** The request with every KeyValue's value field moved before its key field (same length, so still valid). */
function valueFirst(bytes: Uint8Array): Uint8Array {
  const ix = scanRequest(new WireIndex(), 'metrics', bytes);
  const swapped = bytes.slice();
  for (let a = 0; a < ix.attrCount; a++) {
    const keyLength = ix.attrKeyEnd[a] - ix.attrKeyStart[a];
    if (keyLength === 0) continue; // proto3 omits an empty key: nothing to swap
    const keyFieldStart = ix.attrKeyStart[a] - 1 - (keyLength < 128 ? 1 : 2);
    const keyField = bytes.subarray(keyFieldStart, ix.attrKeyEnd[a]);
    const valueField = bytes.subarray(ix.attrKeyEnd[a], ix.attrKvEnd[a]);
    assert.equal(keyField[0], 0x0a);
    swapped.set(valueField, keyFieldStart);
    swapped.set(keyField, keyFieldStart + valueField.length);
  }
  return swapped;
}

test('a KeyValue written value-first has the same id as the usual key-first encoding, for every value type and size', () => {
  const valueArb = fc.oneof(
    fc.string({ maxLength: 300 }).map(s),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((v): OtlpObject => ({ intValue: String(v) })),
    fc.double({ noNaN: true }).map((v): OtlpObject => ({ doubleValue: v })),
    fc.boolean().map((v): OtlpObject => ({ boolValue: v })),
    fc.uint8Array({ maxLength: 200 }).map((v): OtlpObject => ({ bytesValue: Buffer.from(v).toString('base64') })),
    fc.array(fc.string({ maxLength: 5 }), { maxLength: 4 }).map((v): OtlpObject => ({ arrayValue: { values: v.map(s) } })),
    fc.constant<OtlpObject>({}),
  );
  const attrsArb = fc.uniqueArray(fc.tuple(fc.string({ maxLength: 200 }), valueArb), { minLength: 1, maxLength: 6, selector: ([key]) => key });
  fc.assert(
    fc.property(attrsArb, attrsArb, (pointAttrs, resourceAttrs) => {
      const bytes = request([{ attrs: resourceAttrs, metrics: [{ ...METRIC, points: [pointAttrs] }] }]);
      const swapped = valueFirst(bytes);
      assert.deepEqual(ids(swapped), ids(bytes));
    }),
    { numRuns: 150, seed: 5 },
  );
  // The rebuilt path really runs (swapping changes the bytes, not the id), including lengths
  // that need two- and three-byte varints.
  const long: Attr[] = [
    ['route', s('/a')],
    ['k'.repeat(130), s('v'.repeat(200))],
    ['blob', { bytesValue: Buffer.alloc(20_000, 7).toString('base64') }],
    ['list', { arrayValue: { values: Array.from({ length: 40 }, (_, i) => s(`item-${i}`)) } }],
  ];
  const bytes = request([{ attrs: long, metrics: [{ ...METRIC, points: [long, long.slice(1)] }] }]);
  assert.notDeepEqual(valueFirst(bytes), bytes);
  assert.deepEqual(ids(valueFirst(bytes)), ids(bytes));
});

test('attribute hashing is MurmurHash3 x86_128 (first 64 bits), checked against published vectors', () => {
  // Seed 0x9747b28c; expected h1, h2 as the hash's first 8 output bytes, little-endian words.
  const vectors: [string, string][] = [
    ['', 'a1d5bef71c6a575b'],
    ['The quick brown fox jumps over the lazy dog', '5ed5d48a7161b84c'],
    ['The quick brown fox jumps over the lazy cog', '0e8829ccf9108110'],
  ];
  const out = new Uint32Array(2);
  const hex = (): string => Buffer.from(out.buffer).toString('hex');
  for (const [text, expected] of vectors) {
    const bytes = new TextEncoder().encode(text);
    murmur3x86_128_64(bytes, 0, bytes.length, 0x9747b28c, out);
    assert.equal(hex(), expected, text);
    // Inside a larger buffer, where the tail is read as whole masked words.
    const padded = new Uint8Array(bytes.length + 40).fill(0xee);
    padded.set(bytes, 7);
    murmur3x86_128_64(padded.subarray(3), 4, 4 + bytes.length, 0x9747b28c, out);
    assert.equal(hex(), expected, `${text} (embedded)`);
  }
});

test('exclude leaves point attributes out: the id equals that of the point without them', () => {
  const bytes = request([{ attrs: RESOURCE, metrics: [{ ...METRIC, points: [[['route', s('/a')], ['user_id', s('u-1')], ['method', s('GET')]], [['route', s('/a')], ['method', s('GET')]]] }] }]);
  const ix = scanRequest(new WireIndex(), 'metrics', bytes);
  const exclude = new Uint8Array(ix.attrCount);
  for (let a = 0; a < ix.attrCount; a++) if (ix.attrKey(a) === 'user_id') exclude[a] = 1;
  const out = new Uint32Array(6);
  const idHasher = new SeriesIdHasher();
  idHasher.seriesId(ix, 0, out, 0);
  idHasher.seriesId(ix, 0, out, 2, exclude);
  idHasher.seriesId(ix, 1, out, 4);
  assert.notDeepEqual([out[0], out[1]], [out[4], out[5]]);
  assert.deepEqual([out[2], out[3]], [out[4], out[5]]);
});

test('labelValueHash depends on key and value only, not on where the attribute sits', () => {
  const bytes = request([
    { attrs: [['a', s('bc')]], metrics: [{ name: 'm', points: [[['a', s('bc')], ['ab', s('c')]]] }] },
    { attrs: [], metrics: [{ name: 'other', type: 'sum', points: [[['a', s('bc')], ['a', s('bd')]]] }] },
  ]);
  const ix = scanRequest(new WireIndex(), 'metrics', bytes);
  assert.equal(ix.attrCount, 5);
  const out = new Uint32Array(2 * ix.attrCount);
  for (let a = 0; a < ix.attrCount; a++) labelValueHash(ix, a, out, 2 * a);
  const hashes = Array.from({ length: ix.attrCount }, (_, a) => `${out[2 * a]}:${out[2 * a + 1]}`);
  // Rows in scan order: resource a=bc, point a=bc, point ab=c, point a=bc, point a=bd.
  assert.equal(hashes[0], hashes[1]);
  assert.equal(hashes[1], hashes[3]);
  assert.equal(new Set(hashes).size, 3);
});

test('1 M distinct series: no 64-bit collision, and each 32-bit half collides about as often as a random function', () => {
  // 100 instances × 100 routes × 100 status values: a cross product, the shape real series have.
  const points: Attr[][] = [];
  for (let i = 0; i < 10_000; i++) points.push([['http.route', s(`/api/v1/r${i % 100}`)], ['code', s(String(Math.floor(i / 100)))]]);
  const template = request([{ attrs: [['service.instance.id', s('inst-000')], ...RESOURCE], metrics: [{ ...METRIC, points }] }]);
  const instanceAt = Buffer.from(template.buffer, template.byteOffset, template.byteLength).indexOf('inst-000') + 5;
  assert.ok(instanceAt > 5);
  const total = 100 * points.length;
  const words = new Uint32Array(2 * total);
  const ix = new WireIndex();
  const idHasher = new SeriesIdHasher();
  for (let instance = 0; instance < 100; instance++) {
    // Same length, so the request stays valid: patch the instance number in place (a new buffer each time).
    const bytes = template.slice();
    bytes.set(new TextEncoder().encode(String(instance).padStart(3, '0')), instanceAt);
    scanRequest(ix, 'metrics', bytes);
    idHasher.seriesIds(ix, words.subarray(2 * instance * points.length, 2 * (instance + 1) * points.length));
  }
  // On a little-endian host each (lo, hi) word pair reads as one 64-bit id.
  const ids64 = new BigUint64Array(words.buffer).slice().sort();
  let collisions64 = 0;
  for (let i = 1; i < total; i++) if (ids64[i] === ids64[i - 1]) collisions64++;
  assert.equal(collisions64, 0);

  // Expected pairs colliding in a random 32-bit function: n(n-1)/2 / 2^32 ≈ 116 (Poisson, σ ≈ 11).
  for (const half of [0, 1]) {
    const values = new Uint32Array(total);
    for (let i = 0; i < total; i++) values[i] = words[2 * i + half];
    values.sort();
    let collisions = 0;
    for (let i = 1; i < total; i++) if (values[i] === values[i - 1]) collisions++;
    assert.ok(collisions >= 70 && collisions <= 170, `half ${half}: ${collisions} 32-bit collisions`);
  }
});
