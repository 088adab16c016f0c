import { createHash } from 'node:crypto';
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import type { CompiledRules } from './compiled.js';

/**
 * Keeps the rules in force and swaps in a new version when the file changes or when asked
 * (SIGHUP, the admin API). A file that fails to load leaves the old rules in force; the failure
 * is reported, never thrown. Processors read `current()` once per request, so a swap lands
 * between requests, atomically.
 *
 * Change detection polls the file's stat: it survives editors that replace files by rename and
 * Kubernetes ConfigMap updates (a symlink swap), where directory watches miss events.
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

export function createRulesWatcher(options: RulesWatcherOptions): RulesWatcher {
  let rules = options.initial;
  const path = options.path;
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
    options.onReload?.(report, rules);
    return report;
  }

  if (path) {
    watchFile(path, { interval: options.pollMs ?? 1000, persistent: false }, () => {
      if (fingerprint(path) !== lastFingerprint) reload();
    });
  }

  return {
    current: () => rules,
    reload,
    close: () => {
      if (path) unwatchFile(path);
    },
  };
}
