/**
 * The checks themselves: pure functions from the rules, the sample's statistics, the teams'
 * current usage and an optional baseline to findings. The limits are the rules' own (and the
 * budget API's, which include exceptions in force), so a check fails exactly where the pipeline
 * would refuse, drop or rewrite.
 */
import type { CompiledAttributePolicy, CompiledRules, MetricBudget, PolicyMode } from '../../rules/compiled.js';
import { CHECK_RULES, POLICY_RULE_PREFIX, fingerprintOf } from './findings.js';
import type { Finding, Level } from './findings.js';
import type { MetricStats, PolicyHit, SampleStats } from './sample.js';

/** A team's metrics budget line as the budget API reports it. */
export interface TeamUsage {
  readonly usage: number;
  /** The limit in force (a budget exception included); null when the team has none. */
  readonly limit: number | null;
}

export interface EvaluateOptions {
  readonly rules: CompiledRules;
  readonly sample: SampleStats;
  /** Current active series per team (from --api); teams not listed count from zero. */
  readonly usage?: ReadonlyMap<string, TeamUsage>;
  readonly baseline?: SampleStats;
  /** Series growth over the baseline that is still fine, as a fraction (0.2 = 20 %). */
  readonly maxGrowth: number;
}

const levelOfMode = (mode: PolicyMode): Level => (mode === 'enforce' ? 'error' : 'warning');

const ACTION_WORDS: Readonly<Record<CompiledAttributePolicy['action'], string>> = {
  drop: 'drop the attribute',
  hash: 'replace its value with a hash',
  redact: 'redact its value',
  truncate: 'truncate its value',
  reject: 'reject the whole item',
};

function describeSubject(hit: PolicyHit): string {
  if (hit.target === 'resource') return `resource attribute "${hit.key}" (${hit.signal})`;
  if (hit.target === 'body') return 'the body of log records';
  if (hit.signal === 'metrics') return `label "${hit.key}" on metric "${hit.subject}"`;
  return `attribute "${hit.key}" on ${hit.subject}`;
}

function policyFinding(hit: PolicyHit): Finding {
  const { policy } = hit;
  const ruleId = `${POLICY_RULE_PREFIX}${policy.name}`;
  const byDetector = policy.detectors.length > 0 ? ` (its value looks like ${policy.detectors.map((d) => d.name).join(' or ')})` : '';
  return {
    ruleId,
    level: levelOfMode(policy.mode),
    message:
      `${describeSubject(hit)}${byDetector}: attribute policy "${policy.name}" would ${ACTION_WORDS[policy.action]}` +
      `${policy.mode === 'audit' ? ' (audit mode: counted only)' : ''} — ${hit.count} ${hit.signal === 'metrics' ? 'data point' : 'item'}${hit.count === 1 ? '' : 's'}, team "${hit.team}", e.g. ${hit.key}=${hit.example} (value masked).`,
    help:
      hit.target === 'body'
        ? 'Keep such values out of log messages where they are written, or change the rules if the policy is wrong.'
        : hit.signal === 'metrics' && (policy.action === 'drop' || policy.action === 'reject' || policy.action === 'hash')
        ? `Stop recording "${hit.key}" on this metric: an unbounded value makes a new series per value. Put it on a span or log record if it is needed for debugging.`
        : `Stop setting "${hit.key}"${byDetector ? ' to such values' : ''} where it is recorded, or change the rules if the policy is wrong.`,
    team: hit.team,
    metric: hit.signal === 'metrics' && hit.target === 'attributes' ? hit.subject : undefined,
    label: hit.key,
    origin: hit.origin,
    fingerprint: fingerprintOf(ruleId, hit.team, hit.signal, hit.subject, hit.key),
  };
}

/** The metric's series cap: the first per_metric entry that matches, else the team default. */
function metricCap(budget: MetricBudget, name: string): { cap: number; source: string } | undefined {
  for (const entry of budget.perMetric) if (entry.metric.test(name)) return { cap: entry.maxActiveSeries, source: 'per_metric' };
  return budget.defaultMaxSeriesPerMetric === undefined ? undefined : { cap: budget.defaultMaxSeriesPerMetric, source: 'default_max_series_per_metric' };
}

function budgetOf(rules: CompiledRules, team: string): MetricBudget | undefined {
  return rules.teams.find((t) => t.name === team)?.budgets.metrics;
}

function cardinalityFindings(metric: MetricStats, budget: MetricBudget): Finding[] {
  const findings: Finding[] = [];
  const level = levelOfMode(budget.mode);
  const cap = metricCap(budget, metric.name);
  if (cap && metric.series > cap.cap) {
    const id = CHECK_RULES.seriesPerMetric.id;
    findings.push({
      ruleId: id,
      level,
      message: `metric "${metric.name}" has ${metric.series} series in this sample, over its cap of ${cap.cap} (${cap.source}, team "${metric.team}"); Tollgate would ${budget.action} the new ones${budget.mode === 'audit' ? ' (audit mode: counted only)' : ''}.`,
      help: `Remove or bound the label that multiplies series (labels by distinct values: ${topLabels(metric)}), or raise the cap in the rules.`,
      team: metric.team,
      metric: metric.name,
      origin: metric.origin,
      fingerprint: fingerprintOf(id, metric.team, metric.name),
    });
  }
  for (const { label, maxDistinctValues } of budget.perLabel) {
    const distinct = metric.labels.get(label);
    if (distinct === undefined || distinct <= maxDistinctValues) continue;
    const id = CHECK_RULES.labelDistinctValues.id;
    findings.push({
      ruleId: id,
      level,
      message: `label "${label}" of metric "${metric.name}" has ${distinct} distinct values in this sample, over its per_label cap of ${maxDistinctValues} (team "${metric.team}").`,
      help: `Bound the values of "${label}" (e.g. a route template instead of the raw path), or raise its per_label cap in the rules.`,
      team: metric.team,
      metric: metric.name,
      label,
      origin: metric.origin,
      fingerprint: fingerprintOf(id, metric.team, metric.name, label),
    });
  }
  return findings;
}

