import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Tollgate's self-metrics. Label values are always from small fixed sets (signal, transport,
 * outcome, exporter and processor names from config) so the exporter of cardinality budgets
 * never becomes a cardinality problem itself.
 */
export interface SelfMetrics {
  readonly registry: Registry;
  /** outcome: accepted | rejected (invalid data) | refused (backpressure or export failure) | partial */
  readonly receiverItems: Counter<'signal' | 'transport' | 'outcome'>;
  readonly receiverRequests: Counter<'signal' | 'transport' | 'code'>;
  readonly receiverDuration: Histogram<'signal' | 'transport'>;
  /** outcome: sent | failed | busy | dropped */
  readonly exporterItems: Counter<'exporter' | 'signal' | 'outcome'>;
  readonly exporterAttempts: Counter<'exporter' | 'signal' | 'result'>;
  readonly exporterRetries: Counter<'exporter' | 'signal'>;
  readonly exporterQueueItems: Gauge<'exporter'>;
  /** Kafka exporter send attempts that failed, by error: the broker's error type or the kafkajs error class (fixed sets). */
  readonly kafkaExporterErrors: Counter<'exporter' | 'error'>;
  /** Kafka receiver messages, outcome: accepted | poison (not OTLP, skipped) | rejected (refused for good, skipped) | retried (refused for now). */
  readonly kafkaReceiverMessages: Counter<'signal' | 'outcome'>;
  /** Kafka receiver consumer restarts after a crash kafkajs would not restart from itself. */
  readonly kafkaReceiverRestarts: Counter;
  /** direction: in | out */
  readonly processorItems: Counter<'processor' | 'signal' | 'direction'>;
  readonly inFlightBytes: Gauge;
  readonly memoryLimitBytes: Gauge;
  /** outcome: success | failure | unchanged */
  readonly rulesReloads: Counter<'outcome'>;
  /** 1 for the rules in force, labelled with their hash; the previous hash's series is removed on swap. */
  readonly rulesInfo: Gauge<'hash'>;
  /** policy names come from the rules file, so the label set is bounded by its size. */
  readonly attributeActions: Counter<'policy' | 'action' | 'signal' | 'mode'>;
  /** outcome: merged (folded into an equal series) | unmergeable (left as duplicates) */
  readonly reaggregatedPoints: Counter<'outcome'>;
  /** Data points under a cardinality budget by outcome (passed, admitted, dropped, overflowed, stripped, audited); teams come from the rules file. */
  readonly budgetPoints: Counter<'team' | 'outcome'>;
  /** New series refused by a budget cap (in audit mode: that would have been refused). */
  readonly budgetViolations: Counter<'team' | 'rule' | 'action' | 'mode'>;
  readonly teamActiveSeries: Gauge<'team'>;
  /** The team's max_active_series; absent for teams without one. */
  readonly teamSeriesLimit: Gauge<'team'>;
  /** Sidecar, global budgets: 1 while the team is enforced on its local limit (no fresh global state), 0 while on the global state. */
  readonly globalBudgetFallback: Gauge<'team'>;
  /** Sidecar: age of the team's global state at the last report round. */
  readonly globalStateAge: Gauge<'team'>;
  /** Sidecar: usage report messages, outcome: sent | failed. */
  readonly usageReports: Counter<'outcome'>;
  /** Sidecar: budget-state messages received, outcome: applied | malformed. */
  readonly globalStateMessages: Counter<'outcome'>;
  /** Aggregator: usage report messages, outcome: applied | stale | duplicate | precision | malformed. */
  readonly aggregatorReports: Counter<'outcome'>;
  /** Aggregator: team states published, outcome: sent | failed. */
  readonly aggregatorStates: Counter<'outcome'>;
  /** Aggregator: sidecars with a live report. */
  readonly aggregatorSidecars: Gauge;
  /** outcome: kept | dropped | kept_by_rule | dropped_by_rule | kept_by_floor; teams come from the rules file. */
  readonly samplingItems: Counter<'team' | 'signal' | 'outcome'>;
  /** Sum of the adjusted counts of kept items: what they stand for. */
  readonly samplingAdjustedCount: Counter<'team' | 'signal'>;
  readonly samplingProbability: Gauge<'team' | 'signal'>;
  /** Tail sampling: spans, traces and bytes waiting for their trace's decision. */
  readonly tailBufferedSpans: Gauge;
  readonly tailBufferedTraces: Gauge;
  readonly tailBufferedBytes: Gauge;
  /** path: buffered | late (trace already decided) | fallback (buffer full: head decision) | untraced (no trace id) */
  readonly tailSpans: Counter<'path'>;
  /** reason: wait (decision wait passed) | early (span cap reached) | shutdown */
  readonly tailTracesDecided: Counter<'reason'>;
  /** outcome: ok | failed */
  readonly usageStoreFlushes: Counter<'outcome'>;
  /** How long each flush held the event loop (SQLite is synchronous): the cost requests may see. */
  readonly usageStoreFlushDuration: Histogram;
}

