/**
 * The suppressions file of `tollgate check`: known findings a team accepted for a while. Each
 * suppression names a rule id, what it matches (team, metric, label: exact or glob), an owner
 * and an expiry date, so nothing is waved through for ever without a name on it. Past its expiry
 * a suppression stops suppressing and is itself reported (`suppression/expired`).
 *
 * ```yaml
 * suppressions:
 *   - rule: attribute-policy/deny-user-ids
 *     metric: legacy.*
 *     label: user_id
 *     owner: "@checkout-team"
 *     expires: 2026-12-31
 *     reason: the v1 API is removed in Q1
 * ```
 */
import { LineCounter, isSeq, parseDocument } from 'yaml';
import { readYamlSource } from '../config/config.js';
import { arrayOf, object, optional, scalar, string } from '../config/validate.js';
import type { Schema } from '../config/validate.js';
import { compileMatcher, hasGlobWildcard } from '../../rules/matchers.js';
import type { StringMatcher } from '../../rules/compiled.js';
import { CHECK_RULES, fingerprintOf } from './findings.js';
import type { Finding, Suppression } from './findings.js';

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DAY_MS = 86_400_000;

/** `2026-12-31` (valid through that whole day, UTC) or an RFC 3339 time; yields the first instant it no longer applies. */
const expiry: Schema<number, string> = scalar<number, string>({
  typeName: 'date',
  description: 'YYYY-MM-DD (through the end of that day, UTC) or an RFC 3339 date-time',
  takesText: true,
  check(input) {
    if (typeof input === 'string') {
      if (DATE.test(input)) {
        const ms = Date.parse(`${input}T00:00:00Z`);
        if (Number.isFinite(ms)) return { ok: true, value: ms + DAY_MS };
      } else if (/^\d{4}-\d{2}-\d{2}T/.test(input) && Number.isFinite(Date.parse(input))) return { ok: true, value: Date.parse(input) };
    }
    return { ok: false, message: 'must be a date such as 2026-12-31 or an RFC 3339 time' };
  },
});

const suppressionSchema = object({
  rule: string({ minLength: 1, description: 'rule id, e.g. attribute-policy/deny-user-ids or cardinality/*' }),
  team: optional(string({ minLength: 1, description: 'team name (exact or glob)' })),
  metric: optional(string({ minLength: 1, description: 'metric name (exact or glob)' })),
  label: optional(string({ minLength: 1, description: 'label / attribute key (exact or glob)' })),
  owner: string({ minLength: 1, description: 'who answers for it: a team, a handle, an e-mail' }),
  expires: expiry,
  reason: optional(string()),
});

export const suppressionsFileSchema = object({ suppressions: arrayOf(suppressionSchema) });

export interface CompiledSuppression extends Suppression {
  readonly matches: (finding: Finding) => boolean;
}

function matcherOf(pattern: string | undefined): StringMatcher | undefined {
  if (pattern === undefined) return undefined;
  return compileMatcher([hasGlobWildcard(pattern) ? { glob: pattern } : { exact: pattern }]);
}

/** 1-based line of each entry of `suppressions:`, for reports. */
function entryLines(text: string): number[] {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  const list = doc.get('suppressions', true);
  if (!isSeq(list)) return [];
  return list.items.map((item) => {
    const offset = (item as { range?: [number, number, number] }).range?.[0];
    return offset === undefined ? 0 : lineCounter.linePos(offset).line;
  });
}

/** Parses and validates a suppressions file; throws ConfigError (with lines and key paths) when it is invalid. */
export function parseSuppressions(text: string, path: string): CompiledSuppression[] {
  const file = readYamlSource(suppressionsFileSchema, text, path, { subject: 'suppressions', env: false });
  const lines = entryLines(text);
  return file.suppressions.map((entry, i) => {
    const rule = matcherOf(entry.rule) as StringMatcher;
    const team = matcherOf(entry.team);
    const metric = matcherOf(entry.metric);
    const label = matcherOf(entry.label);
    const test = (m: StringMatcher | undefined, value: string | undefined) => m === undefined || (value !== undefined && m.test(value));
    return {
      rule: entry.rule,
      owner: entry.owner,
      expiresAt: entry.expires,
      reason: entry.reason ?? '',
      origin: { path, line: lines[i] ?? 0 },
      matches: (finding: Finding) => rule.test(finding.ruleId) && test(team, finding.team) && test(metric, finding.metric) && test(label, finding.label),
    };
  });
}

/**
 * Marks the findings a suppression in force matches (`suppressedBy`) and returns one
 * `suppression/expired` finding per expired suppression. A suppression never hides another
 * suppression's expiry.
 */
export function applySuppressions(findings: readonly Finding[], suppressions: readonly CompiledSuppression[], now: number): Finding[] {
  const active = suppressions.filter((s) => s.expiresAt > now);
  for (const finding of findings) {
    const by = active.find((s) => s.matches(finding));
    if (by) finding.suppressedBy = { rule: by.rule, owner: by.owner, expiresAt: by.expiresAt, reason: by.reason, origin: by.origin };
  }
  const id = CHECK_RULES.expiredSuppression.id;
  return suppressions
    .filter((s) => s.expiresAt <= now)
    .map((s) => {
      const matched = findings.filter((f) => s.matches(f)).length;
      return {
        ruleId: id,
        level: 'warning' as const,
        message: `suppression of "${s.rule}" owned by ${s.owner} expired on ${new Date(s.expiresAt - 1).toISOString().slice(0, 10)}; it no longer suppresses anything (${matched} finding${matched === 1 ? '' : 's'} in this run match it).`,
        help: `Fix what it suppressed, or ask ${s.owner} to renew it with a new expiry date.`,
        origin: s.origin,
        location: s.origin,
        fingerprint: fingerprintOf(id, s.rule, s.owner, String(s.origin.line)),
      };
    });
}
