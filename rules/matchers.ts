/**
 * String patterns of the rules file (exact / glob / regex) and their compiled matchers.
 * Everything here runs at load time; the matchers it returns are what the hot path calls.
 */
import type { StringMatcher } from './compiled.js';
import { findBacktrackingRisk } from './regex-safety.js';

/**
 * A pattern after validation. In the file a plain string is `exact` unless it contains `*` or
 * `?` (then `glob`); the mapping forms `{exact}`, `{glob}` and `{regex}` say it explicitly.
 */
export type PatternSpec =
  | { readonly exact: string }
  | { readonly glob: string }
  | { readonly regex: string; readonly allow_backtracking?: true };

/**
 * `s`: `.` matches line breaks too (values such as log bodies span lines); `u`: strict syntax
 * (a stray `\-` is an error rather than a silent literal) and `.` is a whole code point.
 */
export const REGEX_FLAGS = 'su';

export function hasGlobWildcard(text: string): boolean {
  return text.includes('*') || text.includes('?');
}

/**
 * Why `source` cannot be used as a rules regex, or undefined. Syntax errors always count;
 * catastrophic backtracking counts unless the rule opted in with `allow_backtracking`.
 */
export function regexProblem(source: string, allowBacktracking: boolean): string | undefined {
  try {
    new RegExp(source, REGEX_FLAGS);
  } catch (error) {
    const reason = (error as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '');
    return `is not a valid regular expression: ${reason}`;
  }
  if (allowBacktracking) return undefined;
  const risk = findBacktrackingRisk(source);
  return risk && `can backtrack catastrophically: ${risk.message}; rewrite it so repeated parts cannot match the same text, or set allow_backtracking: true`;
}

// Only syntax characters: in `u` mode escaping anything else (`\-`, `\_`) is itself an error.
const REGEX_SPECIAL = /[\\^$.*+?()[\]{}|]/g;

/** `*.user_id` → `.*\.user_id`: `*` is any run of characters (dots too), `?` exactly one. */
export function globToRegexSource(glob: string): string {
  return [...glob].map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(REGEX_SPECIAL, '\\$&'))).join('');
}

/** A rules regex for keys, names and resource values: it must match the whole string. */
export function compileAnchoredRegex(source: string): RegExp {
  return new RegExp(`^(?:${source})$`, REGEX_FLAGS);
}

/**
 * A rules regex for values (a custom value detector): it searches the value, like the
 * built-in `email` and `credit_card` detectors; anchor it with `^…$` to match whole values.
 */
export function compileValueRegex(source: string): RegExp {
  return new RegExp(source, REGEX_FLAGS);
}

/** One matcher for a list of patterns (any may match): exact strings in a Set, all globs in one anchored regex, each regex once. */
export function compileMatcher(patterns: readonly PatternSpec[]): StringMatcher {
  const exact = new Set<string>();
  const globs: string[] = [];
  const regexes: RegExp[] = [];
  for (const pattern of patterns) {
    if ('exact' in pattern) exact.add(pattern.exact);
    else if ('glob' in pattern) globs.push(globToRegexSource(pattern.glob));
    // Kept apart rather than joined into one alternation: a user regex's groups and backreferences keep their numbering.
    else regexes.push(compileAnchoredRegex(pattern.regex));
  }
  const globRegex = globs.length > 0 ? new RegExp(`^(?:${globs.join('|')})$`, REGEX_FLAGS) : undefined;
  if (!globRegex && regexes.length === 0) return Object.freeze({ test: (value: string) => exact.has(value) });
  return Object.freeze({
    test(value: string): boolean {
      if (exact.has(value)) return true;
      if (globRegex?.test(value)) return true;
      for (const regex of regexes) if (regex.test(value)) return true;
      return false;
    },
  });
}

/** A glob made only of `*` matches every string. */
export function isUniversalPattern(pattern: PatternSpec): boolean {
  return 'glob' in pattern && /^\*+$/.test(pattern.glob);
}

function samePattern(a: PatternSpec, b: PatternSpec): boolean {
  if ('exact' in a) return 'exact' in b && a.exact === b.exact;
  if ('glob' in a) return 'glob' in b && a.glob === b.glob;
  return 'regex' in b && a.regex === b.regex;
}

/**
 * Does `general` match every string `specific` matches? Decided conservatively (a `false` may
 * be wrong, a `true` never is): an exact string is tested against the general matcher; a glob
 * or regex is covered only by the same pattern or a universal glob (`*`). Deciding inclusion
 * between two arbitrary regexes is not worth its cost here.
 */
export function patternsCover(general: readonly PatternSpec[], specific: readonly PatternSpec[]): boolean {
  const matcher = compileMatcher(general);
  return specific.every((q) => ('exact' in q ? matcher.test(q.exact) : general.some((p) => isUniversalPattern(p) || samePattern(p, q))));
}
