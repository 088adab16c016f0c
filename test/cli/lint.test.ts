import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LINT_EXIT, runLint } from '../../cli/lint.js';
import type { LintFinding } from '../../cli/lint.js';
import { ConfigError } from '../../collector/config/config.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const EXAMPLE = 'rules/examples/platform-team.yaml';

interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the real CLI (TypeScript through tsx, as test/support/tollgate-process.ts does) from the repository root. */
function tollgate(...args: string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'cli/main.ts'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A temporary directory of rules files, removed after the test. */
function rulesDir(t: { after(fn: () => void): void }, files: Record<string, string>): (name: string) => string {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-lint-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return (name) => join(dir, name);
}

const VALID = 'version: 1\nteams:\n  - { name: shop, match: { service.namespace: shop } }\n';

// Line numbers matter: the expected output names them.
const BROKEN = [
  'version: 1', //                                    1
  'mdoe: audit', //                                   2  typo of a top-level key
  'teams:', //                                        3
  '  - name: shop', //                                4
  '    match: { service.namespace: shop }', //        5
  '    tier: premum', //                              6  unknown tier
  'attribute_policies:', //                           7
  '  - name: ids', //                                 8
  '    keys: user_id', //                             9
  '    action: explode', //                           10 not an action
  '',
].join('\n');

test('a valid file: exit 0 and one "ok" line naming the rules hash', async () => {
  const result = await tollgate('lint', EXAMPLE);
  assert.equal(result.stderr, '');
  assert.match(result.stdout, /^rules\/examples\/platform-team\.yaml: ok \(rules [0-9a-f]{12}\)\n$/);
  assert.equal(result.code, 0);
});

test('findings: exit 3, each with file:line:col, key path and a "did you mean" for a typo', async (t) => {
  const file = rulesDir(t, { 'broken.yaml': BROKEN, 'valid.yaml': VALID });
  const result = await tollgate('lint', file('broken.yaml'), file('valid.yaml'));
  assert.equal(result.stderr, '');
  const lines = result.stdout.trimEnd().split('\n');
  assert.deepEqual(lines.slice(0, 3), [
    `${file('broken.yaml')}:2:7: mdoe: unknown key "mdoe" (did you mean "mode"?)`,
    `${file('broken.yaml')}:6:11: teams[0].tier: unknown tier "premum" (known tiers: critical, standard, economy)`,
    `${file('broken.yaml')}:10:13: attribute_policies[0].action: must be one of "drop", "hash", "redact", "truncate", "reject"`,
  ]);
  assert.ok(lines[3].startsWith(`${file('valid.yaml')}: ok (rules `), lines[3]);
  assert.match(lines[3], /: ok \(rules [0-9a-f]{12}\)$/);
  assert.equal(lines[4], '3 findings in 1 of 2 files');
  assert.equal(lines.length, 5);
  assert.equal(result.code, 3);
});

test('--format json: an array of findings with file, line, column, path, message and severity', async (t) => {
  const file = rulesDir(t, { 'broken.yaml': BROKEN, 'valid.yaml': VALID });
  const missing = file('missing.yaml');
  const result = await tollgate('lint', '--format', 'json', file('valid.yaml'), file('broken.yaml'), missing);
  assert.equal(result.code, 3);
  assert.equal(result.stderr, '');
  const findings = JSON.parse(result.stdout) as LintFinding[];
  assert.deepEqual(findings, [
    { file: file('broken.yaml'), line: 2, column: 7, path: 'mdoe', message: 'unknown key "mdoe" (did you mean "mode"?)', severity: 'error' },
    {
      file: file('broken.yaml'),
      line: 6,
      column: 11,
      path: 'teams[0].tier',
      message: 'unknown tier "premum" (known tiers: critical, standard, economy)',
      severity: 'error',
    },
    {
      file: file('broken.yaml'),
      line: 10,
      column: 13,
      path: 'attribute_policies[0].action',
      message: 'must be one of "drop", "hash", "redact", "truncate", "reject"',
      severity: 'error',
    },
    { file: missing, line: null, column: null, path: '', message: 'file not found', severity: 'error' },
  ]);

  const clean = await tollgate('lint', '-f', 'json', file('valid.yaml'));
  assert.deepEqual([clean.code, JSON.parse(clean.stdout)], [0, []]);
});

test('a missing file or a directory is a finding (exit 3), reported like any other', async (t) => {
  const file = rulesDir(t, {});
  const missing = await tollgate('lint', file('nope.yaml'));
  assert.equal(missing.stdout, `${file('nope.yaml')}: file not found\n1 finding in 1 of 1 file\n`);
  assert.equal(missing.code, 3);

  const directory = await tollgate('lint', ROOT);
  assert.match(directory.stdout, /: is a directory, not a rules file\n/);
  assert.equal(directory.code, 3);
});

test('usage errors exit 2 with the lint usage on stderr: no file, an unknown flag, an unknown format', async () => {
  const cases: [string[], RegExp][] = [
    [['lint'], /^tollgate lint: no rules file given\n/],
    [['lint', '--strict', EXAMPLE], /^tollgate lint: Unknown option '--strict'/],
    [['lint', '--format', 'xml', EXAMPLE], /^tollgate lint: unknown format "xml" \(expected human or json\)\n/],
    [['lint', '--format'], /^tollgate lint: Option '-f, --format <value>' argument missing/],
  ];
  for (const [args, message] of cases) {
    const result = await tollgate(...args);
    assert.equal(result.code, 2, args.join(' '));
    assert.match(result.stderr, message, args.join(' '));
    assert.match(result.stderr, /Usage: tollgate lint \[--format human\|json\] RULES\.\.\./);
    assert.equal(result.stdout, '', 'nothing on stdout for a usage error');
  }
});

test('help: lint is listed by tollgate --help, and lint --help exits 0', async () => {
  const help = await tollgate('--help');
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^ {2}tollgate lint \[--format human\|json\] RULES\.\.\. /m);
  const lintHelp = await tollgate('lint', '--help');
  assert.equal(lintHelp.code, 0);
  assert.match(lintHelp.stdout, /^Usage: tollgate lint/);
});

