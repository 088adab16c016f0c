/**
 * The sample a check evaluates: every OTLP request of the inputs, scanned into the same wire
 * index the pipeline uses, seen through the rules the way the pipeline would see it. Attribute
 * policies are decided per attribute with the rules' compiled matchers and detectors (first
 * matching policy in file order, as the attribute policy processor does); then, as in the
 * pipeline, series are counted after the policies: an attribute an enforced policy drops costs
 * no series, a point an enforced `reject` removes is not counted, and a redacted value counts as
 * its replacement.
 *
 * Memory stays bounded by what is distinct, not by the input size: series and label values are
 * kept as 53-bit hashes, and policy hits are aggregated per (policy, where, key).
 */
import type { CompiledAttributePolicy, CompiledRules } from '../../rules/compiled.js';
import { KeyDecisionCache } from '../processors/attribute-policy/key-cache.js';
import { labelValueHash, SeriesIdHasher } from '../processors/cardinality/series-id.js';
import { resourceLookup } from '../processors/team-attribution.js';
import { scanRequest } from '../otlp/scanner.js';
import type { Signal } from '../otlp/signal.js';
import { METRIC_DATA, NODE, VALUE, WireIndex } from '../otlp/wire-index.js';

/** Where in the inputs something was first seen: a file (or URL) and a 1-based line, 0 when unknown. */
export interface Origin {
  readonly path: string;
  readonly line: number;
}

/** Where a request came from; `metricLines` gives a metric's own line when the input has one per metric (Prometheus text). */
export interface RequestOrigin extends Origin {
  readonly metricLines?: ReadonlyMap<string, number>;
}

/** What one attribute policy would do, aggregated over the sample. */
export interface PolicyHit {
  readonly policy: CompiledAttributePolicy;
  readonly signal: Signal;
  readonly team: string;
  /** The metric name, span name or `log records` the attribute was on. */
  readonly subject: string;
  /** `resource`, `attributes` (points, spans, logs, events, links, scopes), or `body` (log bodies). */
  readonly target: 'resource' | 'attributes' | 'body';
  readonly key: string;
  /**
   * One value seen, masked (maskValue): the values a policy catches (card numbers, e-mail
   * addresses) are exactly what must not reach CI logs, SARIF or annotations.
   */
  readonly example: string;
  count: number;
  readonly origin: Origin;
}

/** One metric of one team in the sample, after the policies. */
export interface MetricStats {
  readonly team: string;
  readonly name: string;
  readonly type: string;
  readonly points: number;
  /** Distinct series (name, type, unit, resource and point attributes). */
  readonly series: number;
  /** Distinct values per point attribute key. */
  readonly labels: ReadonlyMap<string, number>;
  readonly origin: Origin;
}

export interface SampleStats {
  readonly metrics: readonly MetricStats[];
  readonly policyHits: readonly PolicyHit[];
  /** OTLP requests (one per JSON line, protobuf message, or Prometheus text) read. */
  readonly requests: number;
  readonly points: number;
  /** Spans and log records (checked for attribute policies only). */
  readonly items: number;
  readonly series: number;
  /** Distinct point attribute keys over every metric, before the policies (a dropped `user_id` was checked too). */
  readonly labels: number;
}

export interface SampleBuilder {
  /** Adds one Export*ServiceRequest (protobuf). Throws WireError on malformed bytes. */
  addRequest(signal: Signal, bytes: Uint8Array, origin: RequestOrigin): void;
  finish(): SampleStats;
}

const DATA_KIND_NAME: Readonly<Record<number, string>> = {
  [METRIC_DATA.GAUGE]: 'gauge',
  [METRIC_DATA.SUM]: 'sum',
  [METRIC_DATA.HISTOGRAM]: 'histogram',
  [METRIC_DATA.EXPONENTIAL_HISTOGRAM]: 'exponential_histogram',
  [METRIC_DATA.SUMMARY]: 'summary',
};

interface MetricAccumulator {
  readonly team: string;
  readonly name: string;
  readonly type: string;
  points: number;
  /** 53 bits of each series id. */
  readonly series: Set<number>;
  /** Per key id, 53 bits of each distinct (key, value) hash. */
  readonly labels: Map<number, Set<number>>;
  readonly origin: Origin;
}

interface PolicyContext {
  readonly signal: Signal;
  readonly team: number;
  readonly service: string | undefined;
}

const SERVICE_NAME = 'service.name';
const NO_POLICY = -1;

