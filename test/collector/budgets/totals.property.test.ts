import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { OtlpObject } from '../../../collector/otlp/object-codec.js';
import {
  CUMULATIVE,
  DELTA,
  createChain,
  histogramMetric,
  histogramPoint,
  intPoint,
  isOverflow,
  labelSet,
  outputPoints,
  request,
  resource,
  send,
  sumMetric,
  T0,
  valueOf,
} from './harness.js';
import { rulesFrom } from '../processors/run-processors.js';

/**
 * The budget's promise under overflow, on random traffic: whatever is refused, the totals
 * across all output series (the overflow series included) equal the totals sent, and a team
 * never has more non-overflow series than its limit.
 *
 * - delta sums and histograms: per round, the sum of every point's value (count, sum, each
 *   bucket) out equals the sum in;
 * - cumulative sums and histograms: a backend keeps each series' latest value; per round, the
 *   sum of those latest values over the output series equals the sum over the streams sent
 *   (no stream resets here: resets are worked through by hand in actions.test.ts).
 *
 * Resources a and b belong to the budgeted team; s to a team without budgets.
 */

const INSTANCES = ['a', 'b', 's'] as const;
type Instance = (typeof INSTANCES)[number];
const resourceOf = (instance: Instance): Record<string, string> => ({
  'service.name': 'svc',
  'service.namespace': instance === 's' ? 'search' : 'checkout',
  'service.instance.id': instance,
});

interface ResourceRound {
  readonly instance: Instance;
  /** Delta sum points: a few routes, an exploding user label. */
  readonly deltaSums: readonly { readonly route: number; readonly user: number; readonly value: number }[];
  /** Cumulative sum streams reporting this round, and by how much each grew. */
  readonly cumulativeSums: readonly { readonly stream: number; readonly increase: number }[];
  readonly deltaHistograms: readonly { readonly user: number; readonly buckets: readonly number[]; readonly sum: number }[];
  readonly cumulativeHistograms: readonly { readonly stream: number; readonly buckets: readonly number[]; readonly sum: number }[];
}

const buckets = fc.array(fc.nat(5), { minLength: 3, maxLength: 3 });

const resourceRound = (instance: Instance): fc.Arbitrary<ResourceRound> =>
  fc.record({
    instance: fc.constant(instance),
    deltaSums: fc.array(fc.record({ route: fc.nat(2), user: fc.nat(15), value: fc.nat(100) }), { maxLength: 8 }),
    cumulativeSums: fc.uniqueArray(fc.record({ stream: fc.nat(10), increase: fc.nat(50) }), { selector: (s) => s.stream, maxLength: 6 }),
    deltaHistograms: fc.array(fc.record({ user: fc.nat(10), buckets, sum: fc.nat(500) }), { maxLength: 4 }),
    cumulativeHistograms: fc.uniqueArray(fc.record({ stream: fc.nat(6), buckets, sum: fc.nat(500) }), { selector: (s) => s.stream, maxLength: 4 }),
  });

/** One request per round, each with a distinct subset of the resources. */
const rounds = fc.array(
  fc.subarray([...INSTANCES], { minLength: 1 }).chain((instances) => fc.tuple(...instances.map(resourceRound))),
  { minLength: 1, maxLength: 4 },
);

const budget = fc.record({
  limit: fc.integer({ min: 1, max: 8 }),
  perMetric: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
});

const METRICS = ['reqs', 'total', 'latency', 'latency.total'] as const;
const CUMULATIVE_METRICS = new Set(['total', 'latency.total']);

/** [count, sum, ...buckets] of a histogram point, or [value] of a sum point. */
function vectorOf(metric: string, point: OtlpObject): number[] {
  if (metric === 'reqs' || metric === 'total') return [valueOf(point)];
  return [Number(point.count ?? 0), Number(point.sum ?? 0), ...((point.bucketCounts as string[] | undefined) ?? ['0', '0', '0']).map(Number)];
}

const add = (into: number[], v: readonly number[]): void => v.forEach((x, k) => (into[k] = (into[k] ?? 0) + x));
const zero = (metric: string): number[] => (metric === 'reqs' || metric === 'total' ? [0] : [0, 0, 0, 0, 0]);

