/**
 * What every rules file gets without declaring it: the built-in sampling tiers, the implicit
 * default team, and the vocabulary (modes, signals, targets, actions, severities, detectors)
 * that the schema, the compiler and the docs share.
 */
import type { AttributeAction, DetectorName, PolicyMode } from './compiled.js';
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
