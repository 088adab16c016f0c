import type { CompiledAttributeCondition, CompiledRules, CompiledSamplingRule } from '../../../rules/compiled.js';
import { VALUE } from '../../otlp/wire-index.js';
import type { WireIndex } from '../../otlp/wire-index.js';
import { readDouble, readVarint } from '../../otlp/wire.js';
import { KeyDecisionCache } from '../attribute-policy/key-cache.js';

/**
 * Which sampling rule (rules file, `sampling.rules`) applies to an item on the wire: the head
 * sampler and the tail buffer ask the same question, so they share this.
 */

export type SamplingSignal = 'traces' | 'logs';


const cursor = { pos: 0 };

/** The attribute row of `key` on `node` (compared as bytes: no string per attribute), or -1. */
export function findAttribute(ix: WireIndex, node: number, key: Uint8Array): number {
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
  /**
   * The span-name verdict per distinct name, remembered by the name's bytes: span names repeat,
   * and decoding each one and running a glob over it was half of the sampler's cost.
   */
  readonly spanNames: KeyDecisionCache | undefined;
  /** Decides a name the cache has not seen (made once, so the hot path allocates no closure). */
  readonly decideName: (name: string) => number;
}

const NAME_MATCHES = 1;
const NAME_DIFFERS = 2;

export type SamplingPlan = readonly PlannedRule[];

const plans = new WeakMap<CompiledRules, SamplingPlan>();

/** The rules of `rules.sampling` made ready for the wire, once per rules object. */
export function samplingPlan(rules: CompiledRules): SamplingPlan {
  let plan = plans.get(rules);
  if (!plan) {
    const encoder = new TextEncoder();
    plan = rules.sampling.map((rule) => ({
      rule,
      keys: rule.attributes.map((c) => encoder.encode(c.key)),
      spanNames: rule.spanName === undefined ? undefined : new KeyDecisionCache(1024),
      decideName: (name: string) => (rule.spanName?.test(name) ? NAME_MATCHES : NAME_DIFFERS),
    }));
    plans.set(rules, plan);
  }
  return plan;
}

/** The first rule that applies to item `i` of this signal and team. The rules end with a catch-all, so there always is one. */
export function firstMatchingRule(ix: WireIndex, plan: SamplingPlan, signal: SamplingSignal, team: number, i: number): CompiledSamplingRule {
  const node = ix.itemNode[i];
  for (const { rule, keys, spanNames, decideName } of plan) {
    if (!rule.signals.has(signal)) continue;
    if (rule.teams !== undefined && !rule.teams.has(team)) continue;
    if (rule.statusError && ix.itemStatus[i] !== 2) continue;
    if (rule.minDurationNs !== undefined && ix.itemEndTime[i] - ix.itemTime[i] < rule.minDurationNs) continue;
    if (spanNames !== undefined && spanNames.get(ix.buf, ix.itemNameStart[i], ix.itemNameEnd[i], decideName) !== NAME_MATCHES) continue;
    if (rule.minSeverityNumber !== undefined && ix.itemKind[i] < rule.minSeverityNumber) continue;
    let all = true;
    for (let c = 0; c < rule.attributes.length && all; c++) all = conditionHolds(ix, node, rule.attributes[c], keys[c]);
    if (all) return rule;
  }
  return plan[plan.length - 1].rule;
}