export function createSelfMetrics(options: { defaultMetrics?: boolean } = {}): SelfMetrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'tollgate_' });
  const registers = [registry];
  return {
    registry,
    receiverItems: new Counter({
      name: 'tollgate_receiver_items_total',
      help: 'Data points, spans or log records received, by outcome.',
      labelNames: ['signal', 'transport', 'outcome'],
      registers,
    }),
    receiverRequests: new Counter({
      name: 'tollgate_receiver_requests_total',
      help: 'Export requests received, by response code (HTTP status or gRPC status name).',
      labelNames: ['signal', 'transport', 'code'],
      registers,
    }),
    receiverDuration: new Histogram({
      name: 'tollgate_receiver_request_duration_seconds',
      help: 'Time from receiving an export request to answering it, including export.',
      labelNames: ['signal', 'transport'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    exporterItems: new Counter({
      name: 'tollgate_exporter_items_total',
      help: 'Items handed to exporters, by outcome: sent, failed (retries exhausted or refused), busy (queue full).',
      labelNames: ['exporter', 'signal', 'outcome'],
      registers,
    }),
    exporterAttempts: new Counter({
      name: 'tollgate_exporter_attempts_total',
      help: 'Export attempts by result (HTTP status or network_error).',
      labelNames: ['exporter', 'signal', 'result'],
      registers,
    }),
    exporterRetries: new Counter({
      name: 'tollgate_exporter_retries_total',
      help: 'Export attempts scheduled for retry.',
      labelNames: ['exporter', 'signal'],
      registers,
    }),
    exporterQueueItems: new Gauge({
      name: 'tollgate_exporter_queue_items',
      help: 'Items held by an exporter (queued or in flight).',
      labelNames: ['exporter'],
      registers,
    }),
    kafkaExporterErrors: new Counter({
      name: 'tollgate_kafka_exporter_errors_total',
      help: 'Kafka exporter send attempts that failed, by error (broker error type such as MESSAGE_TOO_LARGE, or kafkajs error class such as KafkaJSConnectionError).',
      labelNames: ['exporter', 'error'],
      registers,
    }),
    kafkaReceiverMessages: new Counter({
      name: 'tollgate_kafka_receiver_messages_total',
      help: 'Kafka receiver messages by outcome: accepted, poison (not a valid OTLP request: skipped), rejected (refused for good: skipped), retried (refused for now: retried, not committed).',
      labelNames: ['signal', 'outcome'],
      registers,
    }),
    kafkaReceiverRestarts: new Counter({
      name: 'tollgate_kafka_receiver_restarts_total',
      help: 'Kafka receiver consumer restarts after a crash kafkajs gave up on (a non-retriable error): the receiver disconnects and joins its group again.',
      registers,
    }),
    processorItems: new Counter({
      name: 'tollgate_processor_items_total',
      help: 'Items entering and leaving each processor.',
      labelNames: ['processor', 'signal', 'direction'],
      registers,
    }),
    inFlightBytes: new Gauge({
      name: 'tollgate_in_flight_bytes',
      help: 'Bytes of export requests being processed or exported.',
      registers,
    }),
    memoryLimitBytes: new Gauge({
      name: 'tollgate_memory_limit_bytes',
      help: 'The configured limit on in-flight request bytes.',
      registers,
    }),
    rulesReloads: new Counter({
      name: 'tollgate_rules_reload_total',
      help: 'Rules reloads (file change, SIGHUP or API) by outcome: success, failure (old rules kept), unchanged.',
      labelNames: ['outcome'],
      registers,
    }),
    rulesInfo: new Gauge({
      name: 'tollgate_rules_info',
      help: 'Always 1; the hash label names the governance rules in force.',
      labelNames: ['hash'],
      registers,
    }),
    attributeActions: new Counter({
      name: 'tollgate_attribute_actions_total',
      help: 'Attribute policy actions taken (mode=enforce) or that would have been taken (mode=audit), by policy, action and signal.',
      labelNames: ['policy', 'action', 'signal', 'mode'],
      registers,
    }),
    budgetPoints: new Counter({
      name: 'tollgate_budget_points_total',
      help: 'Data points under a cardinality budget, by team and outcome: passed (active series), admitted (new series), dropped, overflowed, stripped, audited.',
      labelNames: ['team', 'outcome'],
      registers,
    }),
    budgetViolations: new Counter({
      name: 'tollgate_budget_violations_total',
      help: 'New series refused by a cardinality cap (mode=audit: would have been), by team, rule (the cap) and action.',
      labelNames: ['team', 'rule', 'action', 'mode'],
      registers,
    }),
    teamActiveSeries: new Gauge({
      name: 'tollgate_team_active_series',
      help: 'Active metric series per team (seen within its active window), as of the last sweep.',
      labelNames: ['team'],
      registers,
    }),
    teamSeriesLimit: new Gauge({
      name: 'tollgate_team_series_limit',
      help: "The team's max_active_series; alert on tollgate_team_active_series / tollgate_team_series_limit > 0.8.",
      labelNames: ['team'],
      registers,
    }),
    globalBudgetFallback: new Gauge({
      name: 'tollgate_global_budget_fallback',
      help: 'Global budgets: 1 while the team is enforced on its local limit because no fresh global state is at hand (aggregator or Kafka down), 0 while the global state applies.',
      labelNames: ['team'],
      registers,
    }),
    globalStateAge: new Gauge({
      name: 'tollgate_global_budget_state_age_seconds',
      help: "Global budgets: age of the team's latest global state from the aggregator, as of the last report round.",
      labelNames: ['team'],
      registers,
    }),
    usageReports: new Counter({ name: 'tollgate_usage_reports_total', help: 'Global budgets: usage report messages published to Kafka, by outcome (sent, failed).', labelNames: ['outcome'], registers }),
    globalStateMessages: new Counter({
      name: 'tollgate_global_state_messages_total',
      help: 'Global budgets: budget-state messages consumed, by outcome (applied, malformed).',
      labelNames: ['outcome'],
      registers,
    }),
    aggregatorReports: new Counter({
      name: 'tollgate_aggregator_reports_total',
      help: 'Aggregator: usage report messages consumed, by outcome (applied, stale, duplicate, precision, malformed).',
      labelNames: ['outcome'],
      registers,
    }),
    aggregatorStates: new Counter({ name: 'tollgate_aggregator_states_total', help: 'Aggregator: team states published to the state topic, by outcome (sent, failed).', labelNames: ['outcome'], registers }),
    aggregatorSidecars: new Gauge({ name: 'tollgate_aggregator_sidecars', help: 'Aggregator: sidecars whose latest usage report is within the report TTL.', registers }),
    usageStoreFlushes: new Counter({
      name: 'tollgate_usage_store_flushes_total',
      help: 'Writes of recorded usage to SQLite, by outcome (a failed flush keeps its rows for the next one).',
      labelNames: ['outcome'],
      registers,
    }),
    samplingItems: new Counter({
      name: 'tollgate_sampling_items_total',
      help: 'Spans and log records by sampling outcome: kept, dropped (by the rate), kept_by_rule, dropped_by_rule, kept_by_floor (visibility floor).',
      labelNames: ['team', 'signal', 'outcome'],
      registers,
    }),
    samplingAdjustedCount: new Counter({
      name: 'tollgate_sampling_adjusted_count_total',
      help: 'Sum of the adjusted counts of kept spans and log records: how many items they stand for (compare with tollgate_sampling_items_total).',
      labelNames: ['team', 'signal'],
      registers,
    }),
    samplingProbability: new Gauge({
      name: 'tollgate_sampling_probability',
      help: "The keep probability a team's `sample` rule applied most recently: its tier's, lowered by its volume budget.",
      labelNames: ['team', 'signal'],
      registers,
    }),
    usageStoreFlushDuration: new Histogram({
      name: 'tollgate_usage_store_flush_duration_seconds',
      help: 'Time one usage store flush (one SQLite transaction) took; requests arriving meanwhile wait that long.',
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
      registers,
    }),
    tailBufferedSpans: new Gauge({ name: 'tollgate_tail_buffered_spans', help: 'Spans held by tail sampling until their trace is decided.', registers }),
    tailBufferedTraces: new Gauge({ name: 'tollgate_tail_buffered_traces', help: 'Traces held by tail sampling until their decision wait passes.', registers }),
    tailBufferedBytes: new Gauge({
      name: 'tollgate_tail_buffered_bytes',
      help: 'Bytes held by tail sampling (spans, their resources and scopes, bookkeeping); never above processors.sampling.tail.max_buffered_bytes.',
      registers,
    }),
    tailSpans: new Counter({
      name: 'tollgate_tail_spans_total',
      help: 'Spans taken by tail sampling, by path: buffered, late (their trace was already decided), fallback (buffer full: decided at once like a head sampler), untraced (no trace id).',
      labelNames: ['path'],
      registers,
    }),
    tailTracesDecided: new Counter({
      name: 'tollgate_tail_traces_decided_total',
      help: 'Traces decided by tail sampling, by reason: wait (decision wait passed), early (span cap reached), shutdown.',
      labelNames: ['reason'],
      registers,
    }),
    reaggregatedPoints: new Counter({
      name: 'tollgate_reaggregated_points_total',
      help: 'Data points that became the same series after an attribute policy: merged into it, or left unmergeable.',
      labelNames: ['outcome'],
      registers,
    }),
  };
}
