import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encodeKeyValueField, encodeStringValue } from '../../../collector/otlp/edits.js';
import { hashBytes } from '../../../collector/otlp/hash.js';
import { decodeRequest, encodeMessage, encodeRequest } from '../../../collector/otlp/object-codec.js';
import { ByteWriter } from '../../../collector/otlp/wire.js';
import type { OtlpObject, OtlpValue } from '../../../collector/otlp/object-codec.js';
import type { CompiledRules } from '../../../rules/compiled.js';
import { governanceChain, rulesFrom, runProcessors } from './run-processors.js';

/**
 * Re-aggregation after the attribute policy: points of one metric that dropping (or redacting,
 * truncating, hashing) a label made the same series are merged into one, the way the metric's
 * kind says they combine. Expected values are worked out by hand from the OTLP data model.
 */

const DROP_USER_ID = rulesFrom(`
version: 1
attribute_policies:
  - name: no-user-ids
    signals: [metrics]
    targets: [attributes]
    keys: user_id
    action: drop
`);

const DELTA = 1;
const CUMULATIVE = 2;

type Outcome = readonly ['merged' | 'unmergeable', number];

interface Run {
  readonly output: OtlpObject;
  readonly outcomes: Outcome[];
  readonly bytesIn: Uint8Array;
  readonly bytesOut: Uint8Array;
}

function run(request: OtlpObject, rules: CompiledRules = DROP_USER_ID, hashLength?: number, reaggregationSeed?: number): Run {
  const outcomes: Outcome[] = [];
  const processors = governanceChain(rules, {
    hashKey: 'reaggregation-key',
    hashLength,
    reaggregationSeed,
    reaggregationObserver: { onReaggregation: (outcome, points) => outcomes.push([outcome, points]) },
  });
  const bytesIn = encodeRequest('metrics', request);
  const result = runProcessors(processors, 'metrics', bytesIn);
  return { output: decodeRequest('metrics', result.bytes), outcomes, bytesIn, bytesOut: result.bytes };
}

/** String attributes in the given order. */
function attrs(pairs: Readonly<Record<string, string>>): OtlpObject[] {
  return Object.entries(pairs).map(([key, value]) => ({ key, value: { stringValue: value } }));
}

function request(...metrics: OtlpObject[]): OtlpObject {
  return { resourceMetrics: [{ resource: { attributes: attrs({ 'service.name': 'svc' }) }, scopeMetrics: [{ metrics }] }] };
}

const sum = (temporality: number, dataPoints: OtlpObject[]): OtlpObject => ({
  name: 'requests',
  sum: { dataPoints, aggregationTemporality: temporality, isMonotonic: true },
});
const histogram = (dataPoints: OtlpObject[]): OtlpObject => ({ name: 'latency', histogram: { dataPoints, aggregationTemporality: DELTA } });
const exponential = (dataPoints: OtlpObject[]): OtlpObject => ({ name: 'size', exponentialHistogram: { dataPoints, aggregationTemporality: DELTA } });
const gauge = (dataPoints: OtlpObject[]): OtlpObject => ({ name: 'temperature', gauge: { dataPoints } });

const list = (o: OtlpObject, key: string): OtlpObject[] => (o[key] as OtlpObject[] | undefined) ?? [];
const metricsOf = (output: OtlpObject): OtlpObject[] => list(output, 'resourceMetrics').flatMap((r) => list(r, 'scopeMetrics').flatMap((s) => list(s, 'metrics')));
const DATA_KEYS = ['gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary'];
const dataOf = (metric: OtlpObject): OtlpObject => metric[DATA_KEYS.find((k) => k in metric) as string] as OtlpObject;
const pointsOf = (output: OtlpObject, metric = 0): OtlpObject[] => list(dataOf(metricsOf(output)[metric]), 'dataPoints');

test('delta sums add up when dropping a label makes two points one series, whatever the attribute order', () => {
  const { output, outcomes } = run(
    request(
      sum(DELTA, [
        { attributes: attrs({ user_id: 'u-1', 'http.route': '/a', method: 'GET' }), startTimeUnixNano: '100', timeUnixNano: '200', asInt: '3' },
        { attributes: attrs({ 'http.route': '/b', user_id: 'u-1', method: 'GET' }), startTimeUnixNano: '100', timeUnixNano: '200', asInt: '5' },
        { attributes: attrs({ method: 'GET', 'http.route': '/a', user_id: 'u-2' }), startTimeUnixNano: '150', timeUnixNano: '250', asInt: '4' },
      ]),
    ),
  );
  assert.deepEqual(pointsOf(output), [
    // The merged point keeps the first point's place and attribute order, and covers both windows.
    { attributes: attrs({ 'http.route': '/a', method: 'GET' }), startTimeUnixNano: '100', timeUnixNano: '250', asInt: '7' },
    { attributes: attrs({ 'http.route': '/b', method: 'GET' }), startTimeUnixNano: '100', timeUnixNano: '200', asInt: '5' },
  ]);
  assert.deepEqual(outcomes, [['merged', 1]]);
});

