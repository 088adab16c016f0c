/**
 * One check run as data: what was checked, what was found, and whether it passes. Every output
 * format (collector/check/formats.ts) and `POST /api/v1/check` render this one object.
 */
import type { CompiledRules } from '../../rules/compiled.js';
import { CHECK_RULES, LEVELS, atLeast } from './findings.js';
import type { Finding, Level } from './findings.js';
import type { MetricStats, SampleStats } from './sample.js';

export const REPORT_TOOL = 'tollgate check';

export interface CheckSummary {
  readonly inputs: number;
  readonly requests: number;
  readonly metrics: number;
  readonly series: number;
  readonly labels: number;
  readonly points: number;
  /** Spans and log records (checked against attribute policies). */
  readonly items: number;
  /** Unsuppressed findings by level. */
  readonly findings: Readonly<Record<Level, number>>;
  readonly suppressed: number;
  readonly expiredSuppressions: number;
}

export interface CheckReport {
  readonly tool: typeof REPORT_TOOL;
  readonly version: string;
  readonly rulesHash: string;
  readonly failOn: Level;
  /** False when an unsuppressed finding is at or above failOn. */
  readonly passed: boolean;
  readonly summary: CheckSummary;
  /** Every finding, suppressed ones included (they carry suppressedBy). */
  readonly findings: readonly Finding[];
  readonly metrics: readonly MetricStats[];
}

export interface ReportInput {
  readonly version: string;
  readonly rules: CompiledRules;
  readonly failOn: Level;
  readonly inputs: number;
  readonly sample: SampleStats;
  readonly findings: readonly Finding[];
}

/**
 * Is there anything to judge? A check of nothing must never pass. Points an enforced `reject`
 * policy refused are not counted, but their policy hits are: that sample has findings.
 */
export function isEmptySample(sample: SampleStats): boolean {
  return sample.points === 0 && sample.items === 0 && sample.policyHits.length === 0;
}

/** Verdict and counts of a list of findings; suppressed ones never count against the check. */
function tally(findings: readonly Finding[], failOn: Level) {
  const open = findings.filter((f) => !f.suppressedBy);
  return {
    passed: !open.some((f) => atLeast(f.level, failOn)),
    findings: Object.fromEntries(LEVELS.map((level) => [level, open.filter((f) => f.level === level).length])) as Record<Level, number>,
    suppressed: findings.length - open.length,
    expiredSuppressions: findings.filter((f) => f.ruleId === CHECK_RULES.expiredSuppression.id).length,
  };
}

export function buildReport(input: ReportInput): CheckReport {
  const { sample } = input;
  const { passed, ...counts } = tally(input.findings, input.failOn);
  return {
    tool: REPORT_TOOL,
    version: input.version,
    rulesHash: input.rules.hash,
    failOn: input.failOn,
    passed,
    summary: {
      inputs: input.inputs,
      requests: sample.requests,
      metrics: sample.metrics.length,
      series: sample.series,
      labels: sample.labels,
      points: sample.points,
      items: sample.items,
      ...counts,
    },
    findings: sortFindings(input.findings),
    metrics: [...sample.metrics].sort((a, b) => b.series - a.series || (a.name < b.name ? -1 : 1)),
  };
}

/** The report restricted to what `keep` lets through (e.g. the teams a caller may see), verdict and counts recomputed. */
export function narrowReport(report: CheckReport, keep: (team: string | undefined) => boolean): CheckReport {
  const findings = report.findings.filter((f) => keep(f.team));
  const { passed, ...counts } = tally(findings, report.failOn);
  return { ...report, passed, summary: { ...report.summary, ...counts }, findings, metrics: report.metrics.filter((m) => keep(m.team)) };
}

const RANK: Readonly<Record<Level, number>> = { error: 0, warning: 1, note: 2 };

function sortFindings(findings: readonly Finding[]): Finding[] {
  return [...findings].sort((a, b) => RANK[a.level] - RANK[b.level] || (a.ruleId < b.ruleId ? -1 : a.ruleId > b.ruleId ? 1 : 0) || (a.metric ?? '').localeCompare(b.metric ?? ''));
}

/** The report as `--format json` writes it (Maps as objects). */
export function reportToJson(report: CheckReport): unknown {
  return {
    ...report,
    findings: report.findings.map((f) => ({
      rule_id: f.ruleId,
      level: f.level,
      message: f.message,
      help: f.help,
      team: f.team ?? null,
      metric: f.metric ?? null,
      label: f.label ?? null,
      origin: f.origin,
      location: f.location ?? null,
      fingerprint: f.fingerprint,
      suppressed_by: f.suppressedBy ? { rule: f.suppressedBy.rule, owner: f.suppressedBy.owner, expires_at: new Date(f.suppressedBy.expiresAt).toISOString(), reason: f.suppressedBy.reason } : null,
    })),
    metrics: report.metrics.map((m) => ({ team: m.team, name: m.name, type: m.type, points: m.points, series: m.series, labels: Object.fromEntries(m.labels), origin: m.origin })),
  };
}

interface JsonMetric {
  team?: unknown;
  name?: unknown;
  type?: unknown;
  series?: unknown;
  points?: unknown;
  labels?: unknown;
}

/**
 * A saved `--format json` report used as a `--baseline`: its per-metric series and label
 * counts are all a baseline comparison needs. Undefined when `value` is not such a report.
 */
export function statsFromReport(value: unknown): SampleStats | undefined {
  if (typeof value !== 'object' || value === null || (value as { tool?: unknown }).tool !== REPORT_TOOL) return undefined;
  const list = (value as { metrics?: unknown }).metrics;
  if (!Array.isArray(list)) return undefined;
  const metrics: MetricStats[] = (list as JsonMetric[]).map((m) => ({
    team: typeof m.team === 'string' ? m.team : '',
    name: typeof m.name === 'string' ? m.name : '',
    type: typeof m.type === 'string' ? m.type : '',
    points: Number(m.points ?? 0),
    series: Number(m.series ?? 0),
    labels: new Map(Object.entries((m.labels ?? {}) as Record<string, number>)),
    origin: { path: '', line: 0 },
  }));
  return {
    metrics,
    policyHits: [],
    requests: 0,
    points: metrics.reduce((sum, m) => sum + m.points, 0),
    items: 0,
    series: metrics.reduce((sum, m) => sum + m.series, 0),
    labels: new Set(metrics.flatMap((m) => [...m.labels.keys()])).size,
  };
}
