/**
 * Checks that need the whole rules file: names that refer to other entries (a team's tier, a
 * policy's or sampling rule's teams), unique names, and rules that can never take effect
 * because an earlier rule always wins first — a team whose every matcher an earlier team
 * already covers, a policy whose every attribute an earlier policy already takes, a sampling
 * rule whose every item an earlier rule already decides. Only decidable cases are reported
 * (see `patternsCover`), so every finding is certain: a rule flagged here is dead.
 */
import type { ReportIssue } from '../collector/config/validate.js';
import { formatPath, suggestClosest } from '../collector/config/validate.js';
import { BUILTIN_TIERS, IMPLICIT_DEFAULT_TEAM_NAME, LOG_SEVERITIES, SAMPLING_SIGNALS } from './builtins.js';
import { canonicalJson } from './hash.js';
import { compileMatcher, isUniversalPattern, patternsCover } from './matchers.js';
import type { PatternSpec } from './matchers.js';
import type { RawAttributeCondition, RawAttributePolicy, RawSamplingRule, RawTeam, RulesSections, ValueSpec } from './schema.js';

type Conjunction = Readonly<Record<string, readonly PatternSpec[]>>;

/** `unknown tier "gold" (did you mean "gol"?)` or `(known tiers: a, b)`. */
function unknownName(noun: string, value: string, known: readonly string[]): string {
  const near = suggestClosest(value, known);
  const hint = near === undefined ? (known.length > 0 ? `known ${noun}s: ${known.join(', ')}` : `no ${noun}s are defined`) : `did you mean "${near}"?`;
  return `unknown ${noun} "${value}" (${hint})`;
}

function reportDuplicateNames(names: readonly string[], path: (index: number) => (string | number)[], noun: string, report: ReportIssue): void {
  names.forEach((entry, index) => {
    const first = names.indexOf(entry);
    if (first < index) report(path(index), `duplicate ${noun} name "${entry}" (${formatIndex(path(first))} already uses it)`);
  });
}

/** `teams[2]` for `['teams', 2, 'name']`: the entry a name belongs to. */
function formatIndex(segments: readonly (string | number)[]): string {
  return formatPath(segments.slice(0, -1));
}

/** Does a resource matching `specific` always match `general`? (`general` asks for no more attributes, each at least as loosely.) */
function conjunctionCovers(general: Conjunction, specific: Conjunction): boolean {
  return Object.entries(general).every(([key, patterns]) => Object.hasOwn(specific, key) && patternsCover(patterns, specific[key]));
}

/** A team without `match` takes every resource. */
const isCatchAll = (team: RawTeam) => team.match === undefined;

function checkTierReferences(teams: readonly RawTeam[], tiers: Readonly<Record<string, unknown>>, report: ReportIssue): void {
  const knownTiers = [...new Set([...Object.keys(BUILTIN_TIERS), ...Object.keys(tiers)])];
  teams.forEach((team, index) => {
    if (!knownTiers.includes(team.tier)) report(['teams', index, 'tier'], unknownName('tier', team.tier, knownTiers));
  });
}

function checkTeams(teams: readonly RawTeam[], report: ReportIssue): void {
  reportDuplicateNames(
    teams.map((team) => team.name),
    (index) => ['teams', index, 'name'],
    'team',
    report,
  );
  const last = teams[teams.length - 1];
  if (last === undefined || !isCatchAll(last)) {
    teams.forEach((team, index) => {
      if (team.name === IMPLICIT_DEFAULT_TEAM_NAME) {
        report(
          ['teams', index, 'name'],
          `"${IMPLICIT_DEFAULT_TEAM_NAME}" is the name of the implicit default team; rename this team, or make it the default by removing its match and putting it last`,
        );
      }
    });
  }
  teams.forEach((team, index) => reportUnreachableTeam(teams, index, report));
}

