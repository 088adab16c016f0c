// Opening the store's file: pragmas, migrations from every earlier version, integrity checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Sqlite from 'better-sqlite3';
import type { Database } from 'better-sqlite3';
import { USAGE_DB_FILE, openUsageDatabase } from '../../../collector/usage/database.js';
import { UsageStoreError } from '../../../collector/usage/errors.js';
import { MIGRATIONS, SCHEMA_VERSION, migrate, schemaVersion } from '../../../collector/usage/schema.js';
import { openUsageStore } from '../../../collector/usage/store.js';
import { HOUR, MIN, T0, openFixture, tempDir } from './helpers.js';

const OPEN = { busyTimeoutMs: 2_500, integrityCheck: 'full' } as const;

/** Every table, index and its SQL, for comparing schemas reached by different paths. */
function schemaOf(db: Database): string[] {
  return (db.prepare("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name").all() as { type: string; name: string; sql: string }[]).map(
    (r) => `${r.type} ${r.name}: ${r.sql.replace(/\s+/g, ' ')}`,
  );
}

function tableNames(db: Database): string[] {
  return (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
}

function expectStoreError(code: string, pathFragment: string) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof UsageStoreError, `expected UsageStoreError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.ok(error.message.includes(pathFragment), `message names the file: ${error.message}`);
    return true;
  };
}

/** Rows an older Tollgate could have written at `version`, one per table that version has. */
function writeOldRows(db: Database, version: number): void {
  if (version >= 1) {
    db.prepare("INSERT INTO usage_minute (team, signal, minute, items_in, passed, dropped, bytes) VALUES ('checkout', 'traces', ?, 50, 42, 8, 5000)").run(T0);
    db.prepare("INSERT INTO usage_hour (team, signal, hour, items_in, passed, dropped, bytes) VALUES ('checkout', 'traces', ?, 600, 500, 100, 60000)").run(T0 - HOUR);
    db.prepare("INSERT INTO team_series_minute (team, minute, active, at) VALUES ('checkout', ?, 77, ?)").run(T0, T0 + 1_000);
    db.prepare("INSERT INTO snapshots (name, taken_at, bytes) VALUES ('cardinality-budgets', ?, x'0102')").run(T0);
  }
  if (version >= 2) {
    db.prepare("INSERT INTO violations (team, minute, metric, rule, action, count, first_seen, last_seen) VALUES ('checkout', ?, 'm', 'r', 'drop', 3, ?, ?)").run(T0, T0, T0);
    db.prepare("INSERT INTO policy_action_minute (minute, team, signal, policy, action, mode, count) VALUES (?, '', 'logs', 'p', 'redact', 'enforce', 9)").run(T0);
  }
}

void test('an empty file is migrated to the latest version; reopening changes nothing', () => {
  const dir = tempDir();
  const path = join(dir, USAGE_DB_FILE);
  try {
    const first = openUsageDatabase(path, OPEN);
    assert.deepEqual(first.migration, { from: 0, to: SCHEMA_VERSION });
    assert.equal(schemaVersion(first.db), SCHEMA_VERSION);
    assert.deepEqual(tableNames(first.db), [
      'exception_audit',
      'exceptions',
      'label_estimates',
      'metric_series_hour',
      'metric_series_minute',
      'policy_action_hour',
      'policy_action_minute',
      'sampling_probability_hour',
      'sampling_probability_minute',
      'snapshots',
      'team_series_hour',
      'team_series_minute',
      'usage_hour',
      'usage_minute',
      'violations',
    ]);
    const schema = schemaOf(first.db);
    first.db.prepare("INSERT INTO usage_minute (team, signal, minute, items_in) VALUES ('a', 'logs', 0, 7)").run();
    // Running the migrations again on a migrated file is a no-op.
    assert.deepEqual(migrate(first.db, path), { from: SCHEMA_VERSION, to: SCHEMA_VERSION });
    first.db.close();

    const again = openUsageDatabase(path, OPEN);
    assert.deepEqual(again.migration, { from: SCHEMA_VERSION, to: SCHEMA_VERSION });
    assert.deepEqual(schemaOf(again.db), schema);
    assert.deepEqual(again.db.prepare('SELECT items_in FROM usage_minute').pluck().all(), [7]);
    again.db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

void test('a file at each earlier schema version migrates to the same schema as a fresh one, keeping its rows', () => {
  const dir = tempDir();
  try {
    const fresh = openUsageDatabase(join(dir, 'fresh.db'), OPEN);
    const expected = schemaOf(fresh.db);
    fresh.db.close();
    assert.ok(MIGRATIONS.length >= 2, 'there is an earlier version to migrate from');
    for (let version = 0; version < SCHEMA_VERSION; version++) {
      const path = join(dir, `v${version}.db`);
      const old = openUsageDatabase(path, { ...OPEN, schemaVersion: version });
      assert.equal(schemaVersion(old.db), version);
      writeOldRows(old.db, version);
      old.db.close();

      const upgraded = openUsageDatabase(path, OPEN);
      assert.deepEqual(upgraded.migration, { from: version, to: SCHEMA_VERSION }, `from v${version}`);
      assert.deepEqual(schemaOf(upgraded.db), expected, `schema after migrating from v${version}`);
      if (version >= 1) assert.deepEqual(upgraded.db.prepare('SELECT passed FROM usage_minute').pluck().all(), [42], `rows kept from v${version}`);
      const count = (table: string): unknown => upgraded.db.prepare(`SELECT count(*) FROM ${table}`).pluck().get();
      assert.deepEqual(
        ['usage_minute', 'usage_hour', 'team_series_minute', 'snapshots', 'violations', 'policy_action_minute'].map(count),
        version === 0 ? [0, 0, 0, 0, 0, 0] : version === 1 ? [1, 1, 1, 1, 0, 0] : [1, 1, 1, 1, 1, 1],
        `rows of every table kept from v${version}`,
      );
      upgraded.db.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

void test('sampling usage (v3): files from every earlier version keep their rows, read 0 bytes kept and adjusted count, and no probability', () => {
  const dir = tempDir();
  try {
    for (let version = 1; version < 3; version++) {
      const dataDir = join(dir, `v${version}`);
      mkdirSync(dataDir);
      const path = join(dataDir, USAGE_DB_FILE);
      const old = openUsageDatabase(path, { ...OPEN, schemaVersion: version });
      writeOldRows(old.db, version);
      old.db.close();

      const upgraded = openUsageDatabase(path, OPEN);
      assert.deepEqual(upgraded.migration, { from: version, to: SCHEMA_VERSION });
      const { db } = upgraded;
      assert.deepEqual(
        db.prepare('SELECT items_in, passed, dropped, bytes, bytes_kept, adjusted_count FROM usage_minute').all(),
        [{ items_in: 50, passed: 42, dropped: 8, bytes: 5000, bytes_kept: 0, adjusted_count: 0 }],
        `usage_minute from v${version}`,
      );
      assert.deepEqual(
        db.prepare('SELECT items_in, bytes, bytes_kept, adjusted_count FROM usage_hour').all(),
        [{ items_in: 600, bytes: 60000, bytes_kept: 0, adjusted_count: 0 }],
        `usage_hour from v${version}`,
      );
      assert.deepEqual(db.prepare('SELECT active FROM team_series_minute').pluck().all(), [77]);
      assert.deepEqual(db.prepare('SELECT name FROM snapshots').pluck().all(), ['cardinality-budgets']);
      assert.deepEqual(db.prepare('SELECT count(*) FROM violations').pluck().all(), [version >= 2 ? 1 : 0]);
      assert.deepEqual(db.prepare('SELECT count(*) FROM policy_action_minute').pluck().all(), [version >= 2 ? 1 : 0]);
      assert.deepEqual(db.prepare('SELECT count(*) FROM sampling_probability_minute').pluck().all(), [0]);
      db.close();

      // Through the store: old rows read with zeros and a null probability; new sampling usage adds to them.
      const store = openUsageStore({ dataDir, now: () => T0 + 30_000 });
      try {
        store.recordUsage('checkout', 'traces', { itemsIn: 4, passed: 2, dropped: 2, bytes: 400, bytesKept: 200, adjustedCount: 5 });
        store.recordSamplingProbability('checkout', 'traces', 0.5);
        store.flush();
        assert.deepEqual(store.reader.usage('checkout', 'traces', T0 - HOUR, T0 + HOUR, HOUR).points, [
          { start: T0 - HOUR, itemsIn: 600, passed: 500, dropped: 100, overflowed: 0, bytes: 60000, bytesKept: 0, adjustedCount: 0, probability: null },
          { start: T0, itemsIn: 54, passed: 44, dropped: 10, overflowed: 0, bytes: 5400, bytesKept: 200, adjustedCount: 5, probability: 0.5 },
        ], `read back after migrating from v${version}`);
        assert.equal(store.reader.usage('checkout', 'traces', T0, T0 + MIN).points[0].itemsIn, 54);
      } finally {
        store.close();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

void test('migration 3 is idempotent: columns and tables already present without a version bump are accepted', () => {
  const dir = tempDir();
  const path = join(dir, USAGE_DB_FILE);
  try {
    const old = openUsageDatabase(path, { ...OPEN, schemaVersion: 2 });
    writeOldRows(old.db, 2);
    // As if a crash had happened after part of the work of v3 (which a transaction rules out, but still):
    old.db.exec('ALTER TABLE usage_minute ADD COLUMN bytes_kept INTEGER NOT NULL DEFAULT 0');
    old.db.exec(MIGRATIONS[2].sql);
    old.db.close();
    const opened = openUsageDatabase(path, OPEN);
    assert.deepEqual(opened.migration, { from: 2, to: SCHEMA_VERSION });
    const columns = (table: string): string[] => (opened.db.pragma(`table_info(${table})`) as { name: string }[]).map((c) => c.name);
    for (const table of ['usage_minute', 'usage_hour']) {
      assert.deepEqual(columns(table).filter((c) => c === 'bytes_kept' || c === 'adjusted_count'), ['bytes_kept', 'adjusted_count'], table);
    }
    assert.deepEqual(opened.db.prepare('SELECT passed, bytes_kept, adjusted_count FROM usage_minute').all(), [{ passed: 42, bytes_kept: 0, adjusted_count: 0 }]);
    opened.db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

void test('migrations are idempotent: tables already present without a version bump are accepted', () => {
  const dir = tempDir();
  const path = join(dir, USAGE_DB_FILE);
  try {
    const raw = new Sqlite(path);
    raw.exec(MIGRATIONS[0].sql); // tables of v1 present, user_version still 0
    raw.close();
    const opened = openUsageDatabase(path, OPEN);
    assert.deepEqual(opened.migration, { from: 0, to: SCHEMA_VERSION });
    opened.db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

void test('a file from a newer Tollgate is refused', () => {
  const dir = tempDir();
  const path = join(dir, USAGE_DB_FILE);
  try {
    const raw = new Sqlite(path);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    assert.throws(() => openUsageDatabase(path, OPEN), expectStoreError('schema_too_new', path));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

void test('the store runs in WAL mode with busy_timeout, synchronous=NORMAL and a WAL size limit', () => {
  const f = openFixture({ options: { busyTimeoutMs: 1234 } });
  try {
    f.store.recordUsage('a', 'logs', { itemsIn: 1 });
    f.store.flush();
    assert.ok(existsSync(`${f.store.path}-wal`), 'a -wal file exists beside the database');
    assert.equal(f.store.path, join(f.dir, 'tollgate.db'));
    // The store's own connection, through the statements it logged…
    assert.ok(f.statements.includes('PRAGMA busy_timeout = 1234'));
    assert.ok(f.statements.includes('PRAGMA journal_mode = WAL'));
    // …and a second connection reading the persistent setting from the file.
    assert.deepEqual(f.query('PRAGMA journal_mode'), [{ journal_mode: 'wal' }]);
    f.store.close();

    const db = openUsageDatabase(f.store.path, { busyTimeoutMs: 4321, integrityCheck: 'quick' }).db;
    assert.equal(db.pragma('busy_timeout', { simple: true }), 4321);
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(db.pragma('synchronous', { simple: true }), 1, 'NORMAL');
    assert.equal(db.pragma('journal_size_limit', { simple: true }), 64 * 1024 * 1024);
    db.close();
  } finally {
    f.cleanup();
  }
});

void test('a file that is not a SQLite database is refused at open with an error naming it', () => {
  const dir = tempDir();
  const path = join(dir, USAGE_DB_FILE);
  try {
    writeFileSync(path, Buffer.alloc(8192, 'garbage, not a database. '));
    assert.throws(() => openUsageStore({ dataDir: dir }), expectStoreError('store_corrupt', path));
    // Refused, not replaced: the operator's file is untouched.
    assert.equal(readFileSync(path, 'utf8').slice(0, 9), 'garbage, ');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

void test('a database with damaged pages fails the integrity check at open', () => {
  const dir = tempDir();
  try {
    const store = openUsageStore({ dataDir: dir, now: () => T0 });
    for (let i = 0; i < 2000; i++) store.recordMetricSeries('team-a', `metric.number.${i}`, i);
    store.flush();
    store.close();
    const path = store.path;
    assert.ok(!existsSync(`${path}-wal`) || statSync(`${path}-wal`).size === 0, 'checkpointed on close');
    const pageSize = 4096;
    const pages = statSync(path).size / pageSize;
    assert.ok(pages > 8, `enough pages to damage some in the middle (${pages})`);
    // Overwrite two pages in the middle of the file (b-tree pages of metric_series_minute) with noise.
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.alloc(pageSize * 2, 0xa5), 0, pageSize * 2, Math.floor(pages / 2) * pageSize);
    closeSync(fd);
    assert.throws(() => openUsageStore({ dataDir: dir }), (error: unknown) => {
      expectStoreError('store_corrupt', path)(error);
      assert.match((error as Error).message, /move the file .* aside/);
      return true;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

void test('an index that disagrees with its table fails the full integrity check (quick_check would not see it)', () => {
  const dir = tempDir();
  try {
    const store = openUsageStore({ dataDir: dir, now: () => T0 });
    store.recordViolation({ team: 'team-marker-value', metric: 'm', rule: 'max_active_series', action: 'drop' });
    store.flush();
    store.close();
    const path = store.path;
    const raw = new Sqlite(path, { readonly: true });
    const root = raw.prepare("SELECT rootpage FROM sqlite_master WHERE name = 'violations_by_team'").pluck().get() as number;
    const pageSize = raw.pragma('page_size', { simple: true }) as number;
    raw.close();
    // Change one character of the team name inside the index page only.
    const bytes = readFileSync(path);
    const page = bytes.subarray((root - 1) * pageSize, root * pageSize);
    const at = page.indexOf('team-marker-value');
    assert.ok(at >= 0, 'the index page holds the team name');
    page[at] = 'T'.charCodeAt(0);
    writeFileSync(path, bytes);

    assert.throws(() => openUsageStore({ dataDir: dir }), (error: unknown) => {
      expectStoreError('store_corrupt', path)(error);
      assert.match((error as Error).message, /integrity_check: row 1 missing from index violations_by_team/);
      return true;
    });
    const quick = openUsageStore({ dataDir: dir, options: { integrityCheck: 'quick' } });
    quick.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

void test('options are validated, every problem listed at once', () => {
  assert.throws(
    () => openUsageStore({ dataDir: join(tmpdir(), 'tollgate-never-created'), options: { flushIntervalMs: 0, minuteRetentionDays: 30, hourlyRetentionDays: 10 } }),
    (error: unknown) => {
      assert.ok(error instanceof UsageStoreError);
      assert.equal(error.code, 'invalid_options');
      assert.match(error.message, /flushIntervalMs: must be a positive integer/);
      assert.match(error.message, /hourlyRetentionDays: must be at least minuteRetentionDays \(30\)/);
      return true;
    },
  );
});
