import type { CompiledRules } from '../../../rules/compiled.js';
import { EditList, rewrite } from '../../otlp/rewriter.js';
import { scanRequest } from '../../otlp/scanner.js';
import { WireIndex } from '../../otlp/wire-index.js';
import type { ExportRequest } from '../../pipeline/contracts.js';
import { SYSTEM_CONTEXT } from '../../pipeline/processor.js';
import { createSamplingProcessor } from './sampler.js';
import type { SamplerOptions } from './sampler.js';
import { encodeTracesRequest, TailBuffer } from './tail-buffer.js';
import type { BufferedSpan, BufferedTrace, IngestResult } from './tail-buffer.js';
import { KEEP_WHOLE_TRACE, TraceVerdicts } from './trace-verdicts.js';

/**
 * Tail sampling of spans for a gateway: a trace is decided once its decision wait has passed,
 * on all the spans that arrived by then, with the same rules and the same consistent
 * probability as the head sampler — except that one span matching a keep rule (an error, a slow
 * request) keeps every span of its trace, and the decision is remembered for the trace's late
 * spans. Pure: the caller feeds requests and the clock, and exports what comes out.
 */

export interface TailSettings {
  readonly decisionWaitMs: number;
  readonly maxSpansPerTrace: number;
  readonly maxBufferedBytes: number;
  /** Trace decisions remembered for late spans. */
  readonly decisionCacheSize: number;
}

export const TAIL_DEFAULTS: TailSettings = {
  decisionWaitMs: 5000,
  maxSpansPerTrace: 1000,
  maxBufferedBytes: 64 * 1024 * 1024,
  decisionCacheSize: 100_000,
};

export interface TailObserver {
  onIngest(result: Pick<IngestResult, 'buffered' | 'late' | 'fallback' | 'untraced'>): void;
  /** Traces decided: their wait passed, they reached the span cap (early), or the process stops. */
  onDecided(traces: number, reason: DecisionReason): void;
}

export type DecisionReason = 'wait' | 'early' | 'shutdown';

export interface TailSamplerOptions extends Omit<SamplerOptions, 'signals' | 'verdicts'> {
  readonly settings: TailSettings;
  readonly tailObserver?: TailObserver;
}

export interface TailSampler {
  /** Takes a traces request (as the processors before sampling left it); returns what was decided at once. */
  ingest(body: Uint8Array, nowMs: number): ExportRequest | undefined;
  /** Decides the traces whose wait has passed at `nowMs`. */
  due(nowMs: number): ExportRequest[];
  /** Decides everything buffered (shutdown). */
  drain(): ExportRequest[];
  bufferedBytes(): number;
  bufferedTraces(): number;
  bufferedSpans(): number;
}

/** Spans per request sent downstream: decided traces are grouped up to about this many. */
const SPANS_PER_REQUEST = 2048;

export function createTailSampler(options: TailSamplerOptions): TailSampler {
  const { settings, tailObserver } = options;
  const verdicts = new TraceVerdicts(settings.decisionCacheSize);
  const buffer = new TailBuffer(settings);
  const sampler = createSamplingProcessor({ ...options, signals: ['traces'], verdicts });
  const index = new WireIndex();
  const edits = new EditList();

  /** Runs the sampler over `spans` (whole traces, or one request's undecidable spans). */
  function decide(spans: readonly BufferedSpan[], traces: readonly BufferedTrace[]): ExportRequest | undefined {
    for (const trace of traces) if (trace.keepWhole) verdicts.setByKey(trace.key, KEEP_WHOLE_TRACE);
    try {
      if (spans.length === 0) return undefined;
      scanRequest(index, 'traces', encodeTracesRequest(spans));
      edits.clear();
      sampler.process(index, edits, SYSTEM_CONTEXT);
      const { bytes, items } = edits.isEmpty ? { bytes: index.buf, items: index.itemCount } : rewrite(index, edits);
      return items > 0 ? { signal: 'traces', body: bytes, items } : undefined;
    } finally {
      buffer.release(spans);
    }
  }

  /** Decides traces in requests of about SPANS_PER_REQUEST spans, never splitting a trace. */
  function decideTraces(traces: readonly BufferedTrace[], reason: DecisionReason): ExportRequest[] {
    const requests: ExportRequest[] = [];
    let batch: BufferedTrace[] = [];
    let spans: BufferedSpan[] = [];
    const flush = (): void => {
      const request = decide(spans, batch);
      if (request) requests.push(request);
      batch = [];
      spans = [];
    };
    for (const trace of traces) {
      batch.push(trace);
      for (const span of trace.spans) spans.push(span);
      if (spans.length >= SPANS_PER_REQUEST) flush();
    }
    if (batch.length > 0) flush();
    if (traces.length > 0) tailObserver?.onDecided(traces.length, reason);
    return requests;
  }

  return {
    ingest(body, nowMs) {
      const rules: CompiledRules = options.rules();
      scanRequest(index, 'traces', body);
      const result = buffer.ingest(index, rules, verdicts, nowMs);
      tailObserver?.onIngest(result);
      if (result.early.length > 0) tailObserver?.onDecided(result.early.length, 'early');
      return decide(result.now, result.early);
    },
    due: (nowMs) => decideTraces(buffer.due(nowMs), 'wait'),
    drain: () => decideTraces(buffer.drain(), 'shutdown'),
    bufferedBytes: () => buffer.bytes,
    bufferedTraces: () => buffer.traceCount,
    bufferedSpans: () => buffer.spanCount,
  };
}
