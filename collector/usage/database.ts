/**
 * Opening the usage store's SQLite file: the only place that decides pragmas, checks integrity and
 * runs migrations.
 *
 * A damaged file is refused, not replaced: Tollgate throws `store_corrupt` naming the file and
 * does not start. Recreating it silently would hand every team a fresh cardinality budget (the
 * series state lives there) and lose the usage history; an operator should decide, by moving the
 * file aside (an empty store is then created) or restoring a backup.
 */
import Sqlite from 'better-sqlite3';
import type { Database } from 'better-sqlite3';
import { UsageStoreError, messageOf, sqliteCode } from './errors.js';
import type { IntegrityCheckMode } from './options.js';
import { migrate } from './schema.js';
import type { MigrationReport } from './schema.js';

export const USAGE_DB_FILE = 'tollgate.db';

export interface OpenDatabaseOptions {
  readonly busyTimeoutMs: number;
  readonly integrityCheck: IntegrityCheckMode;
  /** Sees every SQL statement run on the connection (tests, debugging). */
  readonly onStatement?: (sql: string) => void;
  /** Schema version to migrate to; only tests ask for anything but the latest. */
  readonly schemaVersion?: number;
}

export interface OpenedDatabase {
  readonly db: Database;
  readonly migration: MigrationReport;
}

/** The WAL file grows with the largest write between checkpoints; this caps what it keeps after one. */
const JOURNAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;
/** How many integrity problems are listed in the error; one is enough to refuse the file. */
const INTEGRITY_MESSAGES = 5;

function isCorruption(error: unknown): boolean {
  const code = sqliteCode(error);
  return code === 'SQLITE_NOTADB' || (code !== undefined && code.startsWith('SQLITE_CORRUPT'));
}

function corrupt(path: string, detail: string, cause?: unknown): UsageStoreError {
  return new UsageStoreError(
    'store_corrupt',
    `usage store ${path} is corrupt (${detail}). Tollgate will not start on it, so that usage history and series state are not silently lost: ` +
      `move the file (with any ${path}-wal and ${path}-shm beside it) aside to start with an empty store, or restore it from a backup`,
    { cause },
  );
}

/** `PRAGMA integrity_check` (or `quick_check`) answers one row "ok" or up to N rows of problems. */
function checkIntegrity(db: Database, path: string, mode: IntegrityCheckMode): void {
  const pragma = mode === 'quick' ? 'quick_check' : 'integrity_check';
  const rows = db.pragma(`${pragma}(${INTEGRITY_MESSAGES})`, { simple: false }) as Record<string, unknown>[];
  const messages = rows.map((row) => String(Object.values(row)[0]));
  if (messages.length !== 1 || messages[0] !== 'ok') throw corrupt(path, `${pragma}: ${messages.join('; ')}`);
}

function configure(db: Database, path: string, options: OpenDatabaseOptions): MigrationReport {
  // First, so that everything below waits for a lock rather than failing at once.
  db.pragma(`busy_timeout = ${options.busyTimeoutMs}`);
  checkIntegrity(db, path, options.integrityCheck);
  // WAL lets the budget API read while the flush writes, and makes a commit one sequential write.
  const mode = db.pragma('journal_mode = WAL', { simple: true });
  if (mode !== 'wal') {
    throw new UsageStoreError('store_unavailable', `usage store ${path}: could not switch to WAL journal mode (got "${String(mode)}"); is the data dir on a network filesystem?`);
  }
  // In WAL mode NORMAL loses no committed data on a process crash (kill -9); only an OS crash or
  // power loss may drop the last commits, which for usage counters beats an fsync per flush.
  db.pragma('synchronous = NORMAL');
  db.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT_BYTES}`);
  return migrate(db, path, options.schemaVersion);
}

/** Opens (creating if needed) and prepares the database at `path`; throws UsageStoreError with the path in its message. */
export function openUsageDatabase(path: string, options: OpenDatabaseOptions): OpenedDatabase {
  let db: Database;
  try {
    db = new Sqlite(path, { timeout: options.busyTimeoutMs, verbose: options.onStatement ? (sql: unknown) => options.onStatement?.(String(sql)) : undefined });
  } catch (error) {
    throw new UsageStoreError('store_unavailable', `usage store ${path} cannot be opened: ${messageOf(error)}`, { cause: error });
  }
  try {
    return { db, migration: configure(db, path, options) };
  } catch (error) {
    db.close();
    if (error instanceof UsageStoreError) throw error;
    if (isCorruption(error)) throw corrupt(path, messageOf(error), error);
    throw new UsageStoreError('store_unavailable', `usage store ${path} cannot be prepared: ${messageOf(error)}`, { cause: error });
  }
}