test('cumulative sums add up too: the sum of cumulative series is the cumulative of their sum', () => {
  const { output } = run(
    request(
      sum(CUMULATIVE, [
        { attributes: attrs({ user_id: 'u-1' }), startTimeUnixNano: '100', timeUnixNano: '300', asInt: '10' },
        { attributes: attrs({ user_id: 'u-2' }), startTimeUnixNano: '200', timeUnixNano: '300', asInt: '5' },
        { attributes: attrs({ user_id: 'u-3' }), startTimeUnixNano: '100', timeUnixNano: '300', asInt: '1' },
      ]),
    ),
  );
  assert.deepEqual(pointsOf(output), [{ startTimeUnixNano: '100', timeUnixNano: '300', asInt: '16' }]);
});

test('cumulative points of different times are separate observations: each time is merged on its own', () => {
  // Series u-1 and u-2, each reported at t=300 and t=400 in one request. Adding all four would
  // count u-1's first 10 events twice (10 + 15 are two readings of one running total).
  const { output, outcomes } = run(
    request(
      sum(CUMULATIVE, [
        { attributes: attrs({ user_id: 'u-1' }), startTimeUnixNano: '100', timeUnixNano: '300', asInt: '10' },
        { attributes: attrs({ user_id: 'u-1' }), startTimeUnixNano: '100', timeUnixNano: '400', asInt: '15' },
        { attributes: attrs({ user_id: 'u-2' }), startTimeUnixNano: '100', timeUnixNano: '300', asInt: '3' },
        { attributes: attrs({ user_id: 'u-2' }), startTimeUnixNano: '100', timeUnixNano: '400', asInt: '4' },
      ]),
    ),
  );
  assert.deepEqual(pointsOf(output), [
    { startTimeUnixNano: '100', timeUnixNano: '300', asInt: '13' },
    { startTimeUnixNano: '100', timeUnixNano: '400', asInt: '19' },
  ]);
  assert.deepEqual(outcomes, [
    ['merged', 1],
    ['merged', 1],
  ]);
});

test('an integer and a double sum to a double', () => {
  const { output } = run(
    request(
      sum(DELTA, [
        { attributes: attrs({ user_id: 'u-1' }), timeUnixNano: '200', asInt: '2' },
        { attributes: attrs({ user_id: 'u-2' }), timeUnixNano: '200', asDouble: 0.5 },
      ]),
    ),
  );
  assert.deepEqual(pointsOf(output), [{ timeUnixNano: '200', asDouble: 2.5 }]);
});

test('a sum past the int64 range is left unmerged instead of failing the request', () => {
  const { output, outcomes } = run(
    request(
      sum(DELTA, [
        { attributes: attrs({ user_id: 'u-1' }), timeUnixNano: '200', asInt: '9223372036854775807' },
        { attributes: attrs({ user_id: 'u-2' }), timeUnixNano: '200', asInt: '1' },
      ]),
    ),
  );
  assert.deepEqual(pointsOf(output), [
    { timeUnixNano: '200', asInt: '9223372036854775807' },
    { timeUnixNano: '200', asInt: '1' },
  ]);
  assert.deepEqual(outcomes, [['unmergeable', 2]]);
});

test('histograms with the same bounds merge bucket by bucket; min and max combine', () => {
  const { output, outcomes } = run(
    request(
      histogram([
        {
          attributes: attrs({ user_id: 'u-1', route: '/a' }),
          startTimeUnixNano: '100',
          timeUnixNano: '200',
          count: '3',
          sum: 6,
          bucketCounts: ['1', '2', '0'],
          explicitBounds: [1, 5],
          min: 0.5,
          max: 4,
        },
        {
          attributes: attrs({ user_id: 'u-2', route: '/a' }),
          startTimeUnixNano: '100',
          timeUnixNano: '200',
          count: '2',
          sum: 14,
          bucketCounts: ['0', '1', '1'],
          explicitBounds: [1, 5],
          min: 2,
          max: 10,
        },
      ]),
    ),
  );
  assert.deepEqual(pointsOf(output), [
    {
      attributes: attrs({ route: '/a' }),
      startTimeUnixNano: '100',
      timeUnixNano: '200',
      count: '5',
      sum: 20,
      bucketCounts: ['1', '3', '1'],
      explicitBounds: [1, 5],
      min: 0.5,
      max: 10,
    },
  ]);
  assert.deepEqual(outcomes, [['merged', 1]]);
});

