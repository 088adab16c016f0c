import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BudgetState } from '../../../collector/processors/cardinality/budget-state.js';
import type { BudgetStateOptions } from '../../../collector/processors/cardinality/budget-state.js';
import type { CompiledRules } from '../../../rules/compiled.js';
import { rulesFrom } from '../processors/run-processors.js';
import { budgetRules, CHECKOUT, createChain, DELTA, intPoint, outcomeTotals, outputPoints, request, resource, SEARCH, send, sumMetric, T0 } from './harness.js';

/**
 * Time and restarts: series unseen for the active window are swept and free their budget
 * (with the clock injected through the processor context), and a snapshot of the state
 * restores the same tables, metric counts and label estimates, so a restarted Tollgate admits
 * and refuses exactly as the one before it would have.
 */

/** The sweep's window per team, as collector/budgets.ts derives it from the rules. */
const windowOf = (rules: CompiledRules) => (team: string): number => rules.teams.find((t) => t.name === team)?.budgets.metrics?.activeWindowMs ?? 3_600_000;

const reqs = (...users: string[]) => request(resource(CHECKOUT, sumMetric('reqs', DELTA, users.map((user) => intPoint({ user }, 1, 2_000)))));
const usersOut = (sent: ReturnType<typeof send>): string[] => outputPoints(sent.output).map((p) => p.labels.user);

test('window expiry: a series unseen for active_window is swept and frees its slot; one seen within the window stays', () => {
  const rules = budgetRules(`
    max_active_series: 2
    default_max_series_per_metric: 2
    active_window: 1m
    action: drop
  `);
  assert.equal(rules.teams[0].budgets.metrics?.activeWindowMs, 60_000);
  const chain = createChain(rules);
  const team = chain.state.team('checkout');

  assert.deepEqual(usersOut(send(chain, reqs('u1', 'u2'), T0)), ['u1', 'u2']);
  assert.deepEqual(usersOut(send(chain, reqs('u1', 'u3'), T0 + 30_000)), ['u1'], 'full: u3 refused; u1 refreshed at +30 s');

  // At +60 s both are within the window (u2 exactly at its edge): nothing goes.
  assert.equal(chain.state.sweep(T0 + 60_000, windowOf(rules)), 0);
  // At +70 s u2 (last seen at 0) is 70 s old and goes; u1 (last seen at +30 s) is 40 s old and stays.
  assert.equal(chain.state.sweep(T0 + 70_000, windowOf(rules)), 1);
  assert.equal(team.table.size, 1);
  assert.equal(team.activeSeriesOf(team.metricNumber('reqs')), 1, 'the metric count is freed as well');

  // The freed slot goes to the first new series; u1 still passes as the existing series it is.
  assert.deepEqual(usersOut(send(chain, reqs('u3', 'u4', 'u1'), T0 + 71_000)), ['u3', 'u1']);
  assert.deepEqual(outcomeTotals(chain), { admitted: 3, dropped: 2, passed: 2 });

  // u2 comes back after it expired: it is a new series now, and the team is full again.
  assert.deepEqual(usersOut(send(chain, reqs('u2'), T0 + 72_000)), []);
  assert.equal(chain.violations.at(-1)?.rule, 'max_active_series');
});

test('window expiry is per team: each team’s own active_window', () => {
  const rules = rulesFrom(`
version: 1
teams:
  - name: checkout
    match: [{ service.namespace: checkout }]
    budgets: { metrics: { max_active_series: 5, active_window: 1m } }
  - name: search
    match: [{ service.namespace: search }]
    budgets: { metrics: { max_active_series: 5, active_window: 10m } }
`);
  const chain = createChain(rules);
  send(chain, request(resource(CHECKOUT, sumMetric('reqs', DELTA, [intPoint({ u: '1' }, 1, 1)])), resource(SEARCH, sumMetric('reqs', DELTA, [intPoint({ u: '1' }, 1, 1)]))), T0);
  assert.equal(chain.state.sweep(T0 + 5 * 60_000, windowOf(rules)), 1);
  assert.equal(chain.state.team('checkout').table.size, 0);
  assert.equal(chain.state.team('search').table.size, 1);
});

const SNAPSHOT_RULES = rulesFrom(`
version: 1
teams:
  - name: checkout
    match: [{ service.namespace: checkout }]
    budgets:
      metrics:
        max_active_series: 6
        per_label: [{ label: route, max_distinct_values: 3 }]
        action: drop
  - name: search
    match: [{ service.namespace: search }]
    budgets: { metrics: { max_active_series: 2, action: drop } }
`);

const OPTIONS: BudgetStateOptions = { maxTrackedSeriesPerTeam: 1000, maxMetricsPerTeam: 100, maxLabelTrackers: 100 };

/** Fills checkout with 2 reqs series and 3 routes of hits (route at its cap), and search to its cap. */
function filledChain(): ReturnType<typeof createChain> {
  const chain = createChain(SNAPSHOT_RULES, { state: new BudgetState(OPTIONS) });
  send(
    chain,
    request(
      resource(
        CHECKOUT,
        sumMetric('reqs', DELTA, [intPoint({ user: 'u1' }, 1, 1), intPoint({ user: 'u2' }, 1, 1)]),
        sumMetric('hits', DELTA, ['/a', '/b', '/c'].map((route) => intPoint({ route, m: 'GET' }, 1, 1))),
      ),
      resource(SEARCH, sumMetric('q', DELTA, [intPoint({ k: '1' }, 1, 1), intPoint({ k: '2' }, 1, 1), intPoint({ k: '3' }, 1, 1)])),
    ),
    T0,
  );
  return chain;
}

