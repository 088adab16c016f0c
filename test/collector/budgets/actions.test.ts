import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  budgetRules,
  CHECKOUT,
  createChain,
  CUMULATIVE,
  DELTA,
  doublePoint,
  gaugeMetric,
  histogramMetric,
  histogramPoint,
  intPoint,
  isOverflow,
  labelSet,
  outcomeTotals,
  outputPoints,
  request,
  resource,
  send,
  sumMetric,
  T0,
  valueOf,
} from './harness.js';
import type { Chain, OutputPoint } from './harness.js';

/**
 * What happens to a new series over budget: drop, overflow (delta and cumulative sums,
 * histograms, gauges) and strip_label. Each expected total is added up by hand from the
 * points sent.
 */

const overflowRules = (limit: number) =>
  budgetRules(`
    max_active_series: ${limit}
    action: overflow
  `);

const overflowOf = (points: readonly OutputPoint[]): OutputPoint[] => points.filter(isOverflow);
const regular = (points: readonly OutputPoint[]): OutputPoint[] => points.filter((p) => !isOverflow(p));
const byUser = (points: readonly OutputPoint[]): Record<string, number> => Object.fromEntries(points.map((p) => [p.labels.user, valueOf(p.point)]));

/** One overflow point, checked to carry only the overflow attribute and the team's resource. */
function theOverflowPoint(points: readonly OutputPoint[]): OutputPoint {
  const overflow = overflowOf(points);
  assert.equal(overflow.length, 1, `one overflow point, got ${overflow.length}`);
  assert.deepEqual(overflow[0].labels, { 'otel.metric.overflow': 'true' });
  assert.equal(overflow[0].resource['service.namespace'], 'checkout');
  return overflow[0];
}

test('drop: refused points of every kind are removed, the admitted ones left as they were', () => {
  const chain = createChain(budgetRules(`
    max_active_series: 3
    action: drop
  `));
  const sent = send(
    chain,
    request(
      resource(
        CHECKOUT,
        sumMetric('reqs', DELTA, [intPoint({ user: 'u1' }, 3, 2_000), intPoint({ user: 'u2' }, 4, 2_000)]),
        histogramMetric('latency', DELTA, [histogramPoint({ user: 'u1' }, [1, 0, 0], 5, 2_000), histogramPoint({ user: 'u2' }, [0, 1, 0], 50, 2_000)]),
        gaugeMetric('queue', [intPoint({ user: 'u1' }, 7, 2_000)]),
      ),
    ),
  );
  assert.deepEqual(
    outputPoints(sent.output).map((p) => [p.metric, p.labels.user]),
    [
      ['reqs', 'u1'],
      ['reqs', 'u2'],
      ['latency', 'u1'],
    ],
  );
  assert.deepEqual(outcomeTotals(chain), { admitted: 3, dropped: 2 });
});

test('overflow, delta sums: refused points fold into one overflow series per request whose value is their sum', () => {
  const chain = createChain(overflowRules(2));
  const first = send(
    chain,
    request(
      resource(
        CHECKOUT,
        sumMetric('reqs', DELTA, [
          intPoint({ user: 'u1' }, 3, 2_000, 1_000),
          intPoint({ user: 'u2' }, 5, 2_000, 1_000),
          intPoint({ user: 'u3', route: '/a' }, 7, 2_000, 1_000),
          intPoint({ user: 'u4' }, 11, 2_500, 1_500),
        ]),
      ),
    ),
  );
  const points = outputPoints(first.output, 'reqs');
  assert.deepEqual(byUser(regular(points)), { u1: 3, u2: 5 });
  const overflow = theOverflowPoint(points);
  assert.equal(overflow.point.asInt, '18'); // 7 + 11
  assert.equal(overflow.point.startTimeUnixNano, '1000', 'the merged window starts with the earliest part');
  assert.equal(overflow.point.timeUnixNano, '2500', 'and ends with the latest');
  assert.deepEqual(outcomeTotals(chain), { admitted: 2, overflowed: 2 });

  // Next request: old refused series and a new one overflow again; totals per request add up.
  const second = send(
    chain,
    request(resource(CHECKOUT, sumMetric('reqs', DELTA, [intPoint({ user: 'u1' }, 1, 3_000, 2_000), intPoint({ user: 'u3', route: '/a' }, 2, 3_000, 2_000), intPoint({ user: 'u5' }, 4, 3_000, 2_000)]))),
  );
  const again = outputPoints(second.output, 'reqs');
  assert.deepEqual(byUser(regular(again)), { u1: 1 });
  assert.equal(theOverflowPoint(again).point.asInt, '6'); // 2 + 4
});

