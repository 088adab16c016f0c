// The cardinality budget processor as collector/governance.ts wires it (budget, then the
// re-aggregation that merges the series it made equal), fed with requests built as OTLP
// objects and read back decoded, with a clock the test controls and every observer call kept.

import { decodeRequest, encodeRequest } from '../../../collector/otlp/object-codec.js';
import type { OtlpObject } from '../../../collector/otlp/object-codec.js';
import type { Processor } from '../../../collector/pipeline/processor.js';
import { createReaggregationProcessor } from '../../../collector/processors/attribute-policy/reaggregate.js';
import { createCardinalityProcessor } from '../../../collector/processors/cardinality/budget-processor.js';
import type { BudgetOutcome, BudgetViolation, CardinalityProcessor } from '../../../collector/processors/cardinality/budget-processor.js';
import { BudgetState } from '../../../collector/processors/cardinality/budget-state.js';
import type { CompiledRules } from '../../../rules/compiled.js';
import { rulesFrom, runProcessors } from '../processors/run-processors.js';

export const DELTA = 1;
export const CUMULATIVE = 2;
export const OVERFLOW_KEY = 'otel.metric.overflow';

/** A fixed start of the test clock (epoch ms), far from 0 so last-seen seconds are realistic. */
export const T0 = 1_700_000_000_000;

/**
 * Rules with one budgeted team `checkout` (resources with service.namespace=checkout) whose
 * `budgets.metrics` is `budget` (YAML lines, indented for that position), a team `search`
 * without budgets, and the implicit default team.
 */
export function budgetRules(budget: string, mode: 'enforce' | 'audit' = 'enforce'): CompiledRules {
  const lines = budget.split('\n').filter((line) => line.trim() !== '');
  const indent = Math.min(...lines.map((line) => line.length - line.trimStart().length));
  const body = lines.map((line) => `        ${line.slice(indent)}`).join('\n');
  return rulesFrom(`
version: 1
mode: ${mode}
teams:
  - name: checkout
    match:
      - service.namespace: checkout
    budgets:
      metrics:
${body}
  - name: search
    match:
      - service.namespace: search
`);
}

export interface PointsRecord {
  readonly team: string;
  readonly outcome: BudgetOutcome;
  readonly points: number;
}

export interface Chain {
  readonly budget: CardinalityProcessor;
  readonly state: BudgetState;
  readonly processors: readonly Processor[];
  /** Every onPoints call, in order, across requests. */
  readonly points: PointsRecord[];
  /** Every onViolation call, in order, across requests. */
  readonly violations: BudgetViolation[];
}

export interface ChainOptions {
  readonly state?: BudgetState;
  readonly reportDrops?: boolean;
  readonly maxOverflowStreams?: number;
}

export function createChain(rules: CompiledRules | (() => CompiledRules), options: ChainOptions = {}): Chain {
  const state = options.state ?? new BudgetState({ maxTrackedSeriesPerTeam: 100_000, maxMetricsPerTeam: 1000, maxLabelTrackers: 1000 });
  const points: PointsRecord[] = [];
  const violations: BudgetViolation[] = [];
  const budget = createCardinalityProcessor({
    rules: typeof rules === 'function' ? rules : () => rules,
    state,
    reportDrops: options.reportDrops,
    maxOverflowStreams: options.maxOverflowStreams,
    observer: {
      onPoints: (team, outcome, n) => points.push({ team, outcome, points: n }),
      onViolation: (violation) => violations.push(violation),
    },
  });
  const reaggregation = createReaggregationProcessor({ shouldRun: () => budget.pointAttributesChanged });
  return { budget, state, processors: [budget, reaggregation], points, violations };
}

export interface Sent {
  readonly bytesIn: Uint8Array;
  readonly bytesOut: Uint8Array;
  readonly output: OtlpObject;
  readonly rejected: number;
  readonly message: string | undefined;
}

/** Runs one request through the chain at `nowMs`. */
export function send(chain: Chain, request: OtlpObject, nowMs = T0): Sent {
  const bytesIn = encodeRequest('metrics', request);
  const result = runProcessors(chain.processors, 'metrics', bytesIn, { now: () => nowMs, random: () => 0 });
  return { bytesIn, bytesOut: result.bytes, output: decodeRequest('metrics', result.bytes), rejected: result.rejected, message: result.message };
}

/** Sum of onPoints counts per outcome (optionally of one team). */
export function outcomeTotals(chain: Chain, team?: string): Partial<Record<BudgetOutcome, number>> {
  const totals: Partial<Record<BudgetOutcome, number>> = {};
  for (const record of chain.points) if (team === undefined || record.team === team) totals[record.outcome] = (totals[record.outcome] ?? 0) + record.points;
  return totals;
}

// ─── Building requests ──────────────────────────────────────────────────────────────────────

