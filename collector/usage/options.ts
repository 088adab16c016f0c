/**
 * Tuning of the usage store. The process config (`usage_store.*`) is wired by the config module;
 * this file owns the defaults and the invariants between the values.
 */
import { UsageStoreError } from './errors.js';

export type IntegrityCheckMode = 'full' | 'quick';

export interface UsageStoreOptions {
  /** How often the in-memory accumulator is written to SQLite, in one transaction. */
  readonly flushIntervalMs: number;
  /** Minute rows older than this are rolled up into hourly rows (and deleted). */
  readonly minuteRetentionDays: number;
  /** Hourly rows and violations older than this are deleted. At least `minuteRetentionDays`. */
  readonly hourlyRetentionDays: number;
  /** How often rollup and pruning run in the background. */
  readonly maintenanceIntervalMs: number;
  /** Rows one rollup or prune transaction touches at most (one minute bucket may exceed it). */
  readonly maintenanceBatchRows: number;
  /** Distinct keys the accumulator holds between flushes; beyond it new keys are refused and counted. */
  readonly maxPendingKeys: number;
  /** How long a statement waits for a lock held by another connection before failing with SQLITE_BUSY. */
  readonly busyTimeoutMs: number;
  /** `full` reads every page at open (the safe default); `quick` skips index cross-checks for large files. */
  readonly integrityCheck: IntegrityCheckMode;
}

export const DEFAULT_USAGE_STORE_OPTIONS: UsageStoreOptions = Object.freeze({
  flushIntervalMs: 10_000,
  minuteRetentionDays: 7,
  hourlyRetentionDays: 90,
  maintenanceIntervalMs: 60_000,
  maintenanceBatchRows: 2_000,
  maxPendingKeys: 50_000,
  busyTimeoutMs: 5_000,
  integrityCheck: 'full',
});

type NumericOption = Exclude<keyof UsageStoreOptions, 'integrityCheck'>;

/** Options that must be whole numbers ≥ 1; retention days may be fractional but positive. */
const INTEGER_OPTIONS: readonly NumericOption[] = ['flushIntervalMs', 'maintenanceIntervalMs', 'maintenanceBatchRows', 'maxPendingKeys', 'busyTimeoutMs'];
const DAY_OPTIONS: readonly NumericOption[] = ['minuteRetentionDays', 'hourlyRetentionDays'];

/** Lists every problem of a set of options (empty when valid). */
export function usageStoreOptionProblems(options: UsageStoreOptions): string[] {
  const problems: string[] = [];
  for (const key of INTEGER_OPTIONS) {
    const value = options[key];
    if (!Number.isSafeInteger(value) || value < 1) problems.push(`${key}: must be a positive integer (got ${String(value)})`);
  }
  for (const key of DAY_OPTIONS) {
    const value = options[key];
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) problems.push(`${key}: must be a positive number of days (got ${String(value)})`);
  }
  // Otherwise rolled-up hours would be deleted while younger minute rows still exist.
  if (options.hourlyRetentionDays < options.minuteRetentionDays) {
    problems.push(`hourlyRetentionDays: must be at least minuteRetentionDays (${options.minuteRetentionDays})`);
  }
  if (options.integrityCheck !== 'full' && options.integrityCheck !== 'quick') {
    problems.push(`integrityCheck: must be "full" or "quick" (got ${String(options.integrityCheck)})`);
  }
  return problems;
}

/** Defaults plus overrides, validated and frozen; throws `invalid_options` listing every problem. */
export function resolveUsageStoreOptions(overrides: Partial<UsageStoreOptions> = {}): UsageStoreOptions {
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, value]) => value !== undefined));
  const options: UsageStoreOptions = { ...DEFAULT_USAGE_STORE_OPTIONS, ...defined };
  const problems = usageStoreOptionProblems(options);
  if (problems.length > 0) throw new UsageStoreError('invalid_options', `invalid usage store options: ${problems.join('; ')}`);
  return Object.freeze(options);
}