test('histograms with different bounds cannot be merged honestly: they are left as they are and counted', () => {
  const points = [
    { attributes: attrs({ user_id: 'u-1' }), timeUnixNano: '200', count: '1', sum: 3, bucketCounts: ['0', '1', '0'], explicitBounds: [1, 5] },
    { attributes: attrs({ user_id: 'u-2' }), timeUnixNano: '200', count: '1', sum: 3, bucketCounts: ['0', '1', '0'], explicitBounds: [1, 10] },
  ];
  const { output, outcomes } = run(request(histogram(points)));
  assert.deepEqual(
    pointsOf(output),
    points.map(({ attributes: _dropped, ...rest }) => rest),
  );
  assert.deepEqual(outcomes, [['unmergeable', 2]]);
});

test('exponential histograms of one scale merge over the union of their bucket ranges', () => {
  const { output } = run(
    request(
      exponential([
        {
          attributes: attrs({ user_id: 'u-1' }),
          timeUnixNano: '200',
          count: '4',
          sum: 10,
          scale: 1,
          zeroCount: '1',
          positive: { offset: 1, bucketCounts: ['1', '2'] },
          min: 0,
          max: 3,
        },
        {
          attributes: attrs({ user_id: 'u-2' }),
          timeUnixNano: '200',
          count: '7',
          sum: 20,
          scale: 1,
          zeroCount: '2',
          positive: { offset: 3, bucketCounts: ['4'] },
          negative: { offset: -2, bucketCounts: ['1'] },
        },
      ]),
    ),
  );
  assert.deepEqual(pointsOf(output), [
    {
      timeUnixNano: '200',
      count: '11',
      sum: 30,
      scale: 1,
      zeroCount: '3',
      // Buckets 1, 2 (first point) and 3 (second point): one run from offset 1.
      positive: { offset: 1, bucketCounts: ['1', '2', '4'] },
      negative: { offset: -2, bucketCounts: ['1'] },
      // min and max are unknown once a part without them is merged in.
    },
  ]);
});

test('exponential histograms of different scales are left as they are', () => {
  const { output, outcomes } = run(
    request(
      exponential([
        { attributes: attrs({ user_id: 'u-1' }), timeUnixNano: '200', count: '1', scale: 1, positive: { bucketCounts: ['1'] } },
        { attributes: attrs({ user_id: 'u-2' }), timeUnixNano: '200', count: '1', scale: 2, positive: { bucketCounts: ['1'] } },
      ]),
    ),
  );
  assert.equal(pointsOf(output).length, 2);
  assert.deepEqual(outcomes, [['unmergeable', 2]]);
});

test('gauges keep the latest point by time', () => {
  const { output } = run(
    request(
      gauge([
        { attributes: attrs({ user_id: 'u-1', room: 'a' }), timeUnixNano: '100', asDouble: 20.5 },
        { attributes: attrs({ user_id: 'u-2', room: 'a' }), timeUnixNano: '300', asDouble: 22 },
        { attributes: attrs({ user_id: 'u-3', room: 'a' }), timeUnixNano: '200', asDouble: 21 },
        { attributes: attrs({ user_id: 'u-1', room: 'b' }), timeUnixNano: '100', asDouble: 18 },
      ]),
    ),
  );
  assert.deepEqual(pointsOf(output), [
    { attributes: attrs({ room: 'a' }), timeUnixNano: '300', asDouble: 22 },
    { attributes: attrs({ room: 'b' }), timeUnixNano: '100', asDouble: 18 },
  ]);
});