test('overflow, delta double sums and a single refused point: the point itself becomes the overflow point', () => {
  const chain = createChain(overflowRules(1));
  const sent = send(chain, request(resource(CHECKOUT, sumMetric('bytes', DELTA, [doublePoint({ user: 'u1' }, 1.5, 2_000), doublePoint({ user: 'u2' }, 2.25, 2_000)]))));
  const points = outputPoints(sent.output, 'bytes');
  assert.deepEqual(byUser(regular(points)), { u1: 1.5 });
  assert.equal(theOverflowPoint(points).point.asDouble, 2.25);
});

test('overflow, cumulative sums: the overflow series grows by each refused stream’s increase, across rounds and resets', () => {
  const chain = createChain(overflowRules(1));
  const round = (points: ReturnType<typeof intPoint>[]) => outputPoints(send(chain, request(resource(CHECKOUT, sumMetric('reqs', CUMULATIVE, points)))).output, 'reqs');
  const S = 1_000; // the streams' start time

  // Round 1: a is admitted; b and c are refused: the overflow series starts at 20 + 30.
  let points = round([intPoint({ user: 'a' }, 10, 2_000, S), intPoint({ user: 'b' }, 20, 2_000, S), intPoint({ user: 'c' }, 30, 2_000, S)]);
  assert.deepEqual(byUser(regular(points)), { a: 10 });
  let overflow = theOverflowPoint(points);
  assert.equal(overflow.point.asInt, '50');
  assert.equal(overflow.point.startTimeUnixNano, '1000');
  assert.equal(overflow.point.timeUnixNano, '2000');

  // Round 2: b +6, c +1: 57. Sum of the streams' latest values sent: 15 + 26 + 31 = 72 = 15 + 57.
  points = round([intPoint({ user: 'a' }, 15, 3_000, S), intPoint({ user: 'b' }, 26, 3_000, S), intPoint({ user: 'c' }, 31, 3_000, S)]);
  assert.deepEqual(byUser(regular(points)), { a: 15 });
  overflow = theOverflowPoint(points);
  assert.equal(overflow.point.asInt, '57');
  assert.equal(overflow.point.startTimeUnixNano, '1000', 'the overflow series keeps its start: it never resets');
  assert.equal(overflow.point.timeUnixNano, '3000');

  // Round 3: b restarted (new start time, value 4: 4 events since its restart), c +9: 57 + 4 + 9 = 70.
  points = round([intPoint({ user: 'b' }, 4, 4_000, 3_500), intPoint({ user: 'c' }, 40, 4_000, S)]);
  assert.equal(theOverflowPoint(points).point.asInt, '70');

  // Round 4: b restarted again without saying so (value below its last, same start): a reset too, +2; c unchanged.
  points = round([intPoint({ user: 'b' }, 2, 5_000, 3_500), intPoint({ user: 'c' }, 40, 5_000, S)]);
  assert.equal(theOverflowPoint(points).point.asInt, '72');

  // Round 5: b restarted with a value above its last (only the start time tells): +9, not +7.
  points = round([intPoint({ user: 'b' }, 9, 6_000, 5_500)]);
  assert.equal(theOverflowPoint(points).point.asInt, '81');

  // Round 6: a new refused stream d adds its whole value.
  points = round([intPoint({ user: 'd' }, 100, 7_000, 6_500), intPoint({ user: 'a' }, 16, 7_000, S)]);
  assert.deepEqual(byUser(regular(points)), { a: 16 });
  assert.equal(theOverflowPoint(points).point.asInt, '181');
});