test('overflow keeps every total (delta and cumulative sums, histograms) and no team exceeds its limit', () => {
  fc.assert(
    fc.property(budget, rounds, ({ limit, perMetric }, traffic) => {
      const rules = rulesFrom(`
version: 1
teams:
  - name: checkout
    match: [{ service.namespace: checkout }]
    budgets:
      metrics:
        max_active_series: ${limit}
${perMetric === undefined ? '' : `        default_max_series_per_metric: ${perMetric}\n`}        action: overflow
  - name: search
    match: [{ service.namespace: search }]
`);
      const chain = createChain(rules);
      /** Cumulative values sent so far, per stream (instance, metric, stream). */
      const streamValues = new Map<string, number[]>();
      /** The backend's latest value per cumulative series, in and out. */
      const latestIn = new Map<string, number[]>();
      const latestOut = new Map<string, number[]>();
      const budgetedSeries = new Set<string>();

      traffic.forEach((resources, r) => {
        const time = 1_000 * (r + 1);
        const deltaIn = new Map<string, number[]>(['reqs', 'latency'].map((m) => [m, zero(m)]));
        const body = request(
          ...resources.map((res) => {
            const grow = (metric: string, stream: number, by: readonly number[]): number[] => {
              const key = `${res.instance}|${metric}|${stream}`;
              const value = streamValues.get(key) ?? zero(metric);
              add(value, by);
              streamValues.set(key, value);
              latestIn.set(key, [...value]);
              return value;
            };
            const cumulativeSums = res.cumulativeSums.map(({ stream, increase }) => intPoint({ stream: `s${stream}` }, grow('total', stream, [increase])[0], time, 500));
            const cumulativeHistograms = res.cumulativeHistograms.map(({ stream, buckets: b, sum }) => {
              const [, total, ...counts] = grow('latency.total', stream, [b[0] + b[1] + b[2], sum, ...b]);
              return histogramPoint({ stream: `h${stream}` }, counts, total, time, 500);
            });
            for (const p of res.deltaSums) add(deltaIn.get('reqs')!, [p.value]);
            for (const h of res.deltaHistograms) add(deltaIn.get('latency')!, [h.buckets[0] + h.buckets[1] + h.buckets[2], h.sum, ...h.buckets]);
            return resource(
              resourceOf(res.instance),
              sumMetric('reqs', DELTA, res.deltaSums.map((p) => intPoint({ route: `/r${p.route}`, user: `u${p.user}` }, p.value, time, time - 1_000))),
              sumMetric('total', CUMULATIVE, cumulativeSums),
              histogramMetric('latency', DELTA, res.deltaHistograms.map((h) => histogramPoint({ user: `u${h.user}` }, h.buckets, h.sum, time, time - 1_000))),
              histogramMetric('latency.total', CUMULATIVE, cumulativeHistograms),
            );
          }),
        );
        const sent = send(chain, body, T0 + r * 1_000);

        const deltaOut = new Map<string, number[]>(['reqs', 'latency'].map((m) => [m, zero(m)]));
        const seenThisRound = new Set<string>();
        for (const p of outputPoints(sent.output)) {
          const instance = p.resource['service.instance.id'];
          const series = `${instance}|${p.metric}|${labelSet(p.labels)}`;
          if (!isOverflow(p) && instance !== 's') budgetedSeries.add(series);
          if (CUMULATIVE_METRICS.has(p.metric)) {
            assert.ok(!seenThisRound.has(series), `one point per cumulative series and request: ${series}`);
            seenThisRound.add(series);
            latestOut.set(series, vectorOf(p.metric, p.point));
          } else add(deltaOut.get(p.metric)!, vectorOf(p.metric, p.point));
        }
        for (const metric of METRICS) {
          if (CUMULATIVE_METRICS.has(metric)) {
            const total = (latest: Map<string, number[]>): number[] => {
              const sum = zero(metric);
              for (const [key, v] of latest) if (key.split('|')[1] === metric) add(sum, v);
              return sum;
            };
            assert.deepEqual(total(latestOut), total(latestIn), `round ${r + 1}: ${metric}, sum of the latest values`);
          } else assert.deepEqual(deltaOut.get(metric), deltaIn.get(metric), `round ${r + 1}: ${metric}, sum of this round's points`);
        }
      });

      const team = chain.state.team('checkout');
      assert.ok(budgetedSeries.size <= limit, `${budgetedSeries.size} series through, limit ${limit}`);
      assert.equal(budgetedSeries.size, team.table.size, 'every admitted series went through, and only those');
      if (perMetric !== undefined) {
        for (const metric of METRICS) assert.ok(team.activeSeriesOf(team.metricNumber(metric)) <= perMetric, `${metric} over its cap`);
      }
      assert.equal(chain.points.filter((p) => p.outcome === 'dropped').length, 0, 'overflow never had to drop');
    }),
    { numRuns: 150 },
  );
});