test('summaries, which cannot be added, keep the latest point', () => {
  const { output } = run(
    request({
      name: 'rpc.duration',
      summary: {
        dataPoints: [
          { attributes: attrs({ user_id: 'u-1' }), timeUnixNano: '300', count: '2', sum: 1, quantileValues: [{ quantile: 0.5, value: 0.4 }] },
          { attributes: attrs({ user_id: 'u-2' }), timeUnixNano: '200', count: '9', sum: 7, quantileValues: [{ quantile: 0.5, value: 0.8 }] },
        ],
      },
    }),
  );
  assert.deepEqual(pointsOf(output), [{ timeUnixNano: '300', count: '2', sum: 1, quantileValues: [{ quantile: 0.5, value: 0.4 }] }]);
});

test('a hash short enough to collide makes series collide, and they merge', () => {
  // With hashLength 1 only the first hex digit of the HMAC is kept. With the key
  // "reaggregation-key" (openssl dgst -sha256 -hmac reaggregation-key): u-1 → d58d…,
  // u-12 → d7b6…, u-2 → 92ee….
  const rules = rulesFrom(`
version: 1
attribute_policies:
  - name: pseudonymize
    keys: user_id
    action: hash
`);
  const { output } = run(
    request(
      sum(DELTA, [
        { attributes: attrs({ user_id: 'u-1' }), timeUnixNano: '200', asInt: '4' },
        { attributes: attrs({ user_id: 'u-2' }), timeUnixNano: '200', asInt: '1' },
        { attributes: attrs({ user_id: 'u-12' }), timeUnixNano: '200', asInt: '6' },
      ]),
    ),
    rules,
    1,
  );
  assert.deepEqual(pointsOf(output), [
    { attributes: attrs({ user_id: 'd' }), timeUnixNano: '200', asInt: '10' },
    { attributes: attrs({ user_id: '9' }), timeUnixNano: '200', asInt: '1' },
  ]);
});

test('points of different metrics, or of different resources, are never merged', () => {
  const point = (value: string): OtlpObject => ({ attributes: attrs({ user_id: value }), timeUnixNano: '200', asInt: '1' });
  const input: OtlpObject = {
    resourceMetrics: ['a', 'b'].map((service) => ({
      resource: { attributes: attrs({ 'service.name': service }) },
      scopeMetrics: [{ metrics: [sum(DELTA, [point('u-1')]), { ...sum(DELTA, [point('u-2')]), name: 'other' }] }],
    })),
  };
  const { output, outcomes } = run(input);
  assert.deepEqual(
    metricsOf(output).map((metric) => pointsOf({ resourceMetrics: [{ scopeMetrics: [{ metrics: [metric] }] }] })),
    [1, 2, 3, 4].map(() => [{ timeUnixNano: '200', asInt: '1' }]),
  );
  assert.deepEqual(outcomes, []);
});

test('nothing is re-aggregated when the policy changed no point attribute', () => {
  // Two points of one series already (a cumulative reported twice): not the policy's doing.
  const input = request(
    sum(CUMULATIVE, [
      { attributes: attrs({ route: '/a' }), startTimeUnixNano: '100', timeUnixNano: '300', asInt: '10' },
      { attributes: attrs({ route: '/a' }), startTimeUnixNano: '100', timeUnixNano: '400', asInt: '15' },
    ]),
  );
  for (const rules of [DROP_USER_ID, rulesFrom('version: 1\nmode: audit\nattribute_policies:\n  - {name: all-routes, keys: route, action: drop}\n')]) {
    const { bytesIn, bytesOut, outcomes } = run(input, rules);
    assert.equal(bytesOut, bytesIn);
    assert.deepEqual(outcomes, []);
  }
});

// ---------------------------------------------------------------------------------------------
// Property: for random metric requests with a label that gets dropped, totals are preserved and
// every series is left with one point (per time, for cumulative data).

const BOUNDS = [1, 10];

const arbLabels = fc.record({
  user: fc.constantFrom('u-1', 'u-2', 'u-3'),
  route: fc.option(fc.constantFrom('/a', '/b'), { nil: undefined }),
  userFirst: fc.boolean(),
});

/** Point attributes: the label to drop (user_id) and maybe one to keep, in either order. */
const arbPointAttributes = arbLabels.map(({ user, route, userFirst }): OtlpObject[] => {
  const dropped = attrs({ user_id: user });
  const kept = route === undefined ? [] : attrs({ route });
  return userFirst ? [...dropped, ...kept] : [...kept, ...dropped];
});

const arbTime = fc.constantFrom('1000', '2000', '3000');
const arbSmall = fc.integer({ min: 0, max: 1000 });

