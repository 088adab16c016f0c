import { decodeRequest } from '../collector/otlp/object-codec.js';
import type { OtlpObject, OtlpValue } from '../collector/otlp/object-codec.js';
import { EditList, rewrite } from '../collector/otlp/rewriter.js';
import { scanRequest } from '../collector/otlp/scanner.js';
import { WireIndex } from '../collector/otlp/wire-index.js';
import { SYSTEM_CONTEXT } from '../collector/pipeline/processor.js';
import type { Processor } from '../collector/pipeline/processor.js';
import { createAttributePolicyProcessor } from '../collector/processors/attribute-policy/processor.js';
import { createSamplingProcessor } from '../collector/processors/sampling/sampler.js';
import type { SamplingObserver, SamplingOutcome } from '../collector/processors/sampling/sampler.js';
import type { CompiledRules } from '../rules/compiled.js';
import { parseRules } from '../rules/load.js';
import type { Figure } from './report.js';
import { printTable } from './report.js';
import { formatFixed, formatInteger, median, toMegabytes } from './stats.js';
import { measureCase } from './wire-suite.js';
import { SHOP_SERVICES, shopTracesRequest, shopTracesRequestObject } from './workloads.js';

/**
 * `sampling`: the traces chain of the pipeline, in this (pinned) process, on requests of 500
 * spans from seven services of four teams (`shopTracesRequest`, 10 attributes a span):
 * scan → sampling (keep errors, server errors and slow spans, drop health checks, sample the
 * rest by tier and budget) → rewrite and re-scan if it edited → attribute policy (the default
 * rules' redact and truncate policies) on what is left → rewrite, all enforced — the order of
 * collector/governance.ts. Reports spans/s, and the same chain without attribute policies (what
 * the sampler costs on its own).
 *
 * The sampler's clock is simulated: each request advances it by 500 spans' worth of a steady
 * 100,000 spans/s, so the budget-adaptive rate sees the same traffic however fast this machine
 * runs, and the kept fractions do not depend on the measured speed.
 */

const SUITE = 'sampling';
const SPANS = 500;
/** Distinct requests cycled through (different traces, e-mails in some and not in others). */
const REQUESTS = 8;
const SIMULATED_SPANS_PER_SECOND = 100_000;
const TARGET_SPANS_PER_SECOND = 600_000;

/**
 * Four teams on the built-in tiers; the storefront team sends ~38 % of the simulated 100,000
 * spans/s (~36,000/s left to `sample`) against a budget of 5,000, so its rate is held near 14 %
 * instead of its tier's 25 %. Attribute policies as in the embedded default, enforced.
 */
export const SAMPLING_BENCH_RULES = `version: 1
mode: enforce
teams:
  - name: storefront
    match:
      service.namespace: storefront
    tier: standard
    budgets:
      max_spans_per_second: 5000
  - name: payments
    match:
      service.namespace: payments
    tier: standard
  - name: catalog
    match:
      service.namespace: catalog
    tier: economy
  - name: others
    tier: economy
attribute_policies:
  - name: redact-personal-data
    signals: [traces, logs]
    targets: [resource, attributes, body]
    values: [email, credit_card, jwt]
    action: redact
  - name: truncate-long-values
    signals: [traces, logs]
    keys: "*"
    action: truncate
    max_length: 4096
sampling:
  rules:
    - { name: keep-errors, signals: [traces], when: { status: error }, action: keep }
    - name: keep-server-errors
      signals: [traces]
      when:
        attributes:
          - { key: http.response.status_code, gte: 500 }
      action: keep
    - { name: keep-slow, signals: [traces], when: { min_duration: 1s }, action: keep }
    - name: drop-health-checks
      signals: [traces]
      when:
        span_name: ["GET /healthz", "GET /readyz", "GET /livez", "GET /health", "grpc.health.v1.Health/*"]
      action: drop
    - { name: sample-the-rest, action: sample }
`;

