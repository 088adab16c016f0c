/**
 * The usage store: the accumulator the hot path records into, the SQLite file it is flushed to,
 * background retention, series-state snapshots and the BudgetReader. The only module that
 * imports better-sqlite3 (through its siblings).
 *
 * Threading model: everything runs on the main thread. Record calls only touch memory; SQLite
 * work happens in `flush()` (one transaction per interval) and in maintenance batches with the
 * event loop yielded in between, so no request ever waits on a write.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Database } from 'better-sqlite3';
import { batchRowCount, createUsageAccumulator } from './accumulator.js';
import type { AccumulatorKind, UsageAccumulator, UsageRecorder } from './accumulator.js';
import { USAGE_DB_FILE, openUsageDatabase } from './database.js';
import { UsageStoreError, messageOf } from './errors.js';
import { createExceptionStore } from './exceptions.js';
import type { BudgetExceptions } from './exceptions.js';
import { resolveUsageStoreOptions } from './options.js';
import type { UsageStoreOptions } from './options.js';
import { createBudgetReader } from './reader.js';
import type { BudgetReader } from './reader.js';
import { createMaintenanceTasks, runMaintenanceTasks, yieldToEventLoop } from './retention.js';
import type { MaintenanceResult } from './retention.js';
import type { MigrationReport } from './schema.js';
import { createSnapshotStore } from './snapshots.js';
import type { Snapshot } from './snapshots.js';
import { createBatchWriter } from './writer.js';

export interface FlushResult {
  /** Rows upserted (0: nothing was pending, no transaction ran). */
  readonly rows: number;
  readonly durationMs: number;
}

export interface UsageStoreStats {
  readonly flushes: number;
  readonly flushFailures: number;
  /** Injected-clock time of the last successful flush. */
  readonly lastFlushAt: number | null;
  readonly pendingKeys: number;
  /** Records refused because the accumulator was at `maxPendingKeys`, per kind, since open. */
  readonly refused: Readonly<Record<AccumulatorKind, number>>;
  /** Records refused for a value that is not a finite, non-negative number, since open. */
  readonly invalid: number;
}

/** Hooks for logs and self-metrics; background failures are reported here, never thrown. */
export interface UsageStoreObserver {
  onFlush?(result: FlushResult): void;
  onFlushError?(error: UsageStoreError): void;
  onMaintenance?(result: MaintenanceResult): void;
  onMaintenanceError?(error: unknown): void;
}

export interface UsageStoreParams {
  /** The file is `<dataDir>/tollgate.db`; the directory is created if missing. */
  readonly dataDir: string;
  readonly options?: Partial<UsageStoreOptions>;
  /** Epoch milliseconds; injected so tests move time without sleeping. */
  readonly now?: () => number;
  readonly observer?: UsageStoreObserver;
  /** Sees every SQL statement the store runs (tests, debugging). */
  readonly onStatement?: (sql: string) => void;
}

export interface UsageStore extends UsageRecorder {
  readonly path: string;
  readonly options: UsageStoreOptions;
  readonly migration: MigrationReport;
  readonly reader: BudgetReader;
  /** Budget exceptions: written by the admin API, each change audited in its own transaction. */
  readonly exceptions: BudgetExceptions;
  /**
   * The series budget replacing a team's rules limit at `nowMs` (its largest exception in force),
   * or undefined. Synchronous and memory-only: the budget processor calls it per request.
   */
  activeLimitOverride(team: string, nowMs: number): number | undefined;
  /** Starts the flush and maintenance timers (unref'd: they never keep the process alive). */
  start(): void;
  /** Writes everything recorded so far in one transaction; on failure the rows stay pending and `flush_failed` is thrown. */
  flush(): FlushResult;
  /** Rolls up and prunes in short batches, yielding to the event loop between them. */
  runMaintenance(): Promise<MaintenanceResult>;
  saveSnapshot(name: string, bytes: Uint8Array): number;
  loadSnapshot(name: string): Snapshot | undefined;
  stats(): UsageStoreStats;
  /** Stops the timers, flushes what is pending (a failure goes to the observer) and closes the file. */
  close(): void;
}

/** A guard per maintenance run; at the default batch size it covers millions of rows, the rest waits for the next run. */
const MAX_BATCHES_PER_RUN = 10_000;

export function usageStorePath(dataDir: string): string {
  return join(dataDir, USAGE_DB_FILE);
}

/** Opens the store; throws UsageStoreError (`store_corrupt`, `schema_too_new`, …) naming the file, before anything is recorded. */
export function openUsageStore(params: UsageStoreParams): UsageStore {
  const options = resolveUsageStoreOptions(params.options);
  const now = params.now ?? Date.now;
  const observer = params.observer ?? {};
  const path = usageStorePath(params.dataDir);
  try {
    mkdirSync(params.dataDir, { recursive: true });
  } catch (error) {
    throw new UsageStoreError('store_unavailable', `usage store directory ${params.dataDir} cannot be created: ${messageOf(error)}`, { cause: error });
  }
  const { db, migration } = openUsageDatabase(path, { busyTimeoutMs: options.busyTimeoutMs, integrityCheck: options.integrityCheck, onStatement: params.onStatement });
  return assembleStore(db, { path, options, now, observer, migration });
}

interface Assembly {
  readonly path: string;
  readonly options: UsageStoreOptions;
  readonly now: () => number;
  readonly observer: UsageStoreObserver;
  readonly migration: MigrationReport;
}