test('overflow, cumulative: one overflow point per request, stated at the latest refused point’s time', () => {
  const chain = createChain(overflowRules(1));
  const sent = send(
    chain,
    request(
      resource(
        CHECKOUT,
        sumMetric('reqs', CUMULATIVE, [
          intPoint({ user: 'a' }, 1, 2_000, 1_000),
          intPoint({ user: 'b' }, 5, 2_300, 1_000),
          // b again, later: its increase is 4.
          intPoint({ user: 'b' }, 9, 2_400, 1_000),
          // c, written last but stated earlier: the totals are not stated at its time.
          intPoint({ user: 'c' }, 7, 2_100, 1_000),
        ]),
      ),
    ),
  );
  const points = outputPoints(sent.output, 'reqs');
  assert.equal(points.length, 2);
  const overflow = theOverflowPoint(points);
  assert.equal(overflow.point.asInt, '16'); // b 9 + c 7
  assert.equal(overflow.point.timeUnixNano, '2400');
});

test('overflow, cumulative up-down counters: a value going down is a decrease, not a reset', () => {
  const chain = createChain(overflowRules(1));
  const round = (time: number, b: number, c: number): string => {
    const sent = send(
      chain,
      request(resource(CHECKOUT, sumMetric('queue.depth', CUMULATIVE, [intPoint({ q: 'a' }, 5, time, 1_000), intPoint({ q: 'b' }, b, time, 1_000), intPoint({ q: 'c' }, c, time, 1_000)], false))),
    );
    return theOverflowPoint(outputPoints(sent.output)).point.asInt as string;
  };
  assert.equal(round(2_000, 50, 10), '60');
  assert.equal(round(3_000, 30, 15), '45');
  assert.equal(round(4_000, 40, -5), '35');
});

test('overflow, cumulative: each resource of the team has its own overflow series, with only its own streams', () => {
  const chain = createChain(overflowRules(1));
  const A = { ...CHECKOUT, 'service.instance.id': 'a' };
  const B = { ...CHECKOUT, 'service.instance.id': 'b' };
  const round = (k: number) => {
    const points = outputPoints(
      send(
        chain,
        request(
          resource(A, sumMetric('reqs', CUMULATIVE, [intPoint({ user: 'u1' }, 10 * k, 2_000 * k, 1_000), intPoint({ user: 'u2' }, 20 * k, 2_000 * k, 1_000)])),
          resource(B, sumMetric('reqs', CUMULATIVE, [intPoint({ user: 'u3' }, 30 * k, 2_000 * k, 1_000), intPoint({ user: 'u4' }, 40 * k, 2_000 * k, 1_000)])),
        ),
      ).output,
    );
    const overflowIn = (instance: string): string | undefined => overflowOf(points).find((p) => p.resource['service.instance.id'] === instance)?.point.asInt as string | undefined;
    return { regular: byUser(regular(points)), a: overflowIn('a'), b: overflowIn('b'), overflowPoints: overflowOf(points).length };
  };
  // u1 is admitted (limit 1); u2 overflows in A; u3 and u4 in B.
  assert.deepEqual(round(1), { regular: { u1: 10 }, a: '20', b: '70', overflowPoints: 2 });
  assert.deepEqual(round(2), { regular: { u1: 20 }, a: '40', b: '140', overflowPoints: 2 });
});

