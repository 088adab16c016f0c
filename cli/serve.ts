import { mkdirSync } from 'node:fs';
import type { ExporterConfig, TollgateConfig } from '../collector/config/config.js';
import { DEFAULT_HASH_KEY } from '../collector/config/config.js';
import { createFileExporter } from '../collector/exporters/file.js';
import { createOtlpHttpExporter } from '../collector/exporters/otlp-http.js';
import { startGovernance } from '../collector/governance.js';
import type { Governance } from '../collector/governance.js';
import type { Exporter } from '../collector/pipeline/contracts.js';
import { startService } from '../collector/service.js';
import type { RunningService } from '../collector/service.js';
import { createExporterObserver } from '../collector/telemetry/exporter-observer.js';
import type { Logger } from '../collector/telemetry/logger.js';
import { createSelfMetrics } from '../collector/telemetry/metrics.js';
import type { SelfMetrics } from '../collector/telemetry/metrics.js';
import { VERSION } from './version.js';

/** Builds one exporter from its config entry; `name` is the config key (`otlphttp/backend`). */
export function buildExporter(name: string, config: ExporterConfig, metrics: SelfMetrics, logger: Logger): Exporter {
  const observer = createExporterObserver(name, metrics, logger);
  if (config.type === 'file') {
    return createFileExporter({ name, directory: config.path, maxFileBytes: config.max_file_size, maxFiles: config.max_files }, { observer });
  }
  const retry = config.retry_on_failure;
  return createOtlpHttpExporter(
    {
      name,
      endpoint: config.endpoint,
      signalEndpoints: { traces: config.traces_endpoint, metrics: config.metrics_endpoint, logs: config.logs_endpoint },
      compression: config.compression,
      headers: config.headers,
      timeoutMs: config.timeout,
      retry: {
        enabled: retry.enabled,
        initialIntervalMs: retry.initial_interval,
        maxIntervalMs: retry.max_interval,
        maxElapsedMs: retry.max_elapsed_time,
        multiplier: retry.multiplier,
        randomizationFactor: retry.randomization_factor,
      },
      maxInFlightBytes: config.sending_queue.max_in_flight_bytes,
      maxQueuedRequests: config.sending_queue.queue_size,
    },
    { observer, logger: logger.child({ exporter: name }) },
  );
}

export interface ServeOptions {
  /** `--rules`: overrides the config's `rules` key. */
  readonly rulesPath?: string;
}

export interface RunningTollgate extends RunningService {
  readonly governance: Governance;
}

function rulesPathOf(config: TollgateConfig, options: ServeOptions): string | undefined {
  return options.rulesPath ?? config.rules ?? undefined;
}

/** Starts Tollgate as the config describes. A rules file that cannot be loaded throws ConfigError before anything listens. */
export async function serve(config: TollgateConfig, logger: Logger, options: ServeOptions = {}): Promise<RunningTollgate> {
  mkdirSync(config.data_dir, { recursive: true });
  const metrics = createSelfMetrics();
  const policyConfig = config.processors.attribute_policy;
  const governance = startGovernance({
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
    maxConcurrentRequests: config.limits.max_concurrent_requests,
    memoryLimitBytes: config.limits.memory_limit,
    processors: governance.processors,
    exporters,
    metrics,
    logger,
    drainTimeoutMs: config.shutdown.drain_timeout,
    version: VERSION,
  }).catch((error: unknown) => {
    governance.close();
    throw error;
  });
  return {
    ...running,
    governance,
    stop: async () => {
      governance.close();
      await running.stop();
    },
  };
}
