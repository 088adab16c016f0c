// Shared set-up for the usage store tests: real SQLite files in a fresh temporary directory and
// a clock the test moves by hand.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Sqlite from 'better-sqlite3';
import type { Database } from 'better-sqlite3';
import { openUsageStore } from '../../../collector/usage/store.js';
import type { UsageStore, UsageStoreParams } from '../../../collector/usage/store.js';

/** 2025-01-15T10:00:00Z: a whole hour, so minute and hour arithmetic in tests stays readable. */
export const T0 = Date.UTC(2025, 0, 15, 10, 0, 0);
export const MIN = 60_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;

export interface Clock {
  t: number;
  readonly now: () => number;
}

export function clockAt(t: number = T0): Clock {
  const clock: Clock = { t, now: () => clock.t };
  return clock;
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'tollgate-usage-'));
}

export interface Fixture {
  readonly dir: string;
  readonly clock: Clock;
  readonly statements: string[];
  store: UsageStore;
  /** Closes and opens the store again on the same file. */
  reopen(params?: Partial<UsageStoreParams>): UsageStore;
  /** A second, plain connection for asserting on rows. */
  query<T = Record<string, unknown>>(sql: string, ...params: unknown[]): T[];
  cleanup(): void;
}

export function openFixture(params: Partial<UsageStoreParams> = {}): Fixture {
  const dir = tempDir();
  const clock = clockAt();
  const statements: string[] = [];
  const open = (more: Partial<UsageStoreParams> = {}): UsageStore =>
    openUsageStore({ dataDir: dir, now: clock.now, onStatement: (sql) => statements.push(sql), ...params, ...more });
  let inspector: Database | undefined;
  const fixture: Fixture = {
    dir,
    clock,
    statements,
    store: open(),
    reopen(more) {
      fixture.store.close();
      fixture.store = open(more);
      return fixture.store;
    },
    query<T>(sql: string, ...bind: unknown[]): T[] {
      inspector ??= new Sqlite(fixture.store.path, { readonly: true });
      return inspector.prepare(sql).all(...bind) as T[];
    },
    cleanup() {
      inspector?.close();
      fixture.store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return fixture;
}
