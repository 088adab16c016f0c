/**
 * Writes one drained accumulator batch: prepared once, run in ONE IMMEDIATE transaction per
 * flush, every statement an upsert that adds into (or, for gauges, replaces) the minute row it
 * lands on, so several flushes within one minute add up and a failed flush changes nothing.
 */
import type { Database } from 'better-sqlite3';
import type { UsageBatch } from './accumulator.js';
import { batchRowCount } from './accumulator.js';
import { mergeSampleArrays, sampleArrayJson } from './samples.js';

/** SQL function merging two JSON sample arrays under the sample cap (registered per connection). */
export const MERGE_SAMPLES_SQL_FUNCTION = 'tollgate_merge_samples';

export function registerSqlFunctions(db: Database): void {
  db.function(MERGE_SAMPLES_SQL_FUNCTION, { deterministic: true }, (existing: unknown, added: unknown) => mergeSampleArrays(existing, added));
}

/** Returns the write function: rows written, or a throw after which nothing was written. */
export function createBatchWriter(db: Database): (batch: UsageBatch) => number {
  registerSqlFunctions(db);
  const usage = db.prepare(`
    INSERT INTO usage_minute (team, signal, minute, items_in, passed, dropped, overflowed, bytes, bytes_kept, adjusted_count)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (team, signal, minute) DO UPDATE SET
      items_in = items_in + excluded.items_in, passed = passed + excluded.passed, dropped = dropped + excluded.dropped,
      overflowed = overflowed + excluded.overflowed, bytes = bytes + excluded.bytes,
      bytes_kept = bytes_kept + excluded.bytes_kept, adjusted_count = adjusted_count + excluded.adjusted_count`);
  // Gauges: the later recording wins, whichever flush carries it.
  const teamSeries = db.prepare(`
    INSERT INTO team_series_minute (team, minute, active, at) VALUES (?, ?, ?, ?)
    ON CONFLICT (team, minute) DO UPDATE SET active = excluded.active, at = excluded.at WHERE excluded.at >= team_series_minute.at`);
  const metricSeries = db.prepare(`
    INSERT INTO metric_series_minute (team, minute, metric, active, at) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (team, minute, metric) DO UPDATE SET active = excluded.active, at = excluded.at WHERE excluded.at >= metric_series_minute.at`);
  const samplingProbability = db.prepare(`
    INSERT INTO sampling_probability_minute (team, signal, minute, probability, at) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (team, signal, minute) DO UPDATE SET probability = excluded.probability, at = excluded.at
    WHERE excluded.at >= sampling_probability_minute.at`);
  const labelEstimate = db.prepare(`
    INSERT INTO label_estimates (team, metric, label, estimate, updated_at) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (team, metric, label) DO UPDATE SET estimate = excluded.estimate, updated_at = excluded.updated_at
    WHERE excluded.updated_at >= label_estimates.updated_at`);
  const violation = db.prepare(`
    INSERT INTO violations (team, minute, metric, rule, action, count, first_seen, last_seen, samples) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (team, minute, metric, rule, action) DO UPDATE SET
      count = violations.count + excluded.count,
      first_seen = min(violations.first_seen, excluded.first_seen),
      last_seen = max(violations.last_seen, excluded.last_seen),
      samples = ${MERGE_SAMPLES_SQL_FUNCTION}(violations.samples, excluded.samples)`);
  const policyAction = db.prepare(`
    INSERT INTO policy_action_minute (minute, team, signal, policy, action, mode, count) VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (minute, team, signal, policy, action, mode) DO UPDATE SET count = count + excluded.count`);

  const write = db.transaction((batch: UsageBatch): number => {
    for (const r of batch.usage) usage.run(r.team, r.signal, r.minute, r.itemsIn, r.passed, r.dropped, r.overflowed, r.bytes, r.bytesKept, r.adjustedCount);
    for (const r of batch.teamSeries) teamSeries.run(r.team, r.minute, r.active, r.at);
    for (const r of batch.metricSeries) metricSeries.run(r.team, r.minute, r.metric, r.active, r.at);
    for (const r of batch.labelEstimates) labelEstimate.run(r.team, r.metric, r.label, r.estimate, r.at);
    for (const r of batch.violations) violation.run(r.team, r.minute, r.metric, r.rule, r.action, r.count, r.firstSeen, r.lastSeen, sampleArrayJson(r.samples));
    for (const r of batch.policyActions) policyAction.run(r.minute, r.team, r.signal, r.policy, r.action, r.mode, r.count);
    for (const r of batch.samplingProbabilities) samplingProbability.run(r.team, r.signal, r.minute, r.probability, r.at);
    return batchRowCount(batch);
  });
  // IMMEDIATE takes the write lock up front, so a busy file waits (busy_timeout) at BEGIN
  // instead of failing half-way on a read-to-write upgrade.
  return (batch) => write.immediate(batch);
}
