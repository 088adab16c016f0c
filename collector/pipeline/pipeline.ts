import { SpanStatusCode, trace } from '@opentelemetry/api';
import { TollgateError } from '../errors/codes.js';
import { EditList } from '../otlp/rewriter.js';
import { scanRequest } from '../otlp/scanner.js';
import type { Signal } from '../otlp/signal.js';
import { WireIndex } from '../otlp/wire-index.js';
import { WireError } from '../otlp/wire.js';
import type { SelfMetrics } from '../telemetry/metrics.js';
import type { Exporter, ExportOutcome, ExportRequest } from './contracts.js';
import type { DeferredStage } from './deferred-stage.js';
import { governRequest } from './govern.js';
import type { Processor, ProcessorContext } from './processor.js';
import { SYSTEM_CONTEXT } from './processor.js';

/** What the pipeline made of one export request. */
export interface ConsumeResult {
  /** Items in the request as received. */
  readonly received: number;
  /** Items refused by policy and reported as partial success. */
  readonly rejected: number;
  readonly message: string | undefined;
}

export interface PipelineOptions {
  readonly processors: readonly Processor[];
  readonly exporters: readonly Exporter[];
  readonly metrics: SelfMetrics;
  /** Upper bound on bytes of requests being processed or exported at once. */
  readonly memoryLimitBytes: number;
  readonly context?: ProcessorContext;
  /** Tail sampling: this signal's governed requests go to the stage, which exports them later. */
  readonly deferred?: DeferredStage;
}

export interface Pipeline {
  /**
   * Scans, governs and exports one OTLP protobuf request. Resolves once every exporter accepted
   * it; throws TollgateError (malformed_request, overloaded, exporter_busy, export_failed,
   * export_rejected, shutting_down) otherwise, which the receivers map to OTLP statuses.
   */
  consume(signal: Signal, body: Uint8Array): Promise<ConsumeResult>;
  /** Requests currently inside the pipeline. */
  inFlight(): number;
  /** Refuses new requests, waits for in-flight ones until `deadline` (epoch ms), then stops exporters. */
  shutdown(deadline: number): Promise<void>;
}

const tracer = trace.getTracer('tollgate');

