import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { decodeRequest } from '../../collector/otlp/object-codec.js';
import type { OtlpObject } from '../../collector/otlp/object-codec.js';
import type { Signal } from '../../collector/otlp/signal.js';

export interface ReceivedRequest {
  readonly signal: Signal;
  readonly body: Uint8Array;
  readonly headers: IncomingMessage['headers'];
  readonly at: number;
  /** The answer the downstream gave. */
  readonly status: number;
}

/** Decides the status (and headers) of each request; default: 200. */
export type Responder = (request: { signal: Signal; index: number }) => { status: number; headers?: Record<string, string> };

export interface Downstream {
  readonly url: string;
  /** Every request that reached it, in arrival order, bodies decompressed. */
  readonly requests: ReceivedRequest[];
  /** The requests it answered 200, decoded. */
  accepted(signal: Signal): OtlpObject[];
  setResponder(responder: Responder): void;
  close(): Promise<void>;
}

const SIGNAL_BY_PATH: Readonly<Record<string, Signal>> = { '/v1/metrics': 'metrics', '/v1/traces': 'traces', '/v1/logs': 'logs' };

/** A real OTLP/HTTP protobuf receiver on 127.0.0.1 that records what it is sent. */
export async function startDownstream(responder: Responder = () => ({ status: 200 })): Promise<Downstream> {
  const requests: ReceivedRequest[] = [];
  let respond = responder;
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const signal = SIGNAL_BY_PATH[req.url ?? ''];
      if (!signal) {
        res.writeHead(404).end();
        return;
      }
      const raw = Buffer.concat(chunks);
      const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
      const { status, headers } = respond({ signal, index: requests.length });
      requests.push({ signal, body: new Uint8Array(body), headers: req.headers, at: Date.now(), status });
      res.writeHead(status, { 'Content-Type': 'application/x-protobuf', ...headers });
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    accepted: (signal) => requests.filter((r) => r.signal === signal && r.status === 200).map((r) => decodeRequest(signal, r.body)),
    setResponder: (next) => {
      respond = next;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