function reportUnreachableTeam(teams: readonly RawTeam[], index: number, report: ReportIssue): void {
  const team = teams[index];
  const earlierCatchAll = teams.slice(0, index).findIndex(isCatchAll);
  if (earlierCatchAll >= 0) {
    report(
      ['teams', index],
      `unreachable: teams[${earlierCatchAll}] ("${teams[earlierCatchAll].name}") has no match, so it takes every resource first; the team without match must be the last one`,
    );
    return;
  }
  team.match?.forEach((conjunction, k) => {
    const coveringTeam = teams.slice(0, index).findIndex((earlier) => earlier.match?.some((other) => conjunctionCovers(other, conjunction)));
    if (coveringTeam >= 0) {
      const earlier = teams[coveringTeam];
      report(['teams', index, 'match', k], `unreachable: teams[${coveringTeam}] ("${earlier.name}") comes first and matches every resource this matches (the first matching team wins)`);
      return;
    }
    const redundantWith = team.match?.slice(0, k).findIndex((other) => conjunctionCovers(other, conjunction)) ?? -1;
    if (redundantWith >= 0) report(['teams', index, 'match', k], `redundant: match[${redundantWith}] of this team already matches every resource this matches`);
  });
}

// ─── Policies ──────────────────────────────────────────────────────────────────────────────────

function sameValue(a: ValueSpec, b: ValueSpec): boolean {
  return typeof a === 'string' ? a === b : typeof b !== 'string' && a.regex === b.regex;
}

/** Key coverage: unset means any key, and a universal glob matches any key too. */
function keysCover(general: readonly PatternSpec[] | undefined, specific: readonly PatternSpec[] | undefined): boolean {
  if (general === undefined) return true;
  return specific === undefined ? general.some(isUniversalPattern) : patternsCover(general, specific);
}

/** Service coverage: unset also matches resources without service.name, which no pattern does. */
function servicesCover(general: readonly PatternSpec[] | undefined, specific: readonly PatternSpec[] | undefined): boolean {
  if (general === undefined) return true;
  return specific !== undefined && patternsCover(general, specific);
}

function valuesCover(general: readonly ValueSpec[] | undefined, specific: readonly ValueSpec[] | undefined): boolean {
  if (general === undefined) return true;
  return specific !== undefined && specific.every((value) => general.some((other) => sameValue(other, value)));
}

/** `allTeams` undefined: the teams section is invalid, so "every team" cannot be spelled out (and is not claimed covered). */
function teamsCover(general: readonly string[] | undefined, specific: readonly string[] | undefined, allTeams: readonly string[] | undefined): boolean {
  if (general === undefined) return true;
  const teams = specific ?? allTeams;
  return teams !== undefined && teams.every((team) => general.includes(team));
}

type Signal = RawAttributePolicy['signals'][number];
type Target = RawAttributePolicy['targets'][number];

/** Does `earlier` take every attribute `later` would, on this signal and target? */
function policyCoversSlot(earlier: RawAttributePolicy, later: RawAttributePolicy, signal: Signal, target: Target, allTeams: readonly string[]): boolean {
  if (!earlier.signals.includes(signal) || !earlier.targets.includes(target)) return false;
  if (!teamsCover(earlier.teams, later.teams, allTeams) || !servicesCover(earlier.services, later.services)) return false;
  // A log body has no key: only value detectors decide there.
  if (target !== 'body' && !keysCover(earlier.keys, later.keys)) return false;
  return valuesCover(earlier.values, later.values);
}

function reportShadowedPolicy(policies: readonly RawAttributePolicy[], index: number, allTeams: readonly string[], report: ReportIssue): void {
  const later = policies[index];
  const covering = new Set<number>();
  for (const signal of later.signals) {
    for (const target of later.targets) {
      if (target === 'body' && signal !== 'logs') continue;
      const earlier = policies.slice(0, index).findIndex((policy) => policyCoversSlot(policy, later, signal, target, allTeams));
      if (earlier < 0) return;
      covering.add(earlier);
    }
  }
  if (covering.size === 0) return;
  const names = [...covering].map((i) => `attribute_policies[${i}] ("${policies[i].name}")`).join(' and ');
  report(['attribute_policies', index], `can never apply: ${names} ${covering.size === 1 ? 'comes' : 'come'} first and ${covering.size === 1 ? 'matches' : 'match'} every attribute this would (the first matching policy wins)`);
}

