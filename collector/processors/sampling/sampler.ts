import type { CompiledRules, CompiledTeam, CompiledTier } from '../../../rules/compiled.js';
import { appendAttribute, dropItem, encodeStringValue, replaceAttributeValue, setTraceState } from '../../otlp/edits.js';
import type { EditList } from '../../otlp/rewriter.js';
import { VALUE } from '../../otlp/wire-index.js';
import type { WireIndex } from '../../otlp/wire-index.js';
import { readVarint } from '../../otlp/wire.js';
import type { Processor } from '../../pipeline/processor.js';
import { teamsOfResourceGroups } from '../team-attribution.js';
import { AdaptiveRate, visibilityKey } from './adaptive-rate.js';
import type { VisibilityKey } from './adaptive-rate.js';
import { ConsistentSampler, createDecision } from './decision.js';
import type { SamplingDecision } from './decision.js';
import { isValidTraceId, readLogRandomness } from './randomness.js';
import { findAttribute, firstMatchingRule, samplingPlan } from './rule-match.js';
import type { SamplingSignal } from './rule-match.js';
import { MutableValue56, thresholdFromProbability } from './threshold.js';
import { KEEP_WHOLE_TRACE, traceKey } from './trace-verdicts.js';
import type { TraceVerdicts } from './trace-verdicts.js';
import type { Threshold } from './threshold.js';

/**
 * Head sampling of spans and log records, per team, on the wire.
 *
 * For each item the first matching sampling rule (rules file, `sampling.rules`) decides: `keep`
 * keeps it whatever the rate (its tracestate keeps the incoming `th`, or gets `th:0`), `drop`
 * drops it, `sample` applies the team's effective probability — its tier's probability, lowered
 * when the team sends more than its `max_spans_per_second` / `max_log_records_per_second` — as a
 * consistent probability decision: the randomness comes from the trace id (or `rv`), so every
 * sidecar keeps the same traces. A kept span records its threshold in `tracestate` (`ot=th:…`),
 * a kept log record in a `sampling.threshold` attribute, so downstream counts stay honest. A log
 * record that arrives with `sampling.threshold` / `sampling.randomness` (an earlier stage) is
 * treated like a span with that `th` / `rv`: its threshold is only ever raised, in place.
 *
 * The budget's rate counts the items left to `sample` (what the probability applies to): spans a
 * rule drops or keeps do not lower the probability of the rest. The clock is read once per
 * request, so one request is decided at one probability.
 *
 * A team the budget throttles below its tier never goes dark: the first trace of each (service,
 * span name) in an adaptation interval is kept even when the rate would drop it (the visibility
 * floor), with all its spans in the request, before or after the one that earned it. A team
 * within its budget gets exactly its tier's probability.
 *
 * In `mode: audit` (global) nothing is edited: decisions are made and counted as they would be.
 */

export type { SamplingSignal } from './rule-match.js';
/** How an item was decided. */
export type SamplingOutcome = 'kept' | 'dropped' | 'kept_by_rule' | 'dropped_by_rule' | 'kept_by_floor';

export interface SamplingObserver {
  /**
   * Items per team, signal and outcome in one request; `adjustedCount` sums what the kept ones
   * stand for; `bytes` is their encoded size as received (span or log record message).
   */
  onItems(team: string, signal: SamplingSignal, outcome: SamplingOutcome, items: number, adjustedCount: number, bytes: number): void;
  /** The probability a team's `sample` rule applied in this request. */
  onProbability(team: string, signal: SamplingSignal, probability: number): void;
}

export interface SamplerOptions {
  readonly rules: () => CompiledRules;
  /** Milliseconds, monotonic: the adaptive rate's clock. */
  readonly clock: () => number;
  /** Add `SampleRate` (integer "1 in N") to kept items that stand for more than one. */
  readonly sampleRateAttribute?: boolean;
  readonly observer?: SamplingObserver;
  /** The signals this sampler decides (default both); in tail mode spans are decided by the tail sampler's own instance. */
  readonly signals?: readonly SamplingSignal[];
  /**
   * Tail mode: decisions per trace. A trace with a KEEP_WHOLE_TRACE verdict has all its spans
   * kept; one decided at a probability has its later spans decided at that probability; an
   * undecided trace is decided at the team's probability, which is then remembered here.
   */
  readonly verdicts?: TraceVerdicts;
}

