// The sampling processor as collector/governance.ts wires it, fed with OTLP requests built as
// objects (encodeRequest) and read back decoded, with a clock the test advances and every
// observer call kept. Builders for spans and log records, and readers for what came out.

import { decodeRequest, encodeRequest } from '../../../collector/otlp/object-codec.js';
import type { OtlpObject, OtlpValue } from '../../../collector/otlp/object-codec.js';
import type { Processor } from '../../../collector/pipeline/processor.js';
import { createSamplingProcessor } from '../../../collector/processors/sampling/sampler.js';
import type { SamplingOutcome, SamplingSignal } from '../../../collector/processors/sampling/sampler.js';
import type { CompiledRules } from '../../../rules/compiled.js';
import { randomWords } from '../processors/sampling/random-ids.js';
import { rulesFrom, runProcessors } from '../processors/run-processors.js';

export { rulesFrom };

// ─── The processor under test ───────────────────────────────────────────────────────────────

export interface ItemsRecord {
  readonly team: string;
  readonly signal: SamplingSignal;
  readonly outcome: SamplingOutcome;
  readonly items: number;
  readonly adjusted: number;
  /** Encoded size of those items as received. */
  readonly bytes: number;
}

export interface ProbabilityRecord {
  readonly team: string;
  readonly signal: SamplingSignal;
  readonly probability: number;
}

export interface Sampler {
  readonly processor: Processor;
  /** Every onItems call, in order. */
  readonly items: ItemsRecord[];
  /** Every onProbability call, in order. */
  readonly probabilities: ProbabilityRecord[];
  /** The injected clock, in ms. */
  now(): number;
  advance(ms: number): void;
  /** Runs one request; returns the output bytes and the decoded output. */
  send(signal: SamplingSignal, request: OtlpObject): Sent;
  /** The same with a request already encoded. */
  sendBytes(signal: SamplingSignal, bytes: Uint8Array): Sent;
}

export interface Sent {
  readonly bytesIn: Uint8Array;
  readonly bytesOut: Uint8Array;
  readonly output: OtlpObject;
}

export interface SamplerTestOptions {
  readonly sampleRateAttribute?: boolean;
  readonly startMs?: number;
  /** A clock of the test's own instead of the one `advance` moves. */
  readonly clock?: () => number;
}

export function createSampler(rules: CompiledRules | (() => CompiledRules), options: SamplerTestOptions = {}): Sampler {
  let now = options.startMs ?? 1_000_000;
  const items: ItemsRecord[] = [];
  const probabilities: ProbabilityRecord[] = [];
  const processor = createSamplingProcessor({
    rules: typeof rules === 'function' ? rules : () => rules,
    clock: options.clock ?? (() => now),
    sampleRateAttribute: options.sampleRateAttribute,
    observer: {
      onItems: (team, signal, outcome, n, adjusted, bytes) => items.push({ team, signal, outcome, items: n, adjusted, bytes }),
      onProbability: (team, signal, probability) => probabilities.push({ team, signal, probability }),
    },
  });
  const sendBytes = (signal: SamplingSignal, bytesIn: Uint8Array): Sent => {
    const result = runProcessors([processor], signal, bytesIn);
    return { bytesIn, bytesOut: result.bytes, output: decodeRequest(signal, result.bytes) };
  };
  return {
    processor,
    items,
    probabilities,
    now: () => now,
    advance: (ms) => {
      now += ms;
    },
    send: (signal, request) => sendBytes(signal, encodeRequest(signal, request)),
    sendBytes,
  };
}

/** Items and adjusted counts per outcome from observer records (optionally of one team and signal). */
export function outcomeTotals(records: readonly ItemsRecord[], filter: { team?: string; signal?: SamplingSignal } = {}): Map<SamplingOutcome, { items: number; adjusted: number }> {
  const totals = new Map<SamplingOutcome, { items: number; adjusted: number }>();
  for (const r of records) {
    if (filter.team !== undefined && r.team !== filter.team) continue;
    if (filter.signal !== undefined && r.signal !== filter.signal) continue;
    const t = totals.get(r.outcome) ?? { items: 0, adjusted: 0 };
    t.items += r.items;
    t.adjusted += r.adjusted;
    totals.set(r.outcome, t);
  }
  return totals;
}

// ─── Building requests ──────────────────────────────────────────────────────────────────────

export type AttributeValue = string | number | boolean;

function anyValue(value: AttributeValue): OtlpObject {
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  return Number.isInteger(value) ? { intValue: String(value) } : { doubleValue: value };
}

export function attrs(pairs: Readonly<Record<string, AttributeValue>>): OtlpObject[] {
  return Object.entries(pairs).map(([key, value]) => ({ key, value: anyValue(value) }));
}