function checkPolicyNames(policies: readonly RawAttributePolicy[], report: ReportIssue): void {
  reportDuplicateNames(
    policies.map((policy) => policy.name),
    (index) => ['attribute_policies', index, 'name'],
    'policy',
    report,
  );
}

/** Every team a rule may name: the file's teams, plus the implicit default team when there is one. */
function allTeamNames(teams: readonly RawTeam[]): readonly string[] {
  const last = teams[teams.length - 1];
  const teamNames = teams.map((team) => team.name);
  return last !== undefined && isCatchAll(last) ? teamNames : [...teamNames, IMPLICIT_DEFAULT_TEAM_NAME];
}

function checkPolicyTeams(policies: readonly RawAttributePolicy[], teams: readonly RawTeam[], report: ReportIssue): void {
  const allTeams = allTeamNames(teams);
  policies.forEach((policy, index) => {
    policy.teams?.forEach((team, k) => {
      if (!allTeams.includes(team)) report(['attribute_policies', index, 'teams', k], unknownName('team', team, allTeams));
    });
  });
  policies.forEach((_, index) => reportShadowedPolicy(policies, index, allTeams, report));
}

// ─── Sampling rules ────────────────────────────────────────────────────────────────────────────

type Conditions = RawSamplingRule['when'];
type SamplingSignal = RawSamplingRule['signals'][number];

const rulePath = (index: number) => ['sampling', 'rules', index];
const ruleLabel = (rules: readonly RawSamplingRule[], index: number) => `${formatPath(rulePath(index))} ("${rules[index].name}")`;

/** Every signal, every team, no condition: it decides whatever reaches it. */
function isSamplingCatchAll(rule: RawSamplingRule): boolean {
  return rule.teams === undefined && SAMPLING_SIGNALS.every((signal) => rule.signals.includes(signal)) && Object.keys(rule.when).length === 0;
}

/** An operator and its operand, whichever of the condition's keys is set. */
function operatorOf(condition: RawAttributeCondition): [op: string, operand: unknown] {
  const { key: _key, ...rest } = condition;
  const [entry] = Object.entries(rest);
  return entry;
}

/**
 * Does every attribute that satisfies `specific` satisfy `general` (same key)? Decided for the
 * cases that are certain: the same condition, numeric bounds at least as tight, a value a
 * pattern list takes, and presence implied by every operator that needs a value.
 */
function attributeConditionImplies(specific: RawAttributeCondition, general: RawAttributeCondition): boolean {
  if (specific.key !== general.key) return false;
  if (canonicalJson(specific) === canonicalJson(general)) return true;
  const [op, operand] = operatorOf(specific);
  const equalsNumber = op === 'equals' && typeof operand === 'number' ? operand : undefined;
  const equalsString = op === 'equals' && typeof operand === 'string' ? operand : undefined;
  if (general.exists === true) return op !== 'not_equals' && op !== 'exists';
  if (general.gte !== undefined) return (specific.gte ?? specific.gt ?? equalsNumber ?? -Infinity) >= general.gte;
  if (general.gt !== undefined) return (specific.gt ?? -Infinity) >= general.gt || (specific.gte ?? equalsNumber ?? -Infinity) > general.gt;
  if (general.lte !== undefined) return (specific.lte ?? specific.lt ?? equalsNumber ?? Infinity) <= general.lte;
  if (general.lt !== undefined) return (specific.lt ?? Infinity) <= general.lt || (specific.lte ?? equalsNumber ?? Infinity) < general.lt;
  if (general.matches !== undefined) {
    if (specific.matches !== undefined) return patternsCover(general.matches, specific.matches);
    return equalsString !== undefined && compileMatcher(general.matches).test(equalsString);
  }
  return false;
}

const severityRank = (severity: Conditions['min_severity']) => (severity === undefined ? -1 : LOG_SEVERITIES.indexOf(severity));

