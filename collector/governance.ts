/**
 * The governance side of a running Tollgate: the rules in force (hot reloaded from their file),
 * the processors that enforce them, and what they report into the self-metrics and the logs.
 * `serve` builds one; the pipeline only ever sees the processors.
 */
import type { AttributeAction, CompiledRules, PolicyMode } from '../rules/compiled.js';
import { defaultRules, loadRules } from '../rules/load.js';
import { createRulesWatcher } from '../rules/watcher.js';
import type { ReloadReport } from '../rules/watcher.js';
import { startBudgets } from './budgets.js';
import type { Budgets, BudgetSettings, BudgetStore } from './budgets.js';
import type { Signal } from './otlp/signal.js';
import type { Processor } from './pipeline/processor.js';
import { createAttributePolicyProcessor } from './processors/attribute-policy/processor.js';
import type { AttributeActionObserver } from './processors/attribute-policy/processor.js';
import { createReaggregationProcessor } from './processors/attribute-policy/reaggregate.js';
import { createSamplingProcessor } from './processors/sampling/sampler.js';
import type { SamplerOptions } from './processors/sampling/sampler.js';
import { createTailSampler } from './processors/sampling/tail-sampler.js';
import type { TailSettings } from './processors/sampling/tail-sampler.js';
import { createDeferredStage } from './pipeline/deferred-stage.js';
import type { DeferredStage } from './pipeline/deferred-stage.js';
import type { Logger } from './telemetry/logger.js';
import type { SelfMetrics } from './telemetry/metrics.js';

export interface GovernanceOptions {
  /** The rules file; undefined runs the embedded default rules. */
  readonly rulesPath: string | undefined;
  readonly hashKey: string;
  /** The built-in key is public: `hash` with it is guessable, so rules that hash get a warning. */
  readonly hashKeyIsDefault: boolean;
  readonly hashLength: number;
  readonly metrics: SelfMetrics;
  readonly logger: Logger;
  /** How often the rules file's content is checked for a change (default 1 s). */
  readonly pollMs?: number;
  readonly budgets: BudgetSettings;
  /** Add `SampleRate` ("1 in N") to kept spans and log records that stand for more than one. */
  readonly sampleRateAttribute?: boolean;
  /** Tail sampling of spans (a gateway); undefined samples at the head. */
  readonly tail?: TailStageSettings;
  /** Where usage, violations and the series state go; without it budgets still enforce, in memory only. */
  readonly store?: BudgetStore;
  readonly now?: () => number;
}

/** One line of the action tally: how often a policy acted (or would have, in audit mode). */
export interface ActionCount {
  readonly signal: Signal;
  readonly policy: string;
  readonly action: AttributeAction;
  readonly mode: PolicyMode;
  readonly count: number;
}

export interface Governance {
  /** In pipeline order: sampling of spans and log records, attribute policies, cardinality budgets (on what the policies left), then re-aggregation of series made equal. */
  readonly processors: readonly Processor[];
  /** Tail mode: the stage that holds spans until their trace is decided. */
  readonly deferred: DeferredStage | undefined;
  readonly budgets: Budgets;
  rules(): CompiledRules;
  /** Re-reads the rules file now (SIGHUP, the admin API); never throws. */
  reload(): ReloadReport;
  /** Action counts since the last drain, for the usage store to persist. */
  drainActionCounts(): ActionCount[];
  close(): void;
}

/**
 * Counts actions per (signal, policy, action, mode) in memory between drains. The key set is
 * bounded by the rules file (policies × actions × signals × modes), so it cannot grow with traffic.
 */
function createActionTally(metrics: SelfMetrics): AttributeActionObserver & { drain(): ActionCount[] } {
  let tally = new Map<string, ActionCount>();
  return {
    onActions(signal, policy, action, mode, count) {
      metrics.attributeActions.inc({ policy, action, signal, mode }, count);
      const key = `${signal}\u0000${policy}\u0000${action}\u0000${mode}`;
      const seen = tally.get(key);
      tally.set(key, { signal, policy, action, mode, count: (seen?.count ?? 0) + count });
    },
    drain() {
      const counts = [...tally.values()];
      tally = new Map();
      return counts;
    },
  };
}

export interface TailStageSettings extends TailSettings {
  /** Decided spans waiting for the exporters before new trace requests are refused. */
  readonly maxBacklogBytes: number;
}

/** How often the tail buffer is checked for traces whose decision wait has passed. */
const TAIL_TICK_MS = 100;

/** The tail sampler as a pipeline stage, reporting into the self-metrics. */
function createTailStage(settings: TailStageSettings, samplerOptions: SamplerOptions, metrics: SelfMetrics, logger: Logger): DeferredStage {
  const tail = createTailSampler({
    ...samplerOptions,
    settings,
    tailObserver: {
      onIngest(result) {
        for (const path of ['buffered', 'late', 'fallback', 'untraced'] as const) if (result[path] > 0) metrics.tailSpans.inc({ path }, result[path]);
      },
      onDecided: (traces, reason) => metrics.tailTracesDecided.inc({ reason }, traces),
    },
  });
  return createDeferredStage({
    signal: 'traces',
    decider: tail,
    clock: () => performance.now(),
    tickMs: Math.min(TAIL_TICK_MS, settings.decisionWaitMs),
    maxBacklogBytes: settings.maxBacklogBytes,
    onTick() {
      metrics.tailBufferedSpans.set(tail.bufferedSpans());
      metrics.tailBufferedTraces.set(tail.bufferedTraces());
      metrics.tailBufferedBytes.set(tail.bufferedBytes());
    },
    onDropped: (request, reason) => logger.error('sampled spans refused by an exporter for good; dropped', { spans: request.items, reason }),
  });
}

