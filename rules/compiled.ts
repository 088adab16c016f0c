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
  /** Resource attribute keys any team matcher reads; only these are decoded per resource. */
  readonly teamMatchKeys: readonly string[];
  /** First matching team (file order), else the default team. `lookup` returns a resource attribute's string value. */
  teamOf(lookup: (key: string) => string | undefined): number;
  /** The validated document (no secrets), for the API and `tollgate lint --format json`. */
  readonly document: unknown;
}