const arbNumberPoint = fc.record({ attributes: arbPointAttributes, timeUnixNano: arbTime, value: arbSmall, isDouble: fc.boolean() }).map(
  ({ value, isDouble, ...point }): OtlpObject => ({ ...point, startTimeUnixNano: '500', ...(isDouble ? { asDouble: value } : { asInt: String(value) }) }),
);

const arbHistogramPoint = fc
  .record({ attributes: arbPointAttributes, timeUnixNano: arbTime, buckets: fc.array(arbSmall, { minLength: 3, maxLength: 3 }), sum: arbSmall })
  .map(({ buckets, ...point }): OtlpObject => ({
    ...point,
    count: String(buckets.reduce((a, b) => a + b, 0)),
    bucketCounts: buckets.map(String),
    explicitBounds: BOUNDS,
  }));

const arbExponentialPoint = fc
  .record({
    attributes: arbPointAttributes,
    timeUnixNano: arbTime,
    zeroCount: arbSmall,
    offset: fc.integer({ min: -3, max: 3 }),
    buckets: fc.array(arbSmall, { minLength: 1, maxLength: 3 }),
    sum: arbSmall,
  })
  .map(({ zeroCount, offset, buckets, ...point }): OtlpObject => ({
    ...point,
    scale: 2,
    zeroCount: String(zeroCount),
    count: String(zeroCount + buckets.reduce((a, b) => a + b, 0)),
    positive: { offset, bucketCounts: buckets.map(String) },
  }));

const points = <T>(arb: fc.Arbitrary<T>) => fc.array(arb, { minLength: 1, maxLength: 8 });
const arbTemporality = fc.constantFrom(DELTA, CUMULATIVE);

const arbMetric: fc.Arbitrary<OtlpObject> = fc.oneof(
  fc.record({ dataPoints: points(arbNumberPoint), aggregationTemporality: arbTemporality }).map((sumData) => ({ name: 'sum', sum: sumData })),
  fc.record({ dataPoints: points(arbHistogramPoint), aggregationTemporality: arbTemporality }).map((data) => ({ name: 'histogram', histogram: data })),
  fc
    .record({ dataPoints: points(arbExponentialPoint), aggregationTemporality: arbTemporality })
    .map((data) => ({ name: 'exponential', exponentialHistogram: data })),
  points(arbNumberPoint).map((dataPoints) => ({ name: 'gauge', gauge: { dataPoints } })),
);

const arbMetricsRequest: fc.Arbitrary<OtlpObject> = fc
  .array(fc.array(arbMetric, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 2 })
  .map((groups) => ({ resourceMetrics: groups.map((metrics, r) => ({ resource: { attributes: attrs({ 'service.name': `s${r}` }) }, scopeMetrics: [{ metrics }] })) }));

const num = (value: OtlpValue | undefined): number => (value === undefined ? 0 : Number(value));
const total = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);

/** A point's series after the drop: its other attributes as a set, plus its time for cumulative data. */
function seriesOf(point: OtlpObject, byTime: boolean): string {
  const kept = list(point, 'attributes')
    .filter((a) => a.key !== 'user_id')
    .map((a) => JSON.stringify([a.key, a.value]))
    .sort();
  return JSON.stringify(byTime ? [kept, point.timeUnixNano] : kept);
}

/** What must hold between a metric's points before and after, by its kind. */
function checkMetric(before: OtlpObject, after: OtlpObject): void {
  const kind = DATA_KEYS.find((k) => k in before) as string;
  const data = dataOf(before);
  const byTime = data.aggregationTemporality === CUMULATIVE;
  const input = list(data, 'dataPoints');
  const output = list(dataOf(after), 'dataPoints');

  assert.ok(output.every((p) => list(p, 'attributes').every((a) => a.key !== 'user_id')), 'the label is gone');
  const series = output.map((p) => seriesOf(p, byTime));
  assert.equal(new Set(series).size, series.length, `${kind}: one point per series`);
  assert.deepEqual(new Set(series), new Set(input.map((p) => seriesOf(p, byTime))), `${kind}: no series lost or made up`);

  const sumOf = (pts: OtlpObject[], read: (p: OtlpObject) => number): number => total(pts.map(read));
  const same = (read: (p: OtlpObject) => number, what: string): void => assert.equal(sumOf(output, read), sumOf(input, read), `${kind}: ${what}`);
  switch (kind) {
    case 'sum':
      same((p) => num(p.asInt ?? p.asDouble), 'total value');
      break;
    case 'histogram':
      same((p) => num(p.count), 'total count');
      same((p) => num(p.sum), 'total sum');
      BOUNDS.concat(Infinity).forEach((_, i) => same((p) => num((p.bucketCounts as OtlpValue[])[i]), `bucket ${i}`));
      break;
    case 'exponentialHistogram':
      same((p) => num(p.count), 'total count');
      same((p) => num(p.zeroCount), 'total zero count');
      same((p) => num(p.sum), 'total sum');
      same((p) => total(((p.positive as OtlpObject).bucketCounts as OtlpValue[]).map(num)), 'total in positive buckets');
      break;
    case 'gauge':
      for (const point of output) {
        const group = input.filter((p) => seriesOf(p, false) === seriesOf(point, false));
        assert.equal(num(point.timeUnixNano), Math.max(...group.map((p) => num(p.timeUnixNano))), 'gauge: the latest point is kept');
      }
      break;
  }
}

