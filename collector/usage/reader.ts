/**
 * The read side the budget API serves: a thin typed layer over SQL. Every method is one or a few
 * indexed queries; in WAL mode they read a consistent snapshot while the flush writes.
 *
 * Data reaches the tables at each flush, so answers lag live traffic by up to one flush interval.
 */
import type { Database } from 'better-sqlite3';
import { SIGNALS } from '../otlp/signal.js';
import type { Signal } from '../otlp/signal.js';
import type { TeamBudgets } from '../../rules/compiled.js';
import { UsageStoreError } from './errors.js';
import type { LabelSet } from './samples.js';
import { DAY_MS, HOUR_MS, MINUTE_MS, floorTo, hourOf, minuteOf } from './time.js';

export type BudgetStatus = 'ok' | 'warning' | 'exceeded';

/**
 * How the usage figure of a budget line is obtained: the team's active-series count (series
 * with a point within the active window), a mean rate of forwarded items over the window, or a
 * sum of bytes over the window.
 */
export type CountMethod = 'active_series' | 'mean_rate' | 'sum';

export type BudgetUnit = 'series' | 'spans_per_second' | 'log_records_per_second' | 'bytes_per_day';

export interface BudgetLine {
  /** null: the rules set no limit for this. */
  readonly limit: number | null;
  readonly usage: number;
  readonly unit: BudgetUnit;
  /** usage / limit (1 = at the limit); null without a limit. */
  readonly utilization: number | null;
  /** max(0, limit − usage); null without a limit. */
  readonly headroom: number | null;
  /** `exceeded` at or over the limit, `warning` past the lowest threshold, else `ok`. */
  readonly status: BudgetStatus;
  /** The highest warning threshold reached (e.g. 0.95), or null. */
  readonly threshold: number | null;
  /** Time of the data the usage is based on; null when there is none. */
  readonly asOf: number | null;
  readonly windowMs: number | null;
  readonly countMethod: CountMethod;
  /** Metrics only: when the limit is reached at the current growth. */
  readonly forecast?: BudgetForecast;
}

export interface BudgetForecast {
  /** When the fitted line reaches the limit; `asOf` of the data when usage is already there; null without a limit or without growth. */
  readonly exhaustedAt: number | null;
  /** How it was computed, in words. */
  readonly method: string;
}

export interface TeamBudgetStatus {
  readonly team: string;
  /** When the status was computed. */
  readonly asOf: number;
  readonly metrics: BudgetLine;
  readonly traces: BudgetLine;
  readonly logs: BudgetLine;
  /** Bytes over the last 24 h, all signals, against `max_bytes_per_day`. */
  readonly bytes: BudgetLine;
}

export interface BudgetStatusOptions {
  /** Warning thresholds as fractions of the limit; defaults to the team's metric budget thresholds, else 0.8 and 0.95. */
  readonly thresholds?: readonly number[];
  /** Window of the span and log rates (whole minutes, default 5 min). */
  readonly rateWindowMs?: number;
  /** Minute rows of active series the forecast fits (default 30, at least 2). */
  readonly forecastRows?: number;
}

export interface MetricSeriesCount {
  readonly metric: string;
  readonly active: number;
  /** When this count was recorded. */
  readonly at: number;
}

export interface LabelDistinctEstimate {
  readonly label: string;
  readonly estimate: number;
  readonly updatedAt: number;
}

export interface ViolationRecord {
  readonly id: number;
  /** Start of the minute the row aggregates. */
  readonly minute: number;
  readonly firstSeen: number;
  readonly lastSeen: number;
  readonly team: string;
  readonly metric: string;
  readonly rule: string;
  readonly action: string;
  readonly count: number;
  readonly samples: readonly LabelSet[];
}

export interface ViolationQuery {
  /** Only rows of the minute holding `since` and later. */
  readonly since?: number;
  /** Page size, 1 to MAX_PAGE_SIZE (default 50). */
  readonly limit?: number;
  /** `nextCursor` of the previous page. */
  readonly cursor?: string;
}

export interface ViolationPage {
  /** Newest first. */
  readonly items: readonly ViolationRecord[];
  /** Opaque; null on the last page. */
  readonly nextCursor: string | null;
}

export interface UsagePoint {
  /** Bucket start. */
  readonly start: number;
  readonly itemsIn: number;
  readonly passed: number;
  readonly dropped: number;
  readonly overflowed: number;
  /** Bytes in. */
  readonly bytes: number;
  /** Bytes of the items the sampler kept (0 where nothing was recorded, and for rows older than schema version 3). */
  readonly bytesKept: number;
  /** Sum of the adjusted counts of the kept items: how many items they stand for (a float). */
  readonly adjustedCount: number;
  /**
   * The effective sampling probability: the simple (unweighted) mean of the minute values recorded
   * in the bucket, minutes without a value not counted; null when none was recorded.
   */
  readonly probability: number | null;
}

