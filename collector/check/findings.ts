/**
 * What a check reports: findings with a stable rule id, a level, a message that says what and
 * where, and a help text that says how to fix it. The rule ids are part of the CLI's contract
 * (SARIF rule ids, suppressions, GitHub code scanning alerts): never rename one.
 */
import { createHash } from 'node:crypto';
import type { Origin } from './sample.js';

export type Level = 'error' | 'warning' | 'note';
export const LEVELS: readonly Level[] = ['error', 'warning', 'note'];
const LEVEL_RANK: Readonly<Record<Level, number>> = { error: 2, warning: 1, note: 0 };

/** Is `level` at or above `threshold`? (`note` is informational and never fails a check on its own.) */
export function atLeast(level: Level, threshold: Level): boolean {
  return LEVEL_RANK[level] >= LEVEL_RANK[threshold];
}

export interface Suppression {
  readonly rule: string;
  readonly owner: string;
  /** Epoch ms after which it no longer suppresses. */
  readonly expiresAt: number;
  readonly reason: string;
  readonly origin: Origin;
}

export interface Finding {
  readonly ruleId: string;
  readonly level: Level;
  readonly message: string;
  readonly help: string;
  readonly team?: string;
  readonly metric?: string;
  readonly label?: string;
  /** Where in the inputs (file and line) it was seen. */
  readonly origin: Origin;
  /** Where in the source (with --source), else undefined. */
  location?: Origin;
  /** Stable across runs and line moves: rule, team, metric and label. */
  readonly fingerprint: string;
  /** Set when a suppression in force matched it. */
  suppressedBy?: Suppression;
}

export interface RuleInfo {
  readonly id: string;
  readonly description: string;
}

/** The built-in rule ids; attribute policies add one each, `attribute-policy/<policy name>`. */
export const CHECK_RULES = {
  seriesPerMetric: { id: 'cardinality/series-per-metric', description: "A metric has more series than its cap (the rule's per_metric or default_max_series_per_metric)." },
  labelDistinctValues: { id: 'cardinality/label-distinct-values', description: 'A label has more distinct values in a metric than its per_label cap.' },
  projectedSeries: { id: 'budget/projected-active-series', description: "The team's active series (current usage plus this sample) would exceed its budget or cross a warning threshold." },
  newMetric: { id: 'baseline/new-metric', description: 'A metric that is not in the baseline.' },
  newLabel: { id: 'baseline/new-label', description: "A label that the metric does not have in the baseline." },
  seriesGrowth: { id: 'baseline/series-growth', description: 'A metric has grown by more than --max-growth series over the baseline.' },
  expiredSuppression: { id: 'suppression/expired', description: 'A suppression past its expiry date: it no longer suppresses anything.' },
} as const satisfies Record<string, RuleInfo>;

export const POLICY_RULE_PREFIX = 'attribute-policy/';

export function fingerprintOf(ruleId: string, ...parts: readonly (string | undefined)[]): string {
  return createHash('sha256')
    .update([ruleId, ...parts.map((p) => p ?? '')].join('\u0000'))
    .digest('hex')
    .slice(0, 32);
}

/** Where a finding should be shown: its source location when one was found, else where the input had it. */
export function locationOf(finding: Finding): Origin {
  return finding.location ?? finding.origin;
}
