/**
 * Validated document → CompiledRules: everything the processors need on the hot path is built
 * here once per load (matchers, detectors, sets, resolved tiers), and the result is frozen so
 * a reload can only ever swap in a whole new object.
 */
import type { Signal } from '../collector/otlp/signal.js';
import { ATTRIBUTE_CONDITION_OPS, BUILTIN_TIERS, DEFAULT_TIER, IMPLICIT_DEFAULT_TEAM_NAME, LOG_SEVERITY_NUMBERS, RULES_VERSION } from './builtins.js';
import type { TierDefinition } from './builtins.js';
import type {
  CompiledAttributeCondition,
  CompiledAttributePolicy,
  CompiledRules,
  CompiledSamplingRule,
  CompiledTeam,
  CompiledTier,
  MetricBudget,
  ResourceMatcher,
  SamplingSignal,
  TeamBudgets,
  ValueDetector,
} from './compiled.js';
import { DETECTORS, createRegexDetector } from './detectors.js';
import { rulesHash } from './hash.js';
import { compileMatcher, compileValueRegex } from './matchers.js';
import type {
  MetricBudgetDocument,
  RulesAttributeCondition,
  RulesAttributePolicy,
  RulesDocument,
  RulesSamplingRule,
  RulesTeam,
  ValueSpec,
} from './schema.js';

// ─── Immutable collections ─────────────────────────────────────────────────────────────────────

// Object.freeze does not stop Set#add or Map#set; these refuse mutation once built. The
// instances are remembered in a WeakSet because the Set/Map constructors call add/set
// themselves before a subclass's own fields exist.
const sealed = new WeakSet<object>();

function mutationError(): TypeError {
  return new TypeError('compiled rules are immutable');
}

class FrozenSet<T> extends Set<T> {
  constructor(items: Iterable<T>) {
    super(items);
    sealed.add(this);
    Object.freeze(this);
  }
  override add(value: T): this {
    if (sealed.has(this)) throw mutationError();
    return super.add(value);
  }
  override delete(): boolean {
    throw mutationError();
  }
  override clear(): void {
    throw mutationError();
  }
}

class FrozenMap<K, V> extends Map<K, V> {
  constructor(entries: Iterable<readonly [K, V]>) {
    super(entries);
    sealed.add(this);
    Object.freeze(this);
  }
  override set(key: K, value: V): this {
    if (sealed.has(this)) throw mutationError();
    return super.set(key, value);
  }
  override delete(): boolean {
    throw mutationError();
  }
  override clear(): void {
    throw mutationError();
  }
}

const freeze = Object.freeze;

// ─── Tiers ─────────────────────────────────────────────────────────────────────────────────────

function compileTier(name: string, tier: TierDefinition): CompiledTier {
  return freeze({
    name,
    traceProbability: tier.trace_probability,
    logProbability: freeze({ ...tier.log_probability }),
    logsFollowTraces: tier.logs_follow_traces,
  });
}

/** Built-in tiers first, then the file's (which may redefine a built-in one). */
function compileTiers(document: RulesDocument): ReadonlyMap<string, CompiledTier> {
  const definitions = { ...BUILTIN_TIERS, ...document.tiers };
  return new FrozenMap(Object.entries(definitions).map(([name, tier]) => [name, compileTier(name, tier)] as const));
}

// ─── Teams ─────────────────────────────────────────────────────────────────────────────────────

/** Matches every resource: a conjunction of no conditions. */
const MATCH_EVERYTHING: readonly ResourceMatcher[] = freeze([freeze({ attributes: freeze([]) })]);

function compileMetricBudget(budget: MetricBudgetDocument): MetricBudget {
  return freeze({
    maxActiveSeries: budget.max_active_series,
    defaultMaxSeriesPerMetric: budget.default_max_series_per_metric,
    perMetric: freeze(budget.per_metric.map((entry) => freeze({ metric: compileMatcher(entry.metric), maxActiveSeries: entry.max_active_series }))),
    perLabel: freeze(budget.per_label.map((entry) => freeze({ label: entry.label, maxDistinctValues: entry.max_distinct_values }))),
    exemptMetrics: budget.exempt_metrics === undefined ? undefined : compileMatcher(budget.exempt_metrics),
    activeWindowMs: budget.active_window,
    warningThresholds: freeze([...budget.warning_thresholds]),
    action: budget.action,
    mode: budget.mode,
  });
}

function compileBudgets(budgets: RulesTeam['budgets'] | undefined): TeamBudgets {
  return freeze({
    metrics: budgets?.metrics === undefined ? undefined : compileMetricBudget(budgets.metrics),
    maxSpansPerSecond: budgets?.max_spans_per_second,
    maxLogRecordsPerSecond: budgets?.max_log_records_per_second,
    maxBytesPerDay: budgets?.max_bytes_per_day,
  });
}

function compileTeam(team: RulesTeam, index: number): CompiledTeam {
  const match =
    team.match === undefined
      ? MATCH_EVERYTHING
      : freeze(
          team.match.map((conjunction) =>
            freeze({ attributes: freeze(Object.entries(conjunction).map(([key, patterns]) => freeze({ key, value: compileMatcher(patterns) }))) }),
          ),
        );
  return freeze({ name: team.name, index, match, tier: team.tier, budgets: compileBudgets(team.budgets) });
}

