import type { Logger } from './logger.js';

/**
 * Optional self-tracing: when the standard OTEL_* variables ask for traces, Tollgate starts the
 * OpenTelemetry Node SDK (configured entirely from the environment: exporter, endpoint,
 * protocol, sampler, resource) and the pipeline records one span per export request. Without
 * those variables the SDK is never loaded and the API's no-op tracer costs next to nothing.
 */
export function selfTracingRequested(env: NodeJS.ProcessEnv): boolean {
  if (env.OTEL_SDK_DISABLED === 'true') return false;
  if (env.OTEL_TRACES_EXPORTER !== undefined) return env.OTEL_TRACES_EXPORTER !== 'none';
  return env.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT !== undefined;
}

export interface SelfTracing {
  shutdown(): Promise<void>;
}

export async function startSelfTracing(env: NodeJS.ProcessEnv, logger: Logger, version: string): Promise<SelfTracing | undefined> {
  if (!selfTracingRequested(env)) return undefined;
  const { NodeSDK } = await import('@opentelemetry/sdk-node');
  // The SDK reads the resource from the environment; give it our name unless the user did.
  env.OTEL_SERVICE_NAME ??= 'tollgate';
  env.OTEL_RESOURCE_ATTRIBUTES = [env.OTEL_RESOURCE_ATTRIBUTES, `service.version=${version}`].filter(Boolean).join(',');
  // Metrics stay on /metrics (Prometheus) and no library is auto-instrumented: only traces.
  env.OTEL_METRICS_EXPORTER ??= 'none';
  env.OTEL_LOGS_EXPORTER ??= 'none';
  const sdk = new NodeSDK({ instrumentations: [] });
  sdk.start();
  logger.info('self-tracing enabled', { exporter: env.OTEL_TRACES_EXPORTER ?? 'otlp', endpoint: env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT });
  return { shutdown: () => sdk.shutdown() };
}
