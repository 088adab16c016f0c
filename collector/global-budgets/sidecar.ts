/**
 * Global budgets in a sidecar (`tollgate serve` with `global_budgets`): every report interval,
 * one usage report per team with a metrics budget goes to the usage topic; the budget-state
 * topic is read from its beginning (it is compacted: the latest state of every team) into the
 * enforcement that the budget processor asks before admitting a new series.
 */
import { hostname } from 'node:os';
import type { CompiledRules } from '../../rules/compiled.js';
import type { GlobalBudgetHook } from '../budgets.js';
import type { GlobalBudgetsConfig } from '../config/config.js';
import type { BudgetState } from '../processors/cardinality/budget-state.js';
import type { Logger } from '../telemetry/logger.js';
import type { SelfMetrics } from '../telemetry/metrics.js';
import { GlobalEnforcement } from './enforcement.js';
import { createGlobalKafka, createRoundPublisher, keyedMessage, startKafkaLink } from './kafka-link.js';
import type { KeyedMessage } from './kafka-link.js';
import { teamReportMessages } from './reporter.js';
import type { TeamCounts } from './reporter.js';
import { decodeTeamState } from './team-state.js';

export interface GlobalSidecarOptions {
  readonly config: GlobalBudgetsConfig;
  readonly metrics: SelfMetrics;
  readonly logger: Logger;
  readonly now?: () => number;
}

export interface GlobalSidecar {
  /** Goes into the budget settings before the budgets start. */
  readonly hook: GlobalBudgetHook;
  readonly enforcement: GlobalEnforcement;
  readonly instance: string;
  /** Connects and starts the report rounds, reading the budgets' state. */
  start(source: { readonly state: BudgetState; readonly rules: () => CompiledRules }): void;
  /** One report round now (also runs on its interval); resolves once the broker took it or refused it. */
  reportNow(): Promise<void>;
  stop(): Promise<void>;
}

/** The configured instance id, else the host name: stable across restarts of the same pod. */
export function instanceIdOf(config: GlobalBudgetsConfig): string {
  return config.instance_id ?? hostname();
}

export function createGlobalSidecar(options: GlobalSidecarOptions): GlobalSidecar {
  const { config, metrics } = options;
  const logger = options.logger.child({ component: 'global_budgets' });
  const now = options.now ?? Date.now;
  const instance = instanceIdOf(config);
  const startedAtMs = now();
  const enforcement = new GlobalEnforcement({ instance, startedAtMs, maxStateAgeMs: config.max_state_age });
  let counts = new Map<string, { itemsIn: number; itemsKept: number; itemsDropped: number }>();
  let seq = 0;
  let source: { readonly state: BudgetState; readonly rules: () => CompiledRules } | undefined;
  let link: ReturnType<typeof startKafkaLink> | undefined;
  let timer: NodeJS.Timeout | undefined;

  const kafka = createGlobalKafka(config, logger);
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  const publisher = createRoundPublisher(producer, config.usage_topic, metrics.usageReports, logger, 'usage reports');
  // A group of its own per process life: every sidecar must read every team's state, from the beginning.
  const consumer = kafka.consumer({ groupId: `${config.client_id}.state.${instance}.${startedAtMs}`, sessionTimeout: 10_000, heartbeatInterval: 1000 });

  const hook: GlobalBudgetHook = {
    admits(team, nowMs) {
      const verdict = enforcement.verdict(team, nowMs);
      return verdict === 'local' ? undefined : verdict === 'admit';
    },
    onAdmitted: (team) => enforcement.noteAdmitted(team),
    onPoints(team, outcome, points) {
      let c = counts.get(team);
      if (c === undefined) counts.set(team, (c = { itemsIn: 0, itemsKept: 0, itemsDropped: 0 }));
      c.itemsIn += points;
      if (outcome === 'dropped') c.itemsDropped += points;
      else c.itemsKept += points;
    },
  };

  /** Builds this round's messages (synchronously, so admissions after it count against the next round). */
  function buildRound(state: BudgetState, rules: CompiledRules, at: number): KeyedMessage[] {
    const round = { instance, startedAtMs, seq: seq++, nowMs: at, intervalMs: config.report_interval, maxMessageBytes: config.max_message_size };
    const drained: ReadonlyMap<string, TeamCounts> = counts;
    counts = new Map();
    const messages: KeyedMessage[] = [];
    for (const team of rules.teams) {
      if (team.budgets.metrics === undefined) continue;
      enforcement.noteRound(team.name, round.seq);
      for (const bytes of teamReportMessages(state.team(team.name), drained.get(team.name), round)) messages.push(keyedMessage(team.name, bytes));
      const fresh = enforcement.freshState(team.name, at);
      metrics.globalBudgetFallback.set({ team: team.name }, fresh === undefined ? 1 : 0);
      const age = enforcement.stateAgeMs(team.name, at);
      if (age !== undefined) metrics.globalStateAge.set({ team: team.name }, age / 1000);
    }
    return messages;
  }

  function reportNow(): Promise<void> {
    if (source === undefined) return Promise.resolve();
    if (publisher.inFlight !== undefined) return publisher.inFlight;
    const messages = buildRound(source.state, source.rules(), now());
    if (!link?.connected || messages.length === 0) {
      // Counted as failed so the outage shows; the counters of the round are lost with it (usage only, not enforcement).
      if (messages.length > 0) metrics.usageReports.inc({ outcome: 'failed' }, messages.length);
      return Promise.resolve();
    }
    return publisher.publish(messages);
  }

  return {
    hook,
    enforcement,
    instance,
    start(from) {
      source = from;
      link = startKafkaLink(
        kafka,
        config,
        { producer, consumer },
        {
          topic: config.state_topic,
          // Compacted: from the beginning is every team's latest state.
          fromBeginning: true,
          noun: 'budget-state message',
          outcomes: metrics.globalStateMessages,
          apply(value) {
            enforcement.onState(decodeTeamState(value), now());
            metrics.globalStateMessages.inc({ outcome: 'applied' });
          },
        },
        logger,
        'global budgets',
      );
      timer = setInterval(() => void reportNow(), config.report_interval);
      timer.unref();
    },
    reportNow,
    async stop() {
      if (timer !== undefined) clearInterval(timer);
      await publisher.inFlight;
      await link?.stop();
    },
  };
}
