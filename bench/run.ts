import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { startWatchdog } from './children.js';
import { NO_GOVERNANCE_RULES, runE2eHttpSuite } from './e2e-http-suite.js';
import { runAggregateSuite } from './aggregate-suite.js';
import { runApiSuite } from './api-suite.js';
import { runBudgetSuite } from './budget-suite.js';
import { runCollectorSuite } from './collector-suite.js';
import { runKafkaSuite } from './kafka-suite.js';
import { runPolicySuite } from './policy-suite.js';
import { runSamplingSuite } from './sampling-suite.js';
import { runTailSuite } from './tail-suite.js';
import { BENCH_CORE, canPin, isPinnedTo, printMachine } from './machine.js';
import type { Figure } from './report.js';
import { printSummary } from './report.js';
import { runWireSuite } from './wire-suite.js';

/**
 * `npm run bench [-- suite...]`: compiles (tsconfig.bench.json) and runs this file as
 * `node dist/bench/bench/run.js [suite...] [--profile DIR]`.
 *
 * The process re-executes itself under `taskset -c 1` so that the in-process suites and the
 * load generator always run on core 1, and Tollgate gets core 0 to itself.
 */

interface RunOptions {
  readonly profileDir?: string;
}

const SUITES: Readonly<Record<string, (options: RunOptions) => Figure[] | Promise<Figure[]>>> = {
  wire: () => runWireSuite(),
  policy: () => runPolicySuite(),
  budget: () => runBudgetSuite(),
  sampling: () => runSamplingSuite(),
  tail: () => runTailSuite(),
  // What one global-budgets aggregator can take (teams × sidecars), on its pure core; not a default suite.
  aggregate: () => runAggregateSuite(),
  // Budget API latency on a 90-day, 200-team store under full ingest; not a default suite (the store takes ~22 s to generate, cached per hour).
  api: () => runApiSuite(),
  // Tollgate vs the OpenTelemetry Collector on the same governance job; build the collector first (test/interop/build-collector.sh).
  'vs-collector': (options) => runCollectorSuite({ profileDir: options.profileDir }),
  // The Kafka exporter alone (zstd, gzip and none) into a real local broker; needs Java and the broker's jars (see docs/kafka.md), not a default suite.
  kafka: (options) => runKafkaSuite({ profileDir: options.profileDir }),
  'e2e-http': (options) => runE2eHttpSuite({ profileDir: options.profileDir, rulesYaml: NO_GOVERNANCE_RULES }),
  'e2e-http-default-rules': (options) => runE2eHttpSuite({ profileDir: options.profileDir, suite: 'e2e-http (default rules)' }),
  // The usage store flushing every second versus not during the run: SQLite writes must not show in the request latency.
  'e2e-http-store-flushing': (options) =>
    runE2eHttpSuite({ profileDir: options.profileDir, suite: 'e2e-http (default rules, store flush every 1 s)', extraConfig: 'usage_store:\n  flush_interval: 1s\n' }),
  'e2e-http-store-idle': (options) =>
    runE2eHttpSuite({ profileDir: options.profileDir, suite: 'e2e-http (default rules, store flush every 1 h)', extraConfig: 'usage_store:\n  flush_interval: 1h\n' }),
};

/** What a bare `npm run bench` runs: every figure an issue sets a target for, within the run limit. */
const DEFAULT_SUITES = ['wire', 'policy', 'budget', 'sampling', 'tail', 'e2e-http', 'e2e-http-default-rules'] as const;

/** Set in the re-executed child, so that a machine where pinning silently fails cannot loop. */
const PINNED_ENV = 'TOLLGATE_BENCH_PINNED';
/** The whole `npm run bench` must finish within 3 minutes; compiling takes a few seconds of that. */
const RUN_LIMIT_MS = 165_000;

const USAGE = `usage: node dist/bench/bench/run.js [suite...] [--profile DIR]
suites: ${Object.keys(SUITES).join(', ')}
        (default: ${DEFAULT_SUITES.join(', ')}; the store-flushing pair is a separate comparison run)
--profile DIR   write a V8 CPU profile of the Tollgate process (e2e-http, vs-collector) into DIR (kafka: DIR/gzip and DIR/none)`;

function parseOptions(argv: readonly string[]): { suites: string[]; options: RunOptions } {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: { profile: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
  });
  if (values.help === true) {
    console.log(USAGE);
    process.exit(0);
  }
  const unknown = positionals.filter((name) => !(name in SUITES));
  if (unknown.length > 0) throw new Error(`unknown suite ${unknown.join(', ')}\n${USAGE}`);
  return { suites: positionals.length > 0 ? positionals : [...DEFAULT_SUITES], options: { profileDir: values.profile } };
}

/** Runs this same command on core 1 and returns its exit code. Signals are passed on so the child can stop Tollgate cleanly. */
function reexecPinned(): Promise<number> {
  const child = spawn('taskset', ['-c', String(BENCH_CORE), process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, [PINNED_ENV]: '1' },
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => child.kill(signal));
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1))));
}

async function main(): Promise<number> {
  const { suites, options } = parseOptions(process.argv.slice(2));
  if (!isPinnedTo(BENCH_CORE) && canPin() && process.env[PINNED_ENV] !== '1') return reexecPinned();
  startWatchdog(RUN_LIMIT_MS);
  printMachine();
  const figures: Figure[] = [];
  for (const suite of suites) figures.push(...(await SUITES[suite](options)));
  printSummary(figures);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error('bench failed:', error instanceof Error ? error.message : error);
    process.exitCode = 1;
  },
);
