import type { EditList } from '../otlp/rewriter.js';
import type { Signal } from '../otlp/signal.js';
import type { WireIndex } from '../otlp/wire-index.js';

/** What a processor may use besides the request: injected so processors stay pure and testable. */
export interface ProcessorContext {
  /** Epoch milliseconds. */
  now(): number;
  /** Uniform in [0, 1). */
  random(): number;
}

/**
 * Items a processor refused on policy grounds, reported to the client as OTLP partial success
 * (the client must not retry them).
 */
export interface Rejection {
  readonly items: number;
  readonly message: string;
}

/**
 * A processor reads the scanned request and records edits; it never touches I/O and never
 * throws on bad data (it passes or drops what it cannot handle, and counts it).
 */
export interface Processor {
  readonly name: string;
  readonly signals: readonly Signal[];
  process(index: WireIndex, edits: EditList, context: ProcessorContext): Rejection | undefined;
  /**
   * True when `process` would neither edit nor count the request at hand (asked just before it
   * would run): the pipeline then skips it, and the re-scan it would have needed.
   */
  readonly idle?: () => boolean;
  /**
   * True when `process` reads attributes through `edits.attributeEdit` and skips items
   * `edits.isDropped` reports: earlier processors' attribute edits and item drops may then be
   * left in the edit list for it, instead of a rewrite and a re-scan before it runs.
   */
  readonly readsPendingEdits?: boolean;
}

export const SYSTEM_CONTEXT: ProcessorContext = { now: () => Date.now(), random: Math.random };
