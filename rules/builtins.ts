/**
 * What every rules file gets without declaring it: the built-in sampling tiers, the implicit
 * default team, the default sampling rules, and the vocabulary (modes, signals, targets,
 * actions, severities, detectors) that the schema, the compiler and the docs share.
 */
import type { AttributeAction, AttributeConditionOp, DetectorName, PolicyMode, SamplingAction, SamplingSignal } from './compiled.js';
import { DETECTORS } from './detectors.js';

export const RULES_VERSION = 1;

export const POLICY_MODES = ['enforce', 'audit'] as const satisfies readonly PolicyMode[];
export const SIGNAL_NAMES = ['metrics', 'traces', 'logs'] as const;
export const POLICY_TARGETS = ['resource', 'attributes', 'body'] as const;
export const ATTRIBUTE_ACTIONS = ['drop', 'hash', 'redact', 'truncate', 'reject'] as const satisfies readonly AttributeAction[];
export const METRIC_BUDGET_ACTIONS = ['drop', 'overflow', 'strip_label'] as const;

/** Log severities by OTLP severity-number range (1–4 trace … 21–24 fatal). */
export const LOG_SEVERITIES = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export type LogSeverity = (typeof LOG_SEVERITIES)[number];

/**
 * The lowest OTLP `severity_number` of each severity: OTel gives each severity four numbers
 * (trace 1–4, debug 5–8, info 9–12, warn 13–16, error 17–20, fatal 21–24), so "at least
 * `warn`" means a number of 13 or more, whichever of WARN…WARN4 the SDK wrote.
 */
export const LOG_SEVERITY_NUMBERS: Readonly<Record<LogSeverity, number>> = Object.freeze(
  Object.fromEntries(LOG_SEVERITIES.map((severity, index) => [severity, index * 4 + 1])) as Record<LogSeverity, number>,
);

/** The signals sampling decides on (metrics are never sampled). */
export const SAMPLING_SIGNALS = ['traces', 'logs'] as const satisfies readonly SamplingSignal[];
export const SAMPLING_ACTIONS = ['keep', 'drop', 'sample'] as const satisfies readonly SamplingAction[];
/** The span statuses a sampling rule can ask for. OK and UNSET are the bulk of traffic and say nothing worth keeping. */
export const SPAN_STATUSES = ['error'] as const;
/** The operators of an attribute condition, in the order the docs list them. */
export const ATTRIBUTE_CONDITION_OPS = ['equals', 'not_equals', 'gt', 'gte', 'lt', 'lte', 'matches', 'exists'] as const satisfies readonly AttributeConditionOp[];

/**
 * The sampling rules of a file without a `sampling` section, written as a file would spell
 * them: errors are always kept (spans with status ERROR, log records of severity `error` or
 * above), and everything else is left to the team's tier and budget. These are exactly the
 * things a budget must never throttle away: the telemetry someone reads during an incident.
 */
export const DEFAULT_SAMPLING_RULES = [
  { name: 'keep-errors', signals: ['traces'], when: { status: 'error' }, action: 'keep' },
  { name: 'keep-error-logs', signals: ['logs'], when: { min_severity: 'error' }, action: 'keep' },
  { name: 'sample-the-rest', action: 'sample' },
] as const;

/** The built-in value detectors, in the order `rules/detectors.ts` declares them. */
export const DETECTOR_NAMES = Object.keys(DETECTORS) as DetectorName[];

/** `redact` writes this when the policy names no `replacement`. */
export const DEFAULT_REPLACEMENT = '[REDACTED]';

/** A tier as the rules file spells it, with every severity resolved. */
export interface TierDefinition {
  readonly trace_probability: number;
  readonly log_probability: Readonly<Record<LogSeverity | 'default', number>>;
  readonly logs_follow_traces: boolean;
}

/**
 * Usable by name without being declared; a rules file may redefine any of them. Errors and
 * fatal logs are always kept; debug and trace logs are the first to go, since they are the
 * bulk of log volume and the least read.
 */
export const BUILTIN_TIERS: Readonly<Record<string, TierDefinition>> = {
  critical: {
    trace_probability: 1,
    log_probability: { trace: 1, debug: 1, info: 1, warn: 1, error: 1, fatal: 1, default: 1 },
    logs_follow_traces: true,
  },
  standard: {
    trace_probability: 0.25,
    log_probability: { trace: 0.05, debug: 0.1, info: 0.25, warn: 1, error: 1, fatal: 1, default: 0.25 },
    logs_follow_traces: true,
  },
  economy: {
    trace_probability: 0.05,
    log_probability: { trace: 0, debug: 0.01, info: 0.05, warn: 0.25, error: 1, fatal: 1, default: 0.05 },
    logs_follow_traces: true,
  },
};

/** The tier of a team that names none. */
export const DEFAULT_TIER = 'standard';

/**
 * When the last team of a file has a `match`, everything unmatched goes to this team (no
 * budgets, the default tier). A file names its own default team by ending `teams` with a team
 * that has no `match`.
 */
export const IMPLICIT_DEFAULT_TEAM_NAME = 'default';