test('overflow, cumulative: a stream once folded stays in the overflow series while remembered, even when room frees up', () => {
  const rules = budgetRules(`
    max_active_series: 2
    active_window: 1m
    action: overflow
  `);
  const chain = createChain(rules);
  const sendAt = (nowMs: number, points: ReturnType<typeof intPoint>[]) => outputPoints(send(chain, request(resource(CHECKOUT, sumMetric('reqs', CUMULATIVE, points))), nowMs).output);
  let points = sendAt(T0, [intPoint({ user: 'a' }, 1, 2_000, 1_000), intPoint({ user: 'b' }, 2, 2_000, 1_000), intPoint({ user: 'c' }, 30, 2_000, 1_000)]);
  assert.equal(theOverflowPoint(points).point.asInt, '30');
  assert.equal(chain.violations.length, 1);
  // a and b stop reporting and expire; c keeps reporting.
  const later = T0 + 5 * 60_000;
  assert.equal(chain.state.sweep(later, () => 60_000), 2);
  points = sendAt(later, [intPoint({ user: 'c' }, 35, 3_000, 1_000), intPoint({ user: 'd' }, 4, 3_000, 1_000)]);
  // Admitting c now would state its whole 35 as its own series while the overflow series holds 30 of it.
  assert.deepEqual(byUser(regular(points)), { d: 4 });
  assert.equal(theOverflowPoint(points).point.asInt, '35');
  assert.equal(chain.violations.length, 1, 'no cap refused c this time: no new violation');
  // Once the ledger forgets c (unseen for its window), c is a new series like any other.
  chain.budget.ledger.sweep(later + 10 * 60_000, 60_000);
  points = sendAt(later + 10 * 60_000, [intPoint({ user: 'c' }, 40, 4_000, 3_900)]);
  assert.deepEqual(byUser(points), { c: 40 });
});

test('overflow, delta histograms: refused points merge bucket-wise into the overflow series', () => {
  const chain = createChain(overflowRules(1));
  const sent = send(
    chain,
    request(
      resource(
        CHECKOUT,
        histogramMetric('latency', DELTA, [
          histogramPoint({ user: 'a' }, [1, 2, 0], 30, 2_000, 1_000),
          histogramPoint({ user: 'b' }, [0, 1, 1], 150, 2_000, 1_000),
          histogramPoint({ user: 'c' }, [2, 0, 3], 400, 2_000, 1_000),
        ]),
      ),
    ),
  );
  const points = outputPoints(sent.output, 'latency');
  assert.deepEqual(regular(points).map((p) => [p.labels.user, p.point.bucketCounts, p.point.count, p.point.sum]), [['a', ['1', '2', '0'], '3', 30]]);
  const overflow = theOverflowPoint(points).point;
  assert.deepEqual(overflow.bucketCounts, ['2', '1', '4']);
  assert.equal(overflow.count, '7');
  assert.equal(overflow.sum, 550);
  assert.deepEqual(overflow.explicitBounds, [10, 100]);
});