/** Items per outcome, summed over the run (what the self-metrics would count). */
class Tally implements SamplingObserver {
  readonly items = new Map<SamplingOutcome, number>();
  onItems(_team: string, _signal: string, outcome: SamplingOutcome, items: number): void {
    this.items.set(outcome, (this.items.get(outcome) ?? 0) + items);
  }
  onProbability(): void {}
  total(): number {
    let n = 0;
    for (const count of this.items.values()) n += count;
    return n;
  }
}

interface Chain {
  /** Governs one request as the pipeline does; returns the outgoing bytes. */
  govern(request: Uint8Array): Uint8Array;
  readonly tally: Tally;
  readonly rules: CompiledRules;
}

/** The same rules without attribute policies: what the sampler costs on its own. */
const RULES_WITHOUT_POLICIES = SAMPLING_BENCH_RULES.replace(/attribute_policies:[\s\S]*?(?=sampling:)/, '');

function createChain(rulesYaml = SAMPLING_BENCH_RULES): Chain {
  const rules = parseRules(rulesYaml, 'sampling bench rules');
  const tally = new Tally();
  let simulatedMs = 0;
  const policy = createAttributePolicyProcessor({ rules: () => rules, hashKey: 'bench-hash-key-0123456789' });
  const sampling = createSamplingProcessor({ rules: () => rules, clock: () => simulatedMs, observer: tally });
  const index = new WireIndex();
  const edits = new EditList();
  const requestMs = (SPANS * 1000) / SIMULATED_SPANS_PER_SECOND;
  const run = (processor: Processor, body: Uint8Array, rescan: boolean): Uint8Array => {
    edits.clear();
    processor.process(index, edits, SYSTEM_CONTEXT);
    if (edits.isEmpty) return body;
    const bytes = rewrite(index, edits).bytes;
    // The pipeline re-scans only when a later processor needs to see the edits.
    if (rescan) scanRequest(index, 'traces', bytes);
    return bytes;
  };
  return {
    tally,
    rules,
    govern(request) {
      simulatedMs += requestMs;
      scanRequest(index, 'traces', request);
      const sampled = run(sampling, request, true);
      return run(policy, sampled, false);
    },
  };
}

