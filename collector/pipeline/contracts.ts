import type { Signal } from '../otlp/signal.js';

/** One OTLP export request as it travels from the processors to the exporters. */
export interface ExportRequest {
  readonly signal: Signal;
  /** The serialized Export{Metrics,Trace,Logs}ServiceRequest protobuf. */
  readonly body: Uint8Array;
  /** Data points, spans or log records in `body`. */
  readonly items: number;
}

/**
 * How an exporter answered. `accepted` means the data is downstream (or durably queued);
 * anything else means it is not, and the receiver must not acknowledge it to its client.
 */
export type ExportOutcome =
  | { readonly kind: 'accepted' }
  /** The exporter's queue or in-flight budget is full: back off, the client should retry. */
  | { readonly kind: 'busy'; readonly reason: string }
  /** Retries were exhausted or the downstream refused the data permanently. */
  | { readonly kind: 'failed'; readonly retryable: boolean; readonly reason: string };

export interface Exporter {
  /** Config name, e.g. `otlphttp` or `otlphttp/backend`; used as the `exporter` metric label. */
  readonly name: string;
  start(): Promise<void>;
  /** Never rejects: every failure is an outcome. */
  export(request: ExportRequest): Promise<ExportOutcome>;
  /** Items currently held (queued or in flight), for the queue-size gauge. */
  queuedItems(): number;
  /** Stops accepting work, waits for in-flight exports until `deadline` (epoch ms), then aborts them. */
  shutdown(deadline: number): Promise<void>;
}