test('property: dropping a label keeps every total and leaves one point per series', () => {
  fc.assert(
    fc.property(arbMetricsRequest, (input) => {
      const { output } = run(input);
      const before = metricsOf(input);
      const after = metricsOf(output);
      assert.equal(after.length, before.length);
      before.forEach((metric, i) => checkMetric(metric, after[i]));
    }),
    { numRuns: 200 },
  );
});

/** Two `room` values whose attribute fields on a number data point (field 7) hash alike under `seed`: a birthday search. */
function collidingRooms(seed: number): [string, string] {
  const key = new TextEncoder().encode('room');
  const roomByHash = new Map<number, string>();
  for (let i = 0; ; i++) {
    const room = `room-${i}`;
    const field = encodeKeyValueField(7, key, encodeStringValue(room));
    const hash = hashBytes(field, 0, field.length, seed);
    const earlier = roomByHash.get(hash);
    if (earlier !== undefined) return [earlier, room];
    roomByHash.set(hash, room);
  }
}

test('series whose attribute-set hashes collide stay apart, and each merges with its own duplicates', () => {
  const seed = 0x2545f491;
  const [a, b] = collidingRooms(seed);
  const point = (room: string, user: string, value: number): OtlpObject => ({ attributes: attrs({ user_id: user, room }), timeUnixNano: '100', asInt: String(value) });
  const { output, outcomes } = run(request(sum(DELTA, [point(a, 'u-1', 1), point(b, 'u-1', 10), point(a, 'u-2', 2), point(b, 'u-2', 20), point(b, 'u-3', 30)])), DROP_USER_ID, undefined, seed);
  const roomAndValue = (p: OtlpObject): [unknown, unknown] => [((p.attributes as OtlpObject[])[0].value as OtlpObject).stringValue, p.asInt];
  assert.deepEqual(pointsOf(output).map(roomAndValue), [
    [a, '3'],
    [b, '60'],
  ]);
  assert.deepEqual(outcomes, [['merged', 1], ['merged', 2]]);
});

test('a metric with two data messages (against the oneof) is left as it came, not failed', () => {
  const point = (user: string): OtlpObject => ({ attributes: attrs({ user_id: user, room: 'x' }), timeUnixNano: '2', count: '1', bucketCounts: ['1'] });
  // Written by hand: the object codec cannot express two data fields on one metric.
  const metric = new ByteWriter()
    .tag(1, 2)
    .string('latency')
    .tag(9, 2)
    .bytes(encodeMessage('Histogram', { dataPoints: [point('u-1'), point('u-2')], aggregationTemporality: DELTA }))
    .tag(7, 2)
    .bytes(encodeMessage('Sum', { aggregationTemporality: DELTA }))
    .finish();
  const body = new ByteWriter().tag(1, 2).bytes(new ByteWriter().tag(2, 2).bytes(new ByteWriter().tag(2, 2).bytes(metric).finish()).finish()).finish();
  const outcomes: Outcome[] = [];
  const processors = governanceChain(DROP_USER_ID, { hashKey: 'k', reaggregationObserver: { onReaggregation: (outcome, points) => outcomes.push([outcome, points]) } });
  const result = runProcessors(processors, 'metrics', body);
  assert.equal(result.items, 2, 'both points stay');
  assert.deepEqual(outcomes, [['unmergeable', 2]]);
  // Decoders keep only the last member of a oneof, so the histogram's points are checked as bytes.
  const out = Buffer.from(result.bytes);
  assert.ok(!out.includes('user_id'), 'the policy still applied');
  assert.equal(out.toString('latin1').split('room').length - 1, 2);
});