/** A fixed base time (ns since the epoch), as a BigInt so nanosecond offsets stay exact. */
export const T0_NS = 1_700_000_000_000_000_000n;

export interface SpanSpec {
  readonly traceId: string;
  readonly spanId?: string;
  readonly name?: string;
  /** Status code: 2 is ERROR. */
  readonly status?: number;
  /** Duration in nanoseconds (default 1 ms). */
  readonly durationNs?: bigint;
  readonly traceState?: string;
  readonly attributes?: Readonly<Record<string, AttributeValue>>;
}

let spanCounter = 0;

/** A span; its span id is made up unless given. */
export function span(spec: SpanSpec): OtlpObject {
  const start = T0_NS + BigInt(spanCounter);
  const out: OtlpObject = {
    traceId: spec.traceId,
    spanId: spec.spanId ?? (++spanCounter).toString(16).padStart(16, '0'),
    name: spec.name ?? 'GET /items',
    kind: 2,
    startTimeUnixNano: String(start),
    endTimeUnixNano: String(start + (spec.durationNs ?? 1_000_000n)),
  };
  if (spec.traceState !== undefined) out.traceState = spec.traceState;
  if (spec.attributes !== undefined) out.attributes = attrs(spec.attributes);
  if (spec.status !== undefined) out.status = { code: spec.status };
  return out;
}

export interface LogSpec {
  readonly severityNumber?: number;
  readonly body?: string;
  readonly timeNs?: bigint;
  readonly traceId?: string;
  readonly spanId?: string;
  readonly attributes?: Readonly<Record<string, AttributeValue>>;
}

export function logRecord(spec: LogSpec): OtlpObject {
  const out: OtlpObject = { timeUnixNano: String(spec.timeNs ?? T0_NS) };
  if (spec.severityNumber !== undefined) out.severityNumber = spec.severityNumber;
  if (spec.body !== undefined) out.body = { stringValue: spec.body };
  if (spec.attributes !== undefined) out.attributes = attrs(spec.attributes);
  if (spec.traceId !== undefined) out.traceId = spec.traceId;
  if (spec.spanId !== undefined) out.spanId = spec.spanId;
  return out;
}

export function tracesRequest(...resources: { resource: Readonly<Record<string, string>>; spans: OtlpObject[] }[]): OtlpObject {
  return {
    resourceSpans: resources.map((r) => ({ resource: { attributes: attrs(r.resource) }, scopeSpans: [{ scope: { name: 'test' }, spans: r.spans }] })),
  };
}

export function logsRequest(...resources: { resource: Readonly<Record<string, string>>; logs: OtlpObject[] }[]): OtlpObject {
  return {
    resourceLogs: resources.map((r) => ({ resource: { attributes: attrs(r.resource) }, scopeLogs: [{ scope: { name: 'test' }, logRecords: r.logs }] })),
  };
}

/** `count` random trace ids (lowercase hex), the same for a seed on every run. */
export function traceIds(count: number, seed: number): string[] {
  const next = randomWords(seed);
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    let id = '';
    for (let w = 0; w < 4; w++) id += (next() >>> 0).toString(16).padStart(8, '0');
    ids.push(id);
  }
  return ids;
}

/** A trace id whose last 56 bits (its randomness R) are `r` (14 hex digits), the first 9 bytes given. */
export function traceIdWithRandomness(r: string, prefix = '0102030405060708ab'): string {
  if (!/^[0-9a-f]{14}$/.test(r) || prefix.length !== 18) throw new Error('bad test trace id');
  return prefix + r;
}

/** R of a trace id: its last 7 bytes, as a BigInt. */
export function randomnessOf(traceId: string): bigint {
  return BigInt(`0x${traceId.slice(18)}`);
}

/** T of a th value: 1–14 hex digits right-padded with zeros to 14. */
export function thresholdValue(th: string): bigint {
  return BigInt(`0x${th.padEnd(14, '0')}`);
}

// ─── Reading outputs ────────────────────────────────────────────────────────────────────────

const list = (o: OtlpValue | undefined, key: string): OtlpObject[] => (((o as OtlpObject | undefined)?.[key] as OtlpObject[] | undefined) ?? []);

/** Attributes as a plain record of their values (strings, numbers for int/double, booleans). */
export function attributesOf(owner: OtlpValue | undefined): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const kv of list(owner, 'attributes')) {
    const v = kv.value as Record<string, OtlpValue> | undefined;
    out[kv.key as string] = (v?.stringValue ?? (v?.intValue !== undefined ? Number(v.intValue) : undefined) ?? v?.doubleValue ?? v?.boolValue) as AttributeValue;
  }
  return out;
}

