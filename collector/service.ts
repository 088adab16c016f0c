import type { Server } from 'node:http';
import { createApp } from '../api/app.js';
import type { BudgetApiDeps } from '../api/routes.js';
import type { Exporter } from './pipeline/contracts.js';
import type { DeferredStage } from './pipeline/deferred-stage.js';
import { createPipeline } from './pipeline/pipeline.js';
import type { Pipeline } from './pipeline/pipeline.js';
import type { Processor, ProcessorContext } from './pipeline/processor.js';
import { createKafkaReceiver } from './receivers/kafka.js';
import type { KafkaReceiverSettings } from './receivers/kafka.js';
import { createOtlpGrpcReceiver } from './receivers/otlp-grpc.js';
import { addressOf, createOtlpHttpReceiver } from './receivers/otlp-http.js';
import type { Receiver } from './receivers/otlp-http.js';
import type { Logger } from './telemetry/logger.js';
import type { SelfMetrics } from './telemetry/metrics.js';

export interface Listen {
  readonly host: string;
  readonly port: number;
}

/** Everything a running Tollgate is made of; built from config by the CLI, or by tests directly. */
export interface ServiceOptions {
  readonly http?: Listen & { readonly maxRequestBodySize: number };
  readonly grpc?: Listen & { readonly maxRecvMsgSize: number };
  readonly api?: Listen;
  /** Consumes OTLP from Kafka topics into the same pipeline. */
  readonly kafka?: KafkaReceiverSettings;
  /** Mounts the budget API (/api/v1) on the API listener. */
  readonly budgetApi?: BudgetApiDeps;
  readonly maxConcurrentRequests: number;
  readonly memoryLimitBytes: number;
  readonly processors: readonly Processor[];
  /** Tail sampling's stage after the processors, when configured. */
  readonly deferred?: DeferredStage;
  /** Built with the same metrics so their observers report into them. */
  readonly exporters: readonly Exporter[];
  readonly metrics: SelfMetrics;
  readonly logger: Logger;
  readonly drainTimeoutMs: number;
  readonly version: string;
  readonly context?: ProcessorContext;
}

export interface RunningService {
  readonly pipeline: Pipeline;
  /** host:port of each listener that started. */
  readonly addresses: { readonly http?: string; readonly grpc?: string; readonly api?: string };
  /** Drains: stops receivers (in-flight requests finish), then exporters, within the drain timeout. */
  stop(): Promise<void>;
}

export async function startService(options: ServiceOptions): Promise<RunningService> {
  const { metrics, logger } = options;
  let ready = false;
  const pipeline = createPipeline({
    processors: options.processors,
    exporters: options.exporters,
    metrics,
    memoryLimitBytes: options.memoryLimitBytes,
    context: options.context,
    deferred: options.deferred,
  });
  for (const exporter of options.exporters) await exporter.start();
  const queueGauge = setInterval(() => {
    for (const exporter of options.exporters) metrics.exporterQueueItems.set({ exporter: exporter.name }, exporter.queuedItems());
  }, 1000);
  queueGauge.unref();

  const receivers: Receiver[] = [];
  const common = { pipeline, metrics, logger, maxConcurrentRequests: options.maxConcurrentRequests };
  if (options.http) receivers.push(createOtlpHttpReceiver({ ...common, ...options.http }));
  if (options.grpc) receivers.push(createOtlpGrpcReceiver({ ...common, ...options.grpc }));
  // Started last and listed apart: `receivers` holds the listeners, whose addresses are read by position below.
  const allReceivers = options.kafka ? [...receivers, createKafkaReceiver({ pipeline, metrics, logger, ...options.kafka })] : receivers;

  let apiServer: Server | undefined;
  const startAll = async (): Promise<void> => {
    for (const receiver of allReceivers) await receiver.start();
    if (options.api) apiServer = await listen(createApp({ registry: metrics.registry, isReady: () => ready, version: options.version, budgetApi: options.budgetApi }), options.api);
  };
  try {
    await startAll();
  } catch (error) {
    await Promise.all(allReceivers.map((r) => r.stop(Date.now())));
    apiServer?.close();
    clearInterval(queueGauge);
    throw error;
  }
  ready = true;
  const addresses = {
    http: options.http ? receivers[0].address() : undefined,
    grpc: options.grpc ? receivers[receivers.length - 1].address() : undefined,
    api: apiServer ? addressOf(apiServer) : undefined,
  };
  logger.info('Tollgate started', addresses);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      ready = false;
      const deadline = Date.now() + options.drainTimeoutMs;
      logger.info('draining', { inFlight: pipeline.inFlight(), deadline: new Date(deadline).toISOString() });
      await Promise.all([...allReceivers.map((r) => r.stop(deadline)), pipeline.shutdown(deadline)]);
      clearInterval(queueGauge);
      await new Promise<void>((resolve) => {
        if (!apiServer) return resolve();
        apiServer.close(() => resolve());
        apiServer.closeAllConnections();
      });
      logger.info('stopped');
    })();
    return stopping;
  };
  return { pipeline, addresses, stop };
}

function listen(app: ReturnType<typeof createApp>, at: Listen): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(at.port, at.host);
    server.once('listening', () => resolve(server));
    server.once('error', reject);
  });
}