export function runSamplingSuite(): Figure[] {
  const requests = Array.from({ length: REQUESTS }, (_, r) => shopTracesRequest(SPANS, r + 1));
  const bytes = requests.reduce((sum, request) => sum + request.length, 0) / REQUESTS;
  checkSamplingApplied(requests);

  const chain = createChain();
  const bare = createChain(RULES_WITHOUT_POLICIES);
  if (bare.rules.attributePolicies.length !== 0 || bare.rules.sampling.length !== chain.rules.sampling.length) throw new Error('sampling: rules without policies are wrong');
  const cycle = (c: Chain): (() => number) => {
    let next = 0;
    return () => {
      const out = c.govern(requests[next]);
      next = (next + 1) % REQUESTS;
      return out.length;
    };
  };
  const result = measureCase({ name: 'scan + attribute policy + sampling + rewrite', run: cycle(chain) });
  const bareResult = measureCase({ name: 'scan + sampling + rewrite (no attribute policies)', run: cycle(bare) });
  const spansPerSecond = median(result.requestsPerSecond) * SPANS;
  const spansPerCpuSecond = median(result.requestsPerCpuSecond) * SPANS;
  const bareSpansPerSecond = median(bareResult.requestsPerSecond) * SPANS;
  const { tally } = chain;
  const total = tally.total();
  const share = (outcome: SamplingOutcome): string => `${formatFixed(((tally.items.get(outcome) ?? 0) / total) * 100, 2)} %`;

  console.log(
    `\n[sampling] ${REQUESTS} requests of ${SPANS} spans (${formatInteger(bytes)} bytes on average), ${Object.keys(SHOP_SERVICES).length} services, 4 teams; ` +
      `redact + truncate policies, 5 sampling rules, enforce; simulated traffic ${formatInteger(SIMULATED_SPANS_PER_SECOND)} spans/s`,
  );
  printTable(
    'sampling (in process; medians)',
    ['figure', 'value'],
    [
      ['spans/s', formatInteger(spansPerSecond)],
      ['spans per second of own CPU time', formatInteger(spansPerCpuSecond)],
      ['range over rounds (spans/s)', `${formatInteger(Math.min(...result.requestsPerSecond) * SPANS)}–${formatInteger(Math.max(...result.requestsPerSecond) * SPANS)}`],
      ['µs per request', formatFixed(1_000_000 / median(result.requestsPerSecond), 1)],
      ['MB/s in', formatFixed(toMegabytes(median(result.requestsPerSecond) * bytes), 1)],
      ['other load on the core (%)', formatFixed(Math.max(result.otherLoadPercent, bareResult.otherLoadPercent), 0)],
      ['without attribute policies: spans/s', formatInteger(bareSpansPerSecond)],
      ['without attribute policies: µs per request', formatFixed(1_000_000 / median(bareResult.requestsPerSecond), 1)],
      ['kept by the rate', share('kept')],
      ['kept by a rule (errors, slow)', share('kept_by_rule')],
      ['kept by the visibility floor', share('kept_by_floor')],
      ['dropped by the rate', share('dropped')],
      ['dropped by a rule (health checks)', share('dropped_by_rule')],
    ],
  );
  return [
    {
      suite: SUITE,
      name: 'scan + sampling + policy + rewrite, spans per own-CPU second',
      value: spansPerCpuSecond,
      display: formatInteger(spansPerCpuSecond),
      target: { op: '>=', value: TARGET_SPANS_PER_SECOND, text: `≥ ${formatInteger(TARGET_SPANS_PER_SECOND)}` },
    },
    {
      suite: SUITE,
      name: 'scan + sampling + policy + rewrite, spans/s',
      value: spansPerSecond,
      display: formatInteger(spansPerSecond),
      target: { op: '>=', value: TARGET_SPANS_PER_SECOND, text: `≥ ${formatInteger(TARGET_SPANS_PER_SECOND)}` },
    },
    // The issue's target is for the chain with the policies; the sampler alone is reported for what it costs.
    { suite: SUITE, name: 'scan + sampling + rewrite (no attribute policies), spans/s', value: bareSpansPerSecond, display: formatInteger(bareSpansPerSecond) },
  ];
}

// ─── The check before timing ─────────────────────────────────────────────────────────────────

interface SpanFacts {
  readonly team: string;
  readonly traceId: string;
  readonly spanId: string;
  readonly name: string;
  readonly error: boolean;
  readonly slow: boolean;
  readonly traceState: string;
  readonly values: readonly string[];
}

const ECONOMY_TEAMS = new Set(['catalog', 'others']);

/** A scalar field of the canonical object form as text ('' when absent or not a scalar). */
const text = (value: OtlpValue | undefined): string => (typeof value === 'string' || typeof value === 'number' ? String(value) : '');

function spansOf(request: OtlpObject): SpanFacts[] {
  const spans: SpanFacts[] = [];
  for (const rs of request.resourceSpans as OtlpObject[]) {
    const resource = (rs.resource as OtlpObject).attributes as OtlpObject[];
    const namespace = text((resource.find((a) => a.key === 'service.namespace')?.value as OtlpObject | undefined)?.stringValue);
    const team = ['storefront', 'payments', 'catalog'].includes(namespace) ? namespace : 'others';
    for (const ss of rs.scopeSpans as OtlpObject[]) {
      for (const span of ss.spans as OtlpObject[]) {
        const attributes = (span.attributes as OtlpObject[] | undefined) ?? [];
        const values = attributes.map((a) => (a.value as OtlpObject).stringValue).filter((v): v is string => typeof v === 'string');
        const status = (span.status as OtlpObject | undefined)?.code;
        const serverError = attributes.some((a) => a.key === 'http.response.status_code' && Number((a.value as OtlpObject).intValue) >= 500);
        spans.push({
          team,
          traceId: text(span.traceId),
          spanId: text(span.spanId),
          name: text(span.name),
          error: status === 2 || serverError,
          slow: BigInt(text(span.endTimeUnixNano) || '0') - BigInt(text(span.startTimeUnixNano) || '0') >= 1_000_000_000n,
          traceState: typeof span.traceState === 'string' ? span.traceState : '',
          values,
        });
      }
    }
  }
  return spans;
}