function topLabels(metric: MetricStats): string {
  const sorted = [...metric.labels].sort((a, b) => b[1] - a[1]).slice(0, 3);
  return sorted.length === 0 ? 'none' : sorted.map(([key, n]) => `${key}=${n}`).join(', ');
}

function projectedFindings(options: EvaluateOptions): Finding[] {
  const findings: Finding[] = [];
  const byTeam = new Map<string, MetricStats[]>();
  for (const metric of options.sample.metrics) byTeam.set(metric.team, [...(byTeam.get(metric.team) ?? []), metric]);
  for (const [team, metrics] of byTeam) {
    const budget = budgetOf(options.rules, team);
    const counted = metrics.filter((m) => !budget?.exemptMetrics?.test(m.name));
    const added = counted.reduce((sum, m) => sum + m.series, 0);
    const current = options.usage?.get(team);
    const limit = current ? (current.limit ?? undefined) : budget?.maxActiveSeries;
    if (limit === undefined || !budget) continue;
    const projected = (current?.usage ?? 0) + added;
    const thresholds = [...budget.warningThresholds].sort((a, b) => b - a);
    const crossed = projected > limit ? undefined : thresholds.find((t) => projected >= t * limit);
    if (projected <= limit && crossed === undefined) continue;
    const id = CHECK_RULES.projectedSeries.id;
    const usageText = current ? `${current.usage} active now + ${added} in this sample` : `${added} in this sample (no --api: current usage not included)`;
    findings.push({
      ruleId: id,
      level: projected > limit ? levelOfMode(budget.mode) : 'warning',
      message:
        projected > limit
          ? `team "${team}" would have ${projected} active series (${usageText}), over its budget of ${limit}.`
          : `team "${team}" would have ${projected} active series (${usageText}), ${Math.round((projected / limit) * 100)} % of its budget of ${limit}, past the ${Math.round((crossed ?? 0) * 100)} % warning threshold.`,
      help: 'Cut series (fewer labels or label values on the largest metrics) or ask the platform team for a larger budget or a budget exception.',
      team,
      origin: counted[0]?.origin ?? metrics[0].origin,
      fingerprint: fingerprintOf(id, team),
    });
  }
  return findings;
}

/** Per metric name (all teams together): series and label keys. */
function byName(stats: SampleStats): Map<string, { series: number; labels: Set<string> }> {
  const out = new Map<string, { series: number; labels: Set<string> }>();
  for (const metric of stats.metrics) {
    const entry = out.get(metric.name) ?? { series: 0, labels: new Set<string>() };
    entry.series += metric.series;
    for (const key of metric.labels.keys()) entry.labels.add(key);
    out.set(metric.name, entry);
  }
  return out;
}

function baselineFindings(sample: SampleStats, baseline: SampleStats, maxGrowth: number): Finding[] {
  const findings: Finding[] = [];
  const before = byName(baseline);
  const after = byName(sample);
  const origins = new Map(sample.metrics.map((m) => [m.name, { origin: m.origin, team: m.team }]));
  for (const [name, now] of after) {
    const { origin, team } = origins.get(name) ?? { origin: { path: '', line: 0 }, team: undefined };
    const then = before.get(name);
    if (!then) {
      const id = CHECK_RULES.newMetric.id;
      findings.push({ ruleId: id, level: 'note', message: `new metric "${name}" with ${now.series} series (not in the baseline).`, help: 'Check that its labels are bounded before it ships.', team, metric: name, origin, fingerprint: fingerprintOf(id, name) });
      continue;
    }
    for (const label of now.labels) {
      if (then.labels.has(label)) continue;
      const id = CHECK_RULES.newLabel.id;
      findings.push({ ruleId: id, level: 'warning', message: `metric "${name}" has a new label "${label}" (not in the baseline).`, help: `Make sure "${label}" has a small, fixed set of values; every value multiplies the metric's series.`, team, metric: name, label, origin, fingerprint: fingerprintOf(id, name, label) });
    }
    if (then.series > 0 && (now.series - then.series) / then.series > maxGrowth) {
      const id = CHECK_RULES.seriesGrowth.id;
      const growth = Math.round(((now.series - then.series) / then.series) * 100);
      findings.push({
        ruleId: id,
        level: 'error',
        message: `metric "${name}" grew from ${then.series} to ${now.series} series (+${growth} %), more than the allowed ${Math.round(maxGrowth * 100)} %.`,
        help: 'Find the label whose values multiplied (new labels above, or a label with more values), or pass a larger --max-growth if the growth is intended.',
        team,
        metric: name,
        origin,
        fingerprint: fingerprintOf(id, name),
      });
    }
  }
  return findings;
}

export function evaluate(options: EvaluateOptions): Finding[] {
  const findings: Finding[] = options.sample.policyHits.map(policyFinding);
  for (const metric of options.sample.metrics) {
    const budget = budgetOf(options.rules, metric.team);
    if (budget && !budget.exemptMetrics?.test(metric.name)) findings.push(...cardinalityFindings(metric, budget));
  }
  findings.push(...projectedFindings(options));
  if (options.baseline) findings.push(...baselineFindings(options.sample, options.baseline, options.maxGrowth));
  return findings;
}
