/**
 * The usage store's schema, versioned in code. `PRAGMA user_version` holds the version a file is
 * at; each migration runs in its own IMMEDIATE transaction that re-reads the version first (so
 * two processes opening one file cannot both apply it) and sets the new version in the same
 * transaction (so a crash never leaves a half-applied migration). Statements use IF NOT EXISTS
 * as a second line of defence; columns added to existing tables (`addColumns`) are added only
 * when `PRAGMA table_info` does not list them yet, for the same reason (ALTER TABLE ADD COLUMN
 * has no IF NOT EXISTS). Never edit a released migration: append a new one.
 *
 * Layout: time-keyed tables are WITHOUT ROWID with the query key first (team, …, time) and a
 * secondary index on time for retention. Times are integer milliseconds since the epoch; minute
 * and hour columns hold the bucket start.
 */
import type { Database } from 'better-sqlite3';
import { UsageStoreError, messageOf } from './errors.js';

/** A column a migration adds to a table an earlier migration created. */
export interface ColumnAddition {
  readonly table: string;
  readonly column: string;
  /** Type and constraints, e.g. `INTEGER NOT NULL DEFAULT 0` (a NOT NULL column needs a default). */
  readonly definition: string;
}

export interface Migration {
  readonly version: number;
  readonly description: string;
  /** Applied first, each only when the column is missing. */
  readonly addColumns?: readonly ColumnAddition[];
  readonly sql: string;
}

