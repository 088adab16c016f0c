import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CumulativeOverflowLedger, cumulativeOverflowPoint, cumulativeVector } from '../../../collector/processors/cardinality/overflow-ledger.js';
import type { FoldInput } from '../../../collector/processors/cardinality/overflow-ledger.js';
import { budgetRules, CHECKOUT, createChain, CUMULATIVE, intPoint, outcomeTotals, outputPoints, request, resource, send, sumMetric } from './harness.js';

/** The cumulative overflow ledger on its own: increases, resets, shapes, bounds, expiry. */

const sumFold = (stream: string, value: number, streamStart = '100', nowMs = 0, monotonic = true): FoldInput => ({
  ...cumulativeVector({ asInt: String(value) }, 'sum', monotonic)!,
  series: 'team\u0000reqs',
  stream,
  streamStart,
  seriesStart: streamStart || '50',
  nowMs,
});

test('the ledger adds each stream’s increase; a start-time change or a monotonic decrease is a reset', () => {
  const ledger = new CumulativeOverflowLedger(10);
  assert.deepEqual(ledger.fold(sumFold('a', 10))?.totals, [10]);
  assert.deepEqual(ledger.fold(sumFold('b', 5))?.totals, [15]);
  assert.deepEqual(ledger.fold(sumFold('a', 12))?.totals, [17]); // +2
  assert.deepEqual(ledger.fold(sumFold('a', 3))?.totals, [20]); // below 12: reset, +3
  assert.deepEqual(ledger.fold(sumFold('a', 8, '900'))?.totals, [28]); // new start: reset, +8 (not +5)
  assert.deepEqual(ledger.fold(sumFold('a', 9, '900'))?.totals, [29]);
  // No start time at all: only values can tell.
  assert.deepEqual(ledger.fold(sumFold('c', 4, ''))?.totals, [33]);
  assert.deepEqual(ledger.fold(sumFold('c', 6, ''))?.totals, [35]);
  assert.equal(ledger.current('team\u0000reqs')?.startTimeUnixNano, '100', 'the series starts with its first stream');
  assert.equal(ledger.size, 3);
});

test('a non-monotonic sum adds its change, negative or not', () => {
  const ledger = new CumulativeOverflowLedger(10);
  assert.deepEqual(ledger.fold(sumFold('a', 10, '100', 0, false))?.totals, [10]);
  assert.deepEqual(ledger.fold(sumFold('a', 4, '100', 0, false))?.totals, [4]);
  assert.deepEqual(ledger.fold(sumFold('a', -6, '100', 0, false))?.totals, [-6]);
});

test('histogram vectors: a restart shows in counts, never in a sum that went down', () => {
  const h = (buckets: number[], sum: number) => cumulativeVector({ count: String(buckets.reduce((a, b) => a + b, 0)), sum, bucketCounts: buckets.map(String), explicitBounds: [1, 2] }, 'histogram', true)!;
  assert.deepEqual(h([1, 2, 3], -4), { vector: [6, -4, 1, 2, 3], shape: 'histogram:1,2', monotone: [0, 2, 3, 4] });
  const ledger = new CumulativeOverflowLedger(10);
  const fold = (v: ReturnType<typeof h>) => ledger.fold({ ...v, series: 's', stream: 'x', streamStart: '1', seriesStart: '1', nowMs: 0 })?.totals;
  assert.deepEqual(fold(h([1, 0, 0], 5)), [1, 5, 1, 0, 0]);
  assert.deepEqual(fold(h([1, 1, 0], 3)), [2, 3, 1, 1, 0]); // sum -2: a negative observation
  assert.deepEqual(fold(h([0, 0, 1], 9)), [3, 12, 1, 1, 1]); // bucket 0 and 1 went down: reset
  // Other bounds cannot join this series.
  const other = cumulativeVector({ count: '1', bucketCounts: ['1', '0'], explicitBounds: [5] }, 'histogram', true)!;
  assert.equal(ledger.fold({ ...other, series: 's', stream: 'y', streamStart: '1', seriesStart: '1', nowMs: 0 }), undefined);
  // Nor an int sum a double one.
  const ints = new CumulativeOverflowLedger(10);
  ints.fold(sumFold('a', 1));
  assert.equal(ints.fold({ ...cumulativeVector({ asDouble: 1.5 }, 'sum', true)!, series: 'team\u0000reqs', stream: 'b', streamStart: '1', seriesStart: '1', nowMs: 0 }), undefined);
});