test('a catastrophic regex is rejected without the opt-in and accepted with it', async (t) => {
  const policy = (extra: string) => `version: 1\nattribute_policies:\n  - name: p\n    keys: {regex: "(a+)+$"${extra}}\n    action: drop\n`;
  const file = rulesDir(t, { 'unsafe.yaml': policy(''), 'opted-in.yaml': policy(', allow_backtracking: true') });

  const rejected = await tollgate('lint', '--format', 'json', file('unsafe.yaml'));
  assert.equal(rejected.code, 3);
  const [finding, ...rest] = JSON.parse(rejected.stdout) as LintFinding[];
  assert.deepEqual(rest, []);
  assert.deepEqual([finding.line, finding.column, finding.path], [4, 19, 'attribute_policies[0].keys.regex']);
  assert.match(finding.message, /^can backtrack catastrophically: .*"\(a\+\)\+".*set allow_backtracking: true$/);

  const accepted = await tollgate('lint', file('opted-in.yaml'));
  assert.match(accepted.stdout, /opted-in\.yaml: ok \(rules [0-9a-f]{12}\)\n$/);
  assert.equal(accepted.code, 0);
});

/** An in-memory LintIo. */
function buffers() {
  const out = { stdout: '', stderr: '' };
  return {
    out,
    io: {
      stdout: { write: (text: string) => (out.stdout += text) },
      stderr: { write: (text: string) => (out.stderr += text) },
    },
  };
}

test('an internal error (anything but a finding) exits 1 and says so', async () => {
  const { out, io } = buffers();
  const code = await runLint(['a.yaml'], io, {
    loadRules: () => {
      throw new RangeError('compiler bug');
    },
  });
  assert.equal(code, LINT_EXIT.ERROR);
  assert.match(out.stderr, /^tollgate lint: internal error: RangeError: compiler bug/);
  assert.equal(out.stdout, '');

  // A ConfigError thrown the same way is a finding, not an internal error.
  const findings = buffers();
  const findingCode = await runLint(['a.yaml'], findings.io, {
    loadRules: () => {
      throw new ConfigError('a.yaml', [{ path: 'version', segments: ['version'], message: 'is required' }], 'rules');
    },
  });
  assert.equal(findingCode, LINT_EXIT.FINDINGS);
  assert.equal(findings.out.stdout, 'a.yaml: version: is required\n1 finding in 1 of 1 file\n');
});