const SAMPLING_THRESHOLD_KEY = new TextEncoder().encode('sampling.threshold');
const SAMPLING_RANDOMNESS_KEY = new TextEncoder().encode('sampling.randomness');
const SAMPLE_RATE_KEY = new TextEncoder().encode('SampleRate');
const SERVICE_NAME = new TextEncoder().encode('service.name');
/** Log severity numbers by tier key (OTel: 1–4 trace … 21–24 fatal; 0 is unspecified). */
const SEVERITY_NAMES = ['default', 'trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;

function severityName(severityNumber: number): string {
  return severityNumber >= 1 && severityNumber <= 24 ? SEVERITY_NAMES[Math.ceil(severityNumber / 4)] : 'default';
}

function logProbability(tier: CompiledTier, severityNumber: number): number {
  return tier.logProbability[severityName(severityNumber)] ?? tier.logProbability.default ?? 1;
}

/** AnyValue{int_value}: field 3, varint. */
function encodeIntValue(value: number): Uint8Array {
  const bytes = [0x18];
  let n = Math.max(0, Math.floor(value));
  while (n >= 0x80) {
    bytes.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  bytes.push(n);
  return Uint8Array.from(bytes);
}

// ─── The processor ───────────────────────────────────────────────────────────────────────────

/** Outcome codes of the per-request plan (indices into OUTCOMES). */
const DROPPED_BY_RULE = 0;
const KEPT_BY_RULE = 1;
const KEPT = 2;
const DROPPED = 3;
const KEPT_BY_FLOOR = 4;
const OUTCOMES: readonly SamplingOutcome[] = ['dropped_by_rule', 'kept_by_rule', 'kept', 'dropped', 'kept_by_floor'];

/** Thresholds made from probabilities, kept for reuse (log severities alternate between a few probabilities). */
const THRESHOLD_MEMO_LIMIT = 64;

const cursor = { pos: 0 };

export function createSamplingProcessor(options: SamplerOptions): Processor {
  const verdicts = options.verdicts;
  const signals = options.signals ?? (['traces', 'logs'] as const);
  const sampler = new ConsistentSampler();
  const decision: SamplingDecision = createDecision();
  const randomness = new MutableValue56();
  const floorKey: VisibilityKey = { hashA: 0, hashB: 0 };
  /** Per team and signal, by team name (team indices change with a rules reload); teams are few. */
  const rates = new Map<string, AdaptiveRate>();
  const thresholds = new Map<number, Threshold>();
  let teamsOfGroups: Int32Array = new Int32Array(64);
  /**
   * The clock as read once at the start of the request: every rate sees one instant per
   * request, so the probability (and so the threshold) cannot change between two spans of one
   * request, which would cut traces in half.
   */
  let requestNow = 0;
  const requestClock = (): number => requestNow;

  // The plan of the current request, item by item, reused across requests.
  let outcomes = new Uint8Array(1024);
  let adjusted = new Float64Array(1024);
  /** Spans: the tracestate to write; log records: the `th` to write; undefined: leave as is. */
  let writes: (string | undefined)[] = [];
  // Per-request tallies by team index.
  let rateOfTeam: (AdaptiveRate | undefined)[] = [];
  let itemCounts = new Float64Array(64);
  let adjustedSums = new Float64Array(64);
  let byteSums = new Float64Array(64);
  let probabilityOfTeam = new Float64Array(8);

  function rateOf(team: string, signal: SamplingSignal): AdaptiveRate {
    const key = `${signal}\u0000${team}`;
    let rate = rates.get(key);
    if (!rate) {
      rate = new AdaptiveRate({ clock: requestClock });
      rates.set(key, rate);
    }
    return rate;
  }

  function thresholdOf(p: number): Threshold {
    let threshold = thresholds.get(p);
    if (threshold === undefined) {
      if (thresholds.size >= THRESHOLD_MEMO_LIMIT) thresholds.clear();
      threshold = thresholdFromProbability(p);
      thresholds.set(p, threshold);
    }
    return threshold;
  }

  /** The trace_state string of span `i` ('' when absent). */
  function traceStateOf(ix: WireIndex, i: number): string {
    const start = ix.itemTraceStateStart[i];
    if (start < 0) return '';
    cursor.pos = start + 1; // the one-byte tag of field 3
    const length = readVarint(ix.buf, cursor, ix.itemTraceStateEnd[i]);
    return ix.text(cursor.pos, cursor.pos + length);
  }

  /**
   * What an earlier sampling stage left on a log record, as the `ot` tracestate entry it stands
   * for: `sampling.threshold` as `th`, `sampling.randomness` as `rv` ('' when neither is there).
   */
  function logSamplingStateOf(ix: WireIndex, i: number): string {
    const node = ix.itemNode[i];
    const th = findAttribute(ix, node, SAMPLING_THRESHOLD_KEY);
    const rv = findAttribute(ix, node, SAMPLING_RANDOMNESS_KEY);
    if (th < 0 && rv < 0) return '';
    const parts: string[] = [];
    if (th >= 0 && ix.attrValueType[th] === VALUE.STRING) parts.push(`th:${ix.text(ix.attrValueStart[th], ix.attrValueEnd[th])}`);
    if (rv >= 0 && ix.attrValueType[rv] === VALUE.STRING) parts.push(`rv:${ix.text(ix.attrValueStart[rv], ix.attrValueEnd[rv])}`);
    return parts.length > 0 ? `ot=${parts.join(';')}` : '';
  }

  /** Offset of item `i`'s trace id when it has a valid one (16 bytes, not all zero), else -1. */
  function traceIdOf(ix: WireIndex, i: number): number {
    const offset = ix.itemTraceId[i];
    return offset >= 0 && isValidTraceId(ix.buf, offset) ? offset : -1;
  }

  function grow(n: number): void {
    if (outcomes.length < n) {
      const size = Math.max(n, outcomes.length * 2);
      outcomes = new Uint8Array(size);
      adjusted = new Float64Array(size);
    }
  }

  /** Notes the current `decision` as item `i`'s plan. */
  function note(signal: SamplingSignal, i: number, outcome: number): void {
    outcomes[i] = outcome;
    adjusted[i] = decision.adjustedCount;
    if (signal === 'traces') writes[i] = decision.written !== undefined ? decision.traceState : undefined;
    else writes[i] = decision.written !== undefined && decision.written.th !== '0' ? decision.written.th : undefined;
  }

  function process(ix: WireIndex, edits: EditList): undefined {
    const signal = ix.signal;
    if ((signal !== 'traces' && signal !== 'logs') || !signals.includes(signal) || ix.itemCount === 0) return undefined;
    requestNow = options.clock();
    const rules = options.rules();
    const plan = samplingPlan(rules);
    const enforce = rules.mode === 'enforce';
    const teamCount = rules.teams.length;
    teamsOfGroups = teamsOfResourceGroups(ix, rules, teamsOfGroups);
    grow(ix.itemCount);
    if (writes.length < ix.itemCount) writes = new Array<string | undefined>(ix.itemCount);
    if (itemCounts.length < teamCount * OUTCOMES.length) {
      itemCounts = new Float64Array(teamCount * OUTCOMES.length * 2);
      adjustedSums = new Float64Array(teamCount * OUTCOMES.length * 2);
      byteSums = new Float64Array(teamCount * OUTCOMES.length * 2);
    }
    itemCounts.fill(0, 0, teamCount * OUTCOMES.length);
    adjustedSums.fill(0, 0, teamCount * OUTCOMES.length);
    byteSums.fill(0, 0, teamCount * OUTCOMES.length);
    if (probabilityOfTeam.length < teamCount) probabilityOfTeam = new Float64Array(teamCount * 2);
    probabilityOfTeam.fill(Number.NaN, 0, teamCount);
    if (rateOfTeam.length < teamCount) rateOfTeam = new Array<AdaptiveRate | undefined>(teamCount);
    rateOfTeam.fill(undefined, 0, teamCount);
    /** Traces kept by the floor in this request: all their spans here are kept. */
    let floorTraces: Set<string> | undefined;

    // Decide every item first; edit afterwards, so that the floor can keep spans of its trace
    // that came before the span that earned it.
    for (let i = 0; i < ix.itemCount; i++) {
      const team = teamOfItem(ix, rules, i);
      const rule = firstMatchingRule(ix, plan, signal, team.index, i);
      if (rule.action === 'drop') {
        outcomes[i] = DROPPED_BY_RULE;
        adjusted[i] = 0;
        writes[i] = undefined;
        continue;
      }
      const incoming = signal === 'traces' ? traceStateOf(ix, i) : logSamplingStateOf(ix, i);
      if (rule.action === 'keep') {
        sampler.forceKeep(incoming, decision);
        note(signal, i, KEPT_BY_RULE);
        continue;
      }
      const traceId = traceIdOf(ix, i);
      const verdict = verdicts !== undefined && traceId >= 0 ? verdicts.get(ix.buf, traceId) : undefined;
      if (verdict === KEEP_WHOLE_TRACE) {
        sampler.forceKeep(incoming, decision);
        note(signal, i, KEPT_BY_RULE);
        continue;
      }
      const rate = (rateOfTeam[team.index] ??= rateOf(team.name, signal));
      // Only what the rate decides is counted: spans a rule drops (health checks) or keeps
      // (errors) would otherwise push the probability of the rest below what the budget allows.
      rate.record(1);
      const tier = rules.tiers.get(team.tier);
      const budgets = team.budgets;
      const tierP = tier === undefined ? 1 : signal === 'traces' || (tier.logsFollowTraces && traceId >= 0) ? tier.traceProbability : logProbability(tier, ix.itemKind[i]);
      const budget = signal === 'traces' ? budgets.maxSpansPerSecond : budgets.maxLogRecordsPerSecond;
      const p = verdict ?? rate.effectiveProbability(tierP, budget);
      if (verdicts !== undefined && traceId >= 0 && verdict === undefined) verdicts.set(ix.buf, traceId, p);
      const ours = thresholdOf(p);
      probabilityOfTeam[team.index] = ours.probability;
      decide(ix, i, traceId, incoming, ours);
      // The visibility floor is for a team the budget throttles below its tier.
      const throttled = signal === 'traces' && p < tierP;
      if (decision.keep) {
        note(signal, i, KEPT);
        // The key has a kept trace in this interval: the floor need not add one.
        if (throttled) rate.floor.markKept(floorKeyOf(ix, i).hashA, floorKey.hashB);
      } else if (throttled && rate.floor.admit(floorKeyOf(ix, i).hashA, floorKey.hashB)) {
        // The first trace of this (service, span name) in the interval: kept as a keep-all item.
        sampler.forceKeep(incoming, decision);
        note(signal, i, KEPT_BY_FLOOR);
        if (traceId >= 0) (floorTraces ??= new Set()).add(traceKey(ix.buf, traceId));
        // Its spans still to come (tail mode: in later decisions) are kept too.
        if (traceId >= 0) verdicts?.set(ix.buf, traceId, KEEP_WHOLE_TRACE);
      } else {
        outcomes[i] = DROPPED;
        adjusted[i] = 0;
        writes[i] = undefined;
      }
    }

    // Spans of a floor trace that the rate dropped before the floor chose it.
    if (floorTraces !== undefined) {
      for (let i = 0; i < ix.itemCount; i++) {
        if (outcomes[i] !== DROPPED) continue;
        const traceId = traceIdOf(ix, i);
        if (traceId < 0 || !floorTraces.has(traceKey(ix.buf, traceId))) continue;
        sampler.forceKeep(traceStateOf(ix, i), decision);
        note(signal, i, KEPT_BY_FLOOR);
      }
    }

    for (let i = 0; i < ix.itemCount; i++) {
      const outcome = outcomes[i];
      const slot = teamOfItem(ix, rules, i).index * OUTCOMES.length + outcome;
      itemCounts[slot]++;
      adjustedSums[slot] += adjusted[i];
      const node = ix.itemNode[i];
      byteSums[slot] += ix.nodeEnd[node] - ix.nodeTagStart[node];
      if (!enforce) continue;
      if (outcome === DROPPED || outcome === DROPPED_BY_RULE) dropItem(ix, edits, i);
      else record(ix, edits, signal, i);
    }
    report(rules, signal);
    return undefined;
  }

  function teamOfItem(ix: WireIndex, rules: CompiledRules, i: number): CompiledTeam {
    const t = teamsOfGroups[ix.itemResourceGroup[i]];
    return rules.teams[t >= 0 ? t : rules.defaultTeam];
  }

  /** The consistent decision for item `i` at threshold `ours`, into `decision`. */
  function decide(ix: WireIndex, i: number, traceId: number, incoming: string, ours: Threshold): void {
    if (traceId >= 0) {
      sampler.decide(incoming, ix.buf, traceId, ours, decision);
      return;
    }
    // No (valid) trace id: the item's own randomness, from its time and body.
    const time = ix.itemTime[i];
    const bodyStart = ix.itemBodyFieldStart[i];
    readLogRandomness(time >>> 0, Math.floor(time / 4294967296), ix.buf, bodyStart >= 0 ? bodyStart : 0, bodyStart >= 0 ? ix.itemBodyFieldEnd[i] : 0, randomness);
    sampler.decideWithRandomness(incoming, randomness.hi, randomness.lo, ours, decision);
  }

  /** The visibility key (service, span name) of span `i`, into `floorKey`. */
  function floorKeyOf(ix: WireIndex, i: number): VisibilityKey {
    const resource = ix.groupInner[ix.itemResourceGroup[i]];
    const service = resource >= 0 ? findAttribute(ix, resource, SERVICE_NAME) : -1;
    const serviceStart = service >= 0 ? ix.attrValueStart[service] : 0;
    const serviceEnd = service >= 0 ? ix.attrValueEnd[service] : 0;
    return visibilityKey(ix.buf, serviceStart, serviceEnd, ix.buf, ix.itemNameStart[i], ix.itemNameEnd[i], floorKey);
  }

  /** Writes what a kept item must carry: the tracestate threshold (spans) or `sampling.threshold` (logs), and `SampleRate` if asked. */
  function record(ix: WireIndex, edits: EditList, signal: SamplingSignal, i: number): void {
    const node = ix.itemNode[i];
    const write = writes[i];
    if (write !== undefined) {
      if (signal === 'traces') setTraceState(ix, edits, i, write);
      else setAttribute(ix, edits, node, SAMPLING_THRESHOLD_KEY, encodeStringValue(write));
    }
    if (options.sampleRateAttribute && adjusted[i] > 1) setAttribute(ix, edits, node, SAMPLE_RATE_KEY, encodeIntValue(Math.round(adjusted[i])));
  }

  function report(rules: CompiledRules, signal: SamplingSignal): void {
    const observer = options.observer;
    if (!observer) return;
    const teamCount = rules.teams.length;
    for (let t = 0; t < teamCount; t++) {
      for (let o = 0; o < OUTCOMES.length; o++) {
        const items = itemCounts[t * OUTCOMES.length + o];
        const slot = t * OUTCOMES.length + o;
        if (items > 0) observer.onItems(rules.teams[t].name, signal, OUTCOMES[o], items, adjustedSums[slot], byteSums[slot]);
      }
    }
    for (let t = 0; t < teamCount; t++) if (!Number.isNaN(probabilityOfTeam[t])) observer.onProbability(rules.teams[t].name, signal, probabilityOfTeam[t]);
  }

  return { name: 'sampling', signals: [...signals], process };
}

/** Replaces the value of attribute `key` of `owner` when it has one (keys are unique), else adds it. */
function setAttribute(ix: WireIndex, edits: EditList, owner: number, key: Uint8Array, anyValue: Uint8Array): void {
  const a = findAttribute(ix, owner, key);
  if (a >= 0) replaceAttributeValue(ix, edits, a, anyValue);
  else appendAttribute(ix, edits, owner, key, anyValue);
}
