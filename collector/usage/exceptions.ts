/**
 * Budget exceptions: an admin raises a team's series budget until a set time, with a reason.
 * Every change writes its audit row in the same transaction as the change itself, so there is
 * never a change without its audit row, nor an audit row for a change that rolled back.
 *
 * The budget processor asks `activeLimitOverride` on the hot path, so the unexpired exceptions
 * are also held in memory: reloaded from the file after every committed change (never before
 * the commit), and an entry past its expiry is ignored (and dropped) when read. Nothing runs on
 * a timer: an exception stops applying at `expiresAt` because every read compares with now.
 */
import type { Database } from 'better-sqlite3';
import { UsageStoreError } from './errors.js';

/** The signals an exception can raise; only the metrics series budget for now. */
export type ExceptionSignal = 'metrics';

export interface BudgetExceptionInput {
  readonly signal: ExceptionSignal;
  readonly maxActiveSeries: number;
  readonly reason: string;
  /** Epoch milliseconds; must be after now. */
  readonly expiresAt: number;
}

export interface BudgetException extends BudgetExceptionInput {
  readonly team: string;
  readonly id: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** The token name that wrote it last. */
  readonly actor: string;
}

export interface ExceptionAuditRecord {
  readonly seq: number;
  readonly at: number;
  readonly actor: string;
  readonly action: 'put' | 'delete';
  readonly team: string;
  readonly id: string;
  /** The exception before and after the change (JSON of BudgetException), null where there was none. */
  readonly oldValue: BudgetException | null;
  readonly newValue: BudgetException | null;
  readonly reason: string | null;
}

export interface BudgetExceptions {
  /** Creates or replaces the exception (team, id); `created` is false when one was replaced (expired or not). */
  put(team: string, id: string, input: BudgetExceptionInput, actor: string): { readonly created: boolean; readonly exception: BudgetException };
  /** Ends the exception (removing its row, expired or not); undefined when there is none. */
  delete(team: string, id: string, actor: string): BudgetException | undefined;
  /** The team's exceptions in force at `nowMs`, soonest expiry first. */
  active(team: string, nowMs: number): BudgetException[];
  /** The audit trail of a team, oldest first. */
  audit(team: string): ExceptionAuditRecord[];
  /**
   * The series budget that replaces the rules' `max_active_series` at `nowMs` (the largest of
   * the team's exceptions in force), or undefined when none is. Memory only: no SQL.
   */
  activeLimitOverride(team: string, nowMs: number): number | undefined;
}

export const MAX_EXCEPTION_ID_LENGTH = 64;
export const EXCEPTION_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

interface ExceptionRow {
  team: string;
  id: string;
  signal: string;
  max_active_series: number;
  reason: string;
  expires_at: number;
  created_at: number;
  updated_at: number;
  actor: string;
}

interface AuditRow {
  seq: number;
  at: number;
  actor: string;
  action: 'put' | 'delete';
  team: string;
  id: string;
  old_value: string | null;
  new_value: string | null;
  reason: string | null;
}

function fromRow(row: ExceptionRow): BudgetException {
  return {
    team: row.team,
    id: row.id,
    signal: row.signal as ExceptionSignal,
    maxActiveSeries: row.max_active_series,
    reason: row.reason,
    expiresAt: row.expires_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    actor: row.actor,
  };
}

function check(team: string, id: string, input?: BudgetExceptionInput): void {
  if (typeof team !== 'string' || team.length === 0) throw new UsageStoreError('invalid_query', 'team must not be empty');
  if (typeof id !== 'string' || id.length > MAX_EXCEPTION_ID_LENGTH || !EXCEPTION_ID.test(id)) {
    throw new UsageStoreError('invalid_query', `exception id must be 1 to ${MAX_EXCEPTION_ID_LENGTH} letters, digits, '.', '_' or '-', starting with a letter or digit (got ${JSON.stringify(id)})`);
  }
  if (input === undefined) return;
  if (input.signal !== 'metrics') throw new UsageStoreError('invalid_query', `signal must be "metrics" (got ${JSON.stringify(input.signal)})`);
  if (!Number.isSafeInteger(input.maxActiveSeries) || input.maxActiveSeries < 0) throw new UsageStoreError('invalid_query', 'max_active_series must be a non-negative integer');
  if (typeof input.reason !== 'string' || input.reason.trim() === '') throw new UsageStoreError('invalid_query', 'reason must not be empty');
  if (!Number.isSafeInteger(input.expiresAt)) throw new UsageStoreError('invalid_query', 'expires_at must be a time in epoch milliseconds');
}

