import { copyFileSync, constants, existsSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openUsageDatabase } from '../collector/usage/database.js';
import { SCHEMA_VERSION } from '../collector/usage/schema.js';
import { DAY_MS, HOUR_MS, MINUTE_MS, hourOf } from '../collector/usage/time.js';

/**
 * The usage store the `api` bench suite serves: 200 teams and 90 days of history, as a store
 * with the default retention holds it — minute rows for the last 7 days (usage for three signals
 * and the team's active series), hourly rows before that, one violation per team and hour, and
 * the last hour of per-metric series counts with label estimates.
 *
 * Written through the store's own migrations (so the schema is the real one), then filled with
 * prepared statements in primary-key order with the time indexes dropped and rebuilt at the end
 * (one sort instead of millions of random inserts). The file is cached under os.tmpdir(), named
 * by a version string and the hour it ends at: a re-run within the hour copies it in seconds.
 * Data ends at the start of the current hour. Minute rows start an hour later than 7 days
 * before that (the hour before is in hourly rows, as if just rolled up), so that no minute row
 * passes the retention while a run within the hour lasts: a backlog of rollup work that a
 * store kept up to date never has would otherwise run on Tollgate's event loop mid-measurement.
 */

export const TEAMS = 200;
export const HISTORY_DAYS = 90;
/** Bump when what is generated changes; the store's schema version is part of the name too. */
const DATA_VERSION = 2;
const MINUTE_RETENTION_DAYS = 7;
const METRICS_PER_TEAM = 20;
const LABELS_PER_METRIC = 5;
const SIGNALS = ['metrics', 'traces', 'logs'] as const;
const CACHE_PREFIX = 'tollgate-bench-api-';

export function teamName(i: number): string {
  return `team-${String(i).padStart(3, '0')}`;
}

export interface GeneratedStore {
  readonly path: string;
  /** Where the minute rows end (exclusive), epoch ms. */
  readonly endsAt: number;
  readonly rows: number;
  readonly bytes: number;
  /** False when the file came from the cache. */
  readonly generated: boolean;
  readonly seconds: number;
}

interface Counters {
  readonly itemsIn: number;
  readonly passed: number;
  readonly dropped: number;
  readonly bytes: number;
  readonly bytesKept: number;
  readonly adjustedCount: number;
}

/**
 * One team's items in minute `k` (minutes since the epoch): a daily swell on a per-team base, so
 * sums differ between teams and over time without any randomness to seed.
 */
function minuteCounters(team: number, signal: (typeof SIGNALS)[number], k: number): Counters {
  const swell = 1 + 0.5 * Math.sin((2 * Math.PI * (k % 1440)) / 1440 + team);
  switch (signal) {
    case 'metrics': {
      const itemsIn = Math.round((2_000 + 10 * team) * swell);
      const dropped = k % 97 === team % 97 ? 150 : 0;
      return { itemsIn, passed: itemsIn - dropped, dropped, bytes: itemsIn * 60, bytesKept: 0, adjustedCount: 0 };
    }
    case 'traces': {
      // A 25 % tier: a quarter kept, each standing for four.
      const itemsIn = Math.round((600 + 3 * team) * swell);
      const passed = Math.floor(itemsIn / 4);
      return { itemsIn, passed, dropped: itemsIn - passed, bytes: itemsIn * 400, bytesKept: passed * 400, adjustedCount: passed * 4 };
    }
    case 'logs': {
      const itemsIn = Math.round((900 + 5 * team) * swell);
      return { itemsIn, passed: itemsIn, dropped: 0, bytes: itemsIn * 250, bytesKept: 0, adjustedCount: 0 };
    }
  }
}

function activeSeries(team: number, minute: number): number {
  return 40_000 + 150 * team + Math.round(2_000 * Math.sin(minute / (6 * HOUR_MS) + team));
}

function cachePath(endsAt: number): string {
  const hour = new Date(endsAt).toISOString().slice(0, 13).replace(/[-T:]/g, '');
  return join(tmpdir(), `${CACHE_PREFIX}s${SCHEMA_VERSION}d${DATA_VERSION}-${hour}.db`);
}

/** Removes cached stores of other versions or hours (each is a few hundred MB). */
function pruneCache(keep: string): void {
  for (const name of readdirSync(tmpdir())) {
    const path = join(tmpdir(), name);
    if (name.startsWith(CACHE_PREFIX) && path !== keep) rmSync(path, { force: true });
  }
}

/** The cached store for the current hour, generated first if needed. */
export function ensureApiStore(now = Date.now()): GeneratedStore {
  const endsAt = hourOf(now);
  const path = cachePath(endsAt);
  pruneCache(path);
  const started = performance.now();
  let rows = 0;
  let generated = false;
  if (!existsSync(path)) {
    const partial = `${path}.partial`;
    rmSync(partial, { force: true });
    rows = generate(partial, endsAt);
    // Renamed only once complete: an interrupted run never leaves a half-filled cache behind.
    renameSync(partial, path);
    generated = true;
  }
  return { path, endsAt, rows, bytes: statSync(path).size, generated, seconds: (performance.now() - started) / 1000 };
}

