import { createHmac } from 'node:crypto';
import type { AttributeAction, CompiledAttributePolicy, CompiledRules, PolicyMode } from '../../../rules/compiled.js';
import { dropAttribute, dropItem, encodeStringValue, replaceAttributeValue, setDroppedAttributesCount } from '../../otlp/edits.js';
import type { EditList } from '../../otlp/rewriter.js';
import type { Signal } from '../../otlp/signal.js';
import { SIGNAL_ITEM } from '../../otlp/signal.js';
import { NODE, VALUE } from '../../otlp/wire-index.js';
import type { WireIndex } from '../../otlp/wire-index.js';
import { ByteWriter, WIRE_LEN } from '../../otlp/wire.js';
import type { Processor, Rejection } from '../../pipeline/processor.js';
import { resourceLookup } from '../team-attribution.js';
import { KeyDecisionCache, PositionalKeyMemo, PositionalVerdictMemo, UNKNOWN_VERDICT } from './key-cache.js';

/** What the processor did, per policy and action, reported once per request. */
export interface AttributeActionObserver {
  onActions(signal: Signal, policy: string, action: AttributeAction, mode: PolicyMode, count: number): void;
}

export interface AttributePolicyOptions {
  /** The rules in force; read once per request, so a reload takes effect between requests. */
  readonly rules: () => CompiledRules;
  /** Key of the HMAC behind `hash`; the same on every replica so hashed values join up. */
  readonly hashKey: string;
  /** Hex characters of the HMAC kept (default 16 = 64 bits). */
  readonly hashLength?: number;
  readonly observer?: AttributeActionObserver;
}

export interface AttributePolicyProcessor extends Processor {
  /** True when the last request had point attributes changed, so equal series may need merging. */
  readonly pointAttributesChanged: boolean;
}

/** The policies of one signal, precompiled for the hot path; built once per rules object. */
interface SignalPlan {
  readonly policies: readonly CompiledAttributePolicy[];
  /** 32-bit words in a policy mask. */
  readonly words: number;
  /** Policies whose targets include resource / other attributes / bodies, as masks. */
  readonly resourceTargetMask: Uint32Array;
  readonly attributeTargetMask: Uint32Array;
  readonly bodyPolicies: readonly number[];
  /** Distinct key masks; a key's cached decision is an index in here (0 = no policy). */
  readonly keyMasks: Uint32Array[];
  readonly keyMaskIndex: Map<string, number>;
  readonly keyCache: KeyDecisionCache;
  /** The `redact` replacement of each policy, as an encoded AnyValue. */
  readonly redactions: readonly Uint8Array[];
}

const plans = new WeakMap<CompiledRules, Map<Signal, SignalPlan>>();

function planFor(rules: CompiledRules, signal: Signal): SignalPlan {
  let bySignal = plans.get(rules);
  if (!bySignal) {
    bySignal = new Map();
    plans.set(rules, bySignal);
  }
  let plan = bySignal.get(signal);
  if (!plan) {
    plan = buildPlan(rules.attributePolicies.filter((p) => p.signals.has(signal)));
    bySignal.set(signal, plan);
  }
  return plan;
}

function maskOf(words: number, members: (i: number) => boolean, count: number): Uint32Array {
  const mask = new Uint32Array(words);
  for (let i = 0; i < count; i++) if (members(i)) mask[i >>> 5] |= 1 << (i & 31);
  return mask;
}

function buildPlan(policies: readonly CompiledAttributePolicy[]): SignalPlan {
  const words = Math.max(1, Math.ceil(policies.length / 32));
  return {
    policies,
    words,
    resourceTargetMask: maskOf(words, (i) => policies[i].targets.resource, policies.length),
    attributeTargetMask: maskOf(words, (i) => policies[i].targets.attributes, policies.length),
    bodyPolicies: policies.flatMap((p, i) => (p.targets.body ? [i] : [])),
    keyMasks: [new Uint32Array(words)],
    keyMaskIndex: new Map([[maskId(new Uint32Array(words)), 0]]),
    keyCache: new KeyDecisionCache(),
    redactions: policies.map((p) => encodeStringValue(p.replacement)),
  };
}

/**
 * A mask's key in keyMaskIndex. The empty mask must get the same id as index 0's, or keys no
 * policy names would miss the hot path's `decision === 0` shortcut.
 */
function maskId(mask: Uint32Array): string {
  return Array.from(mask, (w) => w.toString(16)).join(',');
}

/** Which policies' key matchers accept `key`, as an index into the plan's distinct masks. */
function decideKey(plan: SignalPlan, key: string): number {
  const mask = maskOf(plan.words, (i) => plan.policies[i].keys?.test(key) ?? true, plan.policies.length);
  const id = maskId(mask);
  let index = plan.keyMaskIndex.get(id);
  if (index === undefined) {
    index = plan.keyMasks.length;
    plan.keyMasks.push(mask);
    plan.keyMaskIndex.set(id, index);
  }
  return index;
}