export function createExceptionStore(db: Database, now: () => number): BudgetExceptions {
  const selectOne = db.prepare<[string, string], ExceptionRow>('SELECT * FROM exceptions WHERE team = ? AND id = ?');
  const selectActive = db.prepare<[string, number], ExceptionRow>('SELECT * FROM exceptions WHERE team = ? AND expires_at > ? ORDER BY expires_at, id');
  const selectAllActive = db.prepare<[number], ExceptionRow>('SELECT * FROM exceptions WHERE expires_at > ?');
  const upsert = db.prepare(`
    INSERT INTO exceptions (team, id, signal, max_active_series, reason, expires_at, created_at, updated_at, actor)
    VALUES (@team, @id, @signal, @maxActiveSeries, @reason, @expiresAt, @createdAt, @updatedAt, @actor)
    ON CONFLICT (team, id) DO UPDATE SET signal = excluded.signal, max_active_series = excluded.max_active_series,
      reason = excluded.reason, expires_at = excluded.expires_at, updated_at = excluded.updated_at, actor = excluded.actor`);
  const remove = db.prepare<[string, string]>('DELETE FROM exceptions WHERE team = ? AND id = ?');
  const insertAudit = db.prepare<[number, string, string, string, string, string | null, string | null, string | null]>(
    'INSERT INTO exception_audit (at, actor, action, team, id, old_value, new_value, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const selectAudit = db.prepare<[string], AuditRow>('SELECT * FROM exception_audit WHERE team = ? ORDER BY seq');

  /** Per team, the unexpired exceptions as (limit, expiry) pairs, as of the last reload. */
  let cache = new Map<string, { limit: number; expiresAt: number }[]>();
  const reload = (): void => {
    const next = new Map<string, { limit: number; expiresAt: number }[]>();
    for (const row of selectAllActive.all(now())) {
      let list = next.get(row.team);
      if (!list) next.set(row.team, (list = []));
      list.push({ limit: row.max_active_series, expiresAt: row.expires_at });
    }
    cache = next;
  };
  reload();

  const putTx = db.transaction((team: string, id: string, input: BudgetExceptionInput, actor: string, at: number) => {
    const before = selectOne.get(team, id);
    const exception: BudgetException = { team, id, ...input, createdAt: before?.created_at ?? at, updatedAt: at, actor };
    upsert.run(exception);
    const old = before === undefined ? null : JSON.stringify(fromRow(before));
    insertAudit.run(at, actor, 'put', team, id, old, JSON.stringify(exception), input.reason);
    return { created: before === undefined, exception };
  });
  const deleteTx = db.transaction((team: string, id: string, actor: string, at: number) => {
    const before = selectOne.get(team, id);
    if (before === undefined) return undefined;
    remove.run(team, id);
    const exception = fromRow(before);
    insertAudit.run(at, actor, 'delete', team, id, JSON.stringify(exception), null, null);
    return exception;
  });

  return {
    put(team, id, input, actor) {
      check(team, id, input);
      const at = now();
      if (input.expiresAt <= at) throw new UsageStoreError('invalid_query', 'expires_at must be in the future');
      const result = putTx.immediate(team, id, input, actor, at);
      reload();
      return result;
    },
    delete(team, id, actor) {
      check(team, id);
      const ended = deleteTx.immediate(team, id, actor, now());
      if (ended !== undefined) reload();
      return ended;
    },
    active(team, nowMs) {
      return selectActive.all(team, nowMs).map(fromRow);
    },
    audit(team) {
      return selectAudit.all(team).map((row) => ({
        seq: row.seq,
        at: row.at,
        actor: row.actor,
        action: row.action,
        team: row.team,
        id: row.id,
        oldValue: row.old_value === null ? null : (JSON.parse(row.old_value) as BudgetException),
        newValue: row.new_value === null ? null : (JSON.parse(row.new_value) as BudgetException),
        reason: row.reason,
      }));
    },
    activeLimitOverride(team, nowMs) {
      const list = cache.get(team);
      if (list === undefined) return undefined;
      let limit: number | undefined;
      let expired = false;
      for (const entry of list) {
        if (entry.expiresAt <= nowMs) expired = true;
        else if (limit === undefined || entry.limit > limit) limit = entry.limit;
      }
      // Lazily forget what has expired, so the list only holds what may still apply.
      if (expired) {
        const left = list.filter((entry) => entry.expiresAt > nowMs);
        if (left.length > 0) cache.set(team, left);
        else cache.delete(team);
      }
      return limit;
    },
  };
}
