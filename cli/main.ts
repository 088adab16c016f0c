#!/usr/bin/env node
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { ConfigError, DEFAULT_CONFIG_YAML, loadConfig } from '../collector/config/config.js';
import { createLogger } from '../collector/telemetry/logger.js';
import { startSelfTracing } from '../collector/telemetry/self-tracing.js';
import { runBudget } from './budget.js';
import { processCheckIo, runCheckCommand } from './check.js';
import { aggregate } from './aggregate.js';
import { runLint } from './lint.js';
import { serve } from './serve.js';
import { VERSION } from './version.js';

/** Exit codes shared by every command (see docs/cli.md). */
export const EXIT = { OK: 0, ERROR: 1, USAGE: 2, FINDINGS: 3 } as const;

const USAGE = `tollgate ${VERSION} — observability cost governance for OpenTelemetry

Usage:
  tollgate serve [--config FILE] [--rules FILE]   run the OTLP sidecar (embedded default without --config)
  tollgate aggregate --config FILE [--rules FILE] merge sidecars' usage into global budgets (needs global_budgets)
  tollgate config default                         print the embedded default config
  tollgate config check FILE                      validate a config file
  tollgate lint [--format human|json] RULES...    validate governance rules files (for CI)
  tollgate check [--rules FILE] --otlp|--prom|--scrape ... [--format FMT[=PATH]]...
                                                  check telemetry against the rules (CI gate; --help for all options)
  tollgate budget --api URL --team T [--fail-above 0.9]
                                                  a team's metrics budget from a running Tollgate
  tollgate version

Exit codes: 0 ok, 1 error, 2 usage error, 3 findings.`;

class UsageError extends Error {}

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return runServe(rest);
    case 'aggregate':
      return runAggregate(rest);
    case 'config':
      return runConfig(rest);
    case 'lint':
      return runLint(rest, process);
    case 'check':
      return runCheckCommand(rest, processCheckIo());
    case 'budget':
      return runBudget(rest, { stdout: process.stdout, stderr: process.stderr, env: process.env, fetch });
    case 'version':
    case '--version':
      console.log(VERSION);
      return EXIT.OK;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return command === undefined ? EXIT.USAGE : EXIT.OK;
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

/** Parses flags strictly; an unknown or malformed flag is a usage error (exit 2). */
function parseFlags<T extends ParseArgsConfig['options']>(args: readonly string[], options: T) {
  try {
    return parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

async function runServe(args: readonly string[]): Promise<number> {
  const { values } = parseFlags(args, { config: { type: 'string', short: 'c' }, rules: { type: 'string', short: 'r' } });
  const config = loadConfig(values.config);
  const logger = createLogger(config.telemetry.logs.level);
  const tracing = await startSelfTracing(process.env, logger, VERSION);
  const running = await serve(config, logger, { rulesPath: values.rules });
  // SIGHUP re-reads the rules file now, the convention of daemons; the outcome is logged and counted.
  const onHangup = (): void => {
    running.governance.reload();
  };
  process.on('SIGHUP', onHangup);
  await shutdownSignal(logger);
  process.off('SIGHUP', onHangup);
  await running.stop();
  await tracing?.shutdown();
  return EXIT.OK;
}

/** Resolves on the first SIGTERM or SIGINT. */
function shutdownSignal(logger: ReturnType<typeof createLogger>): Promise<void> {
  return new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      logger.info('signal received, shutting down', { signal });
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      resolve();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

async function runAggregate(args: readonly string[]): Promise<number> {
  const { values } = parseFlags(args, { config: { type: 'string', short: 'c' }, rules: { type: 'string', short: 'r' } });
  if (values.config === undefined) throw new UsageError('tollgate aggregate needs --config FILE (with a global_budgets section)');
  const config = loadConfig(values.config);
  const logger = createLogger(config.telemetry.logs.level);
  const running = await aggregate(config, logger, { rulesPath: values.rules, configSource: values.config });
  const onHangup = (): void => {
    running.rules.reload();
  };
  process.on('SIGHUP', onHangup);
  await shutdownSignal(logger);
  process.off('SIGHUP', onHangup);
  await running.stop();
  return EXIT.OK;
}

function runConfig(args: readonly string[]): number {
  const [sub, file] = args;
  if (sub === 'default') {
    process.stdout.write(DEFAULT_CONFIG_YAML);
    return EXIT.OK;
  }
  if (sub === 'check' && file) {
    loadConfig(file);
    console.log(`${file}: ok`);
    return EXIT.OK;
  }
  throw new UsageError('usage: tollgate config default | tollgate config check FILE');
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError) {
      console.error(`tollgate: ${error.message}\n\n${USAGE}`);
      process.exitCode = EXIT.USAGE;
    } else if (error instanceof ConfigError) {
      console.error(error.message);
      process.exitCode = EXIT.ERROR;
    } else {
      console.error('tollgate: fatal:', error instanceof Error ? (error.stack ?? error.message) : error);
      process.exitCode = EXIT.ERROR;
    }
  },
);