/** A private copy for one run (Tollgate writes to it); a reflink where the file system can. */
export function copyApiStore(store: GeneratedStore, target: string): void {
  copyFileSync(store.path, target, constants.COPYFILE_FICLONE);
}

function generate(path: string, endsAt: number): number {
  const { db } = openUsageDatabase(path, { busyTimeoutMs: 5_000, integrityCheck: 'quick' });
  try {
    // A scratch file being filled: no journal, no syncs; the WAL mode Tollgate expects is set at the end.
    db.pragma('journal_mode = OFF');
    db.pragma('synchronous = OFF');
    db.pragma('cache_size = -262144');
    const timeIndexes = db
      .prepare<[], { name: string; sql: string }>("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
      .all();
    for (const index of timeIndexes) db.exec(`DROP INDEX ${index.name}`);

    const minuteStart = endsAt + HOUR_MS - MINUTE_RETENTION_DAYS * DAY_MS;
    const hourStart = hourOf(endsAt - HISTORY_DAYS * DAY_MS);
    const insertMinute = db.prepare(
      'INSERT INTO usage_minute (team, signal, minute, items_in, passed, dropped, overflowed, bytes, bytes_kept, adjusted_count) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?)',
    );
    const insertHour = db.prepare(
      'INSERT INTO usage_hour (team, signal, hour, items_in, passed, dropped, overflowed, bytes, bytes_kept, adjusted_count) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?)',
    );
    const insertSeriesMinute = db.prepare('INSERT INTO team_series_minute (team, minute, active, at) VALUES (?, ?, ?, ?)');
    const insertSeriesHour = db.prepare('INSERT INTO team_series_hour (team, hour, active_max) VALUES (?, ?, ?)');
    const insertMetric = db.prepare('INSERT INTO metric_series_minute (team, minute, metric, active, at) VALUES (?, ?, ?, ?, ?)');
    const insertLabel = db.prepare('INSERT INTO label_estimates (team, metric, label, estimate, updated_at) VALUES (?, ?, ?, ?, ?)');
    const insertViolation = db.prepare(
      'INSERT INTO violations (minute, team, metric, rule, action, count, first_seen, last_seen, samples) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );

    let rows = 0;
    const fillTeam = db.transaction((t: number) => {
      const team = teamName(t);
      for (const signal of SIGNALS) {
        // Hours before the minute retention: the sums the rollup would have written.
        for (let hour = hourStart; hour < minuteStart; hour += HOUR_MS) {
          const c = minuteCounters(t, signal, hour / MINUTE_MS + 30);
          insertHour.run(team, signal, hour, c.itemsIn * 60, c.passed * 60, c.dropped * 60, c.bytes * 60, c.bytesKept * 60, c.adjustedCount * 60);
          rows++;
        }
        for (let minute = minuteStart; minute < endsAt; minute += MINUTE_MS) {
          const c = minuteCounters(t, signal, minute / MINUTE_MS);
          insertMinute.run(team, signal, minute, c.itemsIn, c.passed, c.dropped, c.bytes, c.bytesKept, c.adjustedCount);
          rows++;
        }
      }
      for (let hour = hourStart; hour < minuteStart; hour += HOUR_MS) {
        insertSeriesHour.run(team, hour, activeSeries(t, hour) + 1_000);
        rows++;
      }
      for (let minute = minuteStart; minute < endsAt; minute += MINUTE_MS) {
        insertSeriesMinute.run(team, minute, activeSeries(t, minute), minute + 30_000);
        rows++;
      }
      for (let minute = endsAt - HOUR_MS; minute < endsAt; minute += MINUTE_MS) {
        for (let m = 0; m < METRICS_PER_TEAM; m++) {
          insertMetric.run(team, minute, `service.metric_${m}`, Math.round(activeSeries(t, minute) / (m + 2)), minute + 30_000);
          rows++;
        }
      }
      for (let m = 0; m < METRICS_PER_TEAM; m++) {
        for (let l = 0; l < LABELS_PER_METRIC; l++) {
          insertLabel.run(team, `service.metric_${m}`, `label_${l}`, Math.round(5_000 / (l + 1)) + t, endsAt - MINUTE_MS);
          rows++;
        }
      }
      for (let hour = hourStart; hour < endsAt; hour += HOUR_MS) {
        const minute = hour + ((t * 7) % 60) * MINUTE_MS;
        insertViolation.run(minute, team, `service.metric_${t % METRICS_PER_TEAM}`, 'per_label:user_id', 'drop', 1 + (t % 9), minute + 1_000, minute + 40_000, '[{"user_id":"<redacted>"}]');
        rows++;
      }
    });
    for (let t = 0; t < TEAMS; t++) fillTeam(t);
    for (const index of timeIndexes) db.exec(index.sql);
    db.pragma('journal_mode = WAL');
    return rows;
  } finally {
    db.close();
  }
}
