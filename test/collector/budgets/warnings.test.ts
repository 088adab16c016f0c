// Warning thresholds: a team crossing 80 % / 95 % of its series budget is logged and recorded once per crossing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startBudgets } from '../../../collector/budgets.js';
import type { BudgetStore } from '../../../collector/budgets.js';
import { SILENT_LOGGER } from '../../../collector/telemetry/logger.js';
import { createSelfMetrics } from '../../../collector/telemetry/metrics.js';
import type { ViolationInput } from '../../../collector/usage/accumulator.js';
import { budgetRules, CHECKOUT, DELTA, intPoint, request, resource, sumMetric, T0 } from './harness.js';
import { runProcessors } from '../processors/run-processors.js';
import { encodeRequest } from '../../../collector/otlp/object-codec.js';

/** The store's write side, kept in memory: this test is about what the budgets decide to record. */
function recordingStore(): BudgetStore & { violations: ViolationInput[] } {
  const violations: ViolationInput[] = [];
  return {
    violations,
    recordUsage: () => undefined,
    recordTeamSeries: () => undefined,
    recordMetricSeries: () => undefined,
    recordLabelEstimate: () => undefined,
    recordViolation: (v) => violations.push(v),
    recordActionCounts: () => undefined,
    recordSamplingProbability: () => undefined,
    saveSnapshot: () => 0,
    loadSnapshot: () => undefined,
  };
}

test('crossing 80 % then 95 % of max_active_series records one warning each; staying above records nothing more', () => {
  const rules = budgetRules('    max_active_series: 20\n    action: drop\n');
  const store = recordingStore();
  const budgets = startBudgets({
    rules: () => rules,
    settings: { reportDrops: false, sweepIntervalMs: 3_600_000, snapshotIntervalMs: 3_600_000, maxTrackedSeriesPerTeam: 1000, maxMetricsPerTeam: 100, maxLabelTrackers: 100 },
    metrics: createSelfMetrics({ defaultMetrics: false }),
    logger: SILENT_LOGGER,
    store,
    now: () => T0,
  });
  const context = { now: () => T0, random: () => 0 };
  const sendUsers = (from: number, to: number): void => {
    const points = Array.from({ length: to - from }, (_, k) => intPoint({ user: `u${from + k}` }, 1, 2_000));
    runProcessors([budgets.processor], 'metrics', encodeRequest('metrics', request(resource(CHECKOUT, sumMetric('reqs', DELTA, points)))), context);
  };
  const warnings = (): string[] => store.violations.filter((v) => v.rule === 'warning_threshold').map((v) => v.labels?.threshold ?? '');
  try {
    sendUsers(0, 15); // 75 %
    budgets.sweep();
    assert.deepEqual(warnings(), []);
    sendUsers(15, 16); // 80 %
    budgets.sweep();
    assert.deepEqual(warnings(), ['0.8']);
    budgets.sweep();
    assert.deepEqual(warnings(), ['0.8'], 'still at 80 %: no second record');
    sendUsers(16, 19); // 95 %
    budgets.sweep();
    assert.deepEqual(warnings(), ['0.8', '0.95']);
  } finally {
    budgets.close();
  }
});
