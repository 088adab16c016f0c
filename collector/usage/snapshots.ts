/**
 * Named binary snapshots of series state (the budget processor's typed arrays, sampler state).
 * Only the latest per name is kept; a save replaces it in one transaction, so a crash mid-save
 * leaves the previous snapshot intact.
 */
import type { Database } from 'better-sqlite3';
import { UsageStoreError } from './errors.js';

export interface Snapshot {
  readonly name: string;
  readonly takenAt: number;
  readonly bytes: Uint8Array;
}

export interface SnapshotStore {
  /** Replaces the snapshot `name`; returns its `takenAt`. */
  save(name: string, bytes: Uint8Array): number;
  load(name: string): Snapshot | undefined;
}

const MAX_NAME_LENGTH = 200;

function checkName(name: string): void {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME_LENGTH) {
    throw new UsageStoreError('invalid_query', `snapshot name must be 1 to ${MAX_NAME_LENGTH} characters (got ${JSON.stringify(name)})`);
  }
}

export function createSnapshotStore(db: Database, now: () => number): SnapshotStore {
  const upsert = db.prepare(`
    INSERT INTO snapshots (name, taken_at, bytes) VALUES (?, ?, ?)
    ON CONFLICT (name) DO UPDATE SET taken_at = excluded.taken_at, bytes = excluded.bytes`);
  const select = db.prepare<[string], { taken_at: number; bytes: Buffer }>('SELECT taken_at, bytes FROM snapshots WHERE name = ?');
  const save = db.transaction((name: string, bytes: Buffer, takenAt: number) => upsert.run(name, takenAt, bytes));
  return {
    save(name, bytes) {
      checkName(name);
      const takenAt = now();
      // A view over the caller's memory, not a copy: snapshots of series tables can be large.
      save.immediate(name, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), takenAt);
      return takenAt;
    },
    load(name) {
      checkName(name);
      const row = select.get(name);
      return row === undefined ? undefined : { name, takenAt: row.taken_at, bytes: new Uint8Array(row.bytes.buffer, row.bytes.byteOffset, row.bytes.byteLength) };
    },
  };
}
