import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CompiledRules } from '../../rules/compiled.js';
import { loadRules, parseRules } from '../../rules/load.js';
import { createRulesWatcher } from '../../rules/watcher.js';
import type { ReloadReport, RulesWatcher } from '../../rules/watcher.js';
import { yaml } from './support.js';

const POLL_MS = 20;
/** Long enough for a loaded machine to notice a change, short enough to fail fast. */
const REPORT_TIMEOUT_MS = 5_000;
/** Polls that must pass without a report before "nothing happened" is believed. */
const QUIET_MS = POLL_MS * 10;

const rulesText = (tier: string, comment = '') => yaml(`version: 1${comment}`, 'teams:', `  - { name: everyone, tier: ${tier} }`);
const hashOf = (text: string) => parseRules(text, 'rules.yaml').hash;

interface Watched {
  readonly path: string;
  readonly watcher: RulesWatcher;
  /** The next report the watcher gives on its own (from polling), or a failure after the timeout. */
  readonly nextReport: () => Promise<ReloadReport>;
  /** Resolves with the reports given within `ms` (none expected, usually). */
  readonly reportsWithin: (ms: number) => Promise<ReloadReport[]>;
}

/** Writes `text` as a fresh rules file and watches it, polling fast, with real files in a temp directory. */
function watch(text: string, t: { after(fn: () => void): void }): Watched {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-rules-watch-'));
  const path = join(dir, 'rules.yaml');
  writeFileSync(path, text);
  const reports: ReloadReport[] = [];
  const waiting: ((report: ReloadReport) => void)[] = [];
  const watcher = createRulesWatcher({
    path,
    load: loadRules,
    initial: loadRules(path),
    pollMs: POLL_MS,
    onReload(report, rules) {
      // The rules handed over are the ones in force after the reload.
      assert.equal(rules.hash, report.hash);
      const waiter = waiting.shift();
      if (waiter) waiter(report);
      else reports.push(report);
    },
  });
  t.after(() => {
    watcher.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    path,
    watcher,
    nextReport: () => {
      const queued = reports.shift();
      if (queued) return Promise.resolve(queued);
      return new Promise<ReloadReport>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no reload report within ${REPORT_TIMEOUT_MS} ms`)), REPORT_TIMEOUT_MS);
        waiting.push((report) => {
          clearTimeout(timer);
          resolve(report);
        });
      });
    },
    reportsWithin: async (ms) => {
      await new Promise((resolve) => setTimeout(resolve, ms));
      return reports.splice(0);
    },
  };
}

test('a changed file is reloaded: success with the new hash, and the new rules are in force', async (t) => {
  const first = rulesText('standard');
  const { path, watcher, nextReport } = watch(first, t);
  assert.equal(watcher.current().hash, hashOf(first));

  const second = rulesText('economy');
  writeFileSync(path, second);
  assert.deepEqual(await nextReport(), { outcome: 'success', hash: hashOf(second) });
  assert.equal(watcher.current().hash, hashOf(second));
  assert.equal(watcher.current().teams[0].tier, 'economy');
});

test('a change written right after the watcher starts is not missed', async (t) => {
  // fs.watchFile took its baseline stat asynchronously, so a change in that gap was lost about
  // half of the time; a few rounds make a regression show.
  for (let round = 0; round < 5; round++) {
    const { path, nextReport } = watch(rulesText('standard'), t);
    writeFileSync(path, rulesText('economy'));
    assert.deepEqual(await nextReport(), { outcome: 'success', hash: hashOf(rulesText('economy')) }, `round ${round}`);
  }
});

test('a broken file is refused and the old rules stay in force; fixing it reloads', async (t) => {
  const good = rulesText('standard');
  const { path, watcher, nextReport } = watch(good, t);
  const before: CompiledRules = watcher.current();

  writeFileSync(path, rulesText('premum'));
  const failure = await nextReport();
  assert.equal(failure.outcome, 'failure');
  assert.equal(failure.hash, before.hash, 'the report names the rules still in force');
  assert.match(failure.error ?? '', /teams\[0\]\.tier: unknown tier "premum"/);
  assert.equal(watcher.current(), before, 'the old rules object stays');

  const fixed = rulesText('critical');
  writeFileSync(path, fixed);
  assert.deepEqual(await nextReport(), { outcome: 'success', hash: hashOf(fixed) });
  assert.equal(watcher.current().teams[0].tier, 'critical');
});

test('content that means the same is unchanged, and bytes that did not change are no reload at all', async (t) => {
  const text = rulesText('standard');
  const { path, watcher, nextReport, reportsWithin } = watch(text, t);
  const before = watcher.current();

  // A new comment changes the bytes but not the meaning: reloaded, and reported unchanged.
  writeFileSync(path, rulesText('standard', '   # reviewed'));
  assert.deepEqual(await nextReport(), { outcome: 'unchanged', hash: before.hash });
  assert.equal(watcher.current(), before, 'an unchanged reload keeps the very same object');

  // The same bytes again (a new mtime): the poll sees the stat change, the content says nothing changed.
  writeFileSync(path, rulesText('standard', '   # reviewed'));
  assert.deepEqual(await reportsWithin(QUIET_MS), []);

  // Asked explicitly (SIGHUP, the API), the watcher loads and says so.
  assert.deepEqual(watcher.reload(), { outcome: 'unchanged', hash: before.hash });
});

test('a file replaced by rename (editors, ConfigMap updates) or deleted is noticed', async (t) => {
  const { path, watcher, nextReport } = watch(rulesText('standard'), t);

  const replacement = rulesText('economy');
  writeFileSync(`${path}.tmp`, replacement);
  renameSync(`${path}.tmp`, path);
  assert.deepEqual(await nextReport(), { outcome: 'success', hash: hashOf(replacement) });

  rmSync(path);
  const failure = await nextReport();
  assert.equal(failure.outcome, 'failure');
  assert.match(failure.error ?? '', /file not found/);
  assert.equal(watcher.current().hash, hashOf(replacement));
});

test('close stops this watcher only', async (t) => {
  const text = rulesText('standard');
  const one = watch(text, t);
  // A second watcher of the same file, as a second governance instance in one process would have.
  const otherReport = new Promise<ReloadReport>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the other watcher reported nothing')), REPORT_TIMEOUT_MS);
    const other = createRulesWatcher({
      path: one.path,
      load: loadRules,
      initial: loadRules(one.path),
      pollMs: POLL_MS,
      onReload: (report) => {
        clearTimeout(timer);
        resolve(report);
      },
    });
    t.after(() => other.close());
  });

  one.watcher.close();
  const changed = rulesText('economy');
  writeFileSync(one.path, changed);
  assert.deepEqual(await otherReport, { outcome: 'success', hash: hashOf(changed) }, 'the other watcher still polls');
  assert.deepEqual(await one.reportsWithin(QUIET_MS), [], 'a closed watcher reports nothing');
  assert.equal(one.watcher.current().hash, hashOf(text));
});

test('without a path the rules are embedded: reload is always unchanged', () => {
  const initial = parseRules(rulesText('standard'), '<embedded>');
  const watcher = createRulesWatcher({
    path: undefined,
    initial,
    load: () => assert.fail('nothing to load'),
  });
  assert.deepEqual(watcher.reload(), { outcome: 'unchanged', hash: initial.hash });
  assert.equal(watcher.current(), initial);
  watcher.close();
});
