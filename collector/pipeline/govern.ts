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
 * the last rewrite cost no scan; and when the next processor to run reads through pending edits
 * (`readsPendingEdits`) and the edits allow it, there is neither rewrite nor re-scan before it.
 * Pure apart from the shared index and edit list it reuses.
 */
export function governRequest(index: WireIndex, edits: EditList, processors: readonly Processor[], context: ProcessorContext, tally?: ProcessorTally): GovernedRequest {
  const signal: Signal = index.signal;
  let current = index.buf;
  let items = index.itemCount;
  let rejected = 0;
  const messages: string[] = [];
  let indexStale = false;
  /** Edits left in `edits` for the next processor to read through, not yet applied. */
  let pending = false;
  const apply = (): void => {
    const result = rewrite(index, edits);
    current = result.bytes;
    items = result.items;
    indexStale = true;
    pending = false;
  };
  for (let k = 0; k < processors.length; k++) {
    const processor = processors[k];
    tally?.(processor, 'in', items);
    if (processor.idle?.() !== true) {
      if (pending && processor.readsPendingEdits !== true) apply();
      if (!pending) {
        if (indexStale) scanRequest(index, signal, current);
        indexStale = false;
        edits.clear();
      }
      pending = false;
      const rejection = processor.process(index, edits, context);
      if (rejection && rejection.items > 0) {
        rejected += rejection.items;
        messages.push(rejection.message);
      }
      if (!edits.isEmpty) {
        if (edits.readableInPlace && nextToRun(processors, k)?.readsPendingEdits === true) {
          pending = true;
          items = index.itemCount - edits.dropped.length;
        } else apply();
      }
    }
    tally?.(processor, 'out', items);
  }
  if (pending) apply();
  return { body: current, items, rejected, message: messages.length > 0 ? messages.join('; ') : undefined };
}

/** The first processor after position `k` that is not idle. */
function nextToRun(processors: readonly Processor[], k: number): Processor | undefined {
  for (let next = k + 1; next < processors.length; next++) if (processors[next].idle?.() !== true) return processors[next];
  return undefined;
}
