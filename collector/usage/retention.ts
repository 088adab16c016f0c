/**
 * Retention: minute rows older than the minute retention are rolled up into hourly rows (sums
 * add, series gauges keep their maximum, the sampling probability keeps a sum and a count of its
 * minute values so its simple average can be read back) and deleted; hourly rows, violations and stale label estimates
 * older than their retention are deleted.
 *
 * Work is cut into batches of about `batchRows` rows, each its own short IMMEDIATE transaction
 * that both writes the hourly rows and deletes the minute rows it read, so a batch is atomic and
 * a rerun (after a crash, or on the next tick) finds nothing left to do: idempotent. Because
 * hourly rows are upserted (sum / max), a late minute row for an hour already rolled up is
 * folded in correctly. The caller yields to the event loop between batches, so ingest and the
 * flush never wait behind more than one batch.
 */
import type { Database } from 'better-sqlite3';
import { DAY_MS, HOUR_MS } from './time.js';

export interface RetentionPolicy {
  readonly minuteRetentionDays: number;
  readonly hourlyRetentionDays: number;
  readonly batchRows: number;
}

/** One unit of background work; `runBatch` does at most one transaction and returns the rows it handled (0: done). */
export interface MaintenanceTask {
  readonly name: string;
  readonly kind: 'rollup' | 'prune';
  runBatch(now: number): number;
}

interface RollupSpec {
  readonly source: string;
  readonly target: string;
  /** Columns identifying a row besides the time bucket. */
  readonly keys: readonly string[];
  /** The target's primary key, for the upsert. */
  readonly conflict: readonly string[];
  readonly sums: readonly string[];
  /** [source column, target column] pairs aggregated by maximum. */
  readonly maxes: readonly (readonly [string, string])[];
  /**
   * Gauges averaged over the minutes that recorded them: [source column, target sum column,
   * target count column]. The hourly average is sum / count; both add on upsert, so a late
   * minute row and any coarser bucket still average correctly (a simple, not time-weighted, mean).
   */
  readonly averages?: readonly (readonly [string, string, string])[];
}

const ROLLUPS: readonly RollupSpec[] = [
  {
    source: 'usage_minute',
    target: 'usage_hour',
    keys: ['team', 'signal'],
    conflict: ['team', 'signal', 'hour'],
    sums: ['items_in', 'passed', 'dropped', 'overflowed', 'bytes', 'bytes_kept', 'adjusted_count'],
    maxes: [],
  },
  { source: 'team_series_minute', target: 'team_series_hour', keys: ['team'], conflict: ['team', 'hour'], sums: [], maxes: [['active', 'active_max']] },
  {
    source: 'metric_series_minute',
    target: 'metric_series_hour',
    keys: ['team', 'metric'],
    conflict: ['team', 'metric', 'hour'],
    sums: [],
    maxes: [['active', 'active_max']],
  },
  {
    source: 'policy_action_minute',
    target: 'policy_action_hour',
    keys: ['team', 'signal', 'policy', 'action', 'mode'],
    conflict: ['hour', 'team', 'signal', 'policy', 'action', 'mode'],
    sums: ['count'],
    maxes: [],
  },
  {
    source: 'sampling_probability_minute',
    target: 'sampling_probability_hour',
    keys: ['team', 'signal'],
    conflict: ['team', 'signal', 'hour'],
    sums: [],
    maxes: [],
    averages: [['probability', 'probability_sum', 'minutes']],
  },
];

interface PruneSpec {
  readonly table: string;
  readonly column: string;
  readonly retention: 'minute' | 'hourly';
}

const PRUNES: readonly PruneSpec[] = [
  { table: 'usage_hour', column: 'hour', retention: 'hourly' },
  { table: 'team_series_hour', column: 'hour', retention: 'hourly' },
  { table: 'metric_series_hour', column: 'hour', retention: 'hourly' },
  { table: 'policy_action_hour', column: 'hour', retention: 'hourly' },
  { table: 'sampling_probability_hour', column: 'hour', retention: 'hourly' },
  // Violations are an audit trail: they are kept as long as the hourly history.
  { table: 'violations', column: 'minute', retention: 'hourly' },
  // An estimate nobody refreshed for the minute retention belongs to a metric that went away.
  { table: 'label_estimates', column: 'updated_at', retention: 'minute' },
];

/** The SQL of one rollup batch over minute rows in [?1, ?2). Table and column names are constants above. */
export function rollupSql(spec: RollupSpec): string {
  const hour = `minute - (minute % ${HOUR_MS})`;
  const averages = spec.averages ?? [];
  const targetColumns = ['hour', ...spec.keys, ...spec.sums, ...spec.maxes.map(([, to]) => to), ...averages.flatMap(([, sum, count]) => [sum, count])];
  const selected = [
    hour,
    ...spec.keys,
    ...spec.sums.map((c) => `sum(${c})`),
    ...spec.maxes.map(([from]) => `max(${from})`),
    ...averages.flatMap(([from]) => [`sum(${from})`, `count(${from})`]),
  ];
  const adds = [...spec.sums, ...averages.flatMap(([, sum, count]) => [sum, count])];
  const updates = [
    ...adds.map((c) => `${c} = ${spec.target}.${c} + excluded.${c}`),
    ...spec.maxes.map(([, to]) => `${to} = max(${spec.target}.${to}, excluded.${to})`),
  ];
  return `INSERT INTO ${spec.target} (${targetColumns.join(', ')})
    SELECT ${selected.join(', ')} FROM ${spec.source} WHERE minute >= ? AND minute < ?
    GROUP BY ${[hour, ...spec.keys].join(', ')}
    ON CONFLICT (${spec.conflict.join(', ')}) DO UPDATE SET ${updates.join(', ')}`;
}

