export { batchRowCount, createUsageAccumulator } from './accumulator.js';
export type {
  AccumulatorKind,
  ActionCountInput,
  LabelEstimateRow,
  MetricSeriesRow,
  PolicyActionRow,
  SamplingProbabilityRow,
  TeamSeriesRow,
  UsageAccumulator,
  UsageAccumulatorParams,
  UsageBatch,
  UsageDelta,
  UsageRecorder,
  UsageRow,
  ViolationInput,
  ViolationRow,
} from './accumulator.js';
export { USAGE_DB_FILE, openUsageDatabase } from './database.js';
export type { OpenDatabaseOptions, OpenedDatabase } from './database.js';
export { UsageStoreError } from './errors.js';
export { EXCEPTION_ID, MAX_EXCEPTION_ID_LENGTH, createExceptionStore } from './exceptions.js';
export type { BudgetException, BudgetExceptionInput, BudgetExceptions, ExceptionAuditRecord, ExceptionSignal } from './exceptions.js';
export type { UsageStoreErrorCode } from './errors.js';
export { DEFAULT_USAGE_STORE_OPTIONS, resolveUsageStoreOptions, usageStoreOptionProblems } from './options.js';
export type { IntegrityCheckMode, UsageStoreOptions } from './options.js';
export {
  DEFAULT_FORECAST_ROWS,
  DEFAULT_RATE_WINDOW_MS,
  DEFAULT_WARNING_THRESHOLDS,
  MAX_PAGE_SIZE,
  MAX_TOP,
  MAX_USAGE_POINTS,
  chooseStep,
  createBudgetReader,
  decodeCursor,
  encodeCursor,
  evaluateBudget,
  forecastMethod,
  linearForecast,
} from './reader.js';
export type {
  BudgetForecast,
  BudgetLine,
  BudgetReader,
  BudgetReaderParams,
  BudgetStatus,
  BudgetStatusOptions,
  BudgetUnit,
  CountMethod,
  LabelDistinctEstimate,
  MetricSeriesCount,
  TeamBudgetStatus,
  UsagePoint,
  UsageSeries,
  ViolationPage,
  ViolationQuery,
  ViolationRecord,
} from './reader.js';
export type { MaintenanceResult } from './retention.js';
export { MAX_SAMPLE_BYTES, MAX_SAMPLE_LABELS, MAX_VIOLATION_SAMPLES, serializeSample } from './samples.js';
export type { LabelSet } from './samples.js';
export { MIGRATIONS, SCHEMA_VERSION, migrate, schemaVersion } from './schema.js';
export type { ColumnAddition, Migration, MigrationReport } from './schema.js';
export type { Snapshot } from './snapshots.js';
export { openUsageStore, usageStorePath } from './store.js';
export type { FlushResult, UsageStore, UsageStoreObserver, UsageStoreParams, UsageStoreStats } from './store.js';
