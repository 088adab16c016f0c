import { parentPort } from 'node:worker_threads';

/**
 * The `api` suite's API client, on a worker thread of the bench process: the load generator
 * and the sink keep the main thread's event loop busy, and a client sharing that loop would
 * time its own wait for a turn as API latency. On its own thread it is woken as soon as an
 * answer arrives (it shares core 1's CPU time, not a queue of callbacks).
 *
 * Messages: in, a batch of requests; out, one result per batch, in the same order.
 */

export interface ClientRequest {
  readonly url: string;
  readonly token: string;
}

export interface ClientBatch {
  readonly requests: readonly ClientRequest[];
}

export interface ClientResult {
  /** Per request: latency to the last byte (ms), the HTTP status (0: network error) and the answer's size. */
  readonly latenciesMs: number[];
  readonly statuses: number[];
  readonly bytes: number[];
}

async function run(batch: ClientBatch): Promise<ClientResult> {
  const result: ClientResult = { latenciesMs: [], statuses: [], bytes: [] };
  // One request at a time: each is timed alone, as a person or a script waiting for its answer.
  for (const { url, token } of batch.requests) {
    const started = performance.now();
    let status = 0;
    let size = 0;
    try {
      const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
      size = (await response.arrayBuffer()).byteLength;
      status = response.status;
    } catch {
      status = 0;
    }
    result.latenciesMs.push(performance.now() - started);
    result.statuses.push(status);
    result.bytes.push(size);
  }
  return result;
}

parentPort?.on('message', (batch: ClientBatch) => {
  void run(batch).then((result) => parentPort?.postMessage(result));
});