export interface UsageSeries {
  readonly team: string;
  readonly signal: Signal;
  readonly from: number;
  readonly to: number;
  /** The step used: the one asked for, raised to a whole number of minutes, or of hours when `resolution` is `hour`. */
  readonly stepMs: number;
  /** `hour` when the range starts before the hour in which minute rows are rolled up (past the minute retention only hourly rows are left). */
  readonly resolution: 'minute' | 'hour';
  /** One point per step from the step-aligned `from` up to `to`, zeros where nothing was recorded. */
  readonly points: readonly UsagePoint[];
}

export interface BudgetReader {
  teamBudgetStatus(team: string, limits: TeamBudgets | undefined, options?: BudgetStatusOptions): TeamBudgetStatus;
  /** The team's metrics by active series, from its latest snapshot. */
  topMetrics(team: string, limit: number): MetricSeriesCount[];
  /** A metric's labels by estimated distinct values. */
  topLabels(team: string, metric: string, limit: number): LabelDistinctEstimate[];
  violations(team: string, query?: ViolationQuery): ViolationPage;
  /** Step defaults to the smallest that gives at most 1,440 points. */
  usage(team: string, signal: Signal, from: number, to: number, stepMs?: number): UsageSeries;
}

export const DEFAULT_WARNING_THRESHOLDS: readonly number[] = Object.freeze([0.8, 0.95]);
export const DEFAULT_RATE_WINDOW_MS = 5 * MINUTE_MS;
export const DEFAULT_FORECAST_ROWS = 30;
export const MAX_FORECAST_ROWS = 1_440;
export const MAX_PAGE_SIZE = 500;
export const MAX_TOP = 1_000;
export const MAX_USAGE_POINTS = 10_000;
const DEFAULT_PAGE_SIZE = 50;
const AUTO_STEP_POINTS = 1_440;
const AUTO_STEPS = [MINUTE_MS, 5 * MINUTE_MS, 15 * MINUTE_MS, HOUR_MS, 6 * HOUR_MS, DAY_MS, 7 * DAY_MS];

// ─── Pure helpers ──────────────────────────────────────────────────────────────────────────────

type Evaluation = Pick<BudgetLine, 'limit' | 'utilization' | 'headroom' | 'status' | 'threshold'>;

/** Status of `usage` against `limit`. A zero limit allows nothing, so it is always full. */
export function evaluateBudget(limit: number | undefined, usage: number, thresholds: readonly number[]): Evaluation {
  if (limit === undefined) return { limit: null, utilization: null, headroom: null, status: 'ok', threshold: null };
  const utilization = limit > 0 ? usage / limit : 1;
  const reached = thresholds.filter((t) => utilization >= t);
  const threshold = reached.length > 0 ? Math.max(...reached) : null;
  const status: BudgetStatus = utilization >= 1 ? 'exceeded' : threshold !== null ? 'warning' : 'ok';
  return { limit, utilization, headroom: Math.max(0, limit - usage), status, threshold };
}

/**
 * When a straight line fitted by least squares through `points` (x: time in ms, y: active
 * series) reaches `limit`: null when it does not grow (slope ≤ 0) or with fewer than two
 * points; never before the last point (`last.x` when the fit has crossed already but the data
 * has not, or the data is at or over the limit).
 */
export function linearForecast(points: readonly { readonly x: number; readonly y: number }[], limit: number): number | null {
  if (points.length === 0) return null;
  const last = points.reduce((a, b) => (b.x > a.x ? b : a));
  if (last.y >= limit) return last.x;
  if (points.length < 2) return null;
  // Centred on the first x, so squares of epoch milliseconds do not lose precision.
  const x0 = points[0].x;
  const n = points.length;
  const mx = points.reduce((sum, p) => sum + (p.x - x0), 0) / n;
  const my = points.reduce((sum, p) => sum + p.y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const p of points) {
    sxy += (p.x - x0 - mx) * (p.y - my);
    sxx += (p.x - x0 - mx) ** 2;
  }
  if (sxx === 0) return null;
  const slope = sxy / sxx;
  if (!(slope > 0)) return null;
  const reach = x0 + mx + (limit - my) / slope;
  return Math.max(last.x, Math.round(reach));
}

export function forecastMethod(rows: number): string {
  return `linear least squares over the last ${rows} minute rows of active series (x: minute start); null when not growing`;
}

