import { mkdirSync } from 'node:fs';
import type { TokenEntry } from '../api/auth.js';
import { loadApiTokens } from '../api/tokens.js';
import type { ExporterConfig, KafkaExporterConfig, RetryConfig, TollgateConfig } from '../collector/config/config.js';
import { DEFAULT_HASH_KEY } from '../collector/config/config.js';
import { createFileExporter } from '../collector/exporters/file.js';
import { createKafkaExporter } from '../collector/exporters/kafka.js';
import type { RetryPolicy } from '../collector/exporters/retry.js';
import type { KafkaReceiverSettings } from '../collector/receivers/kafka.js';
import { createOtlpHttpExporter } from '../collector/exporters/otlp-http.js';
import { createGlobalSidecar } from '../collector/global-budgets/sidecar.js';
import { startGovernance } from '../collector/governance.js';
import type { Governance, GovernanceOptions, TailStageSettings } from '../collector/governance.js';
import type { Exporter } from '../collector/pipeline/contracts.js';
import { startService } from '../collector/service.js';
import type { RunningService } from '../collector/service.js';
import { createExporterObserver } from '../collector/telemetry/exporter-observer.js';
import type { Logger } from '../collector/telemetry/logger.js';
import { createSelfMetrics } from '../collector/telemetry/metrics.js';
import { openUsageStore } from '../collector/usage/store.js';
import type { UsageStore } from '../collector/usage/store.js';
import { DEFAULT_BUDGET_STATE_OPTIONS } from '../collector/processors/cardinality/budget-state.js';
import type { SelfMetrics } from '../collector/telemetry/metrics.js';
import { VERSION } from './version.js';

/** Builds one exporter from its config entry; `name` is the config key (`otlphttp/backend`). */
export function buildExporter(name: string, config: ExporterConfig, metrics: SelfMetrics, logger: Logger): Exporter {
  const observer = createExporterObserver(name, metrics, logger);
  if (config.type === 'file') {
    return createFileExporter({ name, directory: config.path, maxFileBytes: config.max_file_size, maxFiles: config.max_files }, { observer });
  }
  if (config.type === 'kafka') return buildKafkaExporter(name, config, metrics, logger);
  return createOtlpHttpExporter(
    {
      name,
      endpoint: config.endpoint,
      signalEndpoints: { traces: config.traces_endpoint, metrics: config.metrics_endpoint, logs: config.logs_endpoint },
      compression: config.compression,
      headers: config.headers,
      timeoutMs: config.timeout,
      retry: retryPolicyOf(config.retry_on_failure),
      maxInFlightBytes: config.sending_queue.max_in_flight_bytes,
      maxQueuedRequests: config.sending_queue.queue_size,
    },
    { observer, logger: logger.child({ exporter: name }) },
  );
}

function retryPolicyOf(retry: RetryConfig): RetryPolicy {
  return {
    enabled: retry.enabled,
    initialIntervalMs: retry.initial_interval,
    maxIntervalMs: retry.max_interval,
    maxElapsedMs: retry.max_elapsed_time,
    multiplier: retry.multiplier,
    randomizationFactor: retry.randomization_factor,
  };
}

function buildKafkaExporter(name: string, config: KafkaExporterConfig, metrics: SelfMetrics, logger: Logger): Exporter {
  const observer = { ...createExporterObserver(name, metrics, logger), onSendError: (error: string) => metrics.kafkaExporterErrors.inc({ exporter: name, error }) };
  return createKafkaExporter(
    {
      name,
      brokers: config.brokers,
      clientId: config.client_id,
      topics: config.topics,
      keys: config.keys,
      compression: config.compression,
      timeoutMs: config.timeout,
      retry: retryPolicyOf(config.retry_on_failure),
      maxInFlightBytes: config.sending_queue.max_in_flight_bytes,
      maxQueuedRequests: config.sending_queue.queue_size,
      maxBatchBytes: config.max_batch_size,
    },
    { observer, logger: logger.child({ exporter: name }) },
  );
}

/** Starts governance; a rules file that cannot be loaded must not leave the store open. */
function startGovernanceOrClose(store: UsageStore, options: GovernanceOptions): Governance {
  try {
    return startGovernance(options);
  } catch (error) {
    store.close();
    throw error;
  }
}

/** The API's tokens, before anything opens (an unreadable token file stops the start); logs where a bootstrap admin token is, never the token. */
export function loadTokens(config: TollgateConfig, logger: Logger): readonly TokenEntry[] {
  const { entries, bootstrap } = loadApiTokens(config.api.tokens, config.data_dir);
  // Info, not warn: on a first start with the embedded default this is the expected path, and the README's tour reads the file.
  if (bootstrap?.created) logger.info('no api.tokens configured: created an admin token for the budget API (only its hash is kept)', { tokenFile: bootstrap.tokenPath });
  else if (bootstrap) logger.info('no api.tokens configured: the budget API accepts the admin token created earlier', { tokenFile: bootstrap.tokenPath });
  return entries;
}

