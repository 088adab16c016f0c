import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { OtlpObject } from '../../../collector/otlp/object-codec.js';
import { BudgetState } from '../../../collector/processors/cardinality/budget-state.js';
import {
  budgetRules,
  CHECKOUT,
  createChain,
  DELTA,
  gaugeMetric,
  histogramMetric,
  histogramPoint,
  intPoint,
  labelSet,
  labelSets,
  outcomeTotals,
  outputPoints,
  request,
  resource,
  SEARCH,
  send,
  sumMetric,
} from './harness.js';

/**
 * Which new series a budget admits, and that it never touches the others: the caps (team,
 * per metric, per label), exempt metrics, team attribution, and the partial success report.
 * Every expectation is counted by hand from the requests.
 */

/** `n` delta points of `metric`, one series each: user=u<from>, u<from+1>, … */
function users(from: number, n: number, value = 1): ReturnType<typeof intPoint>[] {
  return Array.from({ length: n }, (_, k) => intPoint({ user: `u${from + k}` }, value, 2_000));
}

const usersOf = (points: ReturnType<typeof outputPoints>): string[] => points.map((p) => p.labels.user);

test('a team under its budget is forwarded byte for byte, and its series are admitted then passed', () => {
  const chain = createChain(budgetRules(`
    max_active_series: 10
    default_max_series_per_metric: 5
    action: overflow
  `));
  const body = request(
    resource(
      CHECKOUT,
      sumMetric('orders', DELTA, [intPoint({ method: 'GET' }, 3, 2_000, 1_000), intPoint({ method: 'POST' }, 4, 2_000, 1_000)]),
      histogramMetric('latency', DELTA, [histogramPoint({ route: '/a' }, [1, 2, 0], 70, 2_000, 1_000)]),
      gaugeMetric('queue', [intPoint({}, 9, 2_000)]),
    ),
  );
  const first = send(chain, body);
  assert.equal(first.bytesOut, first.bytesIn, 'nothing edited: the very input buffer goes on');
  assert.deepEqual(outcomeTotals(chain), { admitted: 4 });
  assert.equal(chain.state.team('checkout').table.size, 4);
  const second = send(chain, body);
  assert.equal(second.bytesOut, second.bytesIn);
  assert.deepEqual(outcomeTotals(chain), { admitted: 4, passed: 4 });
  assert.deepEqual(chain.violations, []);
  assert.equal(second.rejected, 0);
});

test('max_active_series: exactly `limit` new series get in, in request order; the rest get the action', () => {
  const chain = createChain(budgetRules(`
    max_active_series: 3
    action: drop
  `));
  const first = send(chain, request(resource(CHECKOUT, sumMetric('reqs', DELTA, users(1, 5)))));
  assert.deepEqual(usersOf(outputPoints(first.output)), ['u1', 'u2', 'u3']);
  assert.equal(chain.state.team('checkout').table.size, 3);
  assert.deepEqual(outcomeTotals(chain), { admitted: 3, dropped: 2 });
  assert.equal(chain.violations.length, 1);
  const [violation] = chain.violations;
  assert.deepEqual(
    { team: violation.team, metric: violation.metric, rule: violation.rule, action: violation.action, mode: violation.mode, count: violation.count },
    { team: 'checkout', metric: 'reqs', rule: 'max_active_series', action: 'drop', mode: 'enforce', count: 2 },
  );
  assert.deepEqual(violation.samples, [{ user: 'u4' }, { user: 'u5' }]);
});

test('existing series keep passing when the team is full — never evicted — and only new ones are refused', () => {
  const chain = createChain(budgetRules(`
    max_active_series: 3
    action: drop
  `));
  send(chain, request(resource(CHECKOUT, sumMetric('reqs', DELTA, users(1, 3)))));
  // New series first, then the existing ones: the new ones are dropped wherever they are.
  const mixed = send(chain, request(resource(CHECKOUT, sumMetric('reqs', DELTA, [...users(7, 2), ...users(1, 3), ...users(9, 1)]))));
  assert.deepEqual(usersOf(outputPoints(mixed.output)), ['u1', 'u2', 'u3']);
  assert.deepEqual(outcomeTotals(chain), { admitted: 3, dropped: 3, passed: 3 });
  // Only the old ones: untouched on the wire.
  const old = send(chain, request(resource(CHECKOUT, sumMetric('reqs', DELTA, users(1, 3)))));
  assert.equal(old.bytesOut, old.bytesIn);
  assert.equal(chain.state.team('checkout').table.size, 3);
});

