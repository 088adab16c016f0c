/**
 * Failures of the usage store. They are operator-facing (start-up, flush, maintenance) or
 * API-facing (a bad query or cursor), never client-facing OTLP errors, so they carry their own
 * codes rather than the wire error table in collector/errors.
 */

export type UsageStoreErrorCode =
  /** The database file is damaged or not a SQLite database; Tollgate refuses to start on it. */
  | 'store_corrupt'
  /** The file cannot be opened or configured (permissions, missing directory, no WAL support). */
  | 'store_unavailable'
  /** The file was written by a newer Tollgate (schema version above what this build knows). */
  | 'schema_too_new'
  | 'migration_failed'
  /** A flush transaction failed; its rows were kept in memory for the next flush. */
  | 'flush_failed'
  | 'store_closed'
  | 'invalid_options'
  /** A BudgetReader query had an argument out of range (the API answers 400). */
  | 'invalid_query'
  /** A pagination cursor that this store did not hand out (the API answers 400). */
  | 'invalid_cursor';

export class UsageStoreError extends Error {
  constructor(
    readonly code: UsageStoreErrorCode,
    message: string,
    options?: { readonly cause?: unknown },
  ) {
    super(message, options);
    this.name = 'UsageStoreError';
  }
}

/** The SQLite result code of a better-sqlite3 error (`SQLITE_CORRUPT`, `SQLITE_BUSY`, …), if any. */
export function sqliteCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  const code = error.code;
  return typeof code === 'string' && code.startsWith('SQLITE_') ? code : undefined;
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