const SERVICE_NAME = 'service.name';

/** Per-request scratch, reused across requests (processing is synchronous). */
interface Scratch {
  resourceMasks: Uint32Array;
  droppedPerNode: Int32Array;
  touchedNodes: number[];
  counts: Float64Array;
  rejectedItems: Set<number>;
  keyMemo: PositionalKeyMemo;
  valueMemo: PositionalVerdictMemo;
}

export function createAttributePolicyProcessor(options: AttributePolicyOptions): AttributePolicyProcessor {
  const hashLength = options.hashLength ?? 16;
  const hashCache = new Map<string, Uint8Array>();
  const scratch: Scratch = { resourceMasks: new Uint32Array(64), droppedPerNode: new Int32Array(1024), touchedNodes: [], counts: new Float64Array(64), rejectedItems: new Set(), keyMemo: new PositionalKeyMemo(), valueMemo: new PositionalVerdictMemo() };
  let pointAttributesChanged = false;

  /** HMAC-SHA256 of the value bytes, hex, truncated; cached because values repeat. */
  function hashedValue(bytes: Uint8Array): Uint8Array {
    const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
    let encoded = hashCache.get(text);
    if (!encoded) {
      const digest = createHmac('sha256', options.hashKey).update(bytes).digest('hex').slice(0, hashLength);
      encoded = encodeStringValue(digest);
      if (hashCache.size >= 10_000) hashCache.clear();
      hashCache.set(text, encoded);
    }
    return encoded;
  }

  function resourceMasksFor(ix: WireIndex, rules: CompiledRules, plan: SignalPlan): Uint32Array {
    const words = plan.words;
    if (scratch.resourceMasks.length < ix.groupCount * words) scratch.resourceMasks = new Uint32Array(ix.groupCount * words * 2);
    const masks = scratch.resourceMasks;
    for (let g = 0; g < ix.groupCount; g++) {
      if (ix.nodeKind[ix.groupNode[g]] !== NODE.RESOURCE_GROUP) continue;
      const lookup = resourceLookup(ix, ix.groupInner[g]);
      const team = rules.teamOf(lookup);
      const service = lookup(SERVICE_NAME);
      for (let w = 0; w < words; w++) masks[g * words + w] = 0;
      plan.policies.forEach((p, i) => {
        if (p.teams && !p.teams.has(team)) return;
        if (p.services && (service === undefined || !p.services.test(service))) return;
        masks[g * words + (i >>> 5)] |= 1 << (i & 31);
      });
    }
    return masks;
  }

  function process(ix: WireIndex, edits: EditList): Rejection | undefined {
    pointAttributesChanged = false;
    const rules = options.rules();
    const signal = ix.signal;
    const plan = planFor(rules, signal);
    if (plan.policies.length === 0 || ix.attrCount + ix.itemCount === 0) return undefined;
    const resourceMasks = resourceMasksFor(ix, rules, plan);
    if (scratch.counts.length < plan.policies.length) scratch.counts = new Float64Array(plan.policies.length * 2);
    scratch.counts.fill(0, 0, plan.policies.length);
    if (scratch.droppedPerNode.length < ix.nodeCount) scratch.droppedPerNode = new Int32Array(ix.nodeCount * 2);
    const buf = ix.buf;
    const decide = (key: string): number => decideKey(plan, key);

    const memo = scratch.keyMemo;
    memo.reset(buf);
    const valueMemo = scratch.valueMemo;
    valueMemo.reset(buf);
    let owner = -1;
    let ordinal = 0;
    for (let a = 0; a < ix.attrCount; a++) {
      const start = ix.attrKeyStart[a];
      const end = ix.attrKeyEnd[a];
      if (ix.attrOwner[a] === owner) ordinal++;
      else {
        owner = ix.attrOwner[a];
        ordinal = 0;
      }
      let decision = memo.decisionAt(ordinal, buf, start, end);
      if (decision < 0) {
        decision = plan.keyCache.get(buf, start, end, decide);
        memo.remember(ordinal, start, end, decision);
      }
      if (decision === 0) continue; // the common case: no policy names this key
      // The verdict depends on the key's decision, the owner's resource and kind, and the value:
      // when all equal those of the attribute at this position of the previous owner, reuse it
      // (values repeat from point to point, and value detectors are the costly part).
      const context = decision * 2 + (ix.nodeKind[owner] === NODE.RESOURCE ? 1 : 0);
      const group = ix.nodeResourceGroup[owner];
      let p = valueMemo.verdictAt(ordinal, context, group, ix.attrValueType[a], buf, ix.attrValueStart[a], ix.attrValueEnd[a]);
      if (p === UNKNOWN_VERDICT) {
        p = firstMatchingPolicy(ix, plan, plan.keyMasks[decision], resourceMasks, a);
        valueMemo.remember(ordinal, context, group, ix.attrValueType[a], ix.attrValueStart[a], ix.attrValueEnd[a], p);
      }
      if (p >= 0) applyToAttribute(ix, edits, plan, p, a);
    }
    if (plan.bodyPolicies.length > 0 && signal === 'logs') scanBodies(ix, edits, plan, resourceMasks);
    finishDroppedCounts(ix, edits);
    const rejection = finishRejections(ix, edits, signal, plan);
    reportCounts(signal, plan);
    return rejection;
  }

  function applyToAttribute(ix: WireIndex, edits: EditList, plan: SignalPlan, p: number, a: number): void {
    const policy = plan.policies[p];
    const owner = ix.attrOwner[a];
    if (policy.action === 'truncate' && !(ix.attrValueType[a] === VALUE.STRING && ix.attrValueEnd[a] - ix.attrValueStart[a] > policy.maxLength)) return;
    scratch.counts[p]++;
    if (policy.mode === 'audit') return;
    switch (policy.action) {
      case 'drop':
        dropAttribute(ix, edits, a);
        if (scratch.droppedPerNode[owner]++ === 0) scratch.touchedNodes.push(owner);
        break;
      case 'hash':
        replaceAttributeValue(ix, edits, a, hashedValue(ix.buf.subarray(ix.attrValueStart[a], ix.attrValueEnd[a])));
        break;
      case 'redact':
        replaceAttributeValue(ix, edits, a, plan.redactions[p]);
        break;
      case 'truncate':
        replaceAttributeValue(ix, edits, a, truncatedString(ix.buf, ix.attrValueStart[a], ix.attrValueEnd[a], policy.maxLength));
        break;
      case 'reject':
        rejectOwner(ix, owner);
        return;
    }
    if (ix.nodeKind[owner] === NODE.POINT || ix.nodeKind[owner] === NODE.RESOURCE) pointAttributesChanged = true;
  }

  /** The items an attribute belongs to: the item itself, its span (events, links), or all of a scope or resource. */
  function rejectOwner(ix: WireIndex, owner: number): void {
    const kind = ix.nodeKind[owner];
    if (kind === NODE.RESOURCE || kind === NODE.SCOPE) {
      const container = ix.nodeParent[owner];
      for (let i = 0; i < ix.itemCount; i++) if (isWithin(ix, ix.itemNode[i], container)) scratch.rejectedItems.add(i);
      return;
    }
    const item = itemOfNode(ix, kind === NODE.EVENT || kind === NODE.LINK ? ix.nodeParent[owner] : owner);
    if (item >= 0) scratch.rejectedItems.add(item);
  }

  function scanBodies(ix: WireIndex, edits: EditList, plan: SignalPlan, resourceMasks: Uint32Array): void {
    for (let i = 0; i < ix.itemCount; i++) {
      if (ix.itemBodyType[i] !== VALUE.STRING) continue;
      const node = ix.itemNode[i];
      const rg = ix.nodeResourceGroup[node];
      for (const p of plan.bodyPolicies) {
        if ((resourceMasks[rg * plan.words + (p >>> 5)] & (1 << (p & 31))) === 0) continue;
        const policy = plan.policies[p];
        const start = ix.itemBodyStart[i];
        const end = ix.itemBodyEnd[i];
        if (!anyDetects(policy, ix.buf, start, end)) continue;
        if (policy.action === 'truncate' && end - start <= policy.maxLength) break;
        scratch.counts[p]++;
        if (policy.mode === 'enforce') applyToBody(ix, edits, plan, p, i);
        break;
      }
    }
  }

  function applyToBody(ix: WireIndex, edits: EditList, plan: SignalPlan, p: number, i: number): void {
    const policy = plan.policies[p];
    const node = ix.itemNode[i];
    const fieldStart = ix.itemBodyFieldStart[i];
    const fieldEnd = ix.itemBodyFieldEnd[i];
    const bodyField = (anyValue: Uint8Array): Uint8Array => new ByteWriter(anyValue.length + 6).tag(5, WIRE_LEN).bytes(anyValue).finish();
    switch (policy.action) {
      case 'drop':
        edits.replace(node, fieldStart, fieldEnd, new Uint8Array(0));
        break;
      case 'hash':
        edits.replace(node, fieldStart, fieldEnd, bodyField(hashedValue(ix.buf.subarray(ix.itemBodyStart[i], ix.itemBodyEnd[i]))));
        break;
      case 'redact':
        edits.replace(node, fieldStart, fieldEnd, bodyField(plan.redactions[p]));
        break;
      case 'truncate':
        edits.replace(node, fieldStart, fieldEnd, bodyField(truncatedString(ix.buf, ix.itemBodyStart[i], ix.itemBodyEnd[i], policy.maxLength)));
        break;
      case 'reject':
        scratch.rejectedItems.add(i);
        break;
    }
  }

  /** Raises dropped_attributes_count where OTLP has one; edits inside rejected items are discarded by the rewriter. */
  function finishDroppedCounts(ix: WireIndex, edits: EditList): void {
    // A missing count is inserted at its owner's end, where a span's last event may end too: the
    // rewriter puts the innermost node's insertion first, so the recording order does not matter.
    for (const node of scratch.touchedNodes) {
      setDroppedAttributesCount(ix, edits, node, ix.nodeDroppedValue[node] + scratch.droppedPerNode[node]);
      scratch.droppedPerNode[node] = 0;
    }
    scratch.touchedNodes.length = 0;
  }

  function finishRejections(ix: WireIndex, edits: EditList, signal: Signal, plan: SignalPlan): Rejection | undefined {
    if (scratch.rejectedItems.size === 0) return undefined;
    for (const i of scratch.rejectedItems) dropItem(ix, edits, i);
    const count = scratch.rejectedItems.size;
    scratch.rejectedItems.clear();
    const names = plan.policies.filter((p, i) => p.action === 'reject' && p.mode === 'enforce' && scratch.counts[i] > 0).map((p) => `'${p.name}'`);
    return { items: count, message: `${count} ${SIGNAL_ITEM[signal].replace('_', ' ')} rejected by attribute polic${names.length === 1 ? 'y' : 'ies'} ${names.join(', ')}` };
  }

  function reportCounts(signal: Signal, plan: SignalPlan): void {
    if (!options.observer) return;
    plan.policies.forEach((policy, p) => {
      const count = scratch.counts[p];
      if (count > 0) options.observer?.onActions(signal, policy.name, policy.action, policy.mode, count);
    });
  }

  return {
    name: 'attribute_policy',
    signals: ['metrics', 'traces', 'logs'],
    process,
    get pointAttributesChanged() {
      return pointAttributesChanged;
    },
  };
}

