/**
 * Cardinality budgets in a running Tollgate: the budget processor and its state, the periodic
 * sweep that expires series and refreshes the gauges and the usage store, and the snapshots
 * that carry the series state across restarts. The processor itself is pure; the timers and
 * the store live here.
 */
import type { CompiledRules } from '../rules/compiled.js';
import { BudgetState } from './processors/cardinality/budget-state.js';
import type { BudgetStateOptions } from './processors/cardinality/budget-state.js';
import { createCardinalityProcessor } from './processors/cardinality/budget-processor.js';
import type { BudgetOutcome, CardinalityProcessor, GlobalLimit } from './processors/cardinality/budget-processor.js';
import type { Logger } from './telemetry/logger.js';
import type { SelfMetrics } from './telemetry/metrics.js';
import type { UsageDelta, UsageRecorder } from './usage/accumulator.js';

export const BUDGET_SNAPSHOT_NAME = 'cardinality-budgets';
/** The active window when a team's budget does not set one (the rules default it to 1 h anyway). */
const DEFAULT_WINDOW_MS = 60 * 60 * 1000;
/** Per-metric series counts written to the store per team and sweep: the top of the list is what teams look at. */
const METRICS_RECORDED_PER_TEAM = 200;

/** Global budgets (collector/global-budgets): the processor's hook, and the points each team's usage reports count. */
export interface GlobalBudgetHook extends GlobalLimit {
  onPoints(team: string, outcome: BudgetOutcome, points: number): void;
}

export interface BudgetSettings extends BudgetStateOptions {
  readonly reportDrops: boolean;
  readonly sweepIntervalMs: number;
  readonly snapshotIntervalMs: number;
  /** Set when Kafka global budgets are configured; it rides in the settings so governance passes it through unchanged. */
  readonly global?: GlobalBudgetHook;
}

/** What the budgets need from the usage store: recording, and a place for snapshots. */
export interface BudgetStore extends UsageRecorder {
  saveSnapshot(name: string, bytes: Uint8Array): number;
  loadSnapshot(name: string): { readonly takenAt: number; readonly bytes: Uint8Array } | undefined;
  /** A budget exception's series limit for the team at `nowMs`, replacing the rules' (the usage store's exceptions). */
  activeLimitOverride?(team: string, nowMs: number): number | undefined;
}

export interface BudgetsOptions {
  readonly rules: () => CompiledRules;
  readonly settings: BudgetSettings;
  readonly metrics: SelfMetrics;
  readonly logger: Logger;
  readonly store?: BudgetStore;
  readonly now?: () => number;
}

export interface Budgets {
  readonly processor: CardinalityProcessor;
  readonly state: BudgetState;
  /** Expires series and refreshes gauges and the store now (also runs on its interval). */
  sweep(): void;
  /** Saves the series state now (also runs on its interval and at close). */
  snapshot(): void;
  close(): void;
}

/** How a budget outcome counts in the per-minute usage rows. */
function usageDelta(outcome: BudgetOutcome, points: number): UsageDelta {
  switch (outcome) {
    case 'dropped':
      return { itemsIn: points, dropped: points };
    case 'overflowed':
      return { itemsIn: points, passed: points, overflowed: points };
    default:
      return { itemsIn: points, passed: points };
  }
}

/** The state saved before the last stop (or crash), or a fresh one when there is none or it cannot be read. */
function restoreState(options: BudgetsOptions): BudgetState {
  const saved = options.store?.loadSnapshot(BUDGET_SNAPSHOT_NAME);
  if (!saved) return new BudgetState(options.settings);
  try {
    const state = BudgetState.deserialize(saved.bytes, options.settings);
    const series = state.allTeams().reduce((n, team) => n + team.table.size, 0);
    options.logger.info('cardinality state restored', { takenAt: new Date(saved.takenAt).toISOString(), teams: state.allTeams().length, series });
    return state;
  } catch (error) {
    options.logger.error('cardinality snapshot unreadable; starting with empty series tables', { error: error instanceof Error ? error.message : String(error) });
    return new BudgetState(options.settings);
  }
}

