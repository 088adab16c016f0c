import { TollgateError } from '../errors/codes.js';
import type { Signal } from '../otlp/signal.js';
import type { ExportOutcome, ExportRequest } from './contracts.js';

/**
 * A stage that holds one signal's governed requests and exports what it decides later, on its
 * own clock: tail sampling of spans. The pipeline acknowledges a request to its client once the
 * stage took it (as a collector's tail sampler does: the buffer lives in memory), and the stage
 * exports through the same exporters.
 */
export interface DeferredStage {
  readonly signal: Signal;
  /**
   * Takes a governed request. Throws TollgateError `exporter_busy` (the client retries) while
   * what the stage decided is still waiting for the exporters beyond its backlog limit.
   */
  accept(request: ExportRequest): void;
  /** Begins deciding on the stage's clock and exporting through `exportToAll`. */
  start(exportToAll: (request: ExportRequest) => Promise<ExportOutcome>): void;
  /** Decides everything held and exports it, until `deadline` (epoch ms). */
  flush(deadline: number): Promise<void>;
}

/** What a deferred stage decides: the tail sampler's side, pure. */
export interface DeferredDecider {
  ingest(body: Uint8Array, nowMs: number): ExportRequest | undefined;
  due(nowMs: number): ExportRequest[];
  drain(): ExportRequest[];
}

export interface DeferredStageOptions {
  readonly signal: Signal;
  readonly decider: DeferredDecider;
  /** Monotonic milliseconds. */
  readonly clock: () => number;
  /** How often held requests are checked for a due decision. */
  readonly tickMs: number;
  /** Bytes of decided requests waiting for the exporters before new requests are refused. */
  readonly maxBacklogBytes: number;
  /** Called on every tick, e.g. to refresh gauges. */
  readonly onTick?: () => void;
  /** A decided request the exporters refused for good (it cannot be retried). */
  readonly onDropped?: (request: ExportRequest, reason: string) => void;
}

/** Wait after the exporters answered busy or failed before trying the backlog again. */
const RETRY_BACKOFF_MS = 1000;

export function createDeferredStage(options: DeferredStageOptions): DeferredStage {
  const { decider, clock } = options;
  const backlog: ExportRequest[] = [];
  let backlogBytes = 0;
  let exportToAll: ((request: ExportRequest) => Promise<ExportOutcome>) | undefined;
  let pumping: Promise<void> | undefined;
  let retryAfter = 0;
  let timer: NodeJS.Timeout | undefined;

  function enqueue(request: ExportRequest | undefined): void {
    if (request === undefined) return;
    backlog.push(request);
    backlogBytes += request.body.length;
  }

  /** Exports the backlog in order; stops at the first request the exporters cannot take yet. */
  async function drainBacklog(): Promise<void> {
    while (backlog.length > 0 && exportToAll !== undefined) {
      const request = backlog[0];
      const outcome = await exportToAll(request);
      if (outcome.kind !== 'accepted' && (outcome.kind === 'busy' || outcome.retryable)) {
        retryAfter = clock() + RETRY_BACKOFF_MS;
        return;
      }
      backlog.shift();
      backlogBytes -= request.body.length;
      if (outcome.kind === 'failed') options.onDropped?.(request, outcome.reason);
    }
  }

  function pump(): void {
    if (pumping || backlog.length === 0 || clock() < retryAfter) return;
    pumping = drainBacklog().finally(() => {
      pumping = undefined;
    });
  }

  function tick(): void {
    for (const request of decider.due(clock())) enqueue(request);
    options.onTick?.();
    pump();
  }

  return {
    signal: options.signal,
    accept(request) {
      if (backlogBytes > options.maxBacklogBytes) {
        throw new TollgateError('exporter_busy', `${backlogBytes} bytes of sampled traces wait for the exporters`);
      }
      enqueue(decider.ingest(request.body, clock()));
      pump();
    },
    start(exportFunction) {
      exportToAll = exportFunction;
      timer = setInterval(tick, options.tickMs);
      timer.unref();
    },
    async flush(deadline) {
      if (timer) clearInterval(timer);
      for (const request of decider.drain()) enqueue(request);
      options.onTick?.();
      retryAfter = 0;
      while (backlog.length > 0 && Date.now() < deadline) {
        await (pumping ?? drainBacklog());
        if (backlog.length > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(RETRY_BACKOFF_MS, Math.max(0, deadline - Date.now()))));
        retryAfter = 0;
      }
    },
  };
}
