import type { CompiledAttributeCondition, CompiledRules, CompiledSamplingRule, CompiledTier } from '../../../rules/compiled.js';
import { appendAttribute, dropItem, encodeStringValue, setTraceState } from '../../otlp/edits.js';
import type { EditList } from '../../otlp/rewriter.js';
import { VALUE } from '../../otlp/wire-index.js';
import type { WireIndex } from '../../otlp/wire-index.js';
import { readDouble, readVarint } from '../../otlp/wire.js';
import type { Processor } from '../../pipeline/processor.js';
import { teamsOfResourceGroups } from '../team-attribution.js';
import { AdaptiveRate, visibilityKey } from './adaptive-rate.js';
import type { VisibilityKey } from './adaptive-rate.js';
import { ConsistentSampler, createDecision } from './decision.js';
import type { SamplingDecision } from './decision.js';
import { readLogRandomness } from './randomness.js';
import { MutableValue56 } from './threshold.js';
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
 * a kept log record in a `sampling.threshold` attribute, so downstream counts stay honest.
 *
 * A team throttled far below its traffic never goes dark: the first trace of each (service, span
 * name) in an adaptation interval is kept even when the rate would drop it (the visibility floor).
 *
 * In `mode: audit` (global) nothing is edited: decisions are made and counted as they would be.
 */

export type SamplingSignal = 'traces' | 'logs';
/** How an item was decided. */
export type SamplingOutcome = 'kept' | 'dropped' | 'kept_by_rule' | 'dropped_by_rule' | 'kept_by_floor';

export interface SamplingObserver {
  /** Items per team, signal and outcome in one request; `adjustedCount` sums what the kept ones stand for. */
  onItems(team: string, signal: SamplingSignal, outcome: SamplingOutcome, items: number, adjustedCount: number): void;
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
}

const SAMPLING_THRESHOLD_KEY = new TextEncoder().encode('sampling.threshold');
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

// ─── Conditions ──────────────────────────────────────────────────────────────────────────────

const cursor = { pos: 0 };

/** The attribute row of `key` on `node` (compared as bytes: no string per attribute), or -1. */
function findAttribute(ix: WireIndex, node: number, key: Uint8Array): number {
  const buf = ix.buf;
  for (let a = ix.nodeFirstAttr[node]; a >= 0; a = ix.attrNext[a]) {
    const start = ix.attrKeyStart[a];
    if (ix.attrKeyEnd[a] - start !== key.length) continue;
    let equal = true;
    for (let k = 0; k < key.length && equal; k++) equal = buf[start + k] === key[k];
    if (equal) return a;
  }
  return -1;
}

/** The attribute's value as a number when it is an int or a double (int64 two's complement read exactly enough to compare). */
function numericValue(ix: WireIndex, a: number): number | undefined {
  const type = ix.attrValueType[a];
  if (type === VALUE.DOUBLE) return readDouble(ix.buf, ix.attrValueStart[a]);
  if (type !== VALUE.INT) return undefined;
  cursor.pos = ix.attrValueStart[a];
  const raw = readVarint(ix.buf, cursor, ix.attrValueEnd[a]);
  return raw >= 2 ** 63 ? raw - 2 ** 64 : raw;
}

function conditionHolds(ix: WireIndex, node: number, condition: CompiledAttributeCondition, key: Uint8Array): boolean {
  const a = findAttribute(ix, node, key);
  if (condition.op === 'exists') return (a >= 0) === (condition.exists ?? true);
  if (a < 0) return condition.op === 'not_equals';
  const type = ix.attrValueType[a];
  switch (condition.op) {
    case 'matches':
      return type === VALUE.STRING && condition.matcher !== undefined && condition.matcher.test(ix.text(ix.attrValueStart[a], ix.attrValueEnd[a]));
    case 'equals':
    case 'not_equals': {
      const equal = valueEquals(ix, a, condition.value);
      return condition.op === 'equals' ? equal : !equal;
    }
    default: {
      const value = numericValue(ix, a);
      const bound = condition.value as number;
      if (value === undefined) return false;
      if (condition.op === 'gt') return value > bound;
      if (condition.op === 'gte') return value >= bound;
      if (condition.op === 'lt') return value < bound;
      return value <= bound;
    }
  }
}

function valueEquals(ix: WireIndex, a: number, expected: string | number | boolean | undefined): boolean {
  const type = ix.attrValueType[a];
  if (typeof expected === 'string') return type === VALUE.STRING && ix.text(ix.attrValueStart[a], ix.attrValueEnd[a]) === expected;
  if (typeof expected === 'number') return numericValue(ix, a) === expected;
  if (typeof expected === 'boolean') return type === VALUE.BOOL && (ix.buf[ix.attrValueStart[a]] !== 0) === expected;
  return false;
}

/** A rule with its attribute keys as bytes, built once per rules object. */
interface PlannedRule {
  readonly rule: CompiledSamplingRule;
  readonly keys: readonly Uint8Array[];
}