/**
 * The first policy, in file order, that applies to attribute `a`: its key matcher accepted the
 * key (keyMask), it targets this kind of owner, it applies to the resource's team and service,
 * and its value detectors (if any) recognise the value. -1 if none.
 */
function firstMatchingPolicy(ix: WireIndex, plan: SignalPlan, keyMask: Uint32Array, resourceMasks: Uint32Array, a: number): number {
  const owner = ix.attrOwner[a];
  const targetMask = ix.nodeKind[owner] === NODE.RESOURCE ? plan.resourceTargetMask : plan.attributeTargetMask;
  const resourceOffset = ix.nodeResourceGroup[owner] * plan.words;
  for (let w = 0; w < plan.words; w++) {
    let candidates = keyMask[w] & targetMask[w] & resourceMasks[resourceOffset + w];
    while (candidates !== 0) {
      const bit = 31 - Math.clz32(candidates & -candidates);
      candidates &= candidates - 1;
      const p = w * 32 + bit;
      const policy = plan.policies[p];
      if (policy.detectors.length === 0) return p;
      if (ix.attrValueType[a] === VALUE.STRING && anyDetects(policy, ix.buf, ix.attrValueStart[a], ix.attrValueEnd[a])) return p;
    }
  }
  return -1;
}

function anyDetects(policy: CompiledAttributePolicy, buf: Uint8Array, start: number, end: number): boolean {
  for (const detector of policy.detectors) if (detector.test(buf, start, end)) return true;
  return false;
}

/** The item row of an item node (item nodes are in ascending order: binary search). */
function itemOfNode(ix: WireIndex, node: number): number {
  let lo = 0;
  let hi = ix.itemCount - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const at = ix.itemNode[mid];
    if (at === node) return mid;
    if (at < node) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/** Is `node` inside `ancestor` (or the same node)? Node ranges nest. */
function isWithin(ix: WireIndex, node: number, ancestor: number): boolean {
  return ix.nodeTagStart[node] >= ix.nodeTagStart[ancestor] && ix.nodeEnd[node] <= ix.nodeEnd[ancestor];
}

/** A lookup of a resource's string attributes by key, decoding only what is asked for. */
/** A string AnyValue of the first `maxBytes` bytes, cut back to a UTF-8 character boundary. */
export function truncatedString(buf: Uint8Array, start: number, end: number, maxBytes: number): Uint8Array {
  let cut = Math.min(end, start + maxBytes);
  // Continuation bytes are 10xxxxxx; never end inside a multi-byte character.
  if (cut < end) while (cut > start && (buf[cut] & 0xc0) === 0x80) cut--;
  return new ByteWriter(cut - start + 6).tag(1, WIRE_LEN).bytes(buf.subarray(start, cut)).finish();
}
