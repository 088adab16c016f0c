import type { CompiledRules, MetricBudget, PolicyMode } from '../../../rules/compiled.js';
import { appendAttribute, dropAttribute, dropItem } from '../../otlp/edits.js';
import { decodeMessage, encodeMessage } from '../../otlp/object-codec.js';
import type { OtlpObject } from '../../otlp/object-codec.js';
import type { EditList } from '../../otlp/rewriter.js';
import { METRIC_DATA } from '../../otlp/wire-index.js';
import type { WireIndex } from '../../otlp/wire-index.js';
import type { Processor, ProcessorContext, Rejection } from '../../pipeline/processor.js';
import { teamsOfResourceGroups } from '../team-attribution.js';
import type { BudgetState, TeamSeries } from './budget-state.js';
import { CumulativeOverflowLedger, cumulativeOverflowPoint, cumulativeVector } from './overflow-ledger.js';
import { labelValueHash, SeriesIdHasher } from './series-id.js';

/**
 * Cardinality budgets on the wire. For each data point, after the attribute policies ran: its
 * team (from the resource), its series id, and one lookup in the team's series table. A series
 * already active passes (its last-seen time is refreshed) — a live series is never evicted. A
 * new series is admitted while every cap has room: the team's `max_active_series`, the metric's
 * cap (per-metric override, else the team default) and the per-label distinct-value caps. A new
 * series that does not fit gets the budget's action — drop, overflow or strip_label — or, in
 * audit mode, is only recorded, exactly as enforce would have recorded it.
 */

export const OVERFLOW_ATTRIBUTE_KEY = 'otel.metric.overflow';
/** AnyValue{bool_value: true}: field 2, varint 1. */
const TRUE_VALUE = Uint8Array.of(0x10, 0x01);
const OVERFLOW_KEY_BYTES = new TextEncoder().encode(OVERFLOW_ATTRIBUTE_KEY);
const OVERFLOW_ATTRIBUTES: readonly OtlpObject[] = [{ key: OVERFLOW_ATTRIBUTE_KEY, value: { boolValue: true } }];
const TEMPORALITY_CUMULATIVE = 2;
/** Sample label sets kept per violation per request: enough to show what exploded. */
const SAMPLES_PER_VIOLATION = 3;

/** Which cap refused a new series. */
export type BudgetRule = 'max_active_series' | 'max_series_per_metric' | 'max_distinct_values' | 'series_table_full';
/** What happened to a point: passed (existing series), admitted (new series), or an action on a refused one. */
export type BudgetOutcome = 'passed' | 'admitted' | 'dropped' | 'overflowed' | 'stripped' | 'audited';

export interface BudgetViolation {
  readonly team: string;
  readonly metric: string;
  readonly rule: BudgetRule;
  /** The budget's action (what enforce does), also in audit mode. */
  readonly action: MetricBudget['action'];
  readonly mode: PolicyMode;
  readonly count: number;
  readonly samples: readonly Readonly<Record<string, string>>[];
}

export interface CardinalityObserver {
  /** Points per team and outcome in one request. */
  onPoints(team: string, outcome: BudgetOutcome, points: number): void;
  onViolation(violation: BudgetViolation): void;
}

export interface CardinalityOptions {
  readonly rules: () => CompiledRules;
  readonly state: BudgetState;
  /** Report points dropped by a budget to the client as OTLP partial success (default off: a budget is the platform's business). */
  readonly reportDrops?: boolean;
  readonly observer?: CardinalityObserver;
  /** Refused cumulative streams whose last values are kept for the overflow series (bounded memory). */
  readonly maxOverflowStreams?: number;
}

export interface CardinalityProcessor extends Processor {
  /** True when the last request had points overflowed or labels stripped, so equal series may need merging. */
  readonly pointAttributesChanged: boolean;
  readonly ledger: CumulativeOverflowLedger;
}

/** The budget a metric of a team runs under in this request, resolved once per (metric row, team). */
interface MetricContext {
  readonly team: TeamSeries;
  readonly budget: MetricBudget;
  readonly metricName: string;
  readonly metricNumber: number;
  readonly metricCap: number;
  readonly mode: PolicyMode;
}

type Tally = Map<string, Map<BudgetOutcome, number>>;