/** What the state says about each team: sizes, per-metric counts, label estimates. */
function describe(state: BudgetState): unknown {
  return state.allTeams().map((team) => ({
    team: team.team,
    size: team.table.size,
    metrics: team.metricNames.map((name, number) => [name, team.activeSeriesOf(number)]),
    labels: state.labels
      .entries()
      .filter((e) => e.team === team.team)
      .map((e) => [e.metric, e.label, Math.round(e.sketch.estimate())])
      .sort(),
  }));
}

test('snapshot: serialize → deserialize keeps teams, table sizes, per-metric counts and label estimates', () => {
  const chain = filledChain();
  const expected = [
    {
      team: 'checkout',
      size: 5,
      metrics: [
        ['(other metrics)', 0],
        ['reqs', 2],
        ['hits', 3],
      ],
      labels: [
        ['hits', 'm', 1],
        ['hits', 'route', 3],
        ['reqs', 'user', 2],
      ],
    },
    { team: 'search', size: 2, metrics: [['(other metrics)', 0], ['q', 2]], labels: [['q', 'k', 2]] },
  ];
  assert.deepEqual(describe(chain.state), expected);
  const restored = BudgetState.deserialize(chain.state.serialize(), OPTIONS);
  assert.deepEqual(describe(restored), expected);
  // Last-seen times survive too: a sweep expires the same series in both.
  restored.team('checkout').table.forEach((lo, hi, _ref, seen) => assert.equal(seen, chain.state.team('checkout').table.lastSeenSeconds(lo, hi)));
});

test('snapshot: a restored state admits and refuses exactly as the original does', () => {
  const original = filledChain();
  const restored = createChain(SNAPSHOT_RULES, { state: BudgetState.deserialize(original.state.serialize(), OPTIONS) });
  original.points.length = 0;
  original.violations.length = 0;
  const next = request(
    resource(
      CHECKOUT,
      // u1 passes; u3 is admitted (6th series); u4 is over the team cap.
      sumMetric('reqs', DELTA, [intPoint({ user: 'u1' }, 1, 2), intPoint({ user: 'u3' }, 1, 2), intPoint({ user: 'u4' }, 1, 2)]),
      // /a GET exists and passes; /d is new and the team is full by now (u3 took the 6th slot).
      sumMetric('hits', DELTA, [intPoint({ route: '/a', m: 'GET' }, 1, 2), intPoint({ route: '/d', m: 'GET' }, 1, 2)]),
    ),
    resource(SEARCH, sumMetric('q', DELTA, [intPoint({ k: '1' }, 1, 2), intPoint({ k: '9' }, 1, 2)])),
  );
  const a = send(original, next, T0 + 1_000);
  const b = send(restored, next, T0 + 1_000);
  assert.deepEqual(b.bytesOut, a.bytesOut);
  assert.deepEqual(restored.points, original.points);
  assert.deepEqual(restored.violations, original.violations);
  assert.deepEqual(
    outputPoints(b.output).map((p) => [p.metric, p.labels.user ?? p.labels.route ?? p.labels.k]),
    [
      ['reqs', 'u1'],
      ['reqs', 'u3'],
      ['hits', '/a'],
      ['q', '1'],
    ],
  );
  assert.deepEqual(
    restored.violations.map((v) => [v.team, v.metric, v.rule, v.count]),
    [
      ['checkout', 'reqs', 'max_active_series', 1],
      ['checkout', 'hits', 'max_active_series', 1],
      ['search', 'q', 'max_active_series', 1],
    ],
  );
});

test('snapshot: restored under new settings, the table takes the current per-team cap and metric numbers stay right', () => {
  const chain = filledChain();
  const tighter: BudgetStateOptions = { maxTrackedSeriesPerTeam: 3, maxMetricsPerTeam: 1, maxLabelTrackers: 100 };
  const restored = BudgetState.deserialize(chain.state.serialize(), tighter);
  const checkout = restored.team('checkout');
  assert.equal(checkout.table.maxEntries, 3, 'the cap in force, not the one saved');
  assert.equal(checkout.table.size, 3);
  assert.equal(checkout.table.droppedOnRestore, 2);
  // hits was metric number 2 in the saved table: it must keep that number, even though only 1
  // metric per team is allowed now (the table's entries refer to it).
  const search = restored.team('search');
  assert.equal(search.activeSeriesOf(search.metricNumber('q')), 2);
  const counted = checkout.metricNames.reduce((n, _name, number) => n + checkout.activeSeriesOf(number), 0);
  assert.equal(counted, 3);
  assert.equal(checkout.activeSeriesOf(checkout.metricNumber('reqs')) + checkout.activeSeriesOf(checkout.metricNumber('hits')), 3);
  // A metric first seen now is past the cap: it shares the "other metrics" number.
  assert.equal(checkout.metricNumber('brand.new'), 0);
});