const plans = new WeakMap<CompiledRules, readonly PlannedRule[]>();

function planOf(rules: CompiledRules): readonly PlannedRule[] {
  let plan = plans.get(rules);
  if (!plan) {
    const encoder = new TextEncoder();
    plan = rules.sampling.map((rule) => ({ rule, keys: rule.attributes.map((c) => encoder.encode(c.key)) }));
    plans.set(rules, plan);
  }
  return plan;
}

/** The first rule that applies to item `i` of this signal and team. The rules end with a catch-all, so there always is one. */
function firstMatchingRule(ix: WireIndex, plan: readonly PlannedRule[], signal: SamplingSignal, team: number, i: number): CompiledSamplingRule {
  const node = ix.itemNode[i];
  for (const { rule, keys } of plan) {
    if (!rule.signals.has(signal)) continue;
    if (rule.teams !== undefined && !rule.teams.has(team)) continue;
    if (rule.statusError && ix.itemStatus[i] !== 2) continue;
    if (rule.minDurationNs !== undefined && ix.itemEndTime[i] - ix.itemTime[i] < rule.minDurationNs) continue;
    if (rule.spanName !== undefined && !rule.spanName.test(ix.text(ix.itemNameStart[i], ix.itemNameEnd[i]))) continue;
    if (rule.minSeverityNumber !== undefined && ix.itemKind[i] < rule.minSeverityNumber) continue;
    let all = true;
    for (let c = 0; c < rule.attributes.length && all; c++) all = conditionHolds(ix, node, rule.attributes[c], keys[c]);
    if (all) return rule;
  }
  return plan[plan.length - 1].rule;
}

// ─── The processor ───────────────────────────────────────────────────────────────────────────

type Tally = Map<string, { items: number; adjusted: number }>;

