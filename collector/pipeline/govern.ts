import { rewrite } from '../otlp/rewriter.js';
import type { EditList } from '../otlp/rewriter.js';
import { scanRequest } from '../otlp/scanner.js';
import type { Signal } from '../otlp/signal.js';
import type { WireIndex } from '../otlp/wire-index.js';
import type { Processor, ProcessorContext } from './processor.js';

/** What the processors made of one request. */
export interface GovernedRequest {
  /** The request for the exporters: the very input buffer when nothing was edited. */
  readonly body: Uint8Array;
  /** Items left in `body`. */
  readonly items: number;
  /** Items refused by policy (partial success), and the processors' messages joined. */
  readonly rejected: number;
  readonly message: string | undefined;
}

/** Told the items that went into and came out of each processor, for the self-metrics. */
export type ProcessorTally = (processor: Processor, direction: 'in' | 'out', items: number) => void;

/**
 * Runs `processors` in turn on a request already scanned into `index`. A processor that edited
 * is followed by a rewrite, and the next processor that runs sees the rewritten request (policies
 * apply before counting). The re-scan waits until a processor needs it, so idle processors and
 * the last rewrite cost no scan. Pure apart from the shared index and edit list it reuses.
 */
export function governRequest(index: WireIndex, edits: EditList, processors: readonly Processor[], context: ProcessorContext, tally?: ProcessorTally): GovernedRequest {
  const signal: Signal = index.signal;
  let current = index.buf;
  let items = index.itemCount;
  let rejected = 0;
  const messages: string[] = [];
  let indexStale = false;
  for (const processor of processors) {
    tally?.(processor, 'in', items);
    if (processor.idle?.() !== true) {
      if (indexStale) scanRequest(index, signal, current);
      indexStale = false;
      edits.clear();
      const rejection = processor.process(index, edits, context);
      if (rejection && rejection.items > 0) {
        rejected += rejection.items;
        messages.push(rejection.message);
      }
      if (!edits.isEmpty) {
        const result = rewrite(index, edits);
        current = result.bytes;
        items = result.items;
        indexStale = true;
      }
    }
    tally?.(processor, 'out', items);
  }
  return { body: current, items, rejected, message: messages.length > 0 ? messages.join('; ') : undefined };
}