/** The file's teams, plus the implicit default team unless the file ends with its own catch-all. */
function compileTeams(document: RulesDocument): readonly CompiledTeam[] {
  const teams = document.teams.map(compileTeam);
  const last = document.teams[document.teams.length - 1];
  if (last === undefined || last.match !== undefined) {
    teams.push(freeze({ name: IMPLICIT_DEFAULT_TEAM_NAME, index: teams.length, match: MATCH_EVERYTHING, tier: DEFAULT_TIER, budgets: compileBudgets(undefined) }));
  }
  return freeze(teams);
}

/**
 * First team (file order) with a conjunction whose every attribute is present and matches; the
 * default team otherwise. Each key is looked up at most once per call, since the lookup may
 * decode from the wire.
 */
function createTeamOf(teams: readonly CompiledTeam[], defaultTeam: number): CompiledRules['teamOf'] {
  return (lookup) => {
    const seen = new Map<string, string | undefined>();
    const valueOf = (key: string): string | undefined => {
      if (seen.has(key)) return seen.get(key);
      const value = lookup(key);
      seen.set(key, value);
      return value;
    };
    for (let t = 0; t < defaultTeam; t++) {
      for (const conjunction of teams[t].match) {
        let matches = true;
        for (const { key, value: matcher } of conjunction.attributes) {
          const value = valueOf(key);
          if (value === undefined || !matcher.test(value)) {
            matches = false;
            break;
          }
        }
        if (matches) return t;
      }
    }
    return defaultTeam;
  };
}

function teamMatchKeysOf(teams: readonly CompiledTeam[]): readonly string[] {
  const keys = new Set(teams.flatMap((team) => team.match.flatMap((conjunction) => conjunction.attributes.map((attribute) => attribute.key))));
  return freeze([...keys].sort());
}

// ─── Attribute policies ────────────────────────────────────────────────────────────────────────

function compileDetector(spec: ValueSpec): ValueDetector {
  return typeof spec === 'string' ? DETECTORS[spec] : createRegexDetector(`regex:${spec.regex}`, compileValueRegex(spec.regex));
}

function compilePolicy(policy: RulesAttributePolicy, index: number, teamIndex: ReadonlyMap<string, number>): CompiledAttributePolicy {
  return freeze({
    name: policy.name,
    index,
    signals: new FrozenSet<Signal>(policy.signals),
    targets: freeze({ resource: policy.targets.includes('resource'), attributes: policy.targets.includes('attributes'), body: policy.targets.includes('body') }),
    teams: policy.teams === undefined ? undefined : new FrozenSet(policy.teams.map((team) => teamIndex.get(team)!)),
    services: policy.services === undefined ? undefined : compileMatcher(policy.services),
    keys: policy.keys === undefined ? undefined : compileMatcher(policy.keys),
    detectors: freeze((policy.values ?? []).map(compileDetector)),
    action: policy.action,
    replacement: policy.replacement ?? '',
    maxLength: policy.max_length ?? 0,
    mode: policy.mode,
  });
}

// ─── Sampling rules ────────────────────────────────────────────────────────────────────────────

const NS_PER_MS = 1_000_000;

function compileAttributeCondition(condition: RulesAttributeCondition): CompiledAttributeCondition {
  // Validation leaves exactly one operator set.
  const op = ATTRIBUTE_CONDITION_OPS.find((candidate) => condition[candidate] !== undefined)!;
  const { matches, exists } = condition;
  const value = op === 'matches' || op === 'exists' ? undefined : condition[op];
  return freeze({ key: condition.key, op, value, matcher: matches === undefined ? undefined : compileMatcher(matches), exists });
}

function compileSamplingRule(rule: RulesSamplingRule, index: number, teamIndex: ReadonlyMap<string, number>): CompiledSamplingRule {
  const { when } = rule;
  return freeze({
    name: rule.name,
    index,
    action: rule.action,
    signals: new FrozenSet<SamplingSignal>(rule.signals),
    teams: rule.teams === undefined ? undefined : new FrozenSet(rule.teams.map((team) => teamIndex.get(team)!)),
    statusError: when.status === 'error',
    // Durations are validated in (fractional) milliseconds; spans carry nanoseconds.
    minDurationNs: when.min_duration === undefined ? undefined : Math.round(when.min_duration * NS_PER_MS),
    spanName: when.span_name === undefined ? undefined : compileMatcher(when.span_name),
    minSeverityNumber: when.min_severity === undefined ? undefined : LOG_SEVERITY_NUMBERS[when.min_severity],
    attributes: freeze((when.attributes ?? []).map(compileAttributeCondition)),
  });
}

// ─── The whole ─────────────────────────────────────────────────────────────────────────────────

/** Compiles a validated document (from `rulesSchema`) into the frozen form the processors read. */
export function compileRules(document: RulesDocument): CompiledRules {
  const teams = compileTeams(document);
  const defaultTeam = teams.length - 1;
  const teamIndex = new Map(teams.map((team) => [team.name, team.index]));
  return freeze({
    hash: rulesHash(document),
    version: RULES_VERSION,
    mode: document.mode,
    teams,
    defaultTeam,
    tiers: compileTiers(document),
    attributePolicies: freeze(document.attribute_policies.map((policy, index) => compilePolicy(policy, index, teamIndex))),
    sampling: freeze(document.sampling.rules.map((rule, index) => compileSamplingRule(rule, index, teamIndex))),
    teamMatchKeys: teamMatchKeysOf(teams),
    teamOf: createTeamOf(teams, defaultTeam),
    document,
  });
}
