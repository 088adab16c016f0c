import type { Signal } from '../collector/otlp/signal.js';

/**
 * Compiled governance rules: what the rules engine hands the processors. Everything a
 * processor needs on the hot path is precompiled here (matchers, detectors, sets), so no regex
 * is built and nothing is parsed while traffic flows. Compiled rules are immutable; a reload
 * swaps in a whole new object between requests.
 */

export type PolicyMode = 'enforce' | 'audit';
export type AttributeAction = 'drop' | 'hash' | 'redact' | 'truncate' | 'reject';
export type DetectorName = 'uuid' | 'email' | 'ipv4' | 'ipv6' | 'hex' | 'credit_card' | 'jwt';

/** A precompiled string matcher: exact values, globs and regexes (any of them matches). */
export interface StringMatcher {
  test(value: string): boolean;
}

/**
 * A value detector works on the UTF-8 bytes of a string value, [start, end) of `buf`, without
 * decoding it; built-in detectors reject most values after a byte or two.
 */
export interface ValueDetector {
  readonly name: string;
  test(buf: Uint8Array, start: number, end: number): boolean;
}

/** Where in an item an attribute policy looks. */
export interface PolicyTargets {
  /** Resource attributes. */
  readonly resource: boolean;
  /** Attributes of data points, spans, span events and links, log records, and scopes. */
  readonly attributes: boolean;
  /** String bodies of log records (value detectors only: a body has no key). */
  readonly body: boolean;
}

export interface CompiledAttributePolicy {
  readonly name: string;
  /** Position in the rules file; the first matching policy wins for an attribute. */
  readonly index: number;
  readonly signals: ReadonlySet<Signal>;
  readonly targets: PolicyTargets;
  /** Team indices it applies to; undefined means every team. */
  readonly teams: ReadonlySet<number> | undefined;
  /** Matches `service.name` of the resource; undefined means every service. */
  readonly services: StringMatcher | undefined;
  /** Matches attribute keys; undefined means any key (then `detectors` is not empty). */
  readonly keys: StringMatcher | undefined;
  /** The value must match one of these; empty means any value (then `keys` is set). */
  readonly detectors: readonly ValueDetector[];
  readonly action: AttributeAction;
  /** For `redact`. */
  readonly replacement: string;
  /** For `truncate`: the longest value kept, in UTF-8 bytes. */
  readonly maxLength: number;
  readonly mode: PolicyMode;
}

/** One conjunction: every listed resource attribute must match. A team matches if any of its conjunctions does. */
export interface ResourceMatcher {
  readonly attributes: readonly { readonly key: string; readonly value: StringMatcher }[];
}

export interface MetricBudget {
  readonly maxActiveSeries: number | undefined;
  readonly defaultMaxSeriesPerMetric: number | undefined;
  readonly perMetric: readonly { readonly metric: StringMatcher; readonly maxActiveSeries: number }[];
  readonly perLabel: readonly { readonly label: string; readonly maxDistinctValues: number }[];
  readonly exemptMetrics: StringMatcher | undefined;
  readonly activeWindowMs: number;
  /** Fractions of the limit, e.g. [0.8, 0.95]. */
  readonly warningThresholds: readonly number[];
  readonly action: 'drop' | 'overflow' | 'strip_label';
  readonly mode: PolicyMode;
}

export interface TeamBudgets {
  readonly metrics: MetricBudget | undefined;
  readonly maxSpansPerSecond: number | undefined;
  readonly maxLogRecordsPerSecond: number | undefined;
  readonly maxBytesPerDay: number | undefined;
}

export interface CompiledTeam {
  readonly name: string;
  readonly index: number;
  readonly match: readonly ResourceMatcher[];
  readonly tier: string;
  readonly budgets: TeamBudgets;
}

export interface CompiledTier {
  readonly name: string;
  readonly traceProbability: number;
  /** Keep probability by severity name (trace, debug, info, warn, error, fatal) plus `default`. */
  readonly logProbability: Readonly<Record<string, number>>;
  readonly logsFollowTraces: boolean;
}

// ─── Sampling rules ────────────────────────────────────────────────────────────────────────────

/**
 * What a sampling rule does with a span or log record it matches: `keep` it whatever the tier
 * probability and the budget, `drop` it, or `sample` it (the team's tier probability, lowered
 * by the team's budget; for log records also `logsFollowTraces`).
 */