test('the same new series twice in one request takes one slot: the second point passes', () => {
  const chain = createChain(budgetRules(`
    max_active_series: 2
    action: drop
  `));
  const sent = send(chain, request(resource(CHECKOUT, sumMetric('reqs', DELTA, [...users(1, 1), ...users(1, 1), ...users(2, 1), ...users(3, 1)]))));
  assert.deepEqual(usersOf(outputPoints(sent.output)), ['u1', 'u1', 'u2']);
  assert.deepEqual(outcomeTotals(chain), { admitted: 2, passed: 1, dropped: 1 });
});

test('series identity: metric name and resource are part of it, attribute order is not', () => {
  const chain = createChain(budgetRules(`
    max_active_series: 4
    action: drop
  `));
  const a = { ...CHECKOUT, 'service.instance.id': 'a' };
  const b = { ...CHECKOUT, 'service.instance.id': 'b' };
  send(
    chain,
    request(
      resource(a, sumMetric('reqs', DELTA, [intPoint({ x: '1', y: '2' }, 1, 2_000)]), sumMetric('errors', DELTA, [intPoint({ x: '1', y: '2' }, 1, 2_000)])),
      resource(b, sumMetric('reqs', DELTA, [intPoint({ x: '1', y: '2' }, 1, 2_000)])),
    ),
  );
  assert.equal(chain.state.team('checkout').table.size, 3, 'three distinct series');
  // Same label set written in the other order: the same series, so it passes.
  const reordered = send(chain, request(resource(a, sumMetric('reqs', DELTA, [intPoint({ y: '2', x: '1' }, 1, 2_000)]))));
  assert.equal(reordered.bytesOut, reordered.bytesIn);
  assert.deepEqual(outcomeTotals(chain), { admitted: 3, passed: 1 });
});

test('default_max_series_per_metric and per_metric overrides by exact name, glob and regex (first match wins)', () => {
  const chain = createChain(budgetRules(`
    default_max_series_per_metric: 2
    per_metric:
      - { metric: exact.name, max_active_series: 4 }
      - { metric: "http.*", max_active_series: 3 }
      - { metric: { regex: "db\\\\.(query|call)" }, max_active_series: 1 }
      - { metric: "http.server.*", max_active_series: 100 }
    action: drop
  `));
  const sent = send(
    chain,
    request(
      resource(
        CHECKOUT,
        sumMetric('http.server.requests', DELTA, users(1, 5)), // glob, 3 (the later, larger entry never applies)
        sumMetric('db.query', DELTA, users(1, 3)), // regex, 1
        sumMetric('db.queries', DELTA, users(1, 3)), // the regex is anchored: default, 2
        sumMetric('jobs', DELTA, users(1, 4)), // default, 2
        sumMetric('exact.name', DELTA, users(1, 5)), // exact, 4
      ),
    ),
  );
  const byMetric = (name: string): string[] => usersOf(outputPoints(sent.output, name));
  assert.deepEqual(byMetric('http.server.requests'), ['u1', 'u2', 'u3']);
  assert.deepEqual(byMetric('db.query'), ['u1']);
  assert.deepEqual(byMetric('db.queries'), ['u1', 'u2']);
  assert.deepEqual(byMetric('jobs'), ['u1', 'u2']);
  assert.deepEqual(byMetric('exact.name'), ['u1', 'u2', 'u3', 'u4']);
  assert.deepEqual(
    chain.violations.map((v) => [v.metric, v.rule, v.count]),
    [
      ['http.server.requests', 'max_series_per_metric', 2],
      ['db.query', 'max_series_per_metric', 2],
      ['db.queries', 'max_series_per_metric', 1],
      ['jobs', 'max_series_per_metric', 2],
      ['exact.name', 'max_series_per_metric', 1],
    ],
  );
  // Each metric's count is its own: a full metric does not refuse another one's series.
  const team = chain.state.team('checkout');
  assert.equal(team.activeSeriesOf(team.metricNumber('jobs')), 2);
  assert.equal(team.table.size, 3 + 1 + 2 + 2 + 4);
});