/** Does every item satisfying the conditions `specific` also satisfy `general`? (Conservative: `false` may be wrong, `true` never is.) */
function conditionsImply(specific: Conditions, general: Conditions): boolean {
  if (general.status !== undefined && specific.status !== general.status) return false;
  if (general.min_duration !== undefined && (specific.min_duration ?? -1) < general.min_duration) return false;
  if (general.min_severity !== undefined && severityRank(specific.min_severity) < severityRank(general.min_severity)) return false;
  if (general.span_name !== undefined && (specific.span_name === undefined || !patternsCover(general.span_name, specific.span_name))) return false;
  const specificAttributes = specific.attributes ?? [];
  return (general.attributes ?? []).every((condition) => specificAttributes.some((other) => attributeConditionImplies(other, condition)));
}

function samplingRuleCovers(earlier: RawSamplingRule, later: RawSamplingRule, signal: SamplingSignal, allTeams: readonly string[] | undefined): boolean {
  return earlier.signals.includes(signal) && teamsCover(earlier.teams, later.teams, allTeams) && conditionsImply(later.when, earlier.when);
}

function reportUnreachableSamplingRule(rules: readonly RawSamplingRule[], index: number, allTeams: readonly string[] | undefined, report: ReportIssue): void {
  const catchAll = rules.slice(0, index).findIndex(isSamplingCatchAll);
  if (catchAll >= 0) {
    report(
      rulePath(index),
      `unreachable: ${ruleLabel(rules, catchAll)} is a catch-all (no when, teams or signals), so it decides every span and log record first; the catch-all must be the last rule`,
    );
    return;
  }
  const later = rules[index];
  const covering = new Set<number>();
  for (const signal of later.signals) {
    const earlier = rules.slice(0, index).findIndex((rule) => samplingRuleCovers(rule, later, signal, allTeams));
    if (earlier < 0) return;
    covering.add(earlier);
  }
  if (covering.size === 0) return;
  const labels = [...covering].map((i) => ruleLabel(rules, i)).join(' and ');
  const one = covering.size === 1;
  report(rulePath(index), `unreachable: ${labels} ${one ? 'comes' : 'come'} first and ${one ? 'matches' : 'match'} everything this rule would (the first matching rule wins)`);
}

/**
 * Names, a catch-all at the end (every item needs a decision), and rules an earlier rule
 * always pre-empts. Team names are checked against `teams` when that section is valid.
 */
function checkSampling(rules: readonly RawSamplingRule[], teams: readonly RawTeam[] | undefined, report: ReportIssue): void {
  reportDuplicateNames(
    rules.map((rule) => rule.name),
    (index) => [...rulePath(index), 'name'],
    'sampling rule',
    report,
  );
  const allTeams = teams && allTeamNames(teams);
  if (allTeams) {
    rules.forEach((rule, index) => {
      rule.teams?.forEach((team, k) => {
        if (!allTeams.includes(team)) report([...rulePath(index), 'teams', k], unknownName('team', team, allTeams));
      });
    });
  }
  const example = '{ name: sample-the-rest, action: sample }';
  if (rules.length === 0) {
    report(['sampling', 'rules'], `is empty: it needs at least a catch-all rule such as ${example}, or leave it out for the default rules`);
    return;
  }
  if (!rules.some(isSamplingCatchAll)) {
    report(
      ['sampling', 'rules'],
      `must end with a catch-all rule (no when, teams or signals) such as ${example}, so every span and log record gets a decision`,
    );
  }
  rules.forEach((_, index) => reportUnreachableSamplingRule(rules, index, allTeams, report));
}

/**
 * Reports every cross-reference and reachability problem among the given sections; a check
 * runs when the sections it reads are present (valid).
 */
export function checkRulesDocument(sections: RulesSections, report: ReportIssue): void {
  const { tiers, teams, attribute_policies: policies, sampling } = sections;
  if (teams && tiers) checkTierReferences(teams, tiers, report);
  if (teams) checkTeams(teams, report);
  if (policies) checkPolicyNames(policies, report);
  if (policies && teams) checkPolicyTeams(policies, teams, report);
  if (sampling) checkSampling(sampling.rules, teams, report);
}
