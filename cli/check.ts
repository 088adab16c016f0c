/**
 * `tollgate check`: the CI gate. Reads a sample of telemetry (OTLP files, Prometheus text, a
 * scraped app), checks it against the governance rules the way the pipeline would treat it, and
 * fails the build on what would be dropped, rewritten or refused.
 *
 * Exit codes (docs/cli.md): 0 pass; 3 an unsuppressed finding at or above --fail-on; 2 usage
 * error (bad flags, no input, an invalid or missing rules or suppressions file); 1 error (an
 * input that cannot be read or parsed, a scrape or API call that failed, a sample with nothing
 * in it — checking nothing is never a pass — or a bug).
 */
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { ConfigError } from '../collector/config/config.js';
import type { TeamUsage } from '../collector/check/evaluate.js';
import type { Level } from '../collector/check/findings.js';
import { OUTPUT_FORMATS, RENDERERS, renderHuman, renderMarkdownSummary } from '../collector/check/formats.js';
import type { OutputFormat } from '../collector/check/formats.js';
import { CheckInputError } from '../collector/check/inputs.js';
import type { CheckReport } from '../collector/check/report.js';
import type { SampleStats } from '../collector/check/sample.js';
import { EmptySampleError, runCheck, sampleOf } from '../collector/check/run.js';
import type { CheckInput } from '../collector/check/run.js';
import { createSourceIndex } from '../collector/check/source-locations.js';
import type { SourceIndex } from '../collector/check/source-locations.js';
import { parseSuppressions } from '../collector/check/suppressions.js';
import type { CompiledSuppression } from '../collector/check/suppressions.js';
import type { CompiledRules } from '../rules/compiled.js';
import { defaultRules, loadRules } from '../rules/load.js';
import { CheckIoError, readSourceTree, scrape, teamsUsage } from './check-io.js';
import type { Fetch } from './check-io.js';
import { VERSION } from './version.js';

export const CHECK_EXIT = { OK: 0, ERROR: 1, USAGE: 2, FINDINGS: 3 } as const;

export const CHECK_USAGE = `Usage: tollgate check [--rules FILE] INPUT... [options]

Checks a sample of telemetry against the governance rules (the embedded default without --rules).
Inputs (any mix, each may repeat):
  --otlp PATH           OTLP file: JSON lines (file exporter) or protobuf (one request, or 4-byte length-prefixed)
  --prom PATH           Prometheus exposition text
  --scrape URL          scrape a running app's Prometheus endpoint
  --resource KEY=VALUE  resource attribute for Prometheus inputs (e.g. service.name=checkout; selects the team)
  --api URL             a running Tollgate: include each team's current active series (token: --token or $TOLLGATE_TOKEN)
Checks and options:
  --baseline PATH       compare with a baseline (OTLP, Prometheus text or a saved --format json report)
  --max-growth N        allowed series growth over the baseline: 20%, or 0.2 (default 20%)
  --suppressions FILE   accepted findings, each with a rule, a matcher, an owner and an expiry
  --source DIR          find where offending metrics and labels are defined, for annotations
  --fail-on LEVEL       error (default) or warning
  --format FMT[=PATH]   json, sarif, junit, github, gitlab; repeatable; without PATH to stdout
Exit codes: 0 pass, 3 findings at or above --fail-on, 2 usage error, 1 error (unreadable input, nothing to check).`;

export interface CheckIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly fetch: Fetch;
  readonly now: () => number;
}

interface OutputTarget {
  readonly format: OutputFormat;
  readonly path: string | undefined;
}

interface CheckArgs {
  readonly rules: string | undefined;
  readonly otlp: readonly string[];
  readonly prom: readonly string[];
  readonly scrape: readonly string[];
  readonly resource: Readonly<Record<string, string>>;
  readonly api: string | undefined;
  readonly token: string | undefined;
  readonly baseline: readonly string[];
  readonly maxGrowth: number;
  readonly suppressions: string | undefined;
  readonly source: string | undefined;
  readonly failOn: Level;
  readonly outputs: readonly OutputTarget[];
}

