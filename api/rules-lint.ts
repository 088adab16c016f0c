/**
 * `POST /rules/validate`: lints a rules document the way `tollgate serve` and `tollgate lint`
 * load it (parse, validate, cross-checks, compile), without touching the rules in force.
 */
import { ConfigError } from '../collector/config/config.js';
import { parseRules } from '../rules/load.js';

export interface RulesFinding {
  /** 1-based; null when the issue has no place in the text (e.g. an empty document). */
  readonly line: number | null;
  readonly column: number | null;
  readonly path: string;
  readonly message: string;
  readonly severity: 'error';
}

export interface RulesLintResult {
  readonly valid: boolean;
  /** The hash the rules would run under; null when invalid. */
  readonly hash: string | null;
  readonly findings: readonly RulesFinding[];
}

/** Findings of a rules text; anything but a ConfigError is a bug and is thrown. */
export function lintRulesText(text: string): RulesLintResult {
  try {
    return { valid: true, hash: parseRules(text, 'request body').hash, findings: [] };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const findings = error.issues.map((issue): RulesFinding => ({ line: issue.line ?? null, column: issue.column ?? null, path: issue.path, message: issue.message, severity: 'error' }));
    return { valid: false, hash: null, findings };
  }
}
