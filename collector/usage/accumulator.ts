/**
 * The in-memory accumulator the hot path writes into. Every record call is synchronous, does no
 * I/O and touches one Map entry: plain counters keyed by minute × team × signal (and the like),
 * which the store drains and writes to SQLite in one transaction per flush.
 *
 * Memory is bounded: the accumulator holds at most `maxKeys` distinct keys between two drains.
 * Once full, records for keys it already holds still count, and a record that would need a new
 * key is refused and counted per kind (`refused()`), so a flood of new teams, metrics or labels
 * cannot grow the process; the self-metrics report the refusals. Values that are not finite,
 * non-negative numbers (or, for a sampling probability, not in [0, 1]) are refused and counted
 * too (`invalid()`): a NaN would turn a SQL sum into NULL for good.
 */
import type { ActionCount } from '../governance.js';
import type { Signal } from '../otlp/signal.js';
import type { LabelSet } from './samples.js';
import { MAX_VIOLATION_SAMPLES, mergeSamples, serializeSample } from './samples.js';
import { minuteOf } from './time.js';

/** What happened to one team's items of one signal (fields left out count 0). */
export interface UsageDelta {
  /** Items received (data points, spans, log records). */
  readonly itemsIn?: number;
  /** Items forwarded downstream. */
  readonly passed?: number;
  /** Items dropped by a policy, the budget or the sampler. */
  readonly dropped?: number;
  /** Data points folded into an overflow series. */
  readonly overflowed?: number;
  /** Bytes attributed to the team, as the meter measures them (bytes in). */
  readonly bytes?: number;
  /** Bytes of the items kept (forwarded) by the sampler, measured like `bytes`. */
  readonly bytesKept?: number;
  /**
   * Sum of the adjusted counts of the kept items (what they stand for: 1 / their sampling
   * probability). A float; with the item counts it tells how much traffic the kept items represent.
   */
  readonly adjustedCount?: number;
}

export interface ViolationInput {
  readonly team: string;
  readonly metric: string;
  /** The budget rule that was hit, e.g. `max_active_series` or `per_label:user_id`. */
  readonly rule: string;
  /** What was done: `drop`, `overflow`, `strip_label`, or what audit mode would have done. */
  readonly action: string;
  /** Items concerned (default 1). */
  readonly count?: number;
  /** Labels of one offending series; values of denied keys must already be redacted. */
  readonly labels?: LabelSet;
}

/** An attribute policy tally line (collector/governance.ts); the team is often unknown there. */
export interface ActionCountInput extends ActionCount {
  readonly team?: string;
}

/** The write side handed to the pipeline: synchronous, no I/O, never throws on bad values. */
export interface UsageRecorder {
  recordUsage(team: string, signal: Signal, delta: UsageDelta): void;
  /** The team's active-series count now (a gauge: the last value in a minute is kept). */
  recordTeamSeries(team: string, active: number): void;
  /** One metric's active-series count now. Report every tracked metric each flush: the reader treats the latest minute as the full picture. */
  recordMetricSeries(team: string, metric: string, active: number): void;
  /** Latest distinct-value estimate of one label of one metric. */
  recordLabelEstimate(team: string, metric: string, label: string, estimate: number): void;
  recordViolation(violation: ViolationInput): void;
  recordActionCounts(counts: readonly ActionCountInput[]): void;
  /**
   * The effective sampling probability (0 to 1) now applied to a team's signal: a gauge, the last
   * value recorded in a minute is kept. Record it when it is recomputed or once per request.
   */
  recordSamplingProbability(team: string, signal: Signal, probability: number): void;
}

export interface UsageRow {
  minute: number;
  team: string;
  signal: Signal;
  itemsIn: number;
  passed: number;
  dropped: number;
  overflowed: number;
  bytes: number;
  bytesKept: number;
  adjustedCount: number;
}

export interface TeamSeriesRow {
  minute: number;
  team: string;
  active: number;
  /** When the value was recorded; the latest wins within a minute. */
  at: number;
}

export interface MetricSeriesRow extends TeamSeriesRow {
  metric: string;
}

export interface LabelEstimateRow {
  team: string;
  metric: string;
  label: string;
  estimate: number;
  at: number;
}

export interface ViolationRow {
  minute: number;
  team: string;
  metric: string;
  rule: string;
  action: string;
  count: number;
  firstSeen: number;
  lastSeen: number;
  /** Canonical JSON objects, at most MAX_VIOLATION_SAMPLES. */
  samples: string[];
}

export interface SamplingProbabilityRow {
  minute: number;
  team: string;
  signal: Signal;
  probability: number;
  /** When the value was recorded; the latest wins within a minute. */
  at: number;
}

export interface PolicyActionRow {
  minute: number;
  /** '' when the tally does not know the team. */
  team: string;
  signal: Signal;
  policy: string;
  action: string;
  mode: string;
  count: number;
}

