import type { Signal } from '../otlp/signal.js';
import type { ConsumeResult } from '../pipeline/pipeline.js';
import type { SelfMetrics } from '../telemetry/metrics.js';

/** Counts a consumed request's items: accepted, and rejected by policy (partial success). */
export function recordOutcome(metrics: SelfMetrics, signal: Signal, transport: string, result: ConsumeResult): void {
  metrics.receiverItems.inc({ signal, transport, outcome: 'accepted' }, result.received - result.rejected);
  if (result.rejected > 0) metrics.receiverItems.inc({ signal, transport, outcome: 'rejected' }, result.rejected);
}