/** String attributes in the given order. */
export function attrs(pairs: Readonly<Record<string, string>>): OtlpObject[] {
  return Object.entries(pairs).map(([key, value]) => ({ key, value: { stringValue: value } }));
}

/** One resource of the request: its string attributes and its metrics (one scope). */
export function resource(attributes: Readonly<Record<string, string>>, ...metrics: OtlpObject[]): OtlpObject {
  return { resource: { attributes: attrs(attributes) }, scopeMetrics: [{ scope: { name: 'test' }, metrics }] };
}

export function request(...resources: OtlpObject[]): OtlpObject {
  return { resourceMetrics: resources };
}

export const CHECKOUT = { 'service.name': 'cart', 'service.namespace': 'checkout' } as const;
export const SEARCH = { 'service.name': 'finder', 'service.namespace': 'search' } as const;

export const sumMetric = (name: string, temporality: number, dataPoints: OtlpObject[], isMonotonic = true): OtlpObject => ({
  name,
  sum: { dataPoints, aggregationTemporality: temporality, isMonotonic },
});
export const histogramMetric = (name: string, temporality: number, dataPoints: OtlpObject[]): OtlpObject => ({
  name,
  histogram: { dataPoints, aggregationTemporality: temporality },
});
export const gaugeMetric = (name: string, dataPoints: OtlpObject[]): OtlpObject => ({ name, gauge: { dataPoints } });

/** A number point with integer value (times in nanoseconds as decimal strings). */
export function intPoint(labels: Readonly<Record<string, string>>, value: number, time: number, start = 0): OtlpObject {
  const point: OtlpObject = { attributes: attrs(labels), timeUnixNano: String(time), asInt: String(value) };
  if (start > 0) point.startTimeUnixNano = String(start);
  return point;
}

export function doublePoint(labels: Readonly<Record<string, string>>, value: number, time: number, start = 0): OtlpObject {
  const point: OtlpObject = { attributes: attrs(labels), timeUnixNano: String(time), asDouble: value };
  if (start > 0) point.startTimeUnixNano = String(start);
  return point;
}

export function histogramPoint(labels: Readonly<Record<string, string>>, buckets: readonly number[], sum: number, time: number, start = 0, bounds: readonly number[] = [10, 100]): OtlpObject {
  const point: OtlpObject = {
    attributes: attrs(labels),
    timeUnixNano: String(time),
    count: String(buckets.reduce((a, b) => a + b, 0)),
    sum,
    bucketCounts: buckets.map(String),
    explicitBounds: [...bounds],
  };
  if (start > 0) point.startTimeUnixNano = String(start);
  return point;
}

// ─── Reading outputs ────────────────────────────────────────────────────────────────────────

const list = (o: OtlpObject | undefined, key: string): OtlpObject[] => ((o?.[key] as OtlpObject[] | undefined) ?? []);
const DATA_KEYS = ['gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary'];

/** Attributes of a point or resource as a plain record (string values; booleans as "true"/"false"). */
export function labelsOf(owner: OtlpObject | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list(owner, 'attributes')) {
    const value = kv.value as Record<string, string | boolean | undefined> | undefined;
    out[kv.key as string] = String(value?.stringValue ?? value?.boolValue ?? value?.intValue);
  }
  return out;
}

export interface OutputPoint {
  readonly resource: Record<string, string>;
  readonly metric: string;
  readonly labels: Record<string, string>;
  readonly point: OtlpObject;
}

/** Every point of the output, flattened, optionally of one metric. */
export function outputPoints(output: OtlpObject, metric?: string): OutputPoint[] {
  const out: OutputPoint[] = [];
  for (const rm of list(output, 'resourceMetrics')) {
    const res = labelsOf(rm.resource as OtlpObject | undefined);
    for (const sm of list(rm, 'scopeMetrics')) {
      for (const m of list(sm, 'metrics')) {
        if (metric !== undefined && m.name !== metric) continue;
        const data = m[DATA_KEYS.find((k) => k in m) as string] as OtlpObject;
        for (const point of list(data, 'dataPoints')) out.push({ resource: res, metric: m.name as string, labels: labelsOf(point), point });
      }
    }
  }
  return out;
}

export const isOverflow = (p: OutputPoint): boolean => p.labels[OVERFLOW_KEY] === 'true';

/** A point's number value (asInt or asDouble). */
export function valueOf(point: OtlpObject): number {
  return point.asInt !== undefined ? Number(point.asInt) : Number(point.asDouble ?? 0);
}

/** Label sets of the points, as sorted JSON strings, sorted: order-free comparison. */
export function labelSets(points: readonly OutputPoint[]): string[] {
  return points.map((p) => JSON.stringify(Object.entries(p.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))).sort();
}

export const labelSet = (labels: Readonly<Record<string, string>>): string => JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