/** Everything recorded since the previous drain. */
export interface UsageBatch {
  readonly usage: readonly UsageRow[];
  readonly teamSeries: readonly TeamSeriesRow[];
  readonly metricSeries: readonly MetricSeriesRow[];
  readonly labelEstimates: readonly LabelEstimateRow[];
  readonly violations: readonly ViolationRow[];
  readonly policyActions: readonly PolicyActionRow[];
  readonly samplingProbabilities: readonly SamplingProbabilityRow[];
}

export type AccumulatorKind = 'usage' | 'team_series' | 'metric_series' | 'label_estimate' | 'violation' | 'policy_action' | 'sampling_probability';

export interface UsageAccumulator extends UsageRecorder {
  /** Hands over everything recorded so far and starts empty. */
  drain(): UsageBatch;
  /** Puts a batch that could not be written back (sums add up, newer gauge values win), within the key cap. */
  restore(batch: UsageBatch): void;
  pendingKeys(): number;
  /** Records refused because the key cap was reached, per kind, since creation. */
  refused(): Readonly<Record<AccumulatorKind, number>>;
  /** Records refused for a value that is not a finite, non-negative number, since creation. */
  invalid(): number;
}

export interface UsageAccumulatorParams {
  readonly now: () => number;
  readonly maxKeys: number;
}

export function batchRowCount(batch: UsageBatch): number {
  return (
    batch.usage.length +
    batch.teamSeries.length +
    batch.metricSeries.length +
    batch.labelEstimates.length +
    batch.violations.length +
    batch.policyActions.length +
    batch.samplingProbabilities.length
  );
}

