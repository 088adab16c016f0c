import type { CompiledRules } from '../../../rules/compiled.js';
import { ByteWriter, fieldsExcept } from '../../otlp/wire.js';
import type { WireIndex } from '../../otlp/wire-index.js';
import { teamsOfResourceGroups } from '../team-attribution.js';
import { firstMatchingRule, samplingPlan } from './rule-match.js';
import { isValidTraceId } from './randomness.js';
import { traceKey } from './trace-verdicts.js';
import type { TraceVerdicts } from './trace-verdicts.js';

/**
 * The span buffer of tail sampling: spans wait here, grouped by trace id, until their trace's
 * decision wait has passed, so the decision can look at the whole trace (one error span keeps
 * every span of its trace).
 *
 * Spans are held as copies of their wire bytes, each with the bytes of its resource and scope
 * (everything of ResourceSpans / ScopeSpans but the children), interned so a resource shared by
 * thousands of spans is held once. Memory is bounded by `maxBufferedBytes`: a span that does
 * not fit is not buffered but decided at once, as a head sampler would (the fallback), so a
 * burst degrades the decision instead of growing the process. A trace that reaches
 * `maxSpansPerTrace` is decided early; its later spans find the decision in TraceVerdicts.
 */

export interface TailBufferOptions {
  /** How long the first span of a trace waits for the rest before the trace is decided. */
  readonly decisionWaitMs: number;
  readonly maxSpansPerTrace: number;
  /** Span, scope, resource and bookkeeping bytes held at most. */
  readonly maxBufferedBytes: number;
}

/** Resource or scope bytes shared by buffered spans. */
export interface Envelope {
  readonly bytes: Uint8Array;
  /** Buffered spans referring to it; interned while above zero. */
  refs: number;
  readonly key: string;
}

export interface BufferedSpan {
  readonly resource: Envelope;
  readonly scope: Envelope;
  /** The span field as it was in its ScopeSpans (tag and length included). */
  readonly bytes: Uint8Array;
}

export interface BufferedTrace {
  readonly key: string;
  readonly firstSeenMs: number;
  readonly spans: BufferedSpan[];
  bytes: number;
  /** One of its spans matched a keep rule: the whole trace is kept. */
  keepWhole: boolean;
}

/** What an ingest left to decide now, and how its spans were taken. */
export interface IngestResult {
  /** Spans decided at once (no trace id, trace already decided, or no room), and traces that reached their span cap. */
  readonly now: BufferedSpan[];
  /** Traces decided early (span cap), with their spans in `now`. */
  readonly early: BufferedTrace[];
  readonly buffered: number;
  /** Spans of traces decided earlier. */
  readonly late: number;
  /** Spans decided at once because the buffer was full. */
  readonly fallback: number;
  /** Spans without a valid trace id. */
  readonly untraced: number;
}

/** Rough per-object costs of the JS heap, so the byte bound covers bookkeeping too. */
const SPAN_OVERHEAD_BYTES = 220;
const TRACE_OVERHEAD_BYTES = 300;
const ENVELOPE_OVERHEAD_BYTES = 120;

/** ResourceSpans.scope_spans and ScopeSpans.spans: the children left out of an envelope. */
const CHILDREN_FIELD = 2;

export class TailBuffer {
  private readonly traces = new Map<string, BufferedTrace>();
  private readonly envelopes = new Map<string, Envelope>();
  private heldBytes = 0;
  private heldSpans = 0;
  private teamsOfGroups: Int32Array = new Int32Array(64);
  private envelopeOfGroup: (Envelope | undefined)[] = [];

  constructor(readonly options: TailBufferOptions) {}

  get bytes(): number {
    return this.heldBytes;
  }

  get traceCount(): number {
    return this.traces.size;
  }

  get spanCount(): number {
    return this.heldSpans;
  }