test('the team cap and a metric cap together: whichever is reached first refuses, and says which', () => {
  const chain = createChain(budgetRules(`
    max_active_series: 4
    default_max_series_per_metric: 3
    action: drop
  `));
  send(chain, request(resource(CHECKOUT, sumMetric('a', DELTA, users(1, 4)), sumMetric('b', DELTA, users(1, 2)))));
  // a: 3 admitted, 1 refused by its metric cap; b: 1 admitted (team at 4), 1 refused by the team cap.
  assert.deepEqual(
    chain.violations.map((v) => [v.metric, v.rule, v.count]),
    [
      ['a', 'max_series_per_metric', 1],
      ['b', 'max_active_series', 1],
    ],
  );
  assert.equal(chain.state.team('checkout').table.size, 4);
});

test('exempt metrics are never limited and take no room in the budget', () => {
  const chain = createChain(budgetRules(`
    max_active_series: 2
    exempt_metrics: ["runtime.*", process.cpu]
    action: drop
  `));
  const sent = send(
    chain,
    request(resource(CHECKOUT, sumMetric('runtime.gc.count', DELTA, users(1, 5)), gaugeMetric('process.cpu', users(1, 3)), sumMetric('reqs', DELTA, users(1, 3)))),
  );
  assert.equal(outputPoints(sent.output, 'runtime.gc.count').length, 5);
  assert.equal(outputPoints(sent.output, 'process.cpu').length, 3);
  assert.deepEqual(usersOf(outputPoints(sent.output, 'reqs')), ['u1', 'u2']);
  assert.equal(chain.state.team('checkout').table.size, 2);
  assert.deepEqual(outcomeTotals(chain), { admitted: 2, dropped: 1 });
});

test('per_label caps distinct values of a label per metric; series without the label are not limited by it', () => {
  const chain = createChain(budgetRules(`
    per_label:
      - { label: route, max_distinct_values: 2 }
    action: drop
  `));
  const sent = send(
    chain,
    request(
      resource(
        CHECKOUT,
        sumMetric('reqs', DELTA, [
          intPoint({ route: '/a' }, 1, 2_000),
          intPoint({ route: '/b' }, 1, 2_000),
          intPoint({ route: '/c' }, 1, 2_000),
          intPoint({ route: '/d', method: 'GET' }, 1, 2_000),
          intPoint({ method: 'GET' }, 1, 2_000),
          intPoint({ method: 'PUT' }, 1, 2_000),
        ]),
        // Another metric has its own count of routes.
        sumMetric('errors', DELTA, [intPoint({ route: '/x' }, 1, 2_000), intPoint({ route: '/y' }, 1, 2_000)]),
      ),
    ),
  );
  assert.deepEqual(labelSets(outputPoints(sent.output, 'reqs')), [labelSet({ method: 'GET' }), labelSet({ method: 'PUT' }), labelSet({ route: '/a' }), labelSet({ route: '/b' })].sort());
  assert.equal(outputPoints(sent.output, 'errors').length, 2);
  assert.deepEqual(
    chain.violations.map((v) => [v.metric, v.rule, v.count]),
    [['reqs', 'max_distinct_values', 2]],
  );
  assert.equal(Math.round(chain.state.distinctValues('checkout', 'reqs', 'route')), 2);
  assert.equal(Math.round(chain.state.distinctValues('checkout', 'errors', 'route')), 2);
});