export function createSamplingProcessor(options: SamplerOptions): Processor {
  const sampler = new ConsistentSampler();
  const decision: SamplingDecision = createDecision();
  const randomness = new MutableValue56();
  const floorKey: VisibilityKey = { hashA: 0, hashB: 0 };
  /** Per team and signal; teams are few (the rules file's). */
  const rates = new Map<string, AdaptiveRate>();
  let teamsOfGroups: Int32Array = new Int32Array(64);

  function rateOf(team: string, signal: SamplingSignal): AdaptiveRate {
    const key = `${signal}\u0000${team}`;
    let rate = rates.get(key);
    if (!rate) {
      rate = new AdaptiveRate({ clock: options.clock });
      rates.set(key, rate);
    }
    return rate;
  }

  /** The trace_state string of span `i` ('' when absent). */
  function traceStateOf(ix: WireIndex, i: number): string {
    const start = ix.itemTraceStateStart[i];
    if (start < 0) return '';
    cursor.pos = start + 1; // the one-byte tag of field 3
    const length = readVarint(ix.buf, cursor, ix.itemTraceStateEnd[i]);
    return ix.text(cursor.pos, cursor.pos + length);
  }

  function process(ix: WireIndex, edits: EditList): undefined {
    const signal = ix.signal;
    if ((signal !== 'traces' && signal !== 'logs') || ix.itemCount === 0) return undefined;
    const rules = options.rules();
    const plan = planOf(rules);
    const enforce = rules.mode === 'enforce';
    teamsOfGroups = teamsOfResourceGroups(ix, rules, teamsOfGroups);
    const tally: Tally = new Map();
    const probabilities = new Map<string, number>();
    /** Traces kept by the floor in this request: their other spans here are kept too. */
    const floorTraces = new Set<string>();

    const count = (team: string, outcome: SamplingOutcome, adjusted: number): void => {
      const key = `${team}\u0000${outcome}`;
      const entry = tally.get(key);
      if (entry) {
        entry.items++;
        entry.adjusted += adjusted;
      } else tally.set(key, { items: 1, adjusted });
    };

    for (let i = 0; i < ix.itemCount; i++) {
      const t = teamsOfGroups[ix.itemResourceGroup[i]];
      const team = rules.teams[t >= 0 ? t : rules.defaultTeam];
      const rate = rateOf(team.name, signal);
      rate.record(1);
      const rule = firstMatchingRule(ix, plan, signal, team.index, i);
      if (rule.action === 'drop') {
        count(team.name, 'dropped_by_rule', 0);
        if (enforce) dropItem(ix, edits, i);
        continue;
      }
      const traceState = signal === 'traces' ? traceStateOf(ix, i) : '';
      if (rule.action === 'keep') {
        sampler.forceKeep(traceState, decision);
        count(team.name, 'kept_by_rule', decision.adjustedCount);
        if (enforce) record(ix, edits, signal, i, decision);
        continue;
      }
      const tier = rules.tiers.get(team.tier);
      const budgets = team.budgets;
      const tierP = tier === undefined ? 1 : signal === 'traces' || (tier.logsFollowTraces && ix.itemTraceId[i] >= 0) ? tier.traceProbability : logProbability(tier, ix.itemKind[i]);
      const budget = signal === 'traces' ? budgets.maxSpansPerSecond : budgets.maxLogRecordsPerSecond;
      const ours = rate.effectiveThreshold(tierP, budget);
      probabilities.set(team.name, ours.probability);
      decide(ix, i, traceState, ours);
      if (!decision.keep && signal === 'traces') keepForVisibility(ix, i, rate, traceState, floorTraces);
      const outcome: SamplingOutcome = decision.keep ? (floorTraces.size > 0 && isFloorTrace(ix, i, floorTraces) ? 'kept_by_floor' : 'kept') : 'dropped';
      count(team.name, outcome, decision.keep ? decision.adjustedCount : 0);
      if (!enforce) continue;
      if (decision.keep) record(ix, edits, signal, i, decision);
      else dropItem(ix, edits, i);
    }
    report(tally, probabilities, signal);
    return undefined;
  }

  /** The consistent decision for item `i` at threshold `ours`, into `decision`. */
  function decide(ix: WireIndex, i: number, traceState: string, ours: Threshold): void {
    const traceId = ix.itemTraceId[i];
    if (traceId >= 0) {
      sampler.decide(traceState, ix.buf, traceId, ours, decision);
      return;
    }
    // A log record without a trace: its own randomness, from its time and body.
    const time = ix.itemTime[i];
    const bodyStart = ix.itemBodyFieldStart[i];
    readLogRandomness(time >>> 0, Math.floor(time / 4294967296), ix.buf, bodyStart >= 0 ? bodyStart : 0, bodyStart >= 0 ? ix.itemBodyFieldEnd[i] : 0, randomness);
    sampler.decideWithRandomness(undefined, randomness.hi, randomness.lo, ours, decision);
  }

  /**
   * The visibility floor: the first trace of a (service, span name) in the interval is kept even
   * when the rate dropped it, as a keep-all (`th:0`) item — it stands for itself only.
   */
  function keepForVisibility(ix: WireIndex, i: number, rate: AdaptiveRate, traceState: string, floorTraces: Set<string>): void {
    const traceId = ix.itemTraceId[i];
    const traceKey = traceId >= 0 ? traceIdKey(ix, traceId) : '';
    if (traceKey !== '' && floorTraces.has(traceKey)) {
      sampler.forceKeep(traceState, decision);
      return;
    }
    const resource = ix.groupInner[ix.itemResourceGroup[i]];
    const service = resource >= 0 ? findAttribute(ix, resource, SERVICE_NAME) : -1;
    const [serviceStart, serviceEnd] = service >= 0 ? [ix.attrValueStart[service], ix.attrValueEnd[service]] : [0, 0];
    visibilityKey(ix.buf, serviceStart, serviceEnd, ix.buf, ix.itemNameStart[i], ix.itemNameEnd[i], floorKey);
    if (!rate.floor.admit(floorKey.hashA, floorKey.hashB)) return;
    sampler.forceKeep(traceState, decision);
    if (traceKey !== '') floorTraces.add(traceKey);
  }

  function isFloorTrace(ix: WireIndex, i: number, floorTraces: Set<string>): boolean {
    const traceId = ix.itemTraceId[i];
    return traceId >= 0 && floorTraces.has(traceIdKey(ix, traceId));
  }

  /** Writes what a kept item must carry: the tracestate threshold (spans) or `sampling.threshold` (logs), and `SampleRate` if asked. */
  function record(ix: WireIndex, edits: EditList, signal: SamplingSignal, i: number, kept: SamplingDecision): void {
    const node = ix.itemNode[i];
    if (signal === 'traces') {
      if (kept.written !== undefined) setTraceState(ix, edits, i, kept.traceState);
    } else if (kept.threshold !== undefined && kept.threshold.th !== '0') {
      appendAttribute(ix, edits, node, SAMPLING_THRESHOLD_KEY, encodeStringValue(kept.threshold.th));
    }
    if (options.sampleRateAttribute && kept.adjustedCount > 1) appendAttribute(ix, edits, node, SAMPLE_RATE_KEY, encodeIntValue(Math.round(kept.adjustedCount)));
  }

  function report(tally: Tally, probabilities: Map<string, number>, signal: SamplingSignal): void {
    const observer = options.observer;
    if (!observer) return;
    for (const [key, { items, adjusted }] of tally) {
      const [team, outcome] = key.split('\u0000') as [string, SamplingOutcome];
      observer.onItems(team, signal, outcome, items, adjusted);
    }
    for (const [team, probability] of probabilities) observer.onProbability(team, signal, probability);
  }

  return { name: 'sampling', signals: ['traces', 'logs'], process };
}

function traceIdKey(ix: WireIndex, offset: number): string {
  return Buffer.from(ix.buf.buffer, ix.buf.byteOffset + offset, 16).toString('latin1');
}
