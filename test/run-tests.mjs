// Runs every *.test.ts under test/ with Node's built-in runner (TypeScript through tsx),
// prints the spec reporter's output, then one plain closing line "N passed, N failed, N cancelled, N skipped" read
// from a TAP copy of the same run, so a run that executed no test is visible.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2);

function findTests(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === 'node_modules' || name === 'testdata') return [];
    if (statSync(path).isDirectory()) return findTests(path);
    return name.endsWith('.test.ts') ? [path] : [];
  });
}

const files = findTests(join(root, 'test'))
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}

const tapFile = join(mkdtempSync(join(tmpdir(), 'tollgate-tests-')), 'results.tap');
const result = spawnSync(
  process.execPath,
  [
    '--import', 'tsx',
    '--test',
    '--test-reporter=spec', '--test-reporter-destination=stdout',
    '--test-reporter=tap', `--test-reporter-destination=${tapFile}`,
    ...files,
  ],
  { cwd: root, stdio: 'inherit', env: { ...process.env, TOLLGATE_LOG_LEVEL: process.env.TOLLGATE_LOG_LEVEL ?? 'error' } },
);

const tap = readFileSync(tapFile, 'utf8');
const count = (key) => Number((tap.match(new RegExp(`^# ${key} (\\d+)$`, "m")) ?? [])[1] ?? 0);
const passed = count('pass');
const failed = count('fail');
const skipped = count('skipped');
// A failing before/after hook cancels the tests under it instead of failing them: count those.
const cancelled = count('cancelled');
console.log(`\n${passed} passed, ${failed} failed, ${cancelled} cancelled, ${skipped} skipped`);
if (cancelled > 0) {
  console.error(`${cancelled} tests were cancelled (a hook or a parent failed): treating the run as failed`);
  process.exit(1);
}
if (passed === 0) {
  console.error('no test passed: treating the run as failed');
  process.exit(1);
}
process.exit(result.status ?? 1);