/** Does the policy act on a value of this type and length? Only `truncate` can decline (a value within its length). */
function truncates(policy: CompiledAttributePolicy, valueType: number, length: number): boolean {
  return policy.action !== 'truncate' || (valueType === VALUE.STRING && length > policy.maxLength);
}
const TWO_32 = 4294967296;
/** A 64-bit hash pair as one exact JS number (53 bits): cheap to keep in a Set. */
const key53 = (lo: number, hi: number): number => (hi & 0x1fffff) * TWO_32 + (lo >>> 0);
const TARGET_ATTRIBUTES = 0;
const TARGET_RESOURCE = 1;

export function createSampleBuilder(rules: CompiledRules): SampleBuilder {
  const ix = new WireIndex();
  // The pipeline's own series identity (collector/processors/cardinality): a check counts
  // series exactly as the budget processor would.
  const hasher = new SeriesIdHasher();
  const hashOut = new Uint32Array(2);
  const metrics = new Map<string, MetricAccumulator>();
  const hits = new Map<string, PolicyHit>();
  // Attribute keys get small ids, decoded once per distinct key rather than once per attribute.
  const keyIds = new Map<string, number>();
  const keyNames: string[] = [];
  const keyCache = new KeyDecisionCache();
  const internKey = (key: string): number => {
    let id = keyIds.get(key);
    if (id === undefined) {
      id = keyNames.length;
      keyNames.push(key);
      keyIds.set(key, id);
    }
    return id;
  };
  // Candidate policies per (signal, team, service) context, target and key id: only value
  // detectors are left to run per attribute.
  const contextIds = new Map<string, number>();
  const contexts: PolicyContext[] = [];
  const candidates: (readonly number[] | undefined)[][] = [];
  /** Point attribute keys seen, before any policy: what the summary says was checked. */
  const pointKeys = new Set<number>();
  let requests = 0;
  let points = 0;
  let items = 0;
  let verdicts = new Int32Array(1024);
  let attrKeyIds = new Int32Array(1024);
  /** 1 for attributes an enforced drop or redact takes out of the series identity. */
  let exclude = new Uint8Array(1024);
  let nodeMetric = new Int32Array(1024);
  let nodesMapped = false;

  function contextOf(signal: Signal, team: number, service: string | undefined): number {
    const id = `${signal}\u0000${team}\u0000${service === undefined ? '\u0001' : service}`;
    let context = contextIds.get(id);
    if (context === undefined) {
      context = contexts.length;
      contexts.push({ signal, team, service });
      contextIds.set(id, context);
    }
    return context;
  }

  function candidatesFor(context: number, target: number, keyId: number): readonly number[] {
    const row = (candidates[context * 2 + target] ??= []);
    let list = row[keyId];
    if (list === undefined) {
      const { signal, team, service } = contexts[context];
      const key = keyNames[keyId];
      list = rules.attributePolicies.flatMap((p, i) => {
        if (!p.signals.has(signal) || !p.targets[target === TARGET_RESOURCE ? 'resource' : 'attributes']) return [];
        if (p.teams && !p.teams.has(team)) return [];
        if (p.services && (service === undefined || !p.services.test(service))) return [];
        return p.keys === undefined || p.keys.test(key) ? [i] : [];
      });
      row[keyId] = list;
    }
    return list;
  }

  /** The first policy that applies to attribute `a` (its value detectors included), or NO_POLICY. */
  function decide(context: number, target: number, a: number, keyId: number): number {
    for (const p of candidatesFor(context, target, keyId)) {
      const policy = rules.attributePolicies[p];
      if (policy.detectors.length === 0) return p;
      if (ix.attrValueType[a] !== VALUE.STRING) continue;
      for (const detector of policy.detectors) if (detector.test(ix.buf, ix.attrValueStart[a], ix.attrValueEnd[a])) return p;
    }
    return NO_POLICY;
  }

  function subjectOf(signal: Signal, owner: number): string {
    if (signal === 'metrics') {
      if (!nodesMapped) mapNodesToMetrics();
      const m = nodeMetric[owner];
      return m >= 0 ? ix.text(ix.metricNameStart[m], ix.metricNameEnd[m]) : '(resource)';
    }
    return signal === 'logs' ? 'log records' : 'spans';
  }

  function recordHit(signal: Signal, team: number, p: number, a: number, key: string, origin: RequestOrigin): void {
    const policy = rules.attributePolicies[p];
    const owner = ix.attrOwner[a];
    const target = ix.nodeKind[owner] === NODE.RESOURCE ? 'resource' : 'attributes';
    const subject = target === 'resource' ? '(resource)' : subjectOf(signal, owner);
    const id = `${p}\u0000${signal}\u0000${team}\u0000${subject}\u0000${target}\u0000${key}`;
    const hit = hits.get(id);
    if (hit) hit.count++;
    else hits.set(id, { policy, signal, team: rules.teams[team].name, subject, target, key, example: maskValue(ix.attrValueText(a)), count: 1, origin: originOf(origin, subject) });
  }

  /** Marks every point node (and its METRIC_DATA, METRIC nodes) with its metric row, so a hit can name its metric. */
  function mapNodesToMetrics(): void {
    if (nodeMetric.length < ix.nodeCount) nodeMetric = new Int32Array(ix.nodeCount * 2);
    nodeMetric.fill(-1, 0, ix.nodeCount);
    const rowOfMetricNode = new Map<number, number>();
    for (let m = 0; m < ix.metricCount; m++) rowOfMetricNode.set(ix.metricNode[m], m);
    for (let n = 0; n < ix.nodeCount; n++) {
      const kind = ix.nodeKind[n];
      if (kind === NODE.METRIC) nodeMetric[n] = rowOfMetricNode.get(n) ?? -1;
      else if (kind === NODE.METRIC_DATA || kind === NODE.POINT) nodeMetric[n] = nodeMetric[ix.nodeParent[n]];
    }
    nodesMapped = true;
  }

  function growRows(): void {
    if (verdicts.length >= ix.attrCount) return;
    verdicts = new Int32Array(ix.attrCount * 2);
    attrKeyIds = new Int32Array(ix.attrCount * 2);
    exclude = new Uint8Array(ix.attrCount * 2);
  }

  function addRequest(signal: Signal, bytes: Uint8Array, origin: RequestOrigin): void {
    scanRequest(ix, signal, bytes);
    requests++;
    nodesMapped = false;
    // Team and policy context of each resource group, decoded once per group.
    const teams = new Int32Array(ix.groupCount).fill(rules.defaultTeam);
    const groupContexts = new Int32Array(ix.groupCount);
    for (let g = 0; g < ix.groupCount; g++) {
      if (ix.nodeKind[ix.groupNode[g]] !== NODE.RESOURCE_GROUP) continue;
      const lookup = resourceLookup(ix, ix.groupInner[g]);
      teams[g] = rules.teamOf(lookup);
      groupContexts[g] = contextOf(signal, teams[g], lookup(SERVICE_NAME));
    }
    const outsideContext = contextOf(signal, rules.defaultTeam, undefined);
    const checkPolicies = rules.attributePolicies.length > 0;
    growRows();
    for (let a = 0; a < ix.attrCount; a++) {
      const owner = ix.attrOwner[a];
      const keyId = keyCache.get(ix.buf, ix.attrKeyStart[a], ix.attrKeyEnd[a], internKey);
      attrKeyIds[a] = keyId;
      const kind = ix.nodeKind[owner];
      if (kind === NODE.POINT) pointKeys.add(keyId);
      let p = NO_POLICY;
      if (checkPolicies) {
        const g = ix.nodeResourceGroup[owner];
        p = decide(g >= 0 ? groupContexts[g] : outsideContext, kind === NODE.RESOURCE ? TARGET_RESOURCE : TARGET_ATTRIBUTES, a, keyId);
        // As in the processor, a truncate policy decides for the attribute but does nothing to a value within its length.
        if (p !== NO_POLICY && !truncates(rules.attributePolicies[p], ix.attrValueType[a], ix.attrValueEnd[a] - ix.attrValueStart[a])) p = NO_POLICY;
      }
      verdicts[a] = p;
      exclude[a] = p !== NO_POLICY && rules.attributePolicies[p].mode === 'enforce' && (rules.attributePolicies[p].action === 'drop' || rules.attributePolicies[p].action === 'redact') ? 1 : 0;
      if (p !== NO_POLICY) {
        const g = ix.nodeResourceGroup[owner];
        recordHit(signal, g >= 0 ? teams[g] : rules.defaultTeam, p, a, keyNames[keyId], origin);
      }
    }
    if (signal === 'metrics') countSeries(teams, origin);
    else items += ix.itemCount;
    if (signal === 'logs' && checkPolicies) checkBodies(groupContexts, teams, origin);
  }

  /** Log bodies against the policies that target `body` (value detectors only: a body has no key), first match wins. */
  function checkBodies(groupContexts: Int32Array, teams: Int32Array, origin: RequestOrigin): void {
    for (let i = 0; i < ix.itemCount; i++) {
      if (ix.itemBodyType[i] !== VALUE.STRING) continue;
      const g = ix.itemResourceGroup[i];
      const { team, service } = contexts[groupContexts[g]];
      const start = ix.itemBodyStart[i];
      const end = ix.itemBodyEnd[i];
      const p = rules.attributePolicies.findIndex(
        (policy) =>
          policy.targets.body &&
          policy.signals.has('logs') &&
          (!policy.teams || policy.teams.has(team)) &&
          (!policy.services || (service !== undefined && policy.services.test(service))) &&
          policy.detectors.some((detector) => detector.test(ix.buf, start, end)),
      );
      if (p < 0 || !truncates(rules.attributePolicies[p], VALUE.STRING, end - start)) continue;
      const id = `${p}\u0000body\u0000${teams[g]}`;
      const hit = hits.get(id);
      if (hit) hit.count++;
      else hits.set(id, { policy: rules.attributePolicies[p], signal: 'logs', team: rules.teams[teams[g]].name, subject: 'log records', target: 'body', key: '(body)', example: maskValue(ix.text(start, end)), count: 1, origin: originOf(origin, 'log records') });
    }
  }

  function rejected(node: number): boolean {
    for (let a = ix.nodeFirstAttr[node]; a >= 0; a = ix.attrNext[a]) {
      const p = verdicts[a];
      if (p !== NO_POLICY && rules.attributePolicies[p].action === 'reject' && rules.attributePolicies[p].mode === 'enforce') return true;
    }
    return false;
  }

  function accumulatorFor(m: number, team: string, origin: RequestOrigin): MetricAccumulator {
    const name = ix.text(ix.metricNameStart[m], ix.metricNameEnd[m]);
    const id = `${team}\u0000${name}`;
    let metric = metrics.get(id);
    if (!metric) {
      const type = DATA_KIND_NAME[ix.metricDataKind[m]] ?? 'unknown';
      metrics.set(id, (metric = { team, name, type, points: 0, series: new Set(), labels: new Map(), origin: originOf(origin, name) }));
    }
    return metric;
  }

  /**
   * Series and label values of every point, after the policies. An enforced drop or redact takes
   * the attribute out of the series id: for counting, a redacted value (the same replacement on
   * every point) splits series exactly as much as no value at all. Resource attributes are
   * always part of the id, as in the pipeline.
   */
  function countSeries(teams: Int32Array, origin: RequestOrigin): void {
    const groupRejected = new Int8Array(ix.groupCount).fill(-1);
    const rows: (MetricAccumulator | undefined)[] = new Array<MetricAccumulator | undefined>(ix.metricCount);
    for (let i = 0; i < ix.itemCount; i++) {
      const g = ix.itemResourceGroup[i];
      if (groupRejected[g] < 0) groupRejected[g] = ix.groupInner[g] >= 0 && rejected(ix.groupInner[g]) ? 1 : 0;
      const node = ix.itemNode[i];
      if (groupRejected[g] === 1 || rejected(node)) continue;
      points++;
      const m = ix.itemParent[i];
      const metric = (rows[m] ??= accumulatorFor(m, rules.teams[teams[g]].name, origin));
      metric.points++;
      hasher.seriesId(ix, i, hashOut, 0, exclude);
      metric.series.add(key53(hashOut[0], hashOut[1]));
      for (let a = ix.nodeFirstAttr[node]; a >= 0; a = ix.attrNext[a]) {
        const keyId = attrKeyIds[a];
        let values = metric.labels.get(keyId);
        if (!values) metric.labels.set(keyId, (values = new Set()));
        if (exclude[a] === 0) {
          labelValueHash(ix, a, hashOut);
          values.add(key53(hashOut[0], hashOut[1]));
        } else if (rules.attributePolicies[verdicts[a]].action === 'redact') values.add(0);
        else if (values.size === 0) metric.labels.delete(keyId);
      }
    }
  }

  function finish(): SampleStats {
    const list: MetricStats[] = [...metrics.values()].map((m) => ({
      team: m.team,
      name: m.name,
      type: m.type,
      points: m.points,
      series: m.series.size,
      labels: new Map([...m.labels].map(([keyId, values]) => [keyNames[keyId], values.size])),
      origin: m.origin,
    }));
    return {
      metrics: list,
      policyHits: [...hits.values()],
      requests,
      points,
      items,
      series: list.reduce((sum, m) => sum + m.series, 0),
      labels: pointKeys.size,
    };
  }

  return { addRequest, finish };
}

/**
 * What a finding may show of a caught value: its length, and its first two characters when it is
 * long enough that they give nothing away (enough to tell an e-mail from a card number).
 */
function maskValue(value: string): string {
  const chars = Array.from(value);
  return chars.length >= 8 ? `${chars.slice(0, 2).join('')}…(${chars.length} chars)` : `…(${chars.length} chars)`;
}

function originOf(origin: RequestOrigin, metric: string): Origin {
  return { path: origin.path, line: origin.metricLines?.get(metric) ?? origin.line };
}