test('teams are attributed by resource attributes; a team without budgets and the default team are untouched', () => {
  const chain = createChain(budgetRules(`
    max_active_series: 1
    action: drop
  `));
  const other = { 'service.name': 'x' }; // no namespace: the implicit default team, no budgets
  const sent = send(
    chain,
    request(
      resource(SEARCH, sumMetric('reqs', DELTA, users(1, 4))),
      resource(CHECKOUT, sumMetric('reqs', DELTA, users(1, 3))),
      resource(other, sumMetric('reqs', DELTA, users(1, 2))),
    ),
  );
  const points = outputPoints(sent.output, 'reqs');
  const of = (namespace: string | undefined): string[] => usersOf(points.filter((p) => p.resource['service.namespace'] === namespace));
  assert.deepEqual(of('search'), ['u1', 'u2', 'u3', 'u4']);
  assert.deepEqual(of('checkout'), ['u1']);
  assert.deepEqual(of(undefined), ['u1', 'u2']);
  assert.deepEqual(new Set(chain.points.map((p) => p.team)), new Set(['checkout']));
  assert.deepEqual(chain.state.allTeams().map((t) => t.team), ['checkout']);
  // A request of teams without budgets only: forwarded as it came.
  const unbudgeted = send(chain, request(resource(SEARCH, sumMetric('reqs', DELTA, users(10, 3)))));
  assert.equal(unbudgeted.bytesOut, unbudgeted.bytesIn);
});

test('with reportDrops, dropped points come back as partial success (count and message); without it, none', () => {
  const rules = budgetRules(`
    max_active_series: 2
    action: drop
  `);
  const body = request(resource(CHECKOUT, sumMetric('reqs', DELTA, users(1, 5))));
  const reporting = send(createChain(rules, { reportDrops: true }), body);
  assert.equal(reporting.rejected, 3);
  assert.equal(reporting.message, "3 data points dropped: new series over the team's cardinality budget");
  const one = send(createChain(rules, { reportDrops: true }), request(resource(CHECKOUT, sumMetric('reqs', DELTA, users(1, 3)))));
  assert.equal(one.rejected, 1);
  assert.equal(one.message, "1 data point dropped: new series over the team's cardinality budget");

  const silent = send(createChain(rules), body);
  assert.equal(silent.rejected, 0);
  assert.equal(silent.message, undefined);
  assert.equal(outputPoints(silent.output).length, 2, 'the points are dropped all the same');

  // Overflowed points are forwarded (in the overflow series), so nothing is reported.
  const overflowing = send(createChain(budgetRules(`
    max_active_series: 2
    action: overflow
  `), { reportDrops: true }), body);
  assert.equal(overflowing.rejected, 0);
  assert.equal(overflowing.message, undefined);
});

test('a full series table refuses new series with its own rule, whatever the budget', () => {
  const chain = createChain(
    budgetRules(`
      max_active_series: 100
      action: drop
    `),
    { state: new BudgetState({ maxTrackedSeriesPerTeam: 2, maxMetricsPerTeam: 10, maxLabelTrackers: 10 }) },
  );
  const sent = send(chain, request(resource(CHECKOUT, sumMetric('reqs', DELTA, users(1, 4)))));
  assert.deepEqual(usersOf(outputPoints(sent.output)), ['u1', 'u2']);
  assert.deepEqual(
    chain.violations.map((v) => [v.rule, v.count]),
    [['series_table_full', 2]],
  );
  assert.equal(chain.state.team('checkout').table.fullRefusals, 2);
});

test('violation samples show every kind of label value as text', () => {
  const chain = createChain(budgetRules(`
    max_active_series: 1
    action: drop
  `));
  const point = (n: number): OtlpObject => ({
    attributes: [
      { key: 'user', value: { stringValue: `u${n}` } },
      { key: 'code', value: { intValue: String(-n) } },
      { key: 'ok', value: { boolValue: n % 2 === 0 } },
      { key: 'ratio', value: { doubleValue: n / 4 } },
      { key: 'tags', value: { arrayValue: { values: [{ stringValue: 'x' }] } } },
    ],
    timeUnixNano: '2000',
    asInt: '1',
  });
  send(chain, request(resource(CHECKOUT, sumMetric('reqs', DELTA, [point(1), point(2)]))));
  assert.deepEqual(chain.violations[0].samples, [{ user: 'u2', code: '-2', ok: 'true', ratio: '0.5', tags: '<array>' }]);
});