/** The point's start time (fixed64 nanoseconds as the codec writes them: a decimal string). */
function startTimeOf(point: OtlpObject): string {
  const time = point.startTimeUnixNano ?? point.timeUnixNano;
  return typeof time === 'string' ? time : '0';
}

function metricCapOf(budget: MetricBudget, name: string): number {
  for (const override of budget.perMetric) if (override.metric.test(name)) return override.maxActiveSeries;
  return budget.defaultMaxSeriesPerMetric ?? Infinity;
}

/** Keys and values of a point's attributes, for violation samples (values as text; policies already redacted what they deny). */
function labelSample(ix: WireIndex, node: number): Record<string, string> {
  const sample: Record<string, string> = {};
  for (let a = ix.nodeFirstAttr[node]; a >= 0; a = ix.attrNext[a]) sample[ix.attrKey(a)] = ix.text(ix.attrValueStart[a], ix.attrValueEnd[a]);
  return sample;
}

export function createCardinalityProcessor(options: CardinalityOptions): CardinalityProcessor {
  const { state } = options;
  const hasher = new SeriesIdHasher();
  const ledger = new CumulativeOverflowLedger(options.maxOverflowStreams ?? 100_000);
  const id = new Uint32Array(2);
  const valueHash = new Uint32Array(2);
  let teamsOfGroups: Int32Array = new Int32Array(64);
  let exclude = new Uint8Array(4096);
  let pointAttributesChanged = false;

  function process(ix: WireIndex, edits: EditList, context: ProcessorContext): Rejection | undefined {
    pointAttributesChanged = false;
    if (ix.signal !== 'metrics' || ix.itemCount === 0) return undefined;
    const rules = options.rules();
    if (!rules.teams.some((team) => team.budgets.metrics !== undefined)) return undefined;
    teamsOfGroups = teamsOfResourceGroups(ix, rules, teamsOfGroups);
    hasher.prepare(ix);
    const nowMs = context.now();
    const tally: Tally = new Map();
    const violations = new Map<string, { violation: Omit<BudgetViolation, 'count' | 'samples'>; count: number; samples: Record<string, string>[] }>();
    /** Per metric row: the last refused cumulative point, which carries the overflow totals. */
    const carriers = new Map<number, { item: number; point: OtlpObject }>();
    let dropped = 0;
    let metricRow = -1;
    let teamIndex = -1;
    let metric: MetricContext | undefined;

    const count = (team: string, outcome: BudgetOutcome): void => {
      let byOutcome = tally.get(team);
      if (!byOutcome) tally.set(team, (byOutcome = new Map()));
      byOutcome.set(outcome, (byOutcome.get(outcome) ?? 0) + 1);
    };

    const recordViolation = (m: MetricContext, rule: BudgetRule, node: number): void => {
      const key = `${m.team.team}\u0000${m.metricName}\u0000${rule}`;
      let entry = violations.get(key);
      if (!entry) {
        entry = { violation: { team: m.team.team, metric: m.metricName, rule, action: m.budget.action, mode: m.mode }, count: 0, samples: [] };
        violations.set(key, entry);
      }
      entry.count++;
      if (entry.samples.length < SAMPLES_PER_VIOLATION) entry.samples.push(labelSample(ix, node));
    };

    for (let i = 0; i < ix.itemCount; i++) {
      const m = ix.itemParent[i];
      const t = teamsOfGroups[ix.itemResourceGroup[i]];
      if (m !== metricRow || t !== teamIndex) {
        metricRow = m;
        teamIndex = t;
        metric = resolveMetric(ix, rules, m, t);
      }
      if (!metric) continue;
      hasher.seriesId(ix, i, id);
      if (metric.team.table.touch(id[0], id[1], nowMs)) {
        count(metric.team.team, 'passed');
        continue;
      }
      const node = ix.itemNode[i];
      const refusedBy = capRefusing(ix, metric, node) ?? admit(ix, metric, node, nowMs);
      if (refusedBy === undefined) {
        count(metric.team.team, 'admitted');
        continue;
      }
      recordViolation(metric, refusedBy, node);
      if (metric.mode === 'audit') {
        count(metric.team.team, 'audited');
        continue;
      }
      const outcome = enforce(ix, edits, metric, i, nowMs, carriers);
      count(metric.team.team, outcome);
      if (outcome === 'dropped') dropped++;
    }
    finishCarriers(ix, edits, carriers);
    report(tally, violations);
    if (!options.reportDrops || dropped === 0) return undefined;
    return { items: dropped, message: `${dropped} data point${dropped === 1 ? '' : 's'} dropped: new series over the team's cardinality budget` };
  }

  function resolveMetric(ix: WireIndex, rules: CompiledRules, m: number, t: number): MetricContext | undefined {
    const team = t >= 0 ? rules.teams[t] : undefined;
    const budget = team?.budgets.metrics;
    if (!team || !budget) return undefined;
    const metricName = ix.text(ix.metricNameStart[m], ix.metricNameEnd[m]);
    if (budget.exemptMetrics?.test(metricName)) return undefined;
    const teamState = state.team(team.name);
    return { team: teamState, budget, metricName, metricNumber: teamState.metricNumber(metricName), metricCap: metricCapOf(budget, metricName), mode: budget.mode };
  }

  /** The cap a new series of this point would break, if any. */
  function capRefusing(ix: WireIndex, m: MetricContext, node: number): BudgetRule | undefined {
    if (m.budget.maxActiveSeries !== undefined && m.team.table.size >= m.budget.maxActiveSeries) return 'max_active_series';
    if (m.team.activeSeriesOf(m.metricNumber) >= m.metricCap) return 'max_series_per_metric';
    // A HyperLogLog cannot say whether one value is new, only how many there are: once a label
    // has its cap of distinct values, new series carrying that label are refused.
    for (const cap of m.budget.perLabel) {
      for (let a = ix.nodeFirstAttr[node]; a >= 0; a = ix.attrNext[a]) {
        if (ix.attrKey(a) === cap.label && state.distinctValues(m.team.team, m.metricName, cap.label) >= cap.maxDistinctValues) return 'max_distinct_values';
      }
    }
    return undefined;
  }

  /** Inserts the new series (id in `id`) and counts its label values; a full table refuses it. */
  function admit(ix: WireIndex, m: MetricContext, node: number, nowMs: number): BudgetRule | undefined {
    if (m.team.table.insert(id[0], id[1], m.metricNumber, nowMs) === 'full') return 'series_table_full';
    trackLabels(ix, m, node);
    return undefined;
  }

  /** Feeds each label value of a newly admitted series to its (team, metric, label) sketch. */
  function trackLabels(ix: WireIndex, m: MetricContext, node: number): void {
    for (let a = ix.nodeFirstAttr[node]; a >= 0; a = ix.attrNext[a]) {
      const tracker = state.labels.tracker(m.team.team, m.metricName, ix.attrKey(a));
      if (!tracker) continue;
      labelValueHash(ix, a, valueHash);
      tracker.add(valueHash[0], valueHash[1]);
    }
  }

  function enforce(ix: WireIndex, edits: EditList, m: MetricContext, item: number, nowMs: number, carriers: Map<number, { item: number; point: OtlpObject }>): BudgetOutcome {
    switch (m.budget.action) {
      case 'drop':
        dropItem(ix, edits, item);
        return 'dropped';
      case 'overflow':
        return overflow(ix, edits, m, item, nowMs, carriers);
      case 'strip_label':
        if (stripLabel(ix, edits, m, item, nowMs)) return 'stripped';
        dropItem(ix, edits, item);
        return 'dropped';
    }
  }

  /**
   * Folds the point into the metric's overflow series. Delta sums, histograms and gauges only
   * need their attributes replaced: the re-aggregation that runs next merges equal series
   * (sums add, histograms merge bucket-wise, gauges keep the latest). Cumulative points go
   * through the ledger, and one point per metric and request carries the running totals.
   */
  function overflow(ix: WireIndex, edits: EditList, m: MetricContext, item: number, nowMs: number, carriers: Map<number, { item: number; point: OtlpObject }>): BudgetOutcome {
    const node = ix.itemNode[item];
    const metricRow = ix.itemParent[item];
    const kind = ix.metricDataKind[metricRow];
    const cumulative = ix.metricTemporality[metricRow] === TEMPORALITY_CUMULATIVE;
    if (!cumulative) {
      for (let a = ix.nodeFirstAttr[node]; a >= 0; a = ix.attrNext[a]) dropAttribute(ix, edits, a);
      appendAttribute(ix, edits, node, OVERFLOW_KEY_BYTES, TRUE_VALUE);
      pointAttributesChanged = true;
      return 'overflowed';
    }
    const foldKind = kind === METRIC_DATA.SUM ? 'sum' : kind === METRIC_DATA.HISTOGRAM ? 'histogram' : undefined;
    const point = foldKind && decodeMessage(foldKind === 'sum' ? 'NumberDataPoint' : 'HistogramDataPoint', ix.buf.subarray(ix.nodePayloadStart[node], ix.nodeEnd[node]));
    const shaped = point && foldKind && cumulativeVector(point, foldKind);
    const folded = shaped && ledger.fold(`${m.team.team}\u0000${m.metricName}`, `${id[0]}:${id[1]}`, shaped.vector, shaped.shape, startTimeOf(point), nowMs);
    if (!folded || !point || !foldKind) {
      dropItem(ix, edits, item);
      return 'dropped';
    }
    const previous = carriers.get(metricRow);
    if (previous) dropItem(ix, edits, previous.item);
    carriers.set(metricRow, { item, point: cumulativeOverflowPoint(point, foldKind, folded, OVERFLOW_ATTRIBUTES) });
    return 'overflowed';
  }

  /** Replaces each carrier's payload with its overflow point (one per cumulative metric row). */
  function finishCarriers(ix: WireIndex, edits: EditList, carriers: Map<number, { item: number; point: OtlpObject }>): void {
    for (const [metricRow, carrier] of carriers) {
      const node = ix.itemNode[carrier.item];
      const message = ix.metricDataKind[metricRow] === METRIC_DATA.SUM ? 'NumberDataPoint' : 'HistogramDataPoint';
      edits.replace(node, ix.nodePayloadStart[node], ix.nodeEnd[node], encodeMessage(message, carrier.point));
    }
  }

  /**
   * Removes the point's label with the most distinct values in this metric, and admits the
   * series that is left if it exists or fits. False when nothing can be stripped or the
   * stripped series does not fit either.
   */
  function stripLabel(ix: WireIndex, edits: EditList, m: MetricContext, item: number, nowMs: number): boolean {
    const node = ix.itemNode[item];
    let worst = -1;
    let worstDistinct = 0;
    for (let a = ix.nodeFirstAttr[node]; a >= 0; a = ix.attrNext[a]) {
      const distinct = state.distinctValues(m.team.team, m.metricName, ix.attrKey(a));
      if (distinct <= worstDistinct) continue;
      worst = a;
      worstDistinct = distinct;
    }
    if (worst < 0) return false;
    if (exclude.length < ix.attrCount) exclude = new Uint8Array(ix.attrCount * 2);
    exclude[worst] = 1;
    hasher.seriesId(ix, item, id, 0, exclude);
    exclude[worst] = 0;
    const fits = m.team.table.touch(id[0], id[1], nowMs) || (capRefusingStripped(m) === undefined && m.team.table.insert(id[0], id[1], m.metricNumber, nowMs) === 'inserted');
    if (!fits) return false;
    dropAttribute(ix, edits, worst);
    pointAttributesChanged = true;
    return true;
  }

  function capRefusingStripped(m: MetricContext): BudgetRule | undefined {
    if (m.budget.maxActiveSeries !== undefined && m.team.table.size >= m.budget.maxActiveSeries) return 'max_active_series';
    if (m.team.activeSeriesOf(m.metricNumber) >= m.metricCap) return 'max_series_per_metric';
    return undefined;
  }

  function report(tally: Tally, violations: Map<string, { violation: Omit<BudgetViolation, 'count' | 'samples'>; count: number; samples: Record<string, string>[] }>): void {
    const observer = options.observer;
    if (!observer) return;
    for (const [team, byOutcome] of tally) for (const [outcome, points] of byOutcome) observer.onPoints(team, outcome, points);
    for (const { violation, count, samples } of violations.values()) observer.onViolation({ ...violation, count, samples });
  }

  return {
    name: 'cardinality_budget',
    signals: ['metrics'],
    process,
    get pointAttributesChanged() {
      return pointAttributesChanged;
    },
    ledger,
  };
}