class UsageError extends Error {}

/** `20%`, `20 %` or `0.2` → 0.2 (--max-growth, and `tollgate budget --fail-above`). */
export function parseFraction(text: string): number | undefined {
  const percent = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(text);
  if (percent) return Number(percent[1]) / 100;
  return /^\s*\d+(?:\.\d+)?\s*$/.test(text) ? Number(text) : undefined;
}

function parseOutput(text: string): OutputTarget {
  const at = text.indexOf('=');
  const format = at < 0 ? text : text.slice(0, at);
  const path = at < 0 ? undefined : text.slice(at + 1);
  if (!(OUTPUT_FORMATS as readonly string[]).includes(format)) throw new UsageError(`unknown format "${format}" (expected ${OUTPUT_FORMATS.join(', ')})`);
  if (path === '') throw new UsageError(`--format ${format}=: the path is empty`);
  return { format: format as OutputFormat, path };
}

function parseCheckArgs(args: readonly string[], env: CheckIo['env']): CheckArgs | 'help' {
  let parsed;
  try {
    const many = { type: 'string' as const, multiple: true as const, default: [] as string[] };
    parsed = parseArgs({
      args: [...args],
      options: {
        rules: { type: 'string', short: 'r' },
        otlp: many,
        prom: many,
        scrape: many,
        resource: many,
        api: { type: 'string' },
        token: { type: 'string' },
        baseline: many,
        'max-growth': { type: 'string', default: '20%' },
        suppressions: { type: 'string' },
        source: { type: 'string' },
        'fail-on': { type: 'string', default: 'error' },
        format: { ...many, short: 'f' as const },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: false,
      strict: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const v = parsed.values;
  if (v.help === true) return 'help';
  const failOn = v['fail-on'];
  if (failOn !== 'error' && failOn !== 'warning') throw new UsageError(`--fail-on must be error or warning, not "${failOn}"`);
  const maxGrowth = parseFraction(v['max-growth']);
  if (maxGrowth === undefined) throw new UsageError(`--max-growth must be a percentage such as 20% or a fraction such as 0.2, not "${v['max-growth']}"`);
  const resource: Record<string, string> = {};
  for (const pair of v.resource) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new UsageError(`--resource must be KEY=VALUE, not "${pair}"`);
    resource[pair.slice(0, at)] = pair.slice(at + 1);
  }
  if (v.otlp.length + v.prom.length + v.scrape.length === 0) throw new UsageError('no input: give at least one --otlp, --prom or --scrape');
  const token = v.token ?? env.TOLLGATE_TOKEN;
  if (v.api !== undefined && (token === undefined || token === '')) throw new UsageError('--api needs a token: --token TOKEN or $TOLLGATE_TOKEN');
  const outputs = v.format.map(parseOutput);
  const toStdout = outputs.filter((o) => o.path === undefined && o.format !== 'github');
  if (toStdout.length > 1) throw new UsageError(`only one machine-readable format can go to stdout (${toStdout.map((o) => o.format).join(', ')}): give the others a path, e.g. --format sarif=tollgate.sarif`);
  return {
    rules: v.rules,
    otlp: v.otlp,
    prom: v.prom,
    scrape: v.scrape,
    resource,
    api: v.api,
    token,
    baseline: v.baseline,
    maxGrowth,
    suppressions: v.suppressions,
    source: v.source,
    failOn,
    outputs,
  };
}

async function readInput(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new CheckInputError(path, (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : `cannot read the file: ${(error as Error).message}`);
  }
}

/** Rules and suppressions are the command's configuration: a missing or invalid one is a usage error. */
async function readConfigFile(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(`${what} ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (error as Error).message}`);
  }
}

interface Gathered {
  readonly rules: CompiledRules;
  readonly inputs: CheckInput[];
  readonly sample: SampleStats;
  readonly baseline: CheckInput[];
  readonly usage: Map<string, TeamUsage> | undefined;
  readonly suppressions: CompiledSuppression[];
  readonly source: SourceIndex | undefined;
}

async function gather(args: CheckArgs, io: CheckIo): Promise<Gathered> {
  const rules = args.rules === undefined ? defaultRules() : loadRules(args.rules);
  const suppressions = args.suppressions === undefined ? [] : parseSuppressions(await readConfigFile(args.suppressions, '--suppressions'), args.suppressions);
  const inputs: CheckInput[] = [];
  for (const path of args.otlp) inputs.push({ kind: 'otlp', path, bytes: await readInput(path) });
  for (const path of args.prom) inputs.push({ kind: 'prometheus', path, bytes: await readInput(path) });
  for (const url of args.scrape) inputs.push({ kind: 'prometheus', path: url, bytes: await scrape(io.fetch, url) });
  const baseline: CheckInput[] = [];
  for (const path of args.baseline) baseline.push({ kind: 'auto', path, bytes: await readInput(path) });
  // Read before --api: only the sample's teams need their usage (one budget call per team).
  const sample = sampleOf(rules, inputs, args.resource);
  const usage = args.api === undefined ? undefined : await teamsUsage(io.fetch, args.api, args.token ?? '', new Set(sample.metrics.map((m) => m.team)));
  const source = args.source === undefined ? undefined : createSourceIndex(await readSourceTree(args.source, io.cwd));
  return { rules, inputs, sample, baseline, usage, suppressions, source };
}

async function writeOutputs(report: CheckReport, args: CheckArgs, io: CheckIo): Promise<void> {
  const machineOnStdout = args.outputs.some((o) => o.path === undefined && o.format !== 'github');
  // The human summary goes to stdout unless a machine-readable format claimed it.
  (machineOnStdout ? io.stderr : io.stdout).write(renderHuman(report));
  for (const output of args.outputs) {
    const text = RENDERERS[output.format](report);
    // Workflow commands after a JSON document would break it; the runner reads stderr too.
    if (output.path === undefined) (machineOnStdout && output.format === 'github' ? io.stderr : io.stdout).write(text);
    else await writeFile(output.path, text);
  }
  const summaryFile = io.env.GITHUB_STEP_SUMMARY;
  if (args.outputs.some((o) => o.format === 'github') && summaryFile) await appendFile(summaryFile, renderMarkdownSummary(report));
}

/** Runs `tollgate check` with the arguments after `check`; resolves to the exit code (it never rejects). */
export async function runCheckCommand(args: readonly string[], io: CheckIo): Promise<number> {
  let parsed: CheckArgs | 'help';
  try {
    parsed = parseCheckArgs(args, io.env);
  } catch (error) {
    io.stderr.write(`tollgate check: ${(error as Error).message}\n\n${CHECK_USAGE}\n`);
    return CHECK_EXIT.USAGE;
  }
  if (parsed === 'help') {
    io.stdout.write(`${CHECK_USAGE}\n`);
    return CHECK_EXIT.OK;
  }
  try {
    const gathered = await gather(parsed, io);
    const report = runCheck({ ...gathered, resource: parsed.resource, maxGrowth: parsed.maxGrowth, failOn: parsed.failOn, now: io.now(), version: VERSION });
    await writeOutputs(report, parsed, io);
    return report.passed ? CHECK_EXIT.OK : CHECK_EXIT.FINDINGS;
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`tollgate check: ${error.message}\n`);
      return CHECK_EXIT.USAGE;
    }
    if (error instanceof ConfigError) {
      io.stderr.write(`${error.message}\n`);
      return CHECK_EXIT.USAGE;
    }
    if (error instanceof CheckInputError || error instanceof CheckIoError || error instanceof EmptySampleError) {
      io.stderr.write(`tollgate check: ${error.message}\n`);
      return CHECK_EXIT.ERROR;
    }
    io.stderr.write(`tollgate check: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return CHECK_EXIT.ERROR;
  }
}

/** The process's streams, environment, fetch and clock. */
export function processCheckIo(): CheckIo {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd(), fetch, now: Date.now };
}
