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
export type BudgetRule = 'max_active_series' | 'global_max_active_series' | 'max_series_per_metric' | 'max_distinct_values' | 'series_table_full';
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

/**
 * A team budget shared with other sidecars (collector/global-budgets): asked only for series
 * that would be new, after the local caps had room.
 */
export interface GlobalLimit {
  /** true: this sidecar may admit one more new series of the team; false: the team is at its global budget; undefined: no fresh global state, local limits only. */
  admits(team: string, nowMs: number): boolean | undefined;
  /** A new series of the team was admitted (counted against this sidecar's share). */
  onAdmitted(team: string): void;
}

export interface CardinalityOptions {
  readonly rules: () => CompiledRules;
  readonly state: BudgetState;
  /** Report points dropped by a budget to the client as OTLP partial success (default off: a budget is the platform's business). */
  readonly reportDrops?: boolean;
  readonly observer?: CardinalityObserver;
  /** Refused cumulative streams whose last values are kept for the overflow series (bounded memory). */
  readonly maxOverflowStreams?: number;
  /**
   * A team's series budget in force at `nowMs` in place of the rules' `max_active_series` (a
   * budget exception), or undefined to keep the rules' limit. Called once per (metric, team) run
   * of a request, so it must be cheap and synchronous.
   */
  readonly limitOverride?: (team: string, nowMs: number) => number | undefined;
  /** The team's global budget across sidecars, when Kafka global budgets are configured. */
  readonly globalLimit?: GlobalLimit;
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
  /** The team's series cap for this request: a budget exception's, else the rules' (undefined: none). */
  readonly maxActiveSeries: number | undefined;
  readonly metricName: string;
  readonly metricNumber: number;
  readonly metricCap: number;
  readonly mode: PolicyMode;
}

const OUTCOMES: readonly BudgetOutcome[] = ['passed', 'admitted', 'dropped', 'overflowed', 'stripped', 'audited'];
const OUTCOME_INDEX: Readonly<Record<BudgetOutcome, number>> = { passed: 0, admitted: 1, dropped: 2, overflowed: 3, stripped: 4, audited: 5 };

/** A fixed64 time field of a decoded point (nanoseconds as the codec writes them: a decimal string), '' when absent. */
function timeField(point: OtlpObject, field: 'startTimeUnixNano' | 'timeUnixNano'): string {
  const time = point[field];
  return typeof time === 'string' ? time : '';
}

/**
 * The point that will carry an overflow series' cumulative totals in this request: the refused
 * point with the latest time (the totals include every fold of the request, so they are stated
 * as of the latest of them). The other refused points of the series are dropped.
 */
interface Carrier {
  item: number;
  point: OtlpObject;
  time: bigint;
  readonly kind: 'sum' | 'histogram';
}

function metricCapOf(budget: MetricBudget, name: string): number {
  for (const override of budget.perMetric) if (override.metric.test(name)) return override.maxActiveSeries;
  return budget.defaultMaxSeriesPerMetric ?? Infinity;
}

/** Keys and values of a point's attributes, for violation samples (policies already redacted what they deny). */
function labelSample(ix: WireIndex, node: number): Record<string, string> {
  const sample: Record<string, string> = {};
  for (let a = ix.nodeFirstAttr[node]; a >= 0; a = ix.attrNext[a]) sample[ix.attrKey(a)] = ix.attrValueText(a);
  return sample;
}

