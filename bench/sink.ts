import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * The downstream Tollgate exports to: an OTLP/HTTP endpoint that reads the body, answers 200
 * with an empty ExportMetricsServiceResponse (zero bytes) and counts. It does no decoding, so
 * it costs as little as an HTTP server can, and the figures measure Tollgate, not the sink.
 *
 * Requests under DIRECT_PATH come straight from the load generator (the latency baseline);
 * everything else came through Tollgate. They are counted apart.
 */

export const DIRECT_PATH = '/direct/v1/metrics';

export interface SinkCounters {
  requests: number;
  bytes: number;
  /** Bodies whose length differs from the request the load generator sends: edited on the way. */
  changedBodies: number;
}

export interface Sink {
  readonly url: string;
  readonly viaTollgate: Readonly<SinkCounters>;
  readonly direct: Readonly<SinkCounters>;
  close(): Promise<void>;
}

/**
 * Tollgate forwards a request nobody edited byte for byte, so a body of any other length than
 * `originalBodyBytes` was edited by a processor on the way: counted, to show what was measured.
 */
export async function startSink(originalBodyBytes: number): Promise<Sink> {
  const viaTollgate: SinkCounters = { requests: 0, bytes: 0, changedBodies: 0 };
  const direct: SinkCounters = { requests: 0, bytes: 0, changedBodies: 0 };
  const server = createServer({ keepAlive: true }, (req: IncomingMessage, res: ServerResponse) => {
    const counters = req.url === DIRECT_PATH ? direct : viaTollgate;
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
    });
    req.on('end', () => {
      counters.requests++;
      counters.bytes += size;
      if (size !== originalBodyBytes) counters.changedBodies++;
      res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': 0 });
      res.end();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    viaTollgate,
    direct,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
