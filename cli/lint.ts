/**
 * `tollgate lint RULES...`: validates rules files the way `tollgate serve` loads them, for CI.
 *
 * Exit codes (docs/cli.md): 0 every file is valid; 3 findings — an invalid file, including one
 * that is missing or unreadable, since in CI a wrong path must fail the build the same way a
 * wrong key does, and it is reported in the same format; 2 usage error (no file, unknown flag,
 * unknown format); 1 internal error (a bug: something other than a finding was thrown).
 */
import { parseArgs } from 'node:util';
import { ConfigError, formatIssue } from '../collector/config/config.js';
import type { SourceIssue } from '../collector/config/config.js';
import { loadRules } from '../rules/load.js';

export const LINT_EXIT = { OK: 0, ERROR: 1, USAGE: 2, FINDINGS: 3 } as const;

export const LINT_USAGE = `Usage: tollgate lint [--format human|json] RULES...

Validates governance rules files: every problem with its file, line, column and key path.
  --format human   file:line:col: path: message (default)
  --format json    a JSON array of {file, line, column, path, message, severity}
Exit codes: 0 valid, 3 findings (invalid, missing or unreadable file), 2 usage error, 1 internal error.`;

/** Where the command writes; process.stdout and process.stderr fit, and so does a test's buffer. */
export interface LintIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
}

/** One problem in one file, as `--format json` prints it. Line and column are 1-based, null when unknown. */
export interface LintFinding {
  readonly file: string;
  readonly line: number | null;
  readonly column: number | null;
  readonly path: string;
  readonly message: string;
  readonly severity: 'error';
}

type LintFormat = 'human' | 'json';

interface FileResult {
  readonly file: string;
  /** The rules hash when the file is valid. */
  readonly hash?: string;
  readonly issues: readonly SourceIssue[];
}

/** What lint calls to load a file; replaceable so tests can reach the internal-error path. */
export interface LintDependencies {
  readonly loadRules: (path: string) => { readonly hash: string };
}

const DEFAULT_DEPENDENCIES: LintDependencies = { loadRules };

function lintFile(file: string, dependencies: LintDependencies): FileResult {
  try {
    return { file, hash: dependencies.loadRules(file).hash, issues: [] };
  } catch (error) {
    if (error instanceof ConfigError) return { file, issues: error.issues };
    throw error;
  }
}

function toFinding(file: string, issue: SourceIssue): LintFinding {
  return { file, line: issue.line ?? null, column: issue.column ?? null, path: issue.path, message: issue.message, severity: 'error' };
}

function renderHuman(results: readonly FileResult[]): string {
  const lines: string[] = [];
  for (const result of results) {
    if (result.issues.length === 0) lines.push(`${result.file}: ok (rules ${result.hash?.slice(0, 12)})`);
    for (const issue of result.issues) lines.push(formatIssue(result.file, issue));
  }
  const findings = results.reduce((sum, result) => sum + result.issues.length, 0);
  const failed = results.filter((result) => result.issues.length > 0).length;
  if (findings > 0) lines.push(`${findings} finding${findings === 1 ? '' : 's'} in ${failed} of ${results.length} file${results.length === 1 ? '' : 's'}`);
  return `${lines.join('\n')}\n`;
}

function renderJson(results: readonly FileResult[]): string {
  const findings = results.flatMap((result) => result.issues.map((issue) => toFinding(result.file, issue)));
  return `${JSON.stringify(findings, null, 2)}\n`;
}

type ParsedArgs = { readonly format: LintFormat; readonly files: readonly string[] } | { readonly help: true } | { readonly usageError: string };

function parseLintArgs(args: readonly string[]): ParsedArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      options: { format: { type: 'string', short: 'f', default: 'human' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    return { usageError: (error as Error).message };
  }
  if (parsed.values.help === true) return { help: true };
  const format = parsed.values.format;
  if (format !== 'human' && format !== 'json') return { usageError: `unknown format "${format}" (expected human or json)` };
  if (parsed.positionals.length === 0) return { usageError: 'no rules file given' };
  return { format, files: parsed.positionals };
}

/** Runs `tollgate lint` with the arguments after `lint`; resolves to the exit code (it never rejects). */
export function runLint(args: readonly string[], io: LintIo, dependencies: LintDependencies = DEFAULT_DEPENDENCIES): Promise<number> {
  return Promise.resolve(lint(args, io, dependencies));
}

function lint(args: readonly string[], io: LintIo, dependencies: LintDependencies): number {
  const parsed = parseLintArgs(args);
  if ('help' in parsed) {
    io.stdout.write(`${LINT_USAGE}\n`);
    return LINT_EXIT.OK;
  }
  if ('usageError' in parsed) {
    io.stderr.write(`tollgate lint: ${parsed.usageError}\n\n${LINT_USAGE}\n`);
    return LINT_EXIT.USAGE;
  }
  let results: FileResult[];
  try {
    // Files are linted one after another: loading is synchronous and CPU-bound, and one
    // file's problems are easiest to read together.
    results = parsed.files.map((file) => lintFile(file, dependencies));
  } catch (error) {
    io.stderr.write(`tollgate lint: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return LINT_EXIT.ERROR;
  }
  io.stdout.write(parsed.format === 'json' ? renderJson(results) : renderHuman(results));
  return results.some((result) => result.issues.length > 0) ? LINT_EXIT.FINDINGS : LINT_EXIT.OK;
}
