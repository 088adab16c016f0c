/**
 * What the budget API answers, shaped from the BudgetReader's records: snake_case keys, times as
 * RFC 3339 strings, windows and steps as durations ("5m"), so every number says how it was counted.
 */
import { formatDuration } from '../collector/config/validate.js';
import type { BudgetException } from '../collector/usage/exceptions.js';
import type { BudgetLine, BudgetStatus, LabelDistinctEstimate, MetricSeriesCount, TeamBudgetStatus, UsageSeries, ViolationPage } from '../collector/usage/reader.js';
import type { CompiledTeam } from '../rules/compiled.js';

const iso = (ms: number): string => new Date(ms).toISOString();
const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));

export function budgetLineView(line: BudgetLine) {
  return {
    limit: line.limit,
    usage: line.usage,
    unit: line.unit,
    utilization: line.utilization,
    headroom: line.headroom,
    status: line.status,
    threshold: line.threshold,
    as_of: isoOrNull(line.asOf),
    window: line.windowMs === null ? null : formatDuration(line.windowMs),
    count_method: line.countMethod,
    ...(line.forecast === undefined ? {} : { forecast_exhausted_at: isoOrNull(line.forecast.exhaustedAt), forecast_method: line.forecast.method }),
  };
}

export function budgetView(status: TeamBudgetStatus) {
  return {
    team: status.team,
    as_of: iso(status.asOf),
    signals: { metrics: budgetLineView(status.metrics), traces: budgetLineView(status.traces), logs: budgetLineView(status.logs) },
    bytes: budgetLineView(status.bytes),
  };
}

export function exceptionView(exception: BudgetException) {
  return {
    team: exception.team,
    id: exception.id,
    signal: exception.signal,
    max_active_series: exception.maxActiveSeries,
    reason: exception.reason,
    expires_at: iso(exception.expiresAt),
    created_at: iso(exception.createdAt),
    updated_at: iso(exception.updatedAt),
    updated_by: exception.actor,
  };
}

const SEVERITY: Readonly<Record<BudgetStatus, number>> = { ok: 0, warning: 1, exceeded: 2 };

/** The team's headline: its worst status and highest utilization over every budget line with a limit. */
export function teamSummaryView(team: CompiledTeam, status: TeamBudgetStatus) {
  const lines = [status.metrics, status.traces, status.logs, status.bytes];
  const worst = lines.reduce<BudgetStatus>((acc, line) => (SEVERITY[line.status] > SEVERITY[acc] ? line.status : acc), 'ok');
  const utilizations = lines.map((line) => line.utilization).filter((u): u is number => u !== null);
  return { name: team.name, tier: team.tier, status: worst, utilization: utilizations.length > 0 ? Math.max(...utilizations) : null, as_of: iso(status.asOf) };
}

export function usageView(series: UsageSeries) {
  return {
    team: series.team,
    signal: series.signal,
    from: iso(series.from),
    to: iso(series.to),
    step: formatDuration(series.stepMs),
    resolution: series.resolution,
    points: series.points.map((p) => ({
      start: iso(p.start),
      items_in: p.itemsIn,
      passed: p.passed,
      dropped: p.dropped,
      overflowed: p.overflowed,
      bytes: p.bytes,
      bytes_kept: p.bytesKept,
      adjusted_count: p.adjustedCount,
      sampling_probability: p.probability,
    })),
  };
}

/** Top metrics by active series (modelled on Prometheus' `seriesCountByMetricName`). */
export function topMetricsView(team: string, metrics: readonly MetricSeriesCount[]) {
  return { team, metrics: metrics.map((m) => ({ metric: m.metric, active_series: m.active, as_of: iso(m.at) })) };
}

/** A metric's labels by estimated distinct values (Prometheus' `labelValueCountByLabelName`). */
export function topLabelsView(team: string, metric: string, labels: readonly LabelDistinctEstimate[]) {
  return { team, metric, labels: labels.map((l) => ({ label: l.label, distinct_values: l.estimate, as_of: iso(l.updatedAt) })) };
}

export function violationsView(page: ViolationPage) {
  return {
    items: page.items.map((v) => ({
      id: v.id,
      minute: iso(v.minute),
      first_seen: iso(v.firstSeen),
      last_seen: iso(v.lastSeen),
      metric: v.metric,
      rule: v.rule,
      action: v.action,
      count: v.count,
      samples: v.samples,
    })),
    next_cursor: page.nextCursor,
  };
}

interface Named {
  readonly name?: unknown;
  readonly teams?: unknown;
}

const isRecord = (value: unknown): value is Readonly<Record<string, unknown>> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Entries that apply to `team` (no `teams` list, or one naming it), narrowed to that team. */
function scopedEntries(entries: unknown, team: string): unknown {
  if (!Array.isArray(entries)) return entries;
  return entries
    .filter((entry: Named) => !Array.isArray(entry.teams) || entry.teams.includes(team))
    .map((entry: Named) => (Array.isArray(entry.teams) ? { ...entry, teams: [team] } : entry));
}

/**
 * The rules document as one team may see it: its own team entry, and the policies and sampling
 * rules that apply to it, so no other team's name or budget shows through.
 */
export function rulesForTeam(document: unknown, team: string): unknown {
  if (!isRecord(document)) return document;
  const teams = Array.isArray(document.teams) ? document.teams.filter((t: Named) => t.name === team) : document.teams;
  const sampling = isRecord(document.sampling) ? { ...document.sampling, rules: scopedEntries(document.sampling.rules, team) } : document.sampling;
  return { ...document, teams, attribute_policies: scopedEntries(document.attribute_policies, team), sampling };
}
