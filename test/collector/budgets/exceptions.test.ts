// A budget exception raises the team's series cap in the processor while it is in force, and
// stops on its own at its expiry (the processor's clock is injected; nothing runs on a timer).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createReaggregationProcessor } from '../../../collector/processors/attribute-policy/reaggregate.js';
import { createCardinalityProcessor } from '../../../collector/processors/cardinality/budget-processor.js';
import type { BudgetViolation } from '../../../collector/processors/cardinality/budget-processor.js';
import { BudgetState } from '../../../collector/processors/cardinality/budget-state.js';
import { openUsageStore } from '../../../collector/usage/store.js';
import type { Chain, PointsRecord } from './harness.js';
import { budgetRules, CHECKOUT, DELTA, intPoint, outcomeTotals, request, resource, send, sumMetric, T0 } from './harness.js';

const MIN = 60_000;

function users(from: number, n: number) {
  return Array.from({ length: n }, (_, k) => intPoint({ user: `u${from + k}` }, 1, 2_000));
}

function chainWith(limitOverride: (team: string, nowMs: number) => number | undefined): Chain {
  const rules = budgetRules(`
    max_active_series: 2
    action: drop
  `);
  const state = new BudgetState({ maxTrackedSeriesPerTeam: 100_000, maxMetricsPerTeam: 1000, maxLabelTrackers: 1000 });
  const points: PointsRecord[] = [];
  const violations: BudgetViolation[] = [];
  const budget = createCardinalityProcessor({
    rules: () => rules,
    state,
    limitOverride,
    observer: { onPoints: (team, outcome, n) => points.push({ team, outcome, points: n }), onViolation: (v) => violations.push(v) },
  });
  return { budget, state, processors: [budget, createReaggregationProcessor({ shouldRun: () => budget.pointAttributesChanged })], points, violations };
}

test('an exception from the usage store admits series past the rules limit, and stops at its expiry', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-exc-'));
  const clock = { t: T0 };
  const store = openUsageStore({ dataDir: dir, now: () => clock.t });
  try {
    store.exceptions.put('checkout', 'launch', { signal: 'metrics', maxActiveSeries: 4, reason: 'launch', expiresAt: T0 + 10 * MIN }, 'ops');
    const chain = chainWith((team, nowMs) => store.activeLimitOverride(team, nowMs));

    // Rules allow 2; the exception 4: four new series are admitted, the fifth is dropped.
    send(chain, request(resource(CHECKOUT, sumMetric('requests', DELTA, users(0, 5)))), T0);
    assert.deepEqual(outcomeTotals(chain, 'checkout'), { admitted: 4, dropped: 1 });
    assert.equal(chain.violations[0].rule, 'max_active_series');

    // Just before the expiry the exception still applies: the 4 known series pass, a new one is refused at 4.
    chain.points.length = 0;
    send(chain, request(resource(CHECKOUT, sumMetric('requests', DELTA, users(0, 4)))), T0 + 10 * MIN - 1);
    assert.deepEqual(outcomeTotals(chain, 'checkout'), { passed: 4 });

    // At the expiry the rules' 2 is back: with 4 active series, no new one is admitted; known ones still pass.
    chain.points.length = 0;
    send(chain, request(resource(CHECKOUT, sumMetric('requests', DELTA, [...users(0, 4), ...users(10, 2)]))), T0 + 10 * MIN);
    assert.deepEqual(outcomeTotals(chain, 'checkout'), { passed: 4, dropped: 2 });
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('without an override the rules limit applies; an override only affects its team', () => {
  const chain = chainWith((team) => (team === 'search' ? 100 : undefined));
  send(chain, request(resource(CHECKOUT, sumMetric('requests', DELTA, users(0, 3)))), T0);
  assert.deepEqual(outcomeTotals(chain, 'checkout'), { admitted: 2, dropped: 1 });
});