test('the ledger is bounded: past maxStreams a new stream is refused and counted; known streams still fold', () => {
  const ledger = new CumulativeOverflowLedger(2);
  ledger.fold(sumFold('a', 1));
  ledger.fold(sumFold('b', 1));
  assert.equal(ledger.fold(sumFold('c', 1)), undefined);
  assert.equal(ledger.refusedStreams, 1);
  assert.deepEqual(ledger.fold(sumFold('a', 3))?.totals, [4]);
});

test('sweep forgets unseen streams but keeps their totals; a series left without streams is forgotten', () => {
  const ledger = new CumulativeOverflowLedger(10);
  ledger.fold(sumFold('a', 10, '100', 0));
  ledger.fold(sumFold('b', 5, '100', 50_000));
  ledger.sweep(70_000, 60_000);
  assert.equal(ledger.size, 1);
  assert.equal(ledger.hasStream('team\u0000reqs', 'a'), false);
  assert.deepEqual(ledger.current('team\u0000reqs')?.totals, [15], 'a’s contribution stays');
  // Nothing folded for a window: the series goes, totals and all.
  ledger.sweep(200_000, 60_000);
  assert.equal(ledger.size, 0);
  assert.equal(ledger.seriesCount, 0);
  assert.equal(ledger.current('team\u0000reqs'), undefined);
});

test('the overflow point carries the totals, the series start, the carrier’s time and only the overflow attribute', () => {
  const attributes = [{ key: 'otel.metric.overflow', value: { boolValue: true } }];
  assert.deepEqual(cumulativeOverflowPoint({ asInt: '3', timeUnixNano: '900', attributes: [{ key: 'u', value: { stringValue: 'x' } }] }, 'sum', { totals: [42], startTimeUnixNano: '100' }, attributes), {
    attributes,
    startTimeUnixNano: '100',
    timeUnixNano: '900',
    asInt: '42',
  });
  assert.deepEqual(cumulativeOverflowPoint({ count: '1', timeUnixNano: '900', explicitBounds: [1] }, 'histogram', { totals: [3, 7.5, 1, 2], startTimeUnixNano: '100' }, attributes), {
    attributes,
    startTimeUnixNano: '100',
    timeUnixNano: '900',
    count: '3',
    sum: 7.5,
    bucketCounts: ['1', '2'],
    explicitBounds: [1],
  });
});

test('in the processor, a full ledger drops the refused cumulative point (counted, reported as a drop)', () => {
  const chain = createChain(
    budgetRules(`
      max_active_series: 1
      action: overflow
    `),
    { maxOverflowStreams: 1, reportDrops: true },
  );
  const sent = send(chain, request(resource(CHECKOUT, sumMetric('total', CUMULATIVE, [intPoint({ u: 'a' }, 1, 2_000, 1_000), intPoint({ u: 'b' }, 2, 2_000, 1_000), intPoint({ u: 'c' }, 4, 2_000, 1_000)]))));
  assert.deepEqual(
    outputPoints(sent.output).map((p) => [p.labels.u ?? 'overflow', p.point.asInt]),
    [
      ['a', '1'],
      ['overflow', '2'],
    ],
  );
  assert.deepEqual(outcomeTotals(chain), { admitted: 1, overflowed: 1, dropped: 1 });
  assert.equal(sent.rejected, 1);
  assert.equal(chain.budget.ledger.refusedStreams, 1);
});