/** Opens and starts the usage store of `<data_dir>`, its flushes counted and failures logged (serve and aggregate). */
export function openStore(config: TollgateConfig, metrics: SelfMetrics, logger: Logger): UsageStore {
  const store = openUsageStore({
    dataDir: config.data_dir,
    options: {
      flushIntervalMs: config.usage_store.flush_interval,
      minuteRetentionDays: config.usage_store.minute_retention_days,
      hourlyRetentionDays: config.usage_store.hourly_retention_days,
    },
    observer: {
      onFlush: (result) => {
        metrics.usageStoreFlushes.inc({ outcome: 'ok' });
        if (result.rows > 0) metrics.usageStoreFlushDuration.observe(result.durationMs / 1000);
      },
      onFlushError: (error) => {
        metrics.usageStoreFlushes.inc({ outcome: 'failed' });
        logger.error('usage store flush failed; rows kept for the next flush', { error: error.message });
      },
      onMaintenanceError: (error) => logger.error('usage store maintenance failed', { error: error instanceof Error ? error.message : String(error) }),
    },
  });
  store.start();
  return store;
}

export interface ServeOptions {
  /** `--rules`: overrides the config's `rules` key. */
  readonly rulesPath?: string;
}

export interface RunningTollgate extends RunningService {
  readonly governance: Governance;
  readonly store: UsageStore;
}

function rulesPathOf(config: TollgateConfig, options: ServeOptions): string | undefined {
  return options.rulesPath ?? config.rules ?? undefined;
}

/** Starts Tollgate as the config describes. A rules file that cannot be loaded throws ConfigError before anything listens. */
export async function serve(config: TollgateConfig, logger: Logger, options: ServeOptions = {}): Promise<RunningTollgate> {
  mkdirSync(config.data_dir, { recursive: true });
  const tokens = loadTokens(config, logger);
  const metrics = createSelfMetrics();
  const policyConfig = config.processors.attribute_policy;
  const budgetConfig = config.processors.cardinality;
  const store = openStore(config, metrics, logger);
  // Global budgets: the budget processor asks it about new series; it reads the budget state once governance runs.
  const global = config.global_budgets ? createGlobalSidecar({ config: config.global_budgets, metrics, logger }) : undefined;
  const governance = startGovernanceOrClose(store, {
    sampleRateAttribute: config.processors.sampling.sample_rate_attribute,
    tail: tailSettingsOf(config),
    store,
    budgets: {
      reportDrops: budgetConfig.report_drops,
      sweepIntervalMs: budgetConfig.sweep_interval,
      snapshotIntervalMs: budgetConfig.snapshot_interval,
      maxTrackedSeriesPerTeam: budgetConfig.max_tracked_series_per_team,
      maxLabelTrackers: budgetConfig.max_label_trackers,
      maxMetricsPerTeam: DEFAULT_BUDGET_STATE_OPTIONS.maxMetricsPerTeam,
      global: global?.hook,
    },
    rulesPath: rulesPathOf(config, options),
    hashKey: policyConfig.hash_key,
    hashKeyIsDefault: policyConfig.hash_key === DEFAULT_HASH_KEY,
    hashLength: policyConfig.hash_length,
    metrics,
    logger,
  });
  const exporters = Object.entries(config.exporters).map(([name, exporter]) => buildExporter(name, exporter, metrics, logger));
  const { http, grpc } = config.receivers.otlp.protocols;
  const running = await startService({
    http: http.enabled ? { ...http.endpoint, maxRequestBodySize: http.max_request_body_size } : undefined,
    grpc: grpc.enabled ? { ...grpc.endpoint, maxRecvMsgSize: grpc.max_recv_msg_size } : undefined,
    api: config.api.endpoint,
    kafka: kafkaReceiverSettings(config),
    budgetApi: { reader: store.reader, exceptions: store.exceptions, rules: () => governance.rules(), reload: () => governance.reload(), tokens },
    maxConcurrentRequests: config.limits.max_concurrent_requests,
    memoryLimitBytes: config.limits.memory_limit,
    processors: governance.processors,
    deferred: governance.deferred,
    exporters,
    metrics,
    logger,
    drainTimeoutMs: config.shutdown.drain_timeout,
    version: VERSION,
  }).catch((error: unknown) => {
    governance.close();
    store.close();
    throw error;
  });
  global?.start({ state: governance.budgets.state, rules: () => governance.rules() });
  return {
    ...running,
    governance,
    store,
    stop: async () => {
      await running.stop();
      await global?.stop();
      // After the drain, so the last requests' usage and series are in the final snapshot.
      governance.close();
      store.close();
    },
  };
}

/** The Kafka receiver's settings when `receivers.kafka` is configured. */
function kafkaReceiverSettings(config: TollgateConfig): KafkaReceiverSettings | undefined {
  const kafka = config.receivers.kafka;
  if (!kafka) return undefined;
  return {
    brokers: kafka.brokers,
    clientId: kafka.client_id,
    groupId: kafka.group_id,
    topics: { traces: kafka.topics.traces ?? undefined, metrics: kafka.topics.metrics ?? undefined, logs: kafka.topics.logs ?? undefined },
    initialOffset: kafka.initial_offset,
    sessionTimeoutMs: kafka.session_timeout,
    retryInitialMs: kafka.retry.initial_interval,
    retryMaxMs: kafka.retry.max_interval,
  };
}

/** Tail sampling settings when `processors.sampling.mode` is `tail`. */
function tailSettingsOf(config: TollgateConfig): TailStageSettings | undefined {
  const sampling = config.processors.sampling;
  if (sampling.mode !== 'tail') return undefined;
  const tail = sampling.tail;
  return {
    decisionWaitMs: tail.decision_wait,
    maxSpansPerTrace: tail.max_spans_per_trace,
    maxBufferedBytes: tail.max_buffered_bytes,
    decisionCacheSize: tail.decision_cache_size,
    maxBacklogBytes: tail.max_backlog_bytes,
  };
}