const COUNTERS = `
  items_in   INTEGER NOT NULL DEFAULT 0,
  passed     INTEGER NOT NULL DEFAULT 0,
  dropped    INTEGER NOT NULL DEFAULT 0,
  overflowed INTEGER NOT NULL DEFAULT 0,
  bytes      INTEGER NOT NULL DEFAULT 0`;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'usage per minute and hour, active series per team and metric, series-state snapshots',
    sql: `
      CREATE TABLE IF NOT EXISTS usage_minute (
        team TEXT NOT NULL, signal TEXT NOT NULL, minute INTEGER NOT NULL,${COUNTERS},
        PRIMARY KEY (team, signal, minute)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS usage_minute_by_time ON usage_minute (minute);

      CREATE TABLE IF NOT EXISTS usage_hour (
        team TEXT NOT NULL, signal TEXT NOT NULL, hour INTEGER NOT NULL,${COUNTERS},
        PRIMARY KEY (team, signal, hour)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS usage_hour_by_time ON usage_hour (hour);

      CREATE TABLE IF NOT EXISTS team_series_minute (
        team TEXT NOT NULL, minute INTEGER NOT NULL, active INTEGER NOT NULL, at INTEGER NOT NULL,
        PRIMARY KEY (team, minute)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS team_series_minute_by_time ON team_series_minute (minute);

      CREATE TABLE IF NOT EXISTS team_series_hour (
        team TEXT NOT NULL, hour INTEGER NOT NULL, active_max INTEGER NOT NULL,
        PRIMARY KEY (team, hour)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS team_series_hour_by_time ON team_series_hour (hour);

      CREATE TABLE IF NOT EXISTS metric_series_minute (
        team TEXT NOT NULL, minute INTEGER NOT NULL, metric TEXT NOT NULL, active INTEGER NOT NULL, at INTEGER NOT NULL,
        PRIMARY KEY (team, minute, metric)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS metric_series_minute_by_time ON metric_series_minute (minute);

      CREATE TABLE IF NOT EXISTS metric_series_hour (
        team TEXT NOT NULL, metric TEXT NOT NULL, hour INTEGER NOT NULL, active_max INTEGER NOT NULL,
        PRIMARY KEY (team, metric, hour)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS metric_series_hour_by_time ON metric_series_hour (hour);

      CREATE TABLE IF NOT EXISTS snapshots (
        name TEXT NOT NULL PRIMARY KEY, taken_at INTEGER NOT NULL, bytes BLOB NOT NULL
      );
    `,
  },
  {
    version: 2,
    description: 'governance decisions: budget violations, label distinct-value estimates, attribute policy actions',
    sql: `
      -- AUTOINCREMENT: ids are never reused after pruning, so pagination cursors stay unambiguous.
      CREATE TABLE IF NOT EXISTS violations (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        team TEXT NOT NULL, minute INTEGER NOT NULL, metric TEXT NOT NULL, rule TEXT NOT NULL, action TEXT NOT NULL,
        count INTEGER NOT NULL, first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,
        samples TEXT NOT NULL DEFAULT '[]',
        UNIQUE (team, minute, metric, rule, action)
      );
      CREATE INDEX IF NOT EXISTS violations_by_team ON violations (team, minute, id);
      CREATE INDEX IF NOT EXISTS violations_by_time ON violations (minute);

      CREATE TABLE IF NOT EXISTS label_estimates (
        team TEXT NOT NULL, metric TEXT NOT NULL, label TEXT NOT NULL, estimate REAL NOT NULL, updated_at INTEGER NOT NULL,
        PRIMARY KEY (team, metric, label)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS label_estimates_by_time ON label_estimates (updated_at);

      CREATE TABLE IF NOT EXISTS policy_action_minute (
        minute INTEGER NOT NULL, team TEXT NOT NULL, signal TEXT NOT NULL, policy TEXT NOT NULL, action TEXT NOT NULL, mode TEXT NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (minute, team, signal, policy, action, mode)
      ) WITHOUT ROWID;

      CREATE TABLE IF NOT EXISTS policy_action_hour (
        hour INTEGER NOT NULL, team TEXT NOT NULL, signal TEXT NOT NULL, policy TEXT NOT NULL, action TEXT NOT NULL, mode TEXT NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (hour, team, signal, policy, action, mode)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 3,
    description: 'sampling usage: bytes kept and the sum of adjusted counts per usage row, the effective sampling probability per minute and hour',
    // Existing rows read 0 for both: nothing was kept by a sampler before this version.
    addColumns: [
      { table: 'usage_minute', column: 'bytes_kept', definition: 'INTEGER NOT NULL DEFAULT 0' },
      { table: 'usage_minute', column: 'adjusted_count', definition: 'REAL NOT NULL DEFAULT 0' },
      { table: 'usage_hour', column: 'bytes_kept', definition: 'INTEGER NOT NULL DEFAULT 0' },
      { table: 'usage_hour', column: 'adjusted_count', definition: 'REAL NOT NULL DEFAULT 0' },
    ],
    sql: `
      -- A gauge: the value recorded last in the minute (\`at\` decides between flushes).
      CREATE TABLE IF NOT EXISTS sampling_probability_minute (
        team TEXT NOT NULL, signal TEXT NOT NULL, minute INTEGER NOT NULL, probability REAL NOT NULL, at INTEGER NOT NULL,
        PRIMARY KEY (team, signal, minute)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS sampling_probability_minute_by_time ON sampling_probability_minute (minute);

      -- The simple average of the hour's minute values is probability_sum / minutes; keeping the
      -- sum and the count lets a late minute row, and coarser query steps, average correctly.
      CREATE TABLE IF NOT EXISTS sampling_probability_hour (
        team TEXT NOT NULL, signal TEXT NOT NULL, hour INTEGER NOT NULL, probability_sum REAL NOT NULL, minutes INTEGER NOT NULL,
        PRIMARY KEY (team, signal, hour)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS sampling_probability_hour_by_time ON sampling_probability_hour (hour);
    `,
  },
  {
    version: 4,
    description: 'budget exceptions (temporary raises of a team\'s series budget) and their audit trail',
    sql: `
      -- One row per (team, id); an expired row no longer applies (readers filter by now) and is
      -- kept until an admin deletes or replaces it.
      CREATE TABLE IF NOT EXISTS exceptions (
        team TEXT NOT NULL, id TEXT NOT NULL, signal TEXT NOT NULL, max_active_series INTEGER NOT NULL,
        reason TEXT NOT NULL, expires_at INTEGER NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, actor TEXT NOT NULL,
        PRIMARY KEY (team, id)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS exceptions_by_expiry ON exceptions (expires_at);

      -- Written in the same transaction as the change it records; never pruned.
      CREATE TABLE IF NOT EXISTS exception_audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL CHECK (action IN ('put', 'delete')),
        team TEXT NOT NULL, id TEXT NOT NULL, old_value TEXT, new_value TEXT, reason TEXT
      );
      CREATE INDEX IF NOT EXISTS exception_audit_by_team ON exception_audit (team, id, seq);
    `,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;

export function schemaVersion(db: Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

export interface MigrationReport {
  readonly from: number;
  readonly to: number;
}

function hasColumn(db: Database, table: string, column: string): boolean {
  return (db.pragma(`table_info(${table})`) as { name: string }[]).some((c) => c.name === column);
}

/**
 * Brings the file at `path` (already open as `db`) to `target` (the latest version unless a test
 * asks for an earlier one). Throws `schema_too_new` for a file from a newer Tollgate: running old
 * code on a newer schema could write rows the newer code misreads.
 */
export function migrate(db: Database, path: string, target: number = SCHEMA_VERSION): MigrationReport {
  const from = schemaVersion(db);
  if (from > SCHEMA_VERSION) {
    throw new UsageStoreError(
      'schema_too_new',
      `usage store ${path} has schema version ${from}, newer than the ${SCHEMA_VERSION} this Tollgate knows; run the newer Tollgate or move the file aside`,
    );
  }
  for (const migration of MIGRATIONS) {
    if (migration.version > target) break;
    const apply = db.transaction(() => {
      if (schemaVersion(db) >= migration.version) return;
      for (const { table, column, definition } of migration.addColumns ?? []) {
        if (!hasColumn(db, table, column)) db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${definition}`);
      }
      db.exec(migration.sql);
      db.pragma(`user_version = ${migration.version}`);
    });
    try {
      apply.immediate();
    } catch (error) {
      throw new UsageStoreError(
        'migration_failed',
        `usage store ${path}: migration ${migration.version} (${migration.description}) failed: ${messageOf(error)}`,
        { cause: error },
      );
    }
  }
  return { from, to: schemaVersion(db) };
}