function isCount(value: number): boolean {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

function isProbability(value: number): boolean {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= 1;
}

// Keys join their parts with NUL, which no team, metric or label name contains in practice and
// which cannot make two different part lists collide unless a part itself holds a NUL.
const usageKey = (r: { minute: number; team: string; signal: string }): string => `${r.minute}\u0000${r.team}\u0000${r.signal}`;
const teamSeriesKey = (r: { minute: number; team: string }): string => `${r.minute}\u0000${r.team}`;
const metricSeriesKey = (r: { minute: number; team: string; metric: string }): string => `${r.minute}\u0000${r.team}\u0000${r.metric}`;
const labelKey = (r: { team: string; metric: string; label: string }): string => `${r.team}\u0000${r.metric}\u0000${r.label}`;
const violationKey = (r: { minute: number; team: string; metric: string; rule: string; action: string }): string =>
  `${r.minute}\u0000${r.team}\u0000${r.metric}\u0000${r.rule}\u0000${r.action}`;
const actionKey = (r: { minute: number; team: string; signal: string; policy: string; action: string; mode: string }): string =>
  `${r.minute}\u0000${r.team}\u0000${r.signal}\u0000${r.policy}\u0000${r.action}\u0000${r.mode}`;

interface Maps {
  readonly usage: Map<string, UsageRow>;
  readonly teamSeries: Map<string, TeamSeriesRow>;
  readonly metricSeries: Map<string, MetricSeriesRow>;
  readonly labelEstimates: Map<string, LabelEstimateRow>;
  readonly violations: Map<string, ViolationRow>;
  readonly policyActions: Map<string, PolicyActionRow>;
  readonly samplingProbabilities: Map<string, SamplingProbabilityRow>;
}

function emptyMaps(): Maps {
  return {
    usage: new Map(),
    teamSeries: new Map(),
    metricSeries: new Map(),
    labelEstimates: new Map(),
    violations: new Map(),
    policyActions: new Map(),
    samplingProbabilities: new Map(),
  };
}

export function createUsageAccumulator(params: UsageAccumulatorParams): UsageAccumulator {
  const { now, maxKeys } = params;
  let maps = emptyMaps();
  let keys = 0;
  let invalid = 0;
  const refused: Record<AccumulatorKind, number> = {
    usage: 0,
    team_series: 0,
    metric_series: 0,
    label_estimate: 0,
    violation: 0,
    policy_action: 0,
    sampling_probability: 0,
  };

  /** Claims room for one new key, or counts the refusal. */
  const room = (kind: AccumulatorKind): boolean => {
    if (keys >= maxKeys) {
      refused[kind]++;
      return false;
    }
    keys++;
    return true;
  };

  const addUsage = (row: UsageRow): void => {
    const key = usageKey(row);
    const seen = maps.usage.get(key);
    if (seen) {
      seen.itemsIn += row.itemsIn;
      seen.passed += row.passed;
      seen.dropped += row.dropped;
      seen.overflowed += row.overflowed;
      seen.bytes += row.bytes;
      seen.bytesKept += row.bytesKept;
      seen.adjustedCount += row.adjustedCount;
    } else if (room('usage')) {
      maps.usage.set(key, { ...row });
    }
  };

  /** Gauges keep the value recorded last; a restored (older) value never replaces a newer one. */
  const setGauge = <T extends { at: number }>(map: Map<string, T>, key: string, row: T, kind: AccumulatorKind): void => {
    const seen = map.get(key);
    if (seen) {
      if (row.at >= seen.at) map.set(key, { ...row });
    } else if (room(kind)) {
      map.set(key, { ...row });
    }
  };

  const addViolation = (row: ViolationRow): void => {
    const key = violationKey(row);
    const seen = maps.violations.get(key);
    if (seen) {
      seen.count += row.count;
      seen.firstSeen = Math.min(seen.firstSeen, row.firstSeen);
      seen.lastSeen = Math.max(seen.lastSeen, row.lastSeen);
      mergeSamples(seen.samples, row.samples);
    } else if (room('violation')) {
      maps.violations.set(key, { ...row, samples: mergeSamples([], row.samples) });
    }
  };

  const addAction = (row: PolicyActionRow): void => {
    const key = actionKey(row);
    const seen = maps.policyActions.get(key);
    if (seen) seen.count += row.count;
    else if (room('policy_action')) maps.policyActions.set(key, { ...row });
  };

  return {
    recordUsage(team, signal, delta) {
      const { itemsIn = 0, passed = 0, dropped = 0, overflowed = 0, bytes = 0, bytesKept = 0, adjustedCount = 0 } = delta;
      if (!(isCount(itemsIn) && isCount(passed) && isCount(dropped) && isCount(overflowed) && isCount(bytes) && isCount(bytesKept) && isCount(adjustedCount))) {
        invalid++;
        return;
      }
      addUsage({ minute: minuteOf(now()), team, signal, itemsIn, passed, dropped, overflowed, bytes, bytesKept, adjustedCount });
    },

    recordTeamSeries(team, active) {
      if (!isCount(active)) {
        invalid++;
        return;
      }
      const at = now();
      const row = { minute: minuteOf(at), team, active, at };
      setGauge(maps.teamSeries, teamSeriesKey(row), row, 'team_series');
    },

    recordMetricSeries(team, metric, active) {
      if (!isCount(active)) {
        invalid++;
        return;
      }
      const at = now();
      const row = { minute: minuteOf(at), team, metric, active, at };
      setGauge(maps.metricSeries, metricSeriesKey(row), row, 'metric_series');
    },

    recordLabelEstimate(team, metric, label, estimate) {
      if (!isCount(estimate)) {
        invalid++;
        return;
      }
      const row = { team, metric, label, estimate, at: now() };
      setGauge(maps.labelEstimates, labelKey(row), row, 'label_estimate');
    },

    recordViolation(violation) {
      const count = violation.count ?? 1;
      if (!isCount(count)) {
        invalid++;
        return;
      }
      const at = now();
      const minute = minuteOf(at);
      const { team, metric, rule, action, labels } = violation;
      const key = violationKey({ minute, team, metric, rule, action });
      let row = maps.violations.get(key);
      if (!row) {
        if (!room('violation')) return;
        row = { minute, team, metric, rule, action, count: 0, firstSeen: at, lastSeen: at, samples: [] };
        maps.violations.set(key, row);
      }
      row.count += count;
      row.lastSeen = Math.max(row.lastSeen, at);
      // Serializing is the only costly part, so it stops once the row has its samples.
      if (labels !== undefined && row.samples.length < MAX_VIOLATION_SAMPLES) {
        const sample = serializeSample(labels);
        if (sample !== undefined) mergeSamples(row.samples, [sample]);
      }
    },

    recordActionCounts(counts) {
      const minute = minuteOf(now());
      for (const c of counts) {
        if (!isCount(c.count)) {
          invalid++;
          continue;
        }
        addAction({ minute, team: c.team ?? '', signal: c.signal, policy: c.policy, action: c.action, mode: c.mode, count: c.count });
      }
    },

    recordSamplingProbability(team, signal, probability) {
      if (!isProbability(probability)) {
        invalid++;
        return;
      }
      const at = now();
      const row = { minute: minuteOf(at), team, signal, probability, at };
      setGauge(maps.samplingProbabilities, usageKey(row), row, 'sampling_probability');
    },

    drain() {
      const batch: UsageBatch = {
        usage: [...maps.usage.values()],
        teamSeries: [...maps.teamSeries.values()],
        metricSeries: [...maps.metricSeries.values()],
        labelEstimates: [...maps.labelEstimates.values()],
        violations: [...maps.violations.values()],
        policyActions: [...maps.policyActions.values()],
        samplingProbabilities: [...maps.samplingProbabilities.values()],
      };
      maps = emptyMaps();
      keys = 0;
      return batch;
    },

    restore(batch) {
      for (const row of batch.usage) addUsage(row);
      for (const row of batch.teamSeries) setGauge(maps.teamSeries, teamSeriesKey(row), row, 'team_series');
      for (const row of batch.metricSeries) setGauge(maps.metricSeries, metricSeriesKey(row), row, 'metric_series');
      for (const row of batch.labelEstimates) setGauge(maps.labelEstimates, labelKey(row), row, 'label_estimate');
      for (const row of batch.violations) addViolation(row);
      for (const row of batch.policyActions) addAction(row);
      for (const row of batch.samplingProbabilities) setGauge(maps.samplingProbabilities, usageKey(row), row, 'sampling_probability');
    },

    pendingKeys: () => keys,
    refused: () => ({ ...refused }),
    invalid: () => invalid,
  };
}