/**
 * Finds the next batch of rows with `column < cutoff`: [start, end) starting at the oldest row
 * and ending where about `maxRows` rows are covered. Rows sharing one time value are never
 * split across batches, so a single crowded minute may exceed `maxRows`.
 */
function batchRange(db: Database, table: string, column: string): (cutoff: number, maxRows: number) => { start: number; end: number } | undefined {
  const oldest = db.prepare<[number], number | null>(`SELECT min(${column}) FROM ${table} WHERE ${column} < ?`).pluck();
  const nth = db.prepare<[number, number], number>(`SELECT ${column} FROM ${table} WHERE ${column} < ? ORDER BY ${column} LIMIT 1 OFFSET ?`).pluck();
  return (cutoff, maxRows) => {
    const start = oldest.get(cutoff) ?? null;
    if (start === null) return undefined;
    const boundary = nth.get(cutoff, maxRows);
    const end = boundary === undefined ? cutoff : boundary > start ? boundary : start + 1;
    return { start, end };
  };
}

function rollupTask(db: Database, spec: RollupSpec, policy: RetentionPolicy): MaintenanceTask {
  const range = batchRange(db, spec.source, 'minute');
  const insert = db.prepare(rollupSql(spec));
  const remove = db.prepare(`DELETE FROM ${spec.source} WHERE minute >= ? AND minute < ?`);
  const batch = db.transaction((cutoff: number): number => {
    const r = range(cutoff, policy.batchRows);
    if (r === undefined) return 0;
    insert.run(r.start, r.end);
    return remove.run(r.start, r.end).changes;
  });
  return { name: spec.source, kind: 'rollup', runBatch: (now) => batch.immediate(now - policy.minuteRetentionDays * DAY_MS) };
}

function pruneTask(db: Database, spec: PruneSpec, policy: RetentionPolicy): MaintenanceTask {
  const range = batchRange(db, spec.table, spec.column);
  const remove = db.prepare(`DELETE FROM ${spec.table} WHERE ${spec.column} >= ? AND ${spec.column} < ?`);
  const days = spec.retention === 'minute' ? policy.minuteRetentionDays : policy.hourlyRetentionDays;
  const batch = db.transaction((cutoff: number): number => {
    const r = range(cutoff, policy.batchRows);
    return r === undefined ? 0 : remove.run(r.start, r.end).changes;
  });
  return { name: spec.table, kind: 'prune', runBatch: (now) => batch.immediate(now - days * DAY_MS) };
}

/** Rollups first, so minute rows reach the hourly tables before those are pruned. */
export function createMaintenanceTasks(db: Database, policy: RetentionPolicy): MaintenanceTask[] {
  return [...ROLLUPS.map((spec) => rollupTask(db, spec, policy)), ...PRUNES.map((spec) => pruneTask(db, spec, policy))];
}

export interface MaintenanceResult {
  /** Minute rows rolled up (and deleted), per source table. */
  readonly rolledUp: Readonly<Record<string, number>>;
  /** Rows deleted, per table. */
  readonly pruned: Readonly<Record<string, number>>;
  readonly batches: number;
  /** True when the run stopped early (the store closed, or the batch limit was reached). */
  readonly interrupted: boolean;
}

export interface MaintenanceRunOptions {
  /** Called between batches; the store passes a setImmediate so ingest runs in between. */
  readonly pause: () => Promise<void>;
  readonly shouldStop: () => boolean;
  /** A guard against a run that never finishes; the next run continues where it stopped. */
  readonly maxBatches: number;
}

export const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Runs every task to completion (or until stopped), with cutoffs fixed at `now`. */
export async function runMaintenanceTasks(tasks: readonly MaintenanceTask[], now: number, options: MaintenanceRunOptions): Promise<MaintenanceResult> {
  const rolledUp: Record<string, number> = {};
  const pruned: Record<string, number> = {};
  let batches = 0;
  for (const task of tasks) {
    const totals = task.kind === 'rollup' ? rolledUp : pruned;
    totals[task.name] = 0;
    while (true) {
      if (options.shouldStop() || batches >= options.maxBatches) return { rolledUp, pruned, batches, interrupted: true };
      const rows = task.runBatch(now);
      batches++;
      if (rows === 0) break;
      totals[task.name] += rows;
      await options.pause();
    }
  }
  return { rolledUp, pruned, batches, interrupted: false };
}