  /** Takes the spans of a scanned traces request. */
  ingest(ix: WireIndex, rules: CompiledRules, verdicts: TraceVerdicts, nowMs: number): IngestResult {
    const plan = samplingPlan(rules);
    this.teamsOfGroups = teamsOfResourceGroups(ix, rules, this.teamsOfGroups);
    this.envelopeOfGroup = new Array<Envelope | undefined>(ix.groupCount);
    const now: BufferedSpan[] = [];
    const early: BufferedTrace[] = [];
    /** Traces closed by their span cap in this request: their other spans here join them. */
    let closed: Map<string, BufferedTrace> | undefined;
    let buffered = 0;
    let late = 0;
    let fallback = 0;
    let untraced = 0;
    for (let i = 0; i < ix.itemCount; i++) {
      const span = this.spanOf(ix, i);
      const traceIdOffset = ix.itemTraceId[i];
      if (traceIdOffset < 0 || !isValidTraceId(ix.buf, traceIdOffset)) {
        untraced++;
        now.push(span);
        continue;
      }
      const key = traceKey(ix.buf, traceIdOffset);
      const team = this.teamsOfGroups[ix.itemResourceGroup[i]];
      const keepsWhole = firstMatchingRule(ix, plan, 'traces', team >= 0 ? team : rules.defaultTeam, i).action === 'keep';
      const closedTrace = closed?.get(key);
      if (closedTrace !== undefined) {
        closedTrace.keepWhole ||= keepsWhole;
        now.push(span);
        continue;
      }
      if (verdicts.hasKey(key)) {
        late++;
        now.push(span);
        continue;
      }
      let trace = this.traces.get(key);
      const cost = span.bytes.length + SPAN_OVERHEAD_BYTES + (trace === undefined ? TRACE_OVERHEAD_BYTES : 0);
      if (this.heldBytes + cost > this.options.maxBufferedBytes) {
        fallback++;
        now.push(span);
        if (trace !== undefined) trace.keepWhole ||= keepsWhole;
        continue;
      }
      if (trace === undefined) {
        trace = { key, firstSeenMs: nowMs, spans: [], bytes: TRACE_OVERHEAD_BYTES, keepWhole: false };
        this.traces.set(key, trace);
        this.heldBytes += TRACE_OVERHEAD_BYTES;
      }
      trace.spans.push(span);
      trace.bytes += span.bytes.length + SPAN_OVERHEAD_BYTES;
      this.heldBytes += span.bytes.length + SPAN_OVERHEAD_BYTES;
      this.heldSpans++;
      trace.keepWhole ||= keepsWhole;
      buffered++;
      if (trace.spans.length >= this.options.maxSpansPerTrace) {
        this.remove(trace);
        early.push(trace);
        now.push(...trace.spans);
        (closed ??= new Map()).set(key, trace);
      }
    }
    return { now, early, buffered, late, fallback, untraced };
  }

  /** Removes and returns the traces whose decision wait has passed at `nowMs`, oldest first. */
  due(nowMs: number): BufferedTrace[] {
    const due: BufferedTrace[] = [];
    // Map order is insertion order, which is first-seen order: stop at the first young trace.
    for (const trace of this.traces.values()) {
      if (trace.firstSeenMs + this.options.decisionWaitMs > nowMs) break;
      due.push(trace);
    }
    for (const trace of due) this.remove(trace);
    return due;
  }

  /** Removes and returns every buffered trace (shutdown). */
  drain(): BufferedTrace[] {
    const all = [...this.traces.values()];
    for (const trace of all) this.remove(trace);
    return all;
  }

  /** Lets go of spans once they were decided (buffered or not): their envelopes may be freed. */
  release(spans: readonly BufferedSpan[]): void {
    for (const span of spans) {
      this.unref(span.resource);
      this.unref(span.scope);
    }
  }

  private remove(trace: BufferedTrace): void {
    this.traces.delete(trace.key);
    this.heldBytes -= trace.bytes;
    this.heldSpans -= trace.spans.length;
  }

  /** The span's bytes and envelopes; every span holds one reference to each, let go by `release` after its decision. */
  private spanOf(ix: WireIndex, i: number): BufferedSpan {
    const node = ix.itemNode[i];
    const scopeGroup = ix.itemParent[i];
    const resourceGroup = ix.itemResourceGroup[i];
    const resource = (this.envelopeOfGroup[resourceGroup] ??= this.intern(ix, resourceGroup));
    const scope = (this.envelopeOfGroup[scopeGroup] ??= this.intern(ix, scopeGroup));
    resource.refs++;
    scope.refs++;
    return { resource, scope, bytes: ix.buf.slice(ix.nodeTagStart[node], ix.nodeEnd[node]) };
  }

  private intern(ix: WireIndex, group: number): Envelope {
    const node = ix.groupNode[group];
    const bytes = fieldsExcept(ix.buf, ix.nodePayloadStart[node], ix.nodeEnd[node], CHILDREN_FIELD);
    const key = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
    let envelope = this.envelopes.get(key);
    if (envelope === undefined) {
      envelope = { bytes, refs: 0, key };
      this.envelopes.set(key, envelope);
      this.heldBytes += bytes.length + ENVELOPE_OVERHEAD_BYTES;
    }
    return envelope;
  }

  private unref(envelope: Envelope): void {
    envelope.refs--;
    if (envelope.refs > 0) return;
    this.envelopes.delete(envelope.key);
    this.heldBytes -= envelope.bytes.length + ENVELOPE_OVERHEAD_BYTES;
  }
}

/**
 * An ExportTraceServiceRequest of `spans`, grouped back under their resources and scopes:
 * ResourceSpans = resource fields + ScopeSpans*, ScopeSpans = scope fields + span fields.
 */
export function encodeTracesRequest(spans: readonly BufferedSpan[]): Uint8Array {
  const byResource = new Map<Envelope, Map<Envelope, BufferedSpan[]>>();
  for (const span of spans) {
    let byScope = byResource.get(span.resource);
    if (byScope === undefined) byResource.set(span.resource, (byScope = new Map()));
    let group = byScope.get(span.scope);
    if (group === undefined) byScope.set(span.scope, (group = []));
    group.push(span);
  }
  const out = new ByteWriter(spans.reduce((sum, span) => sum + span.bytes.length, 256));
  for (const [resource, byScope] of byResource) {
    out.fork().raw(resource.bytes);
    for (const [scope, group] of byScope) {
      out.fork().raw(scope.bytes);
      for (const span of group) out.raw(span.bytes);
      out.join(CHILDREN_FIELD);
    }
    out.join(1);
  }
  return out.finish();
}