test('overflow, cumulative histograms: bucket-wise increases across rounds, a restart, and a bucket layout that cannot fold', () => {
  const chain = createChain(overflowRules(1));
  const round = (points: ReturnType<typeof histogramPoint>[]) => outputPoints(send(chain, request(resource(CHECKOUT, histogramMetric('latency', CUMULATIVE, points)))).output, 'latency');
  const S = 1_000;
  let points = round([histogramPoint({ user: 'a' }, [5, 5, 5], 999, 2_000, S), histogramPoint({ user: 'b' }, [1, 0, 0], 5, 2_000, S), histogramPoint({ user: 'c' }, [0, 2, 0], 60, 2_000, S)]);
  let overflow = theOverflowPoint(points).point;
  assert.deepEqual([overflow.bucketCounts, overflow.count, overflow.sum, overflow.startTimeUnixNano, overflow.timeUnixNano], [['1', '2', '0'], '3', 65, '1000', '2000']);

  // b: +[0,1,0] +50; c: +[0,0,1] +200.
  points = round([histogramPoint({ user: 'b' }, [1, 1, 0], 55, 3_000, S), histogramPoint({ user: 'c' }, [0, 2, 1], 260, 3_000, S)]);
  overflow = theOverflowPoint(points).point;
  assert.deepEqual([overflow.bucketCounts, overflow.count, overflow.sum], [['1', '3', '1'], '5', 315]);

  // b restarted (only its start time says so: every value is above its last): its new value is
  // its increase, +[2,1,1] +600; c unchanged; d has other bounds and is dropped.
  points = round([
    histogramPoint({ user: 'b' }, [2, 1, 1], 600, 4_000, 3_500),
    histogramPoint({ user: 'c' }, [0, 2, 1], 260, 4_000, S),
    histogramPoint({ user: 'd' }, [1, 1], 3, 4_000, S, [5]),
  ]);
  overflow = theOverflowPoint(points).point;
  assert.deepEqual([overflow.bucketCounts, overflow.count, overflow.sum], [['3', '4', '2'], '9', 915]);
  assert.equal(points.length, 1, 'a is silent this round, d is dropped');

  // c observed a negative value: its sum went down, its counts up. Not a reset: +[0,0,1], -10.
  points = round([histogramPoint({ user: 'c' }, [0, 2, 2], 250, 5_000, S)]);
  overflow = theOverflowPoint(points).point;
  assert.deepEqual([overflow.bucketCounts, overflow.count, overflow.sum], [['3', '4', '3'], '10', 905]);
  const totals = outcomeTotals(chain);
  assert.equal(totals.dropped, 1);
  assert.equal(totals.overflowed, 2 + 2 + 2 + 1);
});

test('overflow, gauges: the overflow series keeps the latest refused value', () => {
  const chain = createChain(overflowRules(1));
  const sent = send(
    chain,
    request(resource(CHECKOUT, gaugeMetric('temperature', [intPoint({ room: 'a' }, 1, 2_000), intPoint({ room: 'b' }, 7, 2_500), intPoint({ room: 'c' }, 3, 2_200)]))),
  );
  const points = outputPoints(sent.output, 'temperature');
  assert.deepEqual(regular(points).map((p) => [p.labels.room, valueOf(p.point)]), [['a', 1]]);
  const overflow = theOverflowPoint(points).point;
  assert.equal(overflow.asInt, '7');
  assert.equal(overflow.timeUnixNano, '2500');
});

test('strip_label over a metric cap: the label whose removal leads back to an existing series goes, points merge', () => {
  const chain = createChain(budgetRules(`
    default_max_series_per_metric: 2
    action: strip_label
  `));
  send(chain, request(resource(CHECKOUT, sumMetric('reqs', DELTA, [intPoint({ route: '/a' }, 10, 2_000, 1_000), intPoint({ route: '/b' }, 5, 2_000, 1_000)]))));
  const sent = send(
    chain,
    request(
      resource(
        CHECKOUT,
        sumMetric('reqs', DELTA, [
          intPoint({ route: '/a', user: 'u1' }, 1, 3_000, 2_000),
          intPoint({ user: 'u2', route: '/b' }, 2, 3_000, 2_000),
          intPoint({ route: '/a', user: 'u3' }, 4, 3_000, 2_000),
          intPoint({ route: '/a' }, 10, 3_000, 2_000),
          // Neither {user} nor {route: /c} exists and the metric is full: dropped.
          intPoint({ route: '/c', user: 'u4' }, 8, 3_000, 2_000),
        ]),
      ),
    ),
  );
  const points = outputPoints(sent.output, 'reqs');
  assert.deepEqual(
    points.map((p) => [labelSet(p.labels), valueOf(p.point)]),
    [
      [labelSet({ route: '/a' }), 15], // 1 + 4 + 10
      [labelSet({ route: '/b' }), 2],
    ],
  );
  assert.deepEqual(outcomeTotals(chain), { admitted: 2, stripped: 3, passed: 1, dropped: 1 });
  assert.deepEqual(
    chain.violations.map((v) => [v.rule, v.action, v.count]),
    [['max_series_per_metric', 'strip_label', 4]],
  );
  assert.equal(chain.state.team('checkout').table.size, 2);
});

