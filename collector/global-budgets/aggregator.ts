/**
 * `tollgate aggregate` at run time: consumes the usage topic in a consumer group, merges the
 * reports (GlobalUsage), and every publish interval writes each team's global figures to its
 * usage store (so the budget API it serves answers with them) and publishes each team's state
 * to the compacted state topic.
 */
import type { Consumer, Producer } from 'kafkajs';
import type { CompiledRules } from '../../rules/compiled.js';
import type { GlobalBudgetsConfig } from '../config/config.js';
import type { Logger } from '../telemetry/logger.js';
import type { SelfMetrics } from '../telemetry/metrics.js';
import type { UsageRecorder } from '../usage/accumulator.js';
import { createGlobalKafka, createRoundPublisher, keyedMessage, startKafkaLink } from './kafka-link.js';
import type { KafkaLink, KeyedMessage } from './kafka-link.js';
import { GlobalUsage, teamStateOf } from './merge.js';
import { encodeTeamState } from './team-state.js';
import { decodeUsageReport, GLOBAL_SKETCH_PRECISION } from './usage-report.js';

/** Per-metric figures written to the store per team and round, as the sidecar's sweep does. */
const METRICS_RECORDED_PER_TEAM = 200;

/** What the aggregator needs from the usage store. */
export interface AggregatorStore extends UsageRecorder {
  activeLimitOverride?(team: string, nowMs: number): number | undefined;
}

export interface AggregatorOptions {
  readonly config: GlobalBudgetsConfig;
  readonly instance: string;
  readonly rules: () => CompiledRules;
  readonly store?: AggregatorStore;
  readonly metrics: SelfMetrics;
  readonly logger: Logger;
  readonly now?: () => number;
}

export interface Aggregator {
  readonly usage: GlobalUsage;
  /** Merges, records and publishes now (also runs on its interval); resolves once the broker answered. */
  publishNow(): Promise<void>;
  stop(): Promise<void>;
}

export function startAggregator(options: AggregatorOptions): Aggregator {
  const { config, metrics, store } = options;
  const logger = options.logger.child({ component: 'aggregator' });
  const now = options.now ?? Date.now;
  const settings = config.aggregator;
  const usage = new GlobalUsage({ precision: GLOBAL_SKETCH_PRECISION, reportTtlMs: settings.report_ttl });
  const kafka = createGlobalKafka(config, logger);
  const producer: Producer = kafka.producer({ allowAutoTopicCreation: false });
  const consumer: Consumer = kafka.consumer({ groupId: settings.group_id, sessionTimeout: 10_000, heartbeatInterval: 1000 });
  /** Not before every live sidecar had one report interval to report since the group was (re)joined: an earlier publish would undercount. */
  let publishFrom = Infinity;
  const publisher = createRoundPublisher(producer, config.state_topic, metrics.aggregatorStates, logger, 'team states');

  // On every (re)join, possibly with partitions, and so teams, this process has not read before.
  consumer.on(consumer.events.GROUP_JOIN, () => {
    publishFrom = now() + config.report_interval;
  });
  const link: KafkaLink = startKafkaLink(
    kafka,
    config,
    { producer, consumer },
    {
      topic: config.usage_topic,
      // After a restart the group's committed offsets are the place to resume; a new group starts at the end (reports come again every interval).
      fromBeginning: false,
      noun: 'usage report',
      outcomes: metrics.aggregatorReports,
      apply(value) {
        const report = decodeUsageReport(value);
        // A report replayed long after it was made must not look fresh (clocks are assumed NTP-close).
        metrics.aggregatorReports.inc({ outcome: usage.ingest(report, Math.min(now(), report.generatedAtMs)) });
      },
    },
    logger,
    'aggregator',
  );

  /** The limit in force for a team: a budget exception's on this aggregator, else the rules'. */
  function limitOf(rules: CompiledRules, team: string, at: number): number | undefined {
    const budget = rules.teams.find((t) => t.name === team)?.budgets.metrics;
    if (budget === undefined) return undefined;
    return store?.activeLimitOverride?.(team, at) ?? budget.maxActiveSeries;
  }

  function buildRound(at: number): KeyedMessage[] {
    usage.expire(at);
    metrics.aggregatorSidecars.set(usage.sidecarCount());
    for (const [team, c] of usage.drainCounters()) {
      store?.recordUsage(team, 'metrics', { itemsIn: c.itemsIn, passed: c.itemsKept, dropped: c.itemsDropped });
    }
    const rules = options.rules();
    const messages: KeyedMessage[] = [];
    for (const team of rules.teams) {
      if (team.budgets.metrics === undefined) continue;
      const figures = usage.teamUsage(team.name);
      if (figures === undefined) continue;
      store?.recordTeamSeries(team.name, figures.activeSeries);
      for (const metric of figures.metrics.slice(0, METRICS_RECORDED_PER_TEAM)) store?.recordMetricSeries(team.name, metric.name, metric.activeSeries);
      metrics.teamActiveSeries.set({ team: team.name }, figures.activeSeries);
      const limit = limitOf(rules, team.name, at);
      if (limit === undefined) continue;
      metrics.teamSeriesLimit.set({ team: team.name }, limit);
      messages.push(keyedMessage(team.name, encodeTeamState(teamStateOf(figures, limit, options.instance, at))));
    }
    return messages;
  }

  function publishNow(): Promise<void> {
    if (publisher.inFlight !== undefined) return publisher.inFlight;
    const at = now();
    const messages = buildRound(at);
    if (!link.connected || at < publishFrom || messages.length === 0) return Promise.resolve();
    return publisher.publish(messages);
  }

  const timer = setInterval(() => void publishNow(), settings.publish_interval);
  timer.unref();

  return {
    usage,
    publishNow,
    async stop() {
      clearInterval(timer);
      await publisher.inFlight;
      await link.stop();
    },
  };
}