export type SamplingAction = 'keep' | 'drop' | 'sample';
export type SamplingSignal = 'traces' | 'logs';
export type AttributeConditionOp = 'equals' | 'not_equals' | 'gt' | 'gte' | 'lt' | 'lte' | 'matches' | 'exists';

/**
 * One condition on an attribute of the span or log record itself (not resource or scope
 * attributes). Which fields are set depends on `op`:
 *
 * - `equals`: `value` is a string, number or boolean. Holds when the attribute is present with
 *   a value of the same kind that is equal: a string only equals a string attribute, a boolean
 *   a bool attribute, a number an int or double attribute with the same numeric value (so
 *   `500` equals int 500 and double 500.0, but not the string "500").
 * - `not_equals`: `value` as for `equals`. Holds exactly when `equals` would not: the attribute
 *   is absent, of another kind, or different (add an `exists` condition to require presence).
 * - `gt`, `gte`, `lt`, `lte`: `value` is a number. Holds when the attribute is an int or double
 *   that compares so; absent or non-numeric attributes never hold (strings are not parsed).
 * - `matches`: `matcher` is set, `value` is undefined. Holds when the attribute is a string the
 *   matcher accepts (exact, glob or whole-string regex); other kinds never hold.
 * - `exists`: `exists` is set, `value` and `matcher` are undefined. Holds when the attribute's
 *   presence (with any value, of any kind) is `exists`.
 *
 * Fields that do not apply to `op` are undefined.
 */
export interface CompiledAttributeCondition {
  readonly key: string;
  readonly op: AttributeConditionOp;
  readonly value: string | number | boolean | undefined;
  readonly matcher: StringMatcher | undefined;
  readonly exists: boolean | undefined;
}

/**
 * A sampling rule. Rules are evaluated in order for each span and log record and the first that
 * matches decides; the last rule always matches (validation guarantees a catch-all at the end:
 * every signal, every team, no conditions), so every item gets a decision.
 *
 * A rule matches an item when the item's signal is in `signals`, its team is in `teams` (or
 * `teams` is undefined), and every condition that is set holds. Validation also guarantees
 * that a rule never carries a condition its signals cannot have: when `signals` has `logs`,
 * `statusError` is false and `minDurationNs` and `spanName` are undefined; when it has
 * `traces`, `minSeverityNumber` is undefined. So a processor for one signal only needs to
 * evaluate the conditions of that signal.
 */
export interface CompiledSamplingRule {
  readonly name: string;
  /** Position in `sampling.rules`. */
  readonly index: number;
  readonly action: SamplingAction;
  readonly signals: ReadonlySet<SamplingSignal>;
  /** Team indices (into `CompiledRules.teams`) the rule applies to; undefined means every team. */
  readonly teams: ReadonlySet<number> | undefined;
  /** When true, the span's status code must be ERROR (2). Spans only. */
  readonly statusError: boolean;
  /** The span's duration (end − start time) must be at least this many nanoseconds. Spans only. */
  readonly minDurationNs: number | undefined;
  /** The span's name must match. Spans only. */
  readonly spanName: StringMatcher | undefined;
  /**
   * The record's `severity_number` must be at least this: the lowest number of the named
   * severity (trace 1, debug 5, info 9, warn 13, error 17, fatal 21). A record with no
   * severity (0, UNSPECIFIED) never holds. Log records only.
   */
  readonly minSeverityNumber: number | undefined;
  /** All must hold; empty means no attribute condition. */
  readonly attributes: readonly CompiledAttributeCondition[];
}

export interface CompiledRules {
  /** sha256 of the canonical validated document: names the rules in force (logs, /metrics, API). */
  readonly hash: string;
  readonly version: 1;
  readonly mode: PolicyMode;
  /** The last team is the default team, matched when no other does. */
  readonly teams: readonly CompiledTeam[];
  readonly defaultTeam: number;
  readonly tiers: ReadonlyMap<string, CompiledTier>;
  readonly attributePolicies: readonly CompiledAttributePolicy[];
  /** In file order, the first that matches a span or log record decides; never empty, the last is a catch-all. */
  readonly sampling: readonly CompiledSamplingRule[];
  /** Resource attribute keys any team matcher reads; only these are decoded per resource. */
  readonly teamMatchKeys: readonly string[];
  /** First matching team (file order), else the default team. `lookup` returns a resource attribute's string value. */
  teamOf(lookup: (key: string) => string | undefined): number;
  /** The validated document (no secrets), for the API and `tollgate lint --format json`. */
  readonly document: unknown;
}
