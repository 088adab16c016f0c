// The budget processor with the sidecar's global enforcement as its hook: only series that would
// be new ask it, a refusal gets the budget's action under rule global_max_active_series, existing
// series always pass, and without a fresh state the rules' local limit is all there is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createReaggregationProcessor } from '../../../collector/processors/attribute-policy/reaggregate.js';
import { createCardinalityProcessor } from '../../../collector/processors/cardinality/budget-processor.js';
import type { BudgetViolation } from '../../../collector/processors/cardinality/budget-processor.js';
import { BudgetState } from '../../../collector/processors/cardinality/budget-state.js';
import { GlobalEnforcement } from '../../../collector/global-budgets/enforcement.js';
import type { GlobalTeamState } from '../../../collector/global-budgets/team-state.js';
import type { Chain, PointsRecord } from '../budgets/harness.js';
import { budgetRules, CHECKOUT, DELTA, intPoint, outcomeTotals, request, resource, send, sumMetric, T0 } from '../budgets/harness.js';

const ME = { instance: 'me', startedAtMs: T0 - 1000 };

function users(from: number, n: number, extra: Record<string, string> = {}) {
  return Array.from({ length: n }, (_, k) => intPoint({ user: `u${from + k}`, ...extra }, 1, 2_000));
}

function chainWith(global: GlobalEnforcement, action: 'drop' | 'strip_label' = 'drop'): Chain {
  const rules = budgetRules(`
    max_active_series: 10
    action: ${action}
  `);
  const state = new BudgetState({ maxTrackedSeriesPerTeam: 100_000, maxMetricsPerTeam: 1000, maxLabelTrackers: 1000 });
  const points: PointsRecord[] = [];
  const violations: BudgetViolation[] = [];
  const budget = createCardinalityProcessor({
    rules: () => rules,
    state,
    globalLimit: {
      admits: (team, nowMs) => {
        const verdict = global.verdict(team, nowMs);
        return verdict === 'local' ? undefined : verdict === 'admit';
      },
      onAdmitted: (team) => global.noteAdmitted(team),
    },
    observer: { onPoints: (team, outcome, n) => points.push({ team, outcome, points: n }), onViolation: (v) => violations.push(v) },
  });
  return { budget, state, processors: [budget, createReaggregationProcessor({ shouldRun: () => budget.pointAttributesChanged })], points, violations };
}

function teamState(allowedNewSeries: number, seq: number, publishedAtMs = T0): GlobalTeamState {
  return { team: 'checkout', aggregator: 'agg', publishedAtMs, activeSeries: 100 - allowedNewSeries, limit: 100, allowedNewSeries, basis: [{ ...ME, seq }] };
}

test('no global state: the local limit alone decides', () => {
  const chain = chainWith(new GlobalEnforcement({ ...ME, maxStateAgeMs: 5000 }));
  send(chain, request(resource(CHECKOUT, sumMetric('requests', DELTA, users(0, 12)))), T0);
  assert.deepEqual(outcomeTotals(chain, 'checkout'), { admitted: 10, dropped: 2 });
  assert.deepEqual(new Set(chain.violations.map((v) => v.rule)), new Set(['max_active_series']));
});

test('a fresh state: new series up to this sidecar\'s share, then refused globally; existing series pass', () => {
  const global = new GlobalEnforcement({ ...ME, maxStateAgeMs: 5000 });
  const chain = chainWith(global);
  send(chain, request(resource(CHECKOUT, sumMetric('requests', DELTA, users(0, 3)))), T0);
  global.noteRound('checkout', 7);
  global.onState(teamState(2, 7));
  chain.points.length = 0;
  send(chain, request(resource(CHECKOUT, sumMetric('requests', DELTA, [...users(0, 3), ...users(100, 4)]))), T0 + 10);
  assert.deepEqual(outcomeTotals(chain, 'checkout'), { passed: 3, admitted: 2, dropped: 2 });
  assert.equal(chain.state.team('checkout').table.size, 5, 'well under the local limit of 10');
  const refusal = chain.violations.find((v) => v.rule === 'global_max_active_series');
  assert.equal(refusal?.count, 2);
  assert.equal(refusal?.action, 'drop');

  // The state goes stale: the local limit of 10 applies again.
  chain.points.length = 0;
  send(chain, request(resource(CHECKOUT, sumMetric('requests', DELTA, users(200, 6)))), T0 + 5001);
  assert.deepEqual(outcomeTotals(chain, 'checkout'), { admitted: 5, dropped: 1 });
});

test('strip_label under a global refusal folds the new series into the existing one without the exploding label', () => {
  const global = new GlobalEnforcement({ ...ME, maxStateAgeMs: 5000 });
  const chain = chainWith(global, 'strip_label');
  // The series without `user` exists: stripping `user` from new series leads back to it.
  send(chain, request(resource(CHECKOUT, sumMetric('requests', DELTA, [intPoint({ route: '/a' }, 1, 2_000)]))), T0);
  global.noteRound('checkout', 1);
  global.onState(teamState(0, 1));
  chain.points.length = 0;
  const out = send(chain, request(resource(CHECKOUT, sumMetric('requests', DELTA, users(0, 3, { route: '/a' })))), T0 + 10);
  assert.deepEqual(outcomeTotals(chain, 'checkout'), { stripped: 3 });
  const points = (out.output.resourceMetrics as { scopeMetrics: { metrics: { sum: { dataPoints: { asInt: string; attributes: unknown[] }[] } }[] }[] }[])[0].scopeMetrics[0].metrics[0].sum.dataPoints;
  assert.equal(points.length, 1, 're-aggregated into the one existing series');
  assert.equal(points[0].asInt, '3');
  assert.equal(chain.state.team('checkout').table.size, 1);
});