function assembleStore(db: Database, a: Assembly): UsageStore {
  const { path, options, now, observer } = a;
  const accumulator: UsageAccumulator = createUsageAccumulator({ now, maxKeys: options.maxPendingKeys });
  const write = createBatchWriter(db);
  const snapshots = createSnapshotStore(db, now);
  const tasks = createMaintenanceTasks(db, { minuteRetentionDays: options.minuteRetentionDays, hourlyRetentionDays: options.hourlyRetentionDays, batchRows: options.maintenanceBatchRows });
  const reader = createBudgetReader(db, { now, minuteRetentionDays: options.minuteRetentionDays });

  let closed = false;
  let flushes = 0;
  let flushFailures = 0;
  let lastFlushAt: number | null = null;
  let maintenance: Promise<MaintenanceResult> | undefined;
  const timers: NodeJS.Timeout[] = [];

  const ensureOpen = (): void => {
    if (closed) throw new UsageStoreError('store_closed', `usage store ${path} is closed`);
  };

  const exceptionStore = createExceptionStore(db, now);
  const exceptions: BudgetExceptions = {
    put(team, id, input, actor) {
      ensureOpen();
      return exceptionStore.put(team, id, input, actor);
    },
    delete(team, id, actor) {
      ensureOpen();
      return exceptionStore.delete(team, id, actor);
    },
    active: (team, nowMs) => exceptionStore.active(team, nowMs),
    audit: (team) => exceptionStore.audit(team),
    // Memory only, like the recorder methods: safe on the hot path, even after close.
    activeLimitOverride: (team, nowMs) => exceptionStore.activeLimitOverride(team, nowMs),
  };

  const flush = (): FlushResult => {
    ensureOpen();
    const started = performance.now();
    const batch = accumulator.drain();
    if (batchRowCount(batch) === 0) return { rows: 0, durationMs: performance.now() - started };
    let rows: number;
    try {
      rows = write(batch);
    } catch (error) {
      // The transaction rolled back: nothing of the batch is in the file, so keeping it in memory
      // loses nothing and double-counts nothing when the next flush succeeds.
      accumulator.restore(batch);
      flushFailures++;
      throw new UsageStoreError('flush_failed', `usage store ${path}: flush failed, rows kept in memory for the next flush: ${messageOf(error)}`, { cause: error });
    }
    flushes++;
    lastFlushAt = now();
    return { rows, durationMs: performance.now() - started };
  };

  /** The timer's flush: failures are reported, never thrown into the event loop. */
  const backgroundFlush = (): void => {
    try {
      const result = flush();
      if (result.rows > 0) observer.onFlush?.(result);
    } catch (error) {
      if (error instanceof UsageStoreError) observer.onFlushError?.(error);
      else observer.onFlushError?.(new UsageStoreError('flush_failed', messageOf(error), { cause: error }));
    }
  };

  const runMaintenance = (): Promise<MaintenanceResult> => {
    ensureOpen();
    // One run at a time: a second caller shares the run in progress.
    maintenance ??= runMaintenanceTasks(tasks, now(), { pause: yieldToEventLoop, shouldStop: () => closed, maxBatches: MAX_BATCHES_PER_RUN }).finally(() => {
      maintenance = undefined;
    });
    return maintenance;
  };

  const backgroundMaintenance = (): void => {
    if (closed || maintenance) return;
    runMaintenance().then(
      (result) => observer.onMaintenance?.(result),
      (error: unknown) => observer.onMaintenanceError?.(error),
    );
  };

  return {
    path,
    options,
    migration: a.migration,
    reader,
    exceptions,
    activeLimitOverride: (team, nowMs) => exceptions.activeLimitOverride(team, nowMs),
    // The recorder methods stay plain memory operations even after close: the hot path never throws.
    recordUsage: (team, signal, delta) => accumulator.recordUsage(team, signal, delta),
    recordTeamSeries: (team, active) => accumulator.recordTeamSeries(team, active),
    recordMetricSeries: (team, metric, active) => accumulator.recordMetricSeries(team, metric, active),
    recordLabelEstimate: (team, metric, label, estimate) => accumulator.recordLabelEstimate(team, metric, label, estimate),
    recordViolation: (violation) => accumulator.recordViolation(violation),
    recordActionCounts: (counts) => accumulator.recordActionCounts(counts),
    recordSamplingProbability: (team, signal, probability) => accumulator.recordSamplingProbability(team, signal, probability),

    start() {
      ensureOpen();
      if (timers.length > 0) return;
      timers.push(setInterval(backgroundFlush, options.flushIntervalMs).unref(), setInterval(backgroundMaintenance, options.maintenanceIntervalMs).unref());
    },
    flush,
    runMaintenance,
    saveSnapshot(name, bytes) {
      ensureOpen();
      return snapshots.save(name, bytes);
    },
    loadSnapshot(name) {
      ensureOpen();
      return snapshots.load(name);
    },
    stats: () => ({
      flushes,
      flushFailures,
      lastFlushAt,
      pendingKeys: accumulator.pendingKeys(),
      refused: accumulator.refused(),
      invalid: accumulator.invalid(),
    }),
    close() {
      if (closed) return;
      for (const timer of timers) clearInterval(timer);
      timers.length = 0;
      backgroundFlush();
      // A maintenance run in progress sees `closed` before its next batch and stops.
      closed = true;
      db.close();
    },
  };
}