/** Every attribute key of an owner, repeats included (to catch duplicates). */
export function attributeKeys(owner: OtlpValue | undefined): string[] {
  return list(owner, 'attributes').map((kv) => kv.key as string);
}

export interface OutputSpan {
  readonly resource: Record<string, AttributeValue>;
  readonly traceId: string;
  readonly spanId: string;
  readonly name: string;
  /** '' when absent. */
  readonly traceState: string;
  readonly attributes: Record<string, AttributeValue>;
  readonly span: OtlpObject;
}

export function outputSpans(output: OtlpObject): OutputSpan[] {
  const out: OutputSpan[] = [];
  for (const rs of list(output, 'resourceSpans')) {
    const resource = attributesOf(rs.resource);
    for (const ss of list(rs, 'scopeSpans')) {
      for (const s of list(ss, 'spans')) {
        out.push({
          resource,
          traceId: s.traceId as string,
          spanId: s.spanId as string,
          name: s.name as string,
          traceState: (s.traceState as string | undefined) ?? '',
          attributes: attributesOf(s),
          span: s,
        });
      }
    }
  }
  return out;
}

export interface OutputLog {
  readonly resource: Record<string, AttributeValue>;
  readonly traceId: string | undefined;
  readonly body: string | undefined;
  readonly severityNumber: number;
  readonly attributes: Record<string, AttributeValue>;
  readonly record: OtlpObject;
}

export function outputLogs(output: OtlpObject): OutputLog[] {
  const out: OutputLog[] = [];
  for (const rl of list(output, 'resourceLogs')) {
    const resource = attributesOf(rl.resource);
    for (const sl of list(rl, 'scopeLogs')) {
      for (const l of list(sl, 'logRecords')) {
        out.push({
          resource,
          traceId: l.traceId as string | undefined,
          body: (l.body as OtlpObject | undefined)?.stringValue as string | undefined,
          severityNumber: (l.severityNumber as number | undefined) ?? 0,
          attributes: attributesOf(l),
          record: l,
        });
      }
    }
  }
  return out;
}

/** The `th` of an `ot=` tracestate entry, or undefined. */
export function thOf(traceState: string): string | undefined {
  const ot = traceState
    .split(',')
    .map((m) => m.trim())
    .find((m) => m.startsWith('ot='));
  return ot
    ?.slice(3)
    .split(';')
    .find((kv) => kv.startsWith('th:'))
    ?.slice(3);
}

// ─── The rules most tests use ───────────────────────────────────────────────────────────────

/**
 * Teams: `shop` (service.namespace=shop) at tier `standard` (traces 25 %, th:c; logs trace 5 %,
 * debug 10 %, info 25 %, warn/error/fatal 100 %, following their traces), `cheap`
 * (service.namespace=cheap) at `economy` (traces 5 %) with a tiny budget of 1 span and 1 log
 * record per second, `loose` (service.namespace=loose) at a custom tier whose logs do not follow
 * traces, and the implicit default team (standard). Rules: keep errors, slow spans (≥ 500 ms),
 * server errors by attribute; drop health checks; keep error logs; sample the rest.
 */
export const RULES_YAML = `version: 1
mode: enforce
tiers:
  loose:
    trace_probability: 0.1
    log_probability: { info: 0.5 }
    logs_follow_traces: false
teams:
  - name: shop
    match:
      service.namespace: shop
    tier: standard
  - name: cheap
    match:
      service.namespace: cheap
    tier: economy
    budgets:
      max_spans_per_second: 1
      max_log_records_per_second: 1
  - name: loose
    match:
      service.namespace: loose
    tier: loose
sampling:
  rules:
    - name: keep-errors
      signals: [traces]
      when: { status: error }
      action: keep
    - name: keep-slow
      signals: [traces]
      when: { min_duration: 500ms }
      action: keep
    - name: keep-server-errors
      signals: [traces]
      when:
        attributes:
          - { key: http.response.status_code, gte: 500 }
      action: keep
    - name: drop-health-checks
      signals: [traces]
      when: { span_name: ["GET /healthz", "GET /readyz"] }
      action: drop
    - name: keep-error-logs
      signals: [logs]
      when: { min_severity: error }
      action: keep
    - name: sample-the-rest
      action: sample
`;

export const SHOP = { 'service.name': 'cart', 'service.namespace': 'shop' } as const;
export const CHEAP = { 'service.name': 'batch', 'service.namespace': 'cheap' } as const;
export const LOOSE = { 'service.name': 'crawler', 'service.namespace': 'loose' } as const;

/** R ≥ T for the 56-bit randomness of a trace id and a th value: kept at that threshold. */
export function keptAt(traceId: string, th: string): boolean {
  return randomnessOf(traceId) >= thresholdValue(th);
}
