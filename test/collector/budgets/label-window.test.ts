// Per-label caps count distinct values per window and refuse only values not seen before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HyperLogLog } from '../../../collector/processors/cardinality/hll.js';
import { budgetRules, CHECKOUT, createChain, DELTA, intPoint, labelSet, labelSets, outputPoints, request, resource, send, sumMetric, T0 } from './harness.js';

const ROUTE_CAP = `
    per_label:
      - { label: route, max_distinct_values: 2 }
    action: drop
`;

test('HyperLogLog.wouldRaise: false for a hash already added, true for one that raises its register', () => {
  const sketch = new HyperLogLog({ precision: 12 });
  assert.equal(sketch.wouldRaise(0x12345678, 0x9abcdef0), true, 'an empty sketch has every register at 0');
  sketch.add(0x12345678, 0x9abcdef0);
  assert.equal(sketch.wouldRaise(0x12345678, 0x9abcdef0), false, 'the same hash again');
  // Same register (same top 12 bits of hi), a longer run of zeros after them: a higher rank.
  assert.equal(sketch.wouldRaise(0, 0x9ab00000), true);
  // Same register, rank 1 (the bit right after the index is set): not above what is there.
  assert.equal(sketch.wouldRaise(0, 0x9abfffff), false);
});

test('a label at its cap still admits new series whose value of that label was already seen', () => {
  const chain = createChain(budgetRules(ROUTE_CAP));
  const sent = send(
    chain,
    request(
      resource(
        CHECKOUT,
        sumMetric('reqs', DELTA, [
          intPoint({ route: '/a', method: 'GET' }, 1, 2_000),
          intPoint({ route: '/b', method: 'GET' }, 1, 2_000),
          // Two routes seen: the cap is reached. A new route is refused…
          intPoint({ route: '/c', method: 'GET' }, 1, 2_000),
          // …but a new series with a route already seen is not.
          intPoint({ route: '/a', method: 'PUT' }, 1, 2_000),
        ]),
      ),
    ),
  );
  assert.deepEqual(
    labelSets(outputPoints(sent.output)),
    [labelSet({ route: '/a', method: 'GET' }), labelSet({ route: '/b', method: 'GET' }), labelSet({ route: '/a', method: 'PUT' })].sort(),
  );
  assert.deepEqual(
    chain.violations.map((v) => [v.rule, v.count]),
    [['max_distinct_values', 1]],
  );
});

test('distinct values are counted per window: a label whose values stopped exploding frees its cap after two rotations', () => {
  const chain = createChain(budgetRules(ROUTE_CAP));
  const routes = (names: string[], at: number): ReturnType<typeof send> =>
    send(chain, request(resource(CHECKOUT, sumMetric('reqs', DELTA, names.map((route) => intPoint({ route }, 1, 2_000))))), at);
  routes(['/a', '/b'], T0);
  const hour = 60 * 60 * 1000;
  assert.equal(outputPoints(routes(['/c'], T0).output).length, 0, 'a third route is refused within the window');
  // Series expire with the window; the sketches rotate with it.
  chain.state.sweep(T0 + hour + 1000, () => hour);
  assert.equal(chain.state.rotateLabelsIfDue(T0, hour), false, 'the first call starts the window');
  assert.equal(chain.state.rotateLabelsIfDue(T0 + hour, hour), true);
  assert.equal(outputPoints(routes(['/c'], T0 + hour + 2000).output).length, 0, 'the previous window still counts /a and /b');
  chain.state.sweep(T0 + 2 * hour + 3000, () => hour);
  assert.equal(chain.state.rotateLabelsIfDue(T0 + 2 * hour + 3000, hour), true);
  // /a and /b are two generations old now (refused routes are never added to a sketch): room again.
  assert.equal(outputPoints(routes(['/c', '/d'], T0 + 2 * hour + 4000).output).length, 2, 'two new routes fit the cap again');
});