test('strip_label over a per-label cap: the capped label goes, and the stripped series is admitted while there is room', () => {
  const chain = createChain(budgetRules(`
    max_active_series: 10
    per_label:
      - { label: route, max_distinct_values: 2 }
    action: strip_label
  `));
  const sent = send(
    chain,
    request(
      resource(
        CHECKOUT,
        sumMetric('reqs', DELTA, [
          intPoint({ route: '/a', m: 'GET' }, 1, 2_000),
          intPoint({ route: '/b', m: 'GET' }, 2, 2_000),
          intPoint({ route: '/c', m: 'GET' }, 3, 2_000),
          intPoint({ route: '/d', m: 'POST' }, 4, 2_000),
          intPoint({ m: 'GET', route: '/e' }, 5, 2_000),
        ]),
      ),
    ),
  );
  assert.deepEqual(
    outputPoints(sent.output, 'reqs').map((p) => [labelSet(p.labels), valueOf(p.point)]),
    [
      [labelSet({ route: '/a', m: 'GET' }), 1],
      [labelSet({ route: '/b', m: 'GET' }), 2],
      [labelSet({ m: 'GET' }), 8], // 3 + 5
      [labelSet({ m: 'POST' }), 4],
    ],
  );
  assert.deepEqual(outcomeTotals(chain), { admitted: 2, stripped: 3 });
  assert.equal(chain.state.team('checkout').table.size, 4);
  assert.equal(Math.round(chain.state.distinctValues('checkout', 'reqs', 'route')), 2, 'the stripped values never entered the metric');
  assert.equal(Math.round(chain.state.distinctValues('checkout', 'reqs', 'm')), 2);
});

test('strip_label over per-label caps strips the labels whose value is new past their cap, keeping values already seen', () => {
  const chain = createChain(budgetRules(`
    per_label:
      - { label: route, max_distinct_values: 1 }
      - { label: m, max_distinct_values: 1 }
    action: strip_label
  `));
  const sent = send(
    chain,
    request(
      resource(
        CHECKOUT,
        sumMetric('reqs', DELTA, [
          intPoint({ route: '/a', m: 'GET', zone: 'z1' }, 1, 2_000),
          // route and m are at their caps; /b is a new route value, GET was seen: only route goes,
          // and {m: GET, zone: z1} is a new series that fits.
          intPoint({ route: '/b', m: 'GET', zone: 'z1' }, 2, 2_000),
          // /a was seen, PUT is new: only m goes, {route: /a, zone: z1} is new and fits.
          intPoint({ route: '/a', m: 'PUT', zone: 'z1' }, 4, 2_000),
        ]),
      ),
    ),
  );
  const byLabels = new Map(outputPoints(sent.output).map((p) => [labelSet(p.labels), valueOf(p.point)]));
  assert.deepEqual(
    [...byLabels.entries()].sort(),
    [
      [labelSet({ route: '/a', m: 'GET', zone: 'z1' }), 1],
      [labelSet({ m: 'GET', zone: 'z1' }), 2],
      [labelSet({ route: '/a', zone: 'z1' }), 4],
    ].sort(),
  );
});

function assertNoEdits(chain: Chain): void {
  assert.equal(chain.budget.pointAttributesChanged, false);
}

test('pointAttributesChanged tells the re-aggregation when to run: only after an overflow or a strip that rewrote attributes', () => {
  const chain = createChain(overflowRules(1));
  send(chain, request(resource(CHECKOUT, sumMetric('reqs', DELTA, [intPoint({ user: 'a' }, 1, 2_000)]))));
  assertNoEdits(chain);
  send(chain, request(resource(CHECKOUT, sumMetric('reqs', DELTA, [intPoint({ user: 'b' }, 1, 2_000)]))));
  assert.equal(chain.budget.pointAttributesChanged, true);
  send(chain, request(resource(CHECKOUT, sumMetric('reqs', DELTA, [intPoint({ user: 'a' }, 1, 2_000)]))));
  assertNoEdits(chain);
});
