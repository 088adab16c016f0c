import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * The load generator: POSTs one fixed OTLP protobuf body over keep-alive connections, either as
 * fast as the server answers (closed loop, fixed concurrency: saturation throughput) or at a
 * fixed rate (open loop: latency at a given load).
 *
 * Every run has a warm-up (connections opened, JIT warmed, caches filled) and a measured window;
 * only responses that complete inside the window count.
 */

export interface LoadTarget {
  readonly url: URL;
  /** Sent in turn, one per request. */
  readonly bodies: readonly Buffer[];
  readonly agent: http.Agent;
  /** How many requests were started, which picks the next body. */
  sent: number;
}

/** Called when the measured window opens and closes, to sample CPU time and counters at the same moments. */
export interface WindowProbe {
  begin(): void;
  end(): void;
}

export interface LoadResult {
  /** 2xx responses completed inside the window. */
  readonly completed: number;
  /** Non-2xx responses and network errors inside the window, by status (0 = network error). */
  readonly failures: ReadonlyMap<number, number>;
  /** 2xx responses over the whole run, warm-up included (to reconcile with the sink's count). */
  readonly completedTotal: number;
  readonly windowSeconds: number;
  /** Latency of each 2xx response completed inside the window, ms. */
  readonly latenciesMs: readonly number[];
  /** 2xx responses per one-second slice of the window, so a median rate can be taken like the other suites'. */
  readonly completedPerSecond: readonly number[];
}

/** Longest wait for requests still in flight when a run ends. */
const DRAIN_TIMEOUT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 10_000;

/** `body`: one request sent every time, or several sent in turn (distinct bodies keep compression honest). */
export function createTarget(url: string, body: Uint8Array | readonly Uint8Array[], maxSockets: number): LoadTarget {
  const bodies = (Array.isArray(body) ? body : [body]) as readonly Uint8Array[];
  return {
    url: new URL(url),
    bodies: bodies.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength)),
    agent: new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets }),
    sent: 0,
  };
}

/** One POST; resolves with the status (0 for a network error) once the response body is read. Never rejects. */
function post(target: LoadTarget): Promise<number> {
  const body = target.bodies[target.sent++ % target.bodies.length];
  return new Promise((resolve) => {
    const req = http.request(
      target.url,
      {
        method: 'POST',
        agent: target.agent,
        headers: { 'content-type': 'application/x-protobuf', 'content-length': body.length },
      },
      (res) => {
        res.resume();
        res.once('end', () => resolve(res.statusCode ?? 0));
        res.once('error', () => resolve(0));
      },
    );
    req.once('error', () => resolve(0));
    // A hung server must not hang the run: give up on the request and count a failure.
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy());
    req.end(body);
  });
}

/** Window bookkeeping shared by both load shapes. */
class Recorder {
  readonly windowStart: number;
  readonly windowEnd: number;
  completed = 0;
  completedTotal = 0;
  readonly failures = new Map<number, number>();
  readonly latenciesMs: number[] = [];
  readonly completedPerSecond: number[];

  constructor(warmupMs: number, measureMs: number, probe: WindowProbe | undefined) {
    const now = performance.now();
    this.windowStart = now + warmupMs;
    this.windowEnd = this.windowStart + measureMs;
    this.completedPerSecond = new Array<number>(Math.ceil(measureMs / 1000)).fill(0);
    if (probe) {
      setTimeout(() => probe.begin(), warmupMs);
      setTimeout(() => probe.end(), warmupMs + measureMs);
    }
  }

  get finished(): boolean {
    return performance.now() >= this.windowEnd;
  }

  record(status: number, sentAt: number): void {
    const now = performance.now();
    const ok = status >= 200 && status < 300;
    if (ok) this.completedTotal++;
    if (now < this.windowStart || now > this.windowEnd) return;
    if (ok) {
      this.completed++;
      this.latenciesMs.push(now - sentAt);
      const slice = Math.min(this.completedPerSecond.length - 1, Math.floor((now - this.windowStart) / 1000));
      this.completedPerSecond[slice]++;
    } else {
      this.failures.set(status, (this.failures.get(status) ?? 0) + 1);
    }
  }

  result(): LoadResult {
    return {
      completed: this.completed,
      failures: this.failures,
      completedTotal: this.completedTotal,
      windowSeconds: (this.windowEnd - this.windowStart) / 1000,
      latenciesMs: this.latenciesMs,
      completedPerSecond: this.completedPerSecond,
    };
  }
}

/** `concurrency` workers, each sending its next request as soon as the previous one is answered. */
export async function runClosedLoop(target: LoadTarget, concurrency: number, warmupMs: number, measureMs: number, probe?: WindowProbe): Promise<LoadResult> {
  const recorder = new Recorder(warmupMs, measureMs, probe);
  const worker = async (): Promise<void> => {
    while (!recorder.finished) {
      const sentAt = performance.now();
      const status = await post(target);
      recorder.record(status, sentAt);
      // A dead server answers instantly; do not spin the CPU the sink shares with us.
      if (status === 0) await sleep(10);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return recorder.result();
}

/**
 * Sends at a fixed rate regardless of how fast answers come (open loop). Latency is measured
 * from the moment a request was *due* (or sent, if earlier), so that if the generator or the
 * server falls behind, the delay shows up in the figures instead of being hidden
 * ("coordinated omission").
 */
export async function runPaced(target: LoadTarget, requestsPerSecond: number, warmupMs: number, measureMs: number, probe?: WindowProbe): Promise<LoadResult> {
  const recorder = new Recorder(warmupMs, measureMs, probe);
  const intervalMs = 1000 / requestsPerSecond;
  const start = performance.now();
  const inFlight = new Set<Promise<void>>();
  let sent = 0;
  while (!recorder.finished) {
    const dueAt = start + sent * intervalMs;
    const wait = dueAt - performance.now();
    if (wait > 0) await sleep(wait);
    // Timers have millisecond granularity and fire a little early or late. Late: count from the
    // due time, so generator lag is not hidden. Early: count from the real send, so no latency
    // is made to look shorter than it was.
    const latencyFrom = Math.min(dueAt, performance.now());
    const request = post(target).then((status) => {
      recorder.record(status, latencyFrom);
      inFlight.delete(request);
    });
    inFlight.add(request);
    sent++;
  }
  await Promise.race([Promise.all(inFlight), sleep(DRAIN_TIMEOUT_MS)]);
  return recorder.result();
}