/** Loads the rules (a bad file at start throws ConfigError: Tollgate must not start on a policy it cannot read). */
export function startGovernance(options: GovernanceOptions): Governance {
  const { metrics, logger, rulesPath } = options;
  const initial = rulesPath === undefined ? defaultRules() : loadRules(rulesPath);
  const announce = (rules: CompiledRules, previous?: CompiledRules): void => {
    if (previous) metrics.rulesInfo.remove({ hash: previous.hash });
    metrics.rulesInfo.set({ hash: rules.hash }, 1);
    const hashing = rules.attributePolicies.filter((p) => p.action === 'hash').map((p) => p.name);
    if (options.hashKeyIsDefault && hashing.length > 0) {
      logger.warn('policies hash values with the built-in hash key: anyone can recompute them; set processors.attribute_policy.hash_key to a secret', { policies: hashing });
    }
  };
  announce(initial);
  logger.info('rules loaded', { source: rulesPath ?? 'embedded default', hash: initial.hash, mode: initial.mode, teams: initial.teams.length, attributePolicies: initial.attributePolicies.length });

  let previous = initial;
  const watcher = createRulesWatcher({
    path: rulesPath,
    load: loadRules,
    initial,
    pollMs: options.pollMs,
    onReload(report, rules) {
      metrics.rulesReloads.inc({ outcome: report.outcome });
      if (report.outcome === 'failure') {
        logger.error('rules reload failed; the previous rules stay in force', { source: rulesPath, hash: report.hash, error: report.error });
        return;
      }
      if (report.outcome === 'success') {
        announce(rules, previous);
        logger.info('rules reloaded', { source: rulesPath, hash: rules.hash, previousHash: previous.hash });
        previous = rules;
      }
    },
  });

  const tally = createActionTally(metrics);
  const attributePolicy = createAttributePolicyProcessor({
    rules: () => watcher.current(),
    hashKey: options.hashKey,
    hashLength: options.hashLength,
    observer: tally,
  });
  const budgets = startBudgets({ rules: () => watcher.current(), settings: options.budgets, metrics, logger, store: options.store, now: options.now });
  const samplerOptions = {
    rules: () => watcher.current(),
    clock: () => performance.now(),
    sampleRateAttribute: options.sampleRateAttribute,
    observer: {
      onItems(team, signal, outcome, items, adjusted, bytes) {
        metrics.samplingItems.inc({ team, signal, outcome }, items);
        if (adjusted > 0) metrics.samplingAdjustedCount.inc({ team, signal }, adjusted);
        const dropped = outcome === 'dropped' || outcome === 'dropped_by_rule';
        options.store?.recordUsage(team, signal, {
          itemsIn: items,
          passed: dropped ? 0 : items,
          dropped: dropped ? items : 0,
          bytes,
          bytesKept: dropped ? 0 : bytes,
          adjustedCount: adjusted,
        });
      },
      onProbability(team, signal, probability) {
        metrics.samplingProbability.set({ team, signal }, probability);
        options.store?.recordSamplingProbability(team, signal, probability);
      },
    },
  } satisfies SamplerOptions;
  // In tail mode spans wait in the tail sampler (a deferred stage after the processors); log records are still decided here.
  const sampling = createSamplingProcessor({ ...samplerOptions, signals: options.tail ? ['logs'] : ['traces', 'logs'] });
  const deferred = options.tail ? createTailStage(options.tail, samplerOptions, metrics, logger) : undefined;
  const reaggregation = createReaggregationProcessor({
    shouldRun: () => attributePolicy.pointAttributesChanged || budgets.processor.pointAttributesChanged,
    observer: { onReaggregation: (outcome, points) => metrics.reaggregatedPoints.inc({ outcome }, points) },
  });
  // Attribute policy counts go to the store with the budget sweep, so they land in the same flushes.
  const flushActionCounts = setInterval(() => options.store?.recordActionCounts(tally.drain()), options.budgets.sweepIntervalMs);
  flushActionCounts.unref();

  return {
    // Spans and log records are sampled before the attribute policies: the policies then work on
    // what is forwarded only (most spans are dropped), and keep rules see the values as sent.
    // Metrics: attribute policies, then budgets on what the policies left, then re-aggregation.
    processors: [sampling, attributePolicy, budgets.processor, reaggregation],
    deferred,
    budgets,
    rules: () => watcher.current(),
    reload: () => watcher.reload(),
    drainActionCounts: () => tally.drain(),
    close: () => {
      watcher.close();
      clearInterval(flushActionCounts);
      options.store?.recordActionCounts(tally.drain());
      budgets.close();
    },
  };
}