export function createCardinalityProcessor(options: CardinalityOptions): CardinalityProcessor {
  const { state } = options;
  const hasher = new SeriesIdHasher();
  const ledger = new CumulativeOverflowLedger(options.maxOverflowStreams ?? 100_000);
  const id = new Uint32Array(2);
  const overflowId = new Uint32Array(2);
  const valueHash = new Uint32Array(2);
  let teamsOfGroups: Int32Array = new Int32Array(64);
  let outcomeCounts = new Float64Array(64);
  let exclude = new Uint8Array(4096);
  let pointAttributesChanged = false;

  function process(ix: WireIndex, edits: EditList, context: ProcessorContext): Rejection | undefined {
    pointAttributesChanged = false;
    if (ix.signal !== 'metrics' || ix.itemCount === 0) return undefined;
    const rules = options.rules();
    if (!hasMetricBudgets(rules)) return undefined;
    teamsOfGroups = teamsOfResourceGroups(ix, rules, teamsOfGroups);
    hasher.prepare(ix);
    const nowMs = context.now();
    // Points per (team, outcome) in this request, by the rules' team index: counted per point, so no map.
    if (outcomeCounts.length < rules.teams.length * OUTCOMES.length) outcomeCounts = new Float64Array(rules.teams.length * OUTCOMES.length * 2);
    outcomeCounts.fill(0, 0, rules.teams.length * OUTCOMES.length);
    const violations = new Map<string, { violation: Omit<BudgetViolation, 'count' | 'samples'>; count: number; samples: Record<string, string>[] }>();
    /** Per cumulative overflow series (ledger key): the refused point that carries its totals. */
    const carriers = new Map<string, Carrier>();
    let dropped = 0;
    let metricRow = -1;
    let teamIndex = -1;
    let metric: MetricContext | undefined;

    const count = (outcome: BudgetOutcome): void => {
      outcomeCounts[teamIndex * OUTCOMES.length + OUTCOME_INDEX[outcome]]++;
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
        metric = resolveMetric(ix, rules, m, t, nowMs);
      }
      if (!metric) continue;
      hasher.seriesId(ix, i, id);
      if (metric.team.table.touch(id[0], id[1], nowMs)) {
        count('passed');
        continue;
      }
      const node = ix.itemNode[i];
      let refusedBy = capRefusing(ix, metric, node, nowMs);
      if (refusedBy === undefined && staysInOverflow(ix, metric, i)) {
        // Not refused (no violation), but its history is in the overflow series: it stays there.
        const outcome = overflow(ix, edits, metric, i, nowMs, carriers);
        count(outcome);
        if (outcome === 'dropped') dropped++;
        continue;
      }
      refusedBy ??= admit(ix, metric, node, nowMs);
      if (refusedBy === undefined) {
        count('admitted');
        continue;
      }
      recordViolation(metric, refusedBy, node);
      if (metric.mode === 'audit') {
        count('audited');
        continue;
      }
      const outcome = enforce(ix, edits, metric, i, nowMs, carriers, refusedBy);
      count(outcome);
      if (outcome === 'dropped') dropped++;
    }
    finishCarriers(ix, edits, carriers);
    report(rules, violations);
    if (!options.reportDrops || dropped === 0) return undefined;
    return { items: dropped, message: `${dropped} data point${dropped === 1 ? '' : 's'} dropped: new series over the team's cardinality budget` };
  }

  function resolveMetric(ix: WireIndex, rules: CompiledRules, m: number, t: number, nowMs: number): MetricContext | undefined {
    const team = t >= 0 ? rules.teams[t] : undefined;
    const budget = team?.budgets.metrics;
    if (!team || !budget) return undefined;
    const metricName = ix.text(ix.metricNameStart[m], ix.metricNameEnd[m]);
    if (budget.exemptMetrics?.test(metricName)) return undefined;
    const teamState = state.team(team.name);
    const maxActiveSeries = options.limitOverride?.(team.name, nowMs) ?? budget.maxActiveSeries;
    return { team: teamState, budget, maxActiveSeries, metricName, metricNumber: teamState.metricNumber(metricName), metricCap: metricCapOf(budget, metricName), mode: budget.mode };
  }

  /** The cap a new series of this point would break, if any. */
  function capRefusing(ix: WireIndex, m: MetricContext, node: number, nowMs: number): BudgetRule | undefined {
    if (m.maxActiveSeries !== undefined && m.team.table.size >= m.maxActiveSeries) return 'max_active_series';
    if (m.team.activeSeriesOf(m.metricNumber) >= m.metricCap) return 'max_series_per_metric';
    for (let a = ix.nodeFirstAttr[node]; a >= 0; a = ix.attrNext[a]) if (labelAtCap(ix, m, a)) return 'max_distinct_values';
    return globallyRefused(m, nowMs);
  }

  /** The team's global budget (other sidecars' series included) has no room for this sidecar's next new series. */
  function globallyRefused(m: MetricContext, nowMs: number): BudgetRule | undefined {
    return m.maxActiveSeries !== undefined && options.globalLimit?.admits(m.team.team, nowMs) === false ? 'global_max_active_series' : undefined;
  }

  /**
   * Would attribute row `a` add a value past its label's per-label cap in this metric? A label
   * at its cap still admits values it has already seen (the sketch answers "probably seen" when
   * adding the value would raise none of its registers), so only new values are refused.
   */
  function labelAtCap(ix: WireIndex, m: MetricContext, a: number): boolean {
    if (m.budget.perLabel.length === 0) return false;
    const key = ix.attrKey(a);
    for (const cap of m.budget.perLabel) {
      if (cap.label !== key || state.distinctValues(m.team.team, m.metricName, key) < cap.maxDistinctValues) continue;
      labelValueHash(ix, a, valueHash);
      if (!state.labelValueSeen(m.team.team, m.metricName, key, valueHash[0], valueHash[1])) return true;
    }
    return false;
  }

  /** Inserts the new series (id in `id`) and counts its label values; a full table refuses it. */
  function admit(ix: WireIndex, m: MetricContext, node: number, nowMs: number): BudgetRule | undefined {
    if (m.team.table.insert(id[0], id[1], m.metricNumber, nowMs) === 'full') return 'series_table_full';
    trackLabels(ix, m, node);
    options.globalLimit?.onAdmitted(m.team.team);
    return undefined;
  }

  /** Feeds each label value of a newly admitted series to its (team, metric, label) sketch; rows in `skip` are left out. */
  function trackLabels(ix: WireIndex, m: MetricContext, node: number, skip?: Uint8Array): void {
    for (let a = ix.nodeFirstAttr[node]; a >= 0; a = ix.attrNext[a]) {
      if (skip !== undefined && skip[a] !== 0) continue;
      const tracker = state.labels.tracker(m.team.team, m.metricName, ix.attrKey(a));
      if (!tracker) continue;
      labelValueHash(ix, a, valueHash);
      tracker.add(valueHash[0], valueHash[1]);
    }
  }

  function enforce(ix: WireIndex, edits: EditList, m: MetricContext, item: number, nowMs: number, carriers: Map<string, Carrier>, refusedBy: BudgetRule): BudgetOutcome {
    switch (m.budget.action) {
      case 'drop':
        dropItem(ix, edits, item);
        return 'dropped';
      case 'overflow':
        return overflow(ix, edits, m, item, nowMs, carriers);
      case 'strip_label':
        if (stripLabel(ix, edits, m, item, nowMs, refusedBy)) return 'stripped';
        dropItem(ix, edits, item);
        return 'dropped';
    }
  }

  /** Cumulative sums and histograms go through the ledger (see overflow). */
  function foldKindOf(ix: WireIndex, metricRow: number): 'sum' | 'histogram' | undefined {
    if (ix.metricTemporality[metricRow] !== TEMPORALITY_CUMULATIVE) return undefined;
    const kind = ix.metricDataKind[metricRow];
    return kind === METRIC_DATA.SUM ? 'sum' : kind === METRIC_DATA.HISTOGRAM ? 'histogram' : undefined;
  }

  /**
   * The ledger key of the overflow series of `item`: its team and the series id of the point
   * without its attributes (metric name, type, unit and resource). The overflow series keeps
   * the resource, so two resources of a team have two overflow series; one ledger entry for
   * both would have each state the other's totals as its own.
   */
  function overflowSeriesKey(ix: WireIndex, m: MetricContext, item: number): string {
    const node = ix.itemNode[item];
    if (exclude.length < ix.attrCount) exclude = new Uint8Array(ix.attrCount * 2);
    for (let a = ix.nodeFirstAttr[node]; a >= 0; a = ix.attrNext[a]) exclude[a] = 1;
    hasher.seriesId(ix, item, overflowId, 0, exclude);
    for (let a = ix.nodeFirstAttr[node]; a >= 0; a = ix.attrNext[a]) exclude[a] = 0;
    return `${m.team.team}\u0000${overflowId[0]}:${overflowId[1]}`;
  }

  /**
   * A cumulative stream once folded into the overflow series stays there while the ledger
   * remembers it (until it goes unseen for the ledger's window), even if the budget has room
   * again: the overflow totals already hold its history, and admitting it as its own series,
   * whose value is its whole running total, would count that history twice.
   */
  function staysInOverflow(ix: WireIndex, m: MetricContext, item: number): boolean {
    if (m.mode !== 'enforce' || m.budget.action !== 'overflow' || ledger.size === 0) return false;
    if (foldKindOf(ix, ix.itemParent[item]) === undefined) return false;
    return ledger.hasStream(overflowSeriesKey(ix, m, item), `${id[0]}:${id[1]}`);
  }

  /**
   * Folds the point into its overflow series. Delta sums, histograms and gauges only need
   * their attributes replaced: the re-aggregation that runs next merges equal series (sums
   * add, histograms merge bucket-wise, gauges keep the latest). Cumulative points go through
   * the ledger, and one point per overflow series and request carries the running totals.
   */
  function overflow(ix: WireIndex, edits: EditList, m: MetricContext, item: number, nowMs: number, carriers: Map<string, Carrier>): BudgetOutcome {
    const node = ix.itemNode[item];
    const metricRow = ix.itemParent[item];
    if (ix.metricTemporality[metricRow] !== TEMPORALITY_CUMULATIVE) {
      for (let a = ix.nodeFirstAttr[node]; a >= 0; a = ix.attrNext[a]) dropAttribute(ix, edits, a);
      appendAttribute(ix, edits, node, OVERFLOW_KEY_BYTES, TRUE_VALUE);
      pointAttributesChanged = true;
      return 'overflowed';
    }
    const kind = foldKindOf(ix, metricRow);
    const point = kind && decodeMessage(kind === 'sum' ? 'NumberDataPoint' : 'HistogramDataPoint', ix.buf.subarray(ix.nodePayloadStart[node], ix.nodeEnd[node]));
    const shaped = point && kind && cumulativeVector(point, kind, ix.metricMonotonic[metricRow] === 1);
    const series = shaped ? overflowSeriesKey(ix, m, item) : '';
    const streamStart = point ? timeField(point, 'startTimeUnixNano') : '';
    const folded =
      shaped &&
      point &&
      ledger.fold({ ...shaped, series, stream: `${id[0]}:${id[1]}`, streamStart, seriesStart: streamStart || timeField(point, 'timeUnixNano') || '0', nowMs });
    if (!folded || !point || !kind) {
      dropItem(ix, edits, item);
      return 'dropped';
    }
    const time = BigInt(timeField(point, 'timeUnixNano') || '0');
    const carrier = carriers.get(series);
    if (!carrier) carriers.set(series, { item, point, time, kind });
    else if (time >= carrier.time) {
      dropItem(ix, edits, carrier.item);
      carrier.item = item;
      carrier.point = point;
      carrier.time = time;
    } else dropItem(ix, edits, item);
    return 'overflowed';
  }

  /** Replaces each carrier's payload with its overflow series' totals (one point per series). */
  function finishCarriers(ix: WireIndex, edits: EditList, carriers: Map<string, Carrier>): void {
    for (const [series, carrier] of carriers) {
      const totals = ledger.current(series);
      if (!totals) continue;
      const node = ix.itemNode[carrier.item];
      const message = carrier.kind === 'sum' ? 'NumberDataPoint' : 'HistogramDataPoint';
      edits.replace(node, ix.nodePayloadStart[node], ix.nodeEnd[node], encodeMessage(message, cumulativeOverflowPoint(carrier.point, carrier.kind, totals, OVERFLOW_ATTRIBUTES)));
    }
  }

  /**
   * Removes the point's exploding label(s) and admits the series that is left if it exists or
   * fits; false when nothing can be stripped or the stripped series does not fit either.
   *
   * - Refused by per-label caps: the exploding labels are those at their cap, all of them (a
   *   stripped series keeping one would bypass its cap). What is left is admitted if it is
   *   new and the team's and the metric's caps have room.
   * - Refused by the team's or the metric's cap (or a full table): a new stripped series would
   *   be refused by the same cap, so the stripped series must exist. The label removed is the
   *   one with the most distinct values in this metric among those whose removal leads to an
   *   existing series. Trying them in that order matters: the sketches count admitted series
   *   only, so a label that started exploding once the budget was full has few values there,
   *   while its removal is exactly what leads back to the series the point had before the
   *   label appeared. A tie goes to the label written first.
   */
  function stripLabel(ix: WireIndex, edits: EditList, m: MetricContext, item: number, nowMs: number, refusedBy: BudgetRule): boolean {
    const node = ix.itemNode[item];
    if (exclude.length < ix.attrCount) exclude = new Uint8Array(ix.attrCount * 2);
    let fits = false;
    if (refusedBy === 'max_distinct_values') {
      let stripped = 0;
      for (let a = ix.nodeFirstAttr[node]; a >= 0; a = ix.attrNext[a]) {
        if (!labelAtCap(ix, m, a)) continue;
        exclude[a] = 1;
        stripped++;
      }
      if (stripped > 0) {
        hasher.seriesId(ix, item, id, 0, exclude);
        fits = m.team.table.touch(id[0], id[1], nowMs) || admitStripped(ix, m, node, nowMs);
      }
    } else {
      const candidates: { attr: number; distinct: number }[] = [];
      for (let a = ix.nodeFirstAttr[node]; a >= 0; a = ix.attrNext[a]) candidates.push({ attr: a, distinct: state.distinctValues(m.team.team, m.metricName, ix.attrKey(a)) });
      candidates.sort((x, y) => y.distinct - x.distinct || x.attr - y.attr);
      for (const { attr } of candidates) {
        exclude[attr] = 1;
        hasher.seriesId(ix, item, id, 0, exclude);
        if (m.team.table.touch(id[0], id[1], nowMs)) {
          fits = true;
          break;
        }
        exclude[attr] = 0;
      }
    }
    if (fits) {
      for (let a = ix.nodeFirstAttr[node]; a >= 0; a = ix.attrNext[a]) if (exclude[a] !== 0) dropAttribute(ix, edits, a);
      pointAttributesChanged = true;
    }
    for (let a = ix.nodeFirstAttr[node]; a >= 0; a = ix.attrNext[a]) exclude[a] = 0;
    return fits;
  }

  /** Admits the new stripped series (id in `id`, rows in `exclude` left out) if the team's and the metric's caps have room. */
  function admitStripped(ix: WireIndex, m: MetricContext, node: number, nowMs: number): boolean {
    if (capRefusingStripped(m, nowMs) !== undefined || m.team.table.insert(id[0], id[1], m.metricNumber, nowMs) !== 'inserted') return false;
    trackLabels(ix, m, node, exclude);
    options.globalLimit?.onAdmitted(m.team.team);
    return true;
  }

  function capRefusingStripped(m: MetricContext, nowMs: number): BudgetRule | undefined {
    if (m.maxActiveSeries !== undefined && m.team.table.size >= m.maxActiveSeries) return 'max_active_series';
    if (m.team.activeSeriesOf(m.metricNumber) >= m.metricCap) return 'max_series_per_metric';
    return globallyRefused(m, nowMs);
  }

  function report(rules: CompiledRules, violations: Map<string, { violation: Omit<BudgetViolation, 'count' | 'samples'>; count: number; samples: Record<string, string>[] }>): void {
    const observer = options.observer;
    if (!observer) return;
    for (let t = 0; t < rules.teams.length; t++) {
      for (let o = 0; o < OUTCOMES.length; o++) {
        const points = outcomeCounts[t * OUTCOMES.length + o];
        if (points > 0) observer.onPoints(rules.teams[t].name, OUTCOMES[o], points);
      }
    }
    for (const { violation, count, samples } of violations.values()) observer.onViolation({ ...violation, count, samples });
  }

  /** With no metric budget in the rules there is nothing to count: the pipeline skips the processor (and any re-scan for it). */
  function idle(): boolean {
    if (hasMetricBudgets(options.rules())) return false;
    pointAttributesChanged = false;
    return true;
  }

  return {
    name: 'cardinality_budget',
    signals: ['metrics'],
    process,
    idle,
    get pointAttributesChanged() {
      return pointAttributesChanged;
    },
    ledger,
  };
}

function hasMetricBudgets(rules: CompiledRules): boolean {
  return rules.teams.some((team) => team.budgets.metrics !== undefined);
}
