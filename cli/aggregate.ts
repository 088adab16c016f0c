/**
 * `tollgate aggregate`: the process behind global budgets. Same binary, same config file as
 * `serve`, but no OTLP receivers and no pipeline: it merges the sidecars' usage reports from
 * Kafka, keeps the global figures in its own usage store, serves the budget API and /metrics
 * on `api.endpoint` (answering with global figures) and publishes each team's state.
 */
import { mkdirSync } from 'node:fs';
import { ConfigError } from '../collector/config/config.js';
import type { TollgateConfig } from '../collector/config/config.js';
import { startAggregator } from '../collector/global-budgets/aggregator.js';
import type { Aggregator } from '../collector/global-budgets/aggregator.js';
import { instanceIdOf } from '../collector/global-budgets/sidecar.js';
import { startService } from '../collector/service.js';
import type { RunningService } from '../collector/service.js';
import type { Logger } from '../collector/telemetry/logger.js';
import { createSelfMetrics } from '../collector/telemetry/metrics.js';
import type { UsageStore } from '../collector/usage/store.js';
import { defaultRules, loadRules } from '../rules/load.js';
import { createRulesWatcher } from '../rules/watcher.js';
import type { RulesWatcher } from '../rules/watcher.js';
import { loadTokens, openStore } from './serve.js';
import type { ServeOptions } from './serve.js';
import { VERSION } from './version.js';

export interface RunningAggregator extends RunningService {
  readonly aggregator: Aggregator;
  readonly rules: RulesWatcher;
  readonly store: UsageStore;
}

/** Starts the aggregator as the config describes; `global_budgets` must be set (brokers, topics). */
export async function aggregate(config: TollgateConfig, logger: Logger, options: ServeOptions & { readonly configSource?: string } = {}): Promise<RunningAggregator> {
  const global = config.global_budgets;
  if (global === undefined) {
    throw new ConfigError(options.configSource ?? 'the configuration', [
      { path: 'global_budgets', segments: ['global_budgets'], message: 'is required by `tollgate aggregate` (at least `brokers`)' },
    ]);
  }
  mkdirSync(config.data_dir, { recursive: true });
  const tokens = loadTokens(config, logger);
  const metrics = createSelfMetrics();
  const rulesPath = options.rulesPath ?? config.rules ?? undefined;
  const initial = rulesPath === undefined ? defaultRules() : loadRules(rulesPath);
  const store = openStore(config, metrics, logger);
  const rules = createRulesWatcher({
    path: rulesPath,
    load: loadRules,
    initial,
    onReload(report) {
      metrics.rulesReloads.inc({ outcome: report.outcome });
      if (report.outcome === 'failure') logger.error('rules reload failed; the previous rules stay in force', { source: rulesPath, error: report.error });
      else if (report.outcome === 'success') logger.info('rules reloaded', { source: rulesPath, hash: report.hash });
    },
  });
  const aggregator = startAggregator({ config: global, instance: instanceIdOf(global), rules: () => rules.current(), store, metrics, logger });
  const closeAll = async (): Promise<void> => {
    await aggregator.stop();
    rules.close();
    store.close();
  };
  const running = await startService({
    api: config.api.endpoint,
    budgetApi: { reader: store.reader, exceptions: store.exceptions, rules: () => rules.current(), reload: () => rules.reload(), tokens },
    maxConcurrentRequests: config.limits.max_concurrent_requests,
    memoryLimitBytes: config.limits.memory_limit,
    processors: [],
    exporters: [],
    metrics,
    logger,
    drainTimeoutMs: config.shutdown.drain_timeout,
    version: VERSION,
  }).catch(async (error: unknown) => {
    await closeAll();
    throw error;
  });
  logger.info('aggregating usage reports', { instance: instanceIdOf(global), usageTopic: global.usage_topic, stateTopic: global.state_topic, group: global.aggregator.group_id });
  return {
    ...running,
    aggregator,
    rules,
    store,
    stop: async () => {
      await running.stop();
      await closeAll();
    },
  };
}