/** The `th` of a tracestate's `ot` entry, or undefined. */
function thOf(traceState: string): string | undefined {
  return /(?:^|,)\s*ot=(?:[^,]*;)?th:([0-9a-f]+)/.exec(traceState)?.[1];
}

/** Spans left to the rate: not kept by a rule (errors, slow) and not dropped by one (health checks). */
const byRate = (span: SpanFacts): boolean => !span.error && !span.slow && span.name !== 'GET /healthz';

/**
 * A fast wrong answer is worth nothing. One pass over every request must: keep every error and
 * slow span, drop every health check that is neither, leave no e-mail address and no value over
 * 4 KiB, write `ot=th:` on every kept span, and decide consistently — a trace a team keeps by
 * the rate (th > 0) is kept whole by that team, and a trace an economy team keeps by the rate is
 * kept by the standard teams too (a lower probability keeps a subset).
 */
function checkSamplingApplied(requests: readonly Uint8Array[]): void {
  const chain = createChain();
  const problems: string[] = [];
  let kept = 0;
  let spansIn = 0;
  for (let r = 0; r < requests.length; r++) {
    const before = spansOf(shopTracesRequestObject(SPANS, r + 1));
    const after = spansOf(decodeRequest('traces', chain.govern(requests[r])));
    spansIn += before.length;
    kept += after.length;
    const keptById = new Map(after.map((s) => [s.spanId, s]));
    /** `team trace` and `trace` keys kept by the rate, i.e. with our non-zero th. */
    const rateKept = new Set<string>();
    const economyKept = new Set<string>();
    for (const span of before) {
      const out = keptById.get(span.spanId);
      if ((span.error || span.slow) && !out) problems.push(`request ${r}: ${span.error ? 'error' : 'slow'} span ${span.name} dropped`);
      if (!byRate(span) && !span.error && !span.slow && out) problems.push(`request ${r}: health check kept`);
      const th = out && thOf(out.traceState);
      if (out && byRate(span) && th !== undefined && th !== '0') {
        rateKept.add(`${span.team} ${span.traceId}`);
        if (ECONOMY_TEAMS.has(span.team)) economyKept.add(span.traceId);
      }
    }
    for (const span of before) {
      if (!byRate(span) || keptById.has(span.spanId)) continue;
      if (rateKept.has(`${span.team} ${span.traceId}`)) problems.push(`request ${r}: ${span.team} kept trace ${span.traceId} by the rate but dropped its span ${span.name}`);
      else if (!ECONOMY_TEAMS.has(span.team) && economyKept.has(span.traceId)) problems.push(`request ${r}: trace ${span.traceId} kept at economy but dropped by ${span.team}`);
    }
    for (const span of after) {
      if (thOf(span.traceState) === undefined) problems.push(`request ${r}: kept span ${span.name} without ot=th (${span.traceState})`);
      for (const value of span.values) {
        if (value.includes('@example.com')) problems.push(`request ${r}: e-mail address left in ${span.name}`);
        if (Buffer.byteLength(value) > 4096) problems.push(`request ${r}: value of ${Buffer.byteLength(value)} bytes left in ${span.name}`);
      }
    }
  }
  if (kept === 0 || kept === spansIn) problems.push(`kept ${kept} of ${spansIn} spans`);
  if (problems.length > 0) throw new Error(`sampling: check failed: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? ` (+${problems.length - 5} more)` : ''}`);
}