export function createPipeline(options: PipelineOptions): Pipeline {
  const { metrics, exporters, memoryLimitBytes } = options;
  const context = options.context ?? SYSTEM_CONTEXT;
  const index = new WireIndex();
  const edits = new EditList();
  const processorsBySignal = groupBySignal(options.processors);
  let inFlightBytes = 0;
  let inFlightRequests = 0;
  let closing = false;
  const idleWaiters: Array<() => void> = [];
  metrics.memoryLimitBytes.set(memoryLimitBytes);

  function admit(bytes: number): void {
    if (closing) throw new TollgateError('shutting_down');
    if (inFlightBytes + bytes > memoryLimitBytes && inFlightRequests > 0) {
      throw new TollgateError('overloaded', `${inFlightBytes} bytes in flight, limit ${memoryLimitBytes}`);
    }
    inFlightBytes += bytes;
    inFlightRequests++;
    metrics.inFlightBytes.set(inFlightBytes);
  }

  function release(bytes: number): void {
    inFlightBytes -= bytes;
    inFlightRequests--;
    metrics.inFlightBytes.set(inFlightBytes);
    if (inFlightRequests === 0) for (const wake of idleWaiters.splice(0)) wake();
  }

  /** Synchronous part: scan, run processors, rewrite. The shared index is free again after it. */
  function govern(signal: Signal, body: Uint8Array): { request: ExportRequest; received: number; rejected: number; message: string | undefined } {
    try {
      scanRequest(index, signal, body);
    } catch (error) {
      if (error instanceof WireError) throw new TollgateError('malformed_request', error.message);
      throw error;
    }
    const received = index.itemCount;
    const governed = governRequest(index, edits, processorsBySignal[signal], context, (processor, direction, items) =>
      metrics.processorItems.inc({ processor: processor.name, signal, direction }, items),
    );
    return { request: { signal, body: governed.body, items: governed.items }, received, rejected: governed.rejected, message: governed.message };
  }

  /** Items in a request refused before processing, so refusals are counted in items too. */
  function countItems(signal: Signal, body: Uint8Array): number {
    try {
      return scanRequest(index, signal, body).itemCount;
    } catch {
      return 0;
    }
  }

  async function consume(signal: Signal, body: Uint8Array): Promise<ConsumeResult> {
    try {
      admit(body.length);
    } catch (error) {
      if (error instanceof TollgateError) error.items = countItems(signal, body);
      throw error;
    }
    // A no-op span unless self-tracing was enabled through the OTEL_* variables.
    const span = tracer.startSpan(`tollgate.consume ${signal}`, { attributes: { 'tollgate.signal': signal, 'tollgate.request.bytes': body.length } });
    let received = 0;
    try {
      const governed = govern(signal, body);
      received = governed.received;
      span.setAttributes({ 'tollgate.items.received': received, 'tollgate.items.exported': governed.request.items });
      if (governed.request.items > 0 && options.deferred?.signal === signal) options.deferred.accept(governed.request);
      else if (governed.request.items > 0) {
        const failure = await exportToAll(governed.request);
        if (failure) throw new TollgateError(failure.code, failure.reason);
      }
      return { received, rejected: governed.rejected, message: governed.message };
    } catch (error) {
      if (error instanceof TollgateError) {
        error.items = received;
        span.setAttribute('tollgate.error.code', error.code);
      }
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      throw error;
    } finally {
      span.end();
      release(body.length);
    }
  }

  /** Exports to every exporter; the failure the client must hear, if any. */
  async function exportToAll(request: ExportRequest): Promise<ExportFailure | undefined> {
    const outcomes = await Promise.all(exporters.map((exporter) => exporter.export(request)));
    return worstOutcome(outcomes);
  }

  options.deferred?.start(async (request) => {
    const failure = await exportToAll(request);
    if (!failure) return { kind: 'accepted' };
    if (failure.code === 'exporter_busy') return { kind: 'busy', reason: failure.reason };
    return { kind: 'failed', retryable: failure.code === 'export_failed', reason: failure.reason };
  });

  return {
    consume,
    inFlight: () => inFlightRequests,
    async shutdown(deadline: number): Promise<void> {
      closing = true;
      if (inFlightRequests > 0) {
        await Promise.race([
          new Promise<void>((resolve) => idleWaiters.push(resolve)),
          new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, deadline - Date.now())).unref()),
        ]);
      }
      // What the deferred stage still holds is decided and exported before the exporters stop.
      await options.deferred?.flush(deadline);
      await Promise.all(exporters.map((exporter) => exporter.shutdown(deadline)));
    },
  };
}

function groupBySignal(processors: readonly Processor[]): Readonly<Record<Signal, readonly Processor[]>> {
  return {
    metrics: processors.filter((p) => p.signals.includes('metrics')),
    traces: processors.filter((p) => p.signals.includes('traces')),
    logs: processors.filter((p) => p.signals.includes('logs')),
  };
}

/**
 * The outcome the client hears when exporters disagree: a permanent rejection wins (retrying
 * cannot help), then a retryable failure, then a full queue.
 */
interface ExportFailure {
  readonly code: 'exporter_busy' | 'export_failed' | 'export_rejected';
  readonly reason: string;
}

function worstOutcome(outcomes: readonly ExportOutcome[]): ExportFailure | undefined {
  let worst: (ExportFailure & { rank: number }) | undefined;
  for (const outcome of outcomes) {
    if (outcome.kind === 'accepted') continue;
    const candidate =
      outcome.kind === 'busy'
        ? { code: 'exporter_busy' as const, reason: outcome.reason, rank: 1 }
        : outcome.retryable
          ? { code: 'export_failed' as const, reason: outcome.reason, rank: 2 }
          : { code: 'export_rejected' as const, reason: outcome.reason, rank: 3 };
    if (!worst || candidate.rank > worst.rank) worst = candidate;
  }
  return worst && { code: worst.code, reason: worst.reason };
}