function checkThresholds(thresholds: readonly number[]): void {
  if (!thresholds.every((t) => typeof t === 'number' && t > 0 && t <= 1)) {
    throw new UsageStoreError('invalid_query', `thresholds must be fractions in (0, 1] (got ${JSON.stringify(thresholds)})`);
  }
}

function checkCount(name: string, value: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new UsageStoreError('invalid_query', `${name} must be an integer from 1 to ${max} (got ${String(value)})`);
  }
}

function checkTime(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new UsageStoreError('invalid_query', `${name} must be a time in epoch milliseconds (got ${String(value)})`);
}

/** Cursors are base64url JSON of the last row's [minute, id]: stable while newer rows arrive. */
export function encodeCursor(minute: number, id: number): string {
  return Buffer.from(JSON.stringify([minute, id])).toString('base64url');
}

export function decodeCursor(cursor: string): { minute: number; id: number } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (Array.isArray(parsed) && parsed.length === 2 && parsed.every((n) => Number.isSafeInteger(n) && (n as number) >= 0)) {
    return { minute: parsed[0] as number, id: parsed[1] as number };
  }
  throw new UsageStoreError('invalid_cursor', 'the cursor is not one this API handed out; start again without a cursor');
}

/** The step a usage query runs with: as asked (raised to a multiple of `minStep`) or the smallest giving ≤ 1,440 points. */
export function chooseStep(rangeMs: number, minStep: number, requested: number | undefined): number {
  if (requested !== undefined) return Math.max(minStep, Math.ceil(requested / minStep) * minStep);
  const fits = AUTO_STEPS.find((step) => step >= minStep && Math.ceil(rangeMs / step) <= AUTO_STEP_POINTS);
  return fits ?? AUTO_STEPS[AUTO_STEPS.length - 1];
}

// ─── SQL ───────────────────────────────────────────────────────────────────────────────────────

interface UsageBucketRow {
  bucket: number;
  items_in: number;
  passed: number;
  dropped: number;
  overflowed: number;
  bytes: number;
  bytes_kept: number;
  adjusted_count: number;
}

interface ProbabilityBucketRow {
  bucket: number;
  probability_sum: number;
  minutes: number;
}

interface ViolationSqlRow {
  id: number;
  minute: number;
  first_seen: number;
  last_seen: number;
  team: string;
  metric: string;
  rule: string;
  action: string;
  count: number;
  samples: string;
}

export interface BudgetReaderParams {
  readonly now: () => number;
  /** Where minute rows end and only hourly rows remain. */
  readonly minuteRetentionDays: number;
}

