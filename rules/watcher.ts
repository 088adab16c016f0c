import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { CompiledRules } from './compiled.js';

/**
 * Keeps the rules in force and swaps in a new version when the file changes or when asked
 * (SIGHUP, the admin API). A file that fails to load leaves the old rules in force; the failure
 * is reported, never thrown. Processors read `current()` once per request, so a swap lands
 * between requests, atomically.
 *
 * Change detection polls the file's stat: it survives editors that replace files by rename and
 * Kubernetes ConfigMap updates (a symlink swap), where directory watches miss events. The poll
 * is our own timer with a synchronous stat rather than fs.watchFile: watchFile takes its first
 * stat asynchronously after it starts, so a change written in that gap went unnoticed until the
 * next change.
 */

export type ReloadOutcome = 'success' | 'failure' | 'unchanged';

export interface ReloadReport {
  readonly outcome: ReloadOutcome;
  readonly hash: string;
  /** For failures: what was wrong, one line per issue. */
  readonly error?: string;
}

export interface RulesWatcherOptions {
  /** The rules file; undefined means embedded rules that never change. */
  readonly path: string | undefined;
  /** Load → validate → compile. Throws with a readable message when the file is invalid. */
  readonly load: (path: string) => CompiledRules;
  readonly initial: CompiledRules;
  readonly onReload?: (report: ReloadReport, rules: CompiledRules) => void;
  /** Stat polling interval (default 1 s). */
  readonly pollMs?: number;
}

export interface RulesWatcher {
  current(): CompiledRules;
  reload(): ReloadReport;
  close(): void;
}

function fingerprint(path: string): string | undefined {
  try {
    return createHash('sha256').update(readFileSync(path)).digest('hex');
  } catch {
    return undefined;
  }
}

/** What a poll compares; undefined while the file cannot be stat'ed (missing, no permission). */
function statKey(path: string): string | undefined {
  try {
    const stat = statSync(path, { throwIfNoEntry: false });
    return stat && `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeMs}:${stat.ctimeMs}`;
  } catch {
    return undefined;
  }
}

export function createRulesWatcher(options: RulesWatcherOptions): RulesWatcher {
  let rules = options.initial;
  const path = options.path;
  // The baseline, taken synchronously: only a change between the caller loading `initial` and
  // these two lines (synchronous code, microseconds) could still go unnoticed.
  let lastStat = path ? statKey(path) : undefined;
  let lastFingerprint = path ? fingerprint(path) : undefined;

  function reload(): ReloadReport {
    if (!path) return { outcome: 'unchanged', hash: rules.hash };
    const seen = fingerprint(path);
    let report: ReloadReport;
    try {
      const next = options.load(path);
      lastFingerprint = seen;
      if (next.hash === rules.hash) report = { outcome: 'unchanged', hash: rules.hash };
      else {
        rules = next;
        report = { outcome: 'success', hash: next.hash };
      }
    } catch (error) {
      lastFingerprint = seen;
      report = { outcome: 'failure', hash: rules.hash, error: error instanceof Error ? error.message : String(error) };
    }
    // The listener only reports (logs, metrics); its failure must not take the process down
    // from a timer callback, nor undo a swap that already happened.
    try {
      options.onReload?.(report, rules);
    } catch {
      // Reported nowhere else by design: the caller's own logging is what failed.
    }
    return report;
  }

  // A stat change without a content change (touch, a rewrite with the same bytes) is no reload.
  function poll(): void {
    if (!path) return;
    const stat = statKey(path);
    if (stat === lastStat) return;
    lastStat = stat;
    if (fingerprint(path) !== lastFingerprint) reload();
  }

  // unref: a watcher alone must not keep the process alive.
  const timer = path ? setInterval(poll, options.pollMs ?? 1000).unref() : undefined;

  return {
    current: () => rules,
    reload,
    close: () => clearInterval(timer),
  };
}
