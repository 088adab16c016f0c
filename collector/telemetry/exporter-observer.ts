import type { AttemptStatus, ExporterObserver } from '../exporters/observer.js';
import type { Signal } from '../otlp/signal.js';
import type { ExportOutcome } from '../pipeline/contracts.js';
import type { Logger } from './logger.js';
import type { SelfMetrics } from './metrics.js';

/** Feeds an exporter's reports into the self-metrics and the log. */
export function createExporterObserver(exporter: string, metrics: SelfMetrics, logger: Logger): ExporterObserver {
  return {
    onAttempt(signal: Signal, status: AttemptStatus): void {
      metrics.exporterAttempts.inc({ exporter, signal, result: String(status) });
    },
    onOutcome(signal: Signal, items: number, outcome: ExportOutcome): void {
      const label = outcome.kind === 'accepted' ? 'sent' : outcome.kind;
      metrics.exporterItems.inc({ exporter, signal, outcome: label }, items);
      if (outcome.kind === 'failed') logger.warn('export failed', { exporter, signal, items, retryable: outcome.retryable, reason: outcome.reason });
    },
    onRetry(signal: Signal, delayMs: number, reason: string): void {
      metrics.exporterRetries.inc({ exporter, signal });
      logger.debug('export retry scheduled', { exporter, signal, delayMs, reason });
    },
    onPartialSuccess(signal: Signal, rejectedItems: number, message: string): void {
      metrics.exporterItems.inc({ exporter, signal, outcome: 'rejected_downstream' }, rejectedItems);
      logger.warn('downstream rejected part of an export', { exporter, signal, rejectedItems, message });
    },
  };
}