export function createBudgetReader(db: Database, params: BudgetReaderParams): BudgetReader {
  const { now } = params;
  const recentTeamSeries = db.prepare<[string, number], { minute: number; active: number }>(
    'SELECT minute, active FROM team_series_minute WHERE team = ? ORDER BY minute DESC LIMIT ?',
  );
  const latestTeamSeries = db.prepare<[string], { active: number; at: number }>(
    'SELECT active, at FROM team_series_minute WHERE team = ? ORDER BY minute DESC LIMIT 1',
  );
  const passedInWindow = db
    .prepare<[string, string, number, number], number>('SELECT coalesce(sum(passed), 0) FROM usage_minute WHERE team = ? AND signal = ? AND minute >= ? AND minute < ?')
    .pluck();
  // Both tiers: minute rows not yet rolled up and hourly rows never overlap (rollup deletes what it sums).
  // The signals are named so that both searches seek (team, signal, time) ranges of the primary
  // keys; with the team alone, SQLite walks every row the team ever had (90 days × 3 signals)
  // and filters on time: 2 ms instead of 0.3 on a 90-day store of 200 teams.
  const signalList = SIGNALS.map(() => '?').join(', ');
  const bytesSql = `SELECT coalesce(sum(bytes), 0) FROM (
         SELECT bytes FROM usage_minute WHERE team = ? AND signal IN (${signalList}) AND minute >= ? AND minute < ?
         UNION ALL SELECT bytes FROM usage_hour WHERE team = ? AND signal IN (${signalList}) AND hour >= ? AND hour < ?)`;
  const bytesStatement = db.prepare<unknown[], number>(bytesSql).pluck();
  const bytesInWindow = (team: string, from: number, to: number): number => bytesStatement.get(team, ...SIGNALS, from, to, team, ...SIGNALS, from, to) ?? 0;
  const topMetrics = db.prepare<[string, string, number], MetricSeriesCount>(
    `SELECT metric, active, at FROM metric_series_minute
     WHERE team = ? AND minute = (SELECT max(minute) FROM metric_series_minute WHERE team = ?)
     ORDER BY active DESC, metric LIMIT ?`,
  );
  const topLabels = db.prepare<[string, string, number], LabelDistinctEstimate>(
    'SELECT label, estimate, updated_at AS updatedAt FROM label_estimates WHERE team = ? AND metric = ? ORDER BY estimate DESC, label LIMIT ?',
  );
  const violationPage = db.prepare<[string, number, number, number, number, number], ViolationSqlRow>(
    `SELECT id, minute, first_seen, last_seen, team, metric, rule, action, count, samples FROM violations
     WHERE team = ? AND minute >= ? AND (minute < ? OR (minute = ? AND id < ?))
     ORDER BY minute DESC, id DESC LIMIT ?`,
  );
  const usageBuckets = db.prepare<[number, string, string, number, number, string, string, number, number], UsageBucketRow>(
    `SELECT t - (t % ?) AS bucket, sum(items_in) AS items_in, sum(passed) AS passed, sum(dropped) AS dropped,
            sum(overflowed) AS overflowed, sum(bytes) AS bytes, sum(bytes_kept) AS bytes_kept, sum(adjusted_count) AS adjusted_count
     FROM (
       SELECT minute AS t, items_in, passed, dropped, overflowed, bytes, bytes_kept, adjusted_count
       FROM usage_minute WHERE team = ? AND signal = ? AND minute >= ? AND minute < ?
       UNION ALL
       SELECT hour AS t, items_in, passed, dropped, overflowed, bytes, bytes_kept, adjusted_count
       FROM usage_hour WHERE team = ? AND signal = ? AND hour >= ? AND hour < ?
     ) GROUP BY bucket ORDER BY bucket`,
  );
  // A minute row counts as one value; an hourly row brings the sum and count of the minutes it rolled up.
  const probabilityBuckets = db.prepare<[number, string, string, number, number, string, string, number, number], ProbabilityBucketRow>(
    `SELECT t - (t % ?) AS bucket, sum(s) AS probability_sum, sum(n) AS minutes
     FROM (
       SELECT minute AS t, probability AS s, 1 AS n FROM sampling_probability_minute WHERE team = ? AND signal = ? AND minute >= ? AND minute < ?
       UNION ALL
       SELECT hour AS t, probability_sum AS s, minutes AS n FROM sampling_probability_hour WHERE team = ? AND signal = ? AND hour >= ? AND hour < ?
     ) GROUP BY bucket ORDER BY bucket`,
  );

  const rateLine = (team: string, signal: Signal, limit: number | undefined, unit: BudgetUnit, windowMs: number, thresholds: readonly number[]): BudgetLine => {
    // Whole minutes only: the current minute is still filling up.
    const end = minuteOf(now());
    const rate = (passedInWindow.get(team, signal, end - windowMs, end) ?? 0) / (windowMs / 1000);
    return { ...evaluateBudget(limit, rate, thresholds), usage: rate, unit, asOf: end, windowMs, countMethod: 'mean_rate' };
  };

  return {
    teamBudgetStatus(team, limits, options = {}) {
      const thresholds = options.thresholds ?? limits?.metrics?.warningThresholds ?? DEFAULT_WARNING_THRESHOLDS;
      checkThresholds(thresholds);
      const rateWindowMs = options.rateWindowMs ?? DEFAULT_RATE_WINDOW_MS;
      if (!Number.isSafeInteger(rateWindowMs) || rateWindowMs < MINUTE_MS || rateWindowMs % MINUTE_MS !== 0) {
        throw new UsageStoreError('invalid_query', `rateWindowMs must be a whole number of minutes (got ${String(rateWindowMs)})`);
      }
      const forecastRows = options.forecastRows ?? DEFAULT_FORECAST_ROWS;
      if (!Number.isSafeInteger(forecastRows) || forecastRows < 2 || forecastRows > MAX_FORECAST_ROWS) {
        throw new UsageStoreError('invalid_query', `forecastRows must be an integer from 2 to ${MAX_FORECAST_ROWS} (got ${String(forecastRows)})`);
      }
      const at = now();
      const series = latestTeamSeries.get(team);
      const active = series?.active ?? 0;
      const limit = limits?.metrics?.maxActiveSeries;
      const exhaustedAt = limit === undefined ? null : linearForecast(recentTeamSeries.all(team, forecastRows).map((r) => ({ x: r.minute, y: r.active })), limit);
      const metrics: BudgetLine = {
        ...evaluateBudget(limits?.metrics?.maxActiveSeries, active, thresholds),
        usage: active,
        unit: 'series',
        asOf: series?.at ?? null,
        windowMs: limits?.metrics?.activeWindowMs ?? null,
        countMethod: 'active_series',
        forecast: { exhaustedAt, method: forecastMethod(forecastRows) },
      };
      const end = minuteOf(at);
      const bytes = bytesInWindow(team, end - DAY_MS, end);
      return {
        team,
        asOf: at,
        metrics,
        traces: rateLine(team, 'traces', limits?.maxSpansPerSecond, 'spans_per_second', rateWindowMs, thresholds),
        logs: rateLine(team, 'logs', limits?.maxLogRecordsPerSecond, 'log_records_per_second', rateWindowMs, thresholds),
        bytes: { ...evaluateBudget(limits?.maxBytesPerDay, bytes, thresholds), usage: bytes, unit: 'bytes_per_day', asOf: end, windowMs: DAY_MS, countMethod: 'sum' },
      };
    },

    topMetrics(team, limit) {
      checkCount('limit', limit, MAX_TOP);
      return topMetrics.all(team, team, limit);
    },

    topLabels(team, metric, limit) {
      checkCount('limit', limit, MAX_TOP);
      return topLabels.all(team, metric, limit);
    },

    violations(team, query = {}) {
      const limit = query.limit ?? DEFAULT_PAGE_SIZE;
      checkCount('limit', limit, MAX_PAGE_SIZE);
      const since = query.since ?? 0;
      checkTime('since', since);
      const after = query.cursor === undefined ? { minute: Number.MAX_SAFE_INTEGER, id: Number.MAX_SAFE_INTEGER } : decodeCursor(query.cursor);
      // One row more than asked tells whether another page exists.
      const rows = violationPage.all(team, minuteOf(since), after.minute, after.minute, after.id, limit + 1);
      const items = rows.slice(0, limit).map(
        (r): ViolationRecord => ({
          id: r.id,
          minute: r.minute,
          firstSeen: r.first_seen,
          lastSeen: r.last_seen,
          team: r.team,
          metric: r.metric,
          rule: r.rule,
          action: r.action,
          count: r.count,
          samples: JSON.parse(r.samples) as LabelSet[],
        }),
      );
      const last = items[items.length - 1];
      return { items, nextCursor: rows.length > limit && last ? encodeCursor(last.minute, last.id) : null };
    },

    usage(team, signal, from, to, stepMs) {
      checkTime('from', from);
      checkTime('to', to);
      if (to <= from) throw new UsageStoreError('invalid_query', `to (${to}) must be after from (${from})`);
      if (stepMs !== undefined && (!Number.isSafeInteger(stepMs) || stepMs < 1)) {
        throw new UsageStoreError('invalid_query', `step must be a positive number of milliseconds (got ${String(stepMs)})`);
      }
      // Hourly resolution only when the range starts before the hour in which minute rows begin
      // to be rolled up. A range starting within that hour ("the last 7 days" with a 7-day
      // retention starts a few seconds before it) keeps minute steps; the minutes of it already
      // rolled up sit in an hourly row stamped before the first bucket and are left out of it.
      const horizon = now() - params.minuteRetentionDays * DAY_MS;
      const resolution = from < hourOf(horizon) ? 'hour' : 'minute';
      const step = chooseStep(to - from, resolution === 'hour' ? HOUR_MS : MINUTE_MS, stepMs);
      const start = floorTo(from, step);
      const count = Math.ceil((to - start) / step);
      if (count > MAX_USAGE_POINTS) {
        throw new UsageStoreError('invalid_query', `the range holds ${count} steps of ${step} ms; at most ${MAX_USAGE_POINTS} points are served, use a larger step`);
      }
      const bind = [step, team, signal, start, to, team, signal, start, to] as const;
      const found = new Map(usageBuckets.all(...bind).map((r) => [r.bucket, r]));
      const probabilities = new Map(probabilityBuckets.all(...bind).map((r) => [r.bucket, r]));
      const points: UsagePoint[] = [];
      for (let i = 0; i < count; i++) {
        const t = start + i * step;
        const r = found.get(t);
        const p = probabilities.get(t);
        points.push({
          start: t,
          itemsIn: r?.items_in ?? 0,
          passed: r?.passed ?? 0,
          dropped: r?.dropped ?? 0,
          overflowed: r?.overflowed ?? 0,
          bytes: r?.bytes ?? 0,
          bytesKept: r?.bytes_kept ?? 0,
          adjustedCount: r?.adjusted_count ?? 0,
          probability: p !== undefined && p.minutes > 0 ? p.probability_sum / p.minutes : null,
        });
      }
      return { team, signal, from, to, stepMs: step, resolution, points };
    },
  };
}