export function startBudgets(options: BudgetsOptions): Budgets {
  const { metrics, store, logger } = options;
  const now = options.now ?? Date.now;
  const state = restoreState(options);
  const processor = createCardinalityProcessor({
    rules: options.rules,
    state,
    reportDrops: options.settings.reportDrops,
    limitOverride: store?.activeLimitOverride ? (team, nowMs) => store.activeLimitOverride?.(team, nowMs) : undefined,
    globalLimit: options.settings.global,
    observer: {
      onPoints(team, outcome, points) {
        metrics.budgetPoints.inc({ team, outcome }, points);
        options.settings.global?.onPoints(team, outcome, points);
        store?.recordUsage(team, 'metrics', usageDelta(outcome, points));
      },
      onViolation(violation) {
        metrics.budgetViolations.inc({ team: violation.team, rule: violation.rule, action: violation.action, mode: violation.mode }, violation.count);
        if (!store) return;
        const row = {
          team: violation.team,
          metric: violation.metric,
          rule: violation.rule,
          action: violation.mode === 'audit' ? `audit:${violation.action}` : violation.action,
        };
        // The first record carries the count; the request's other samples follow with count 0,
        // so a violation row keeps a few label sets of what exploded (the store caps them), not one.
        store.recordViolation({ ...row, count: violation.count, labels: violation.samples[0] });
        for (const labels of violation.samples.slice(1)) store.recordViolation({ ...row, count: 0, labels });
      },
    },
  });

  const windowOf = (team: string): number => options.rules().teams.find((t) => t.name === team)?.budgets.metrics?.activeWindowMs ?? DEFAULT_WINDOW_MS;

  /** Label sketches rotate with the shortest active window among the budgets (1 h by default). */
  const labelWindow = (): number => {
    const windows = options.rules().teams.flatMap((t) => (t.budgets.metrics ? [t.budgets.metrics.activeWindowMs] : []));
    return windows.length > 0 ? Math.min(...windows) : DEFAULT_WINDOW_MS;
  };

  /** Per team, the highest warning threshold its utilization had reached at the last sweep. */
  const thresholdReached = new Map<string, number>();

  /**
   * A team crossing a warning threshold upwards (80 %, 95 % by default) is logged and recorded
   * as a violation of rule `warning_threshold` with action `warn`, once per crossing.
   */
  function noteWarningThreshold(team: string, active: number, limit: number, thresholds: readonly number[]): void {
    const utilization = active / limit;
    const reached = thresholds.filter((t) => utilization >= t).reduce((highest, t) => Math.max(highest, t), 0);
    const before = thresholdReached.get(team) ?? 0;
    thresholdReached.set(team, reached);
    if (reached <= before) return;
    logger.warn('team crossed a warning threshold of its series budget', { team, active, limit, threshold: reached });
    store?.recordViolation({ team, metric: '*', rule: 'warning_threshold', action: 'warn', count: 1, labels: { threshold: String(reached), active: String(active), limit: String(limit) } });
  }

  function sweep(): void {
    const at = now();
    const expired = state.sweep(at, windowOf);
    state.rotateLabelsIfDue(at, labelWindow());
    processor.ledger.sweep(at, DEFAULT_WINDOW_MS);
    if (expired > 0) logger.debug('series expired', { expired });
    for (const team of options.rules().teams) {
      const budget = team.budgets.metrics;
      if (!budget) continue;
      const series = state.team(team.name);
      // The limit in force, as the processor applies it: a budget exception's, else the rules'.
      const limit = store?.activeLimitOverride?.(team.name, at) ?? budget.maxActiveSeries;
      metrics.teamActiveSeries.set({ team: team.name }, series.table.size);
      if (limit !== undefined) metrics.teamSeriesLimit.set({ team: team.name }, limit);
      store?.recordTeamSeries(team.name, series.table.size);
      if (limit !== undefined) noteWarningThreshold(team.name, series.table.size, limit, budget.warningThresholds);
      const byMetric = series.metricNames.map((name, number) => ({ name, active: series.activeSeriesOf(number) })).filter((m) => m.active > 0);
      byMetric.sort((a, b) => b.active - a.active);
      for (const metric of byMetric.slice(0, METRICS_RECORDED_PER_TEAM)) store?.recordMetricSeries(team.name, metric.name, metric.active);
    }
    for (const entry of state.labels.entries()) store?.recordLabelEstimate(entry.team, entry.metric, entry.label, Math.round(entry.sketch.estimate()));
  }

  function snapshot(): void {
    if (!store) return;
    try {
      store.saveSnapshot(BUDGET_SNAPSHOT_NAME, state.serialize());
    } catch (error) {
      logger.error('cardinality snapshot failed', { error: error instanceof Error ? error.message : String(error) });
    }
  }

  const sweepTimer = setInterval(sweep, options.settings.sweepIntervalMs);
  sweepTimer.unref();
  const snapshotTimer = setInterval(snapshot, options.settings.snapshotIntervalMs);
  snapshotTimer.unref();

  return {
    processor,
    state,
    sweep,
    snapshot,
    close() {
      clearInterval(sweepTimer);
      clearInterval(snapshotTimer);
      sweep();
      snapshot();
    },
  };
}
