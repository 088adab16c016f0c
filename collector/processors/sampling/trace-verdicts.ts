/**
 * Decisions already made per trace, for tail sampling: a trace decided as a whole (one of its
 * spans matched a keep rule, so all are kept) or at a probability, remembered so that spans
 * arriving after the decision (late spans) get the same answer as the rest of their trace.
 *
 * Bounded by count: when full, the oldest decision is forgotten first (a late span of a
 * forgotten trace is decided at the team's current probability, which is the same decision
 * unless the rate moved in between, since the randomness comes from the trace id).
 */

/** The verdict of a trace one of whose spans matched a keep rule: every span is kept. */
export const KEEP_WHOLE_TRACE = -1;

/** A probability in (0, 1], or KEEP_WHOLE_TRACE. */
export type TraceVerdict = number;

export class TraceVerdicts {
  private readonly verdicts = new Map<string, TraceVerdict>();

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.verdicts.size;
  }

  get(buf: Uint8Array, traceIdOffset: number): TraceVerdict | undefined {
    return this.verdicts.get(traceKey(buf, traceIdOffset));
  }

  set(buf: Uint8Array, traceIdOffset: number, verdict: TraceVerdict): void {
    this.setByKey(traceKey(buf, traceIdOffset), verdict);
  }

  setByKey(key: string, verdict: TraceVerdict): void {
    if (this.capacity <= 0) return;
    // Re-inserting moves the key to the young end, so a trace still receiving spans stays.
    this.verdicts.delete(key);
    if (this.verdicts.size >= this.capacity) {
      const oldest = this.verdicts.keys().next();
      if (!oldest.done) this.verdicts.delete(oldest.value);
    }
    this.verdicts.set(key, verdict);
  }

  hasKey(key: string): boolean {
    return this.verdicts.has(key);
  }
}

/** The 16 trace id bytes as a map key (one latin1 character per byte: no hex formatting). */
export function traceKey(buf: Uint8Array, offset: number): string {
  return Buffer.from(buf.buffer, buf.byteOffset + offset, 16).toString('latin1');
}
