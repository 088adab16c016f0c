// What exporters report about their work. Exporters only call this interface; the telemetry
// layer implements it with prom-client counters, so exporters stay free of metric libraries.
import type { ExportOutcome } from '../pipeline/contracts.js';
import type { Signal } from '../otlp/signal.js';

/** How one attempt ended: the HTTP status, or why there was none. */
export type AttemptStatus = number | 'network_error' | 'timeout';

export interface ExporterObserver {
  /** Every send attempt, including retries. */
  onAttempt(signal: Signal, status: AttemptStatus): void;
  /** Every export() answer, busy and shutdown refusals included; `items` as in the request. */
  onOutcome(signal: Signal, items: number, outcome: ExportOutcome): void;
  /** A retry was scheduled after `delayMs`, because of `reason` (the failed attempt). */
  onRetry(signal: Signal, delayMs: number, reason: string): void;
  /** The downstream accepted the request but rejected `rejectedItems` of it (OTLP partial success). */
  onPartialSuccess(signal: Signal, rejectedItems: number, message: string): void;
}

export const NOOP_EXPORTER_OBSERVER: ExporterObserver = Object.freeze({
  onAttempt: () => undefined,
  onOutcome: () => undefined,
  onRetry: () => undefined,
  onPartialSuccess: () => undefined,
});

/** Where exporters write what an operator should read. */
export interface ExporterLogger {
  warn(message: string, fields?: Readonly<Record<string, unknown>>): void;
}

export const NOOP_EXPORTER_LOGGER: ExporterLogger = Object.freeze({ warn: () => undefined });
