// An HTTP proxy on 127.0.0.1 that records the exact bytes a client sends before passing each
// request on unchanged: put it between the SDK and Tollgate to compare, byte for byte, what the
// SDK sent with what reached the downstream.
import { createServer, request as httpRequest } from 'node:http';
import type { IncomingMessage, OutgoingHttpHeaders, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  readonly path: string;
  /** The body as the client sent it (still compressed if it was). */
  readonly body: Uint8Array;
  /** The status the target answered. */
  readonly status: number;
}

export interface RecordingProxy {
  /** host:port clients send to. */
  readonly address: string;
  readonly requests: readonly RecordedRequest[];
  close(): Promise<void>;
}

/** Forwards every request to `target` (host:port) and its answer back to the client. */
export async function startRecordingProxy(target: string): Promise<RecordingProxy> {
  const requests: RecordedRequest[] = [];
  const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const headers: OutgoingHttpHeaders = { ...req.headers, host: target, 'content-length': String(body.length) };
      // The body goes on whole, with its length: not chunked, whatever the client did.
      delete headers.connection;
      delete headers['transfer-encoding'];
      const upstream = httpRequest({ host, port, method: req.method, path: req.url, headers }, (answer) => {
        const answerChunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => answerChunks.push(chunk));
        answer.on('end', () => {
          requests.push({ path: req.url ?? '', body: new Uint8Array(body), status: answer.statusCode ?? 0 });
          const answerHeaders = { ...answer.headers };
          delete answerHeaders.connection;
          delete answerHeaders['transfer-encoding'];
          res.writeHead(answer.statusCode ?? 502, { ...answerHeaders, 'content-length': String(Buffer.concat(answerChunks).length) });
          res.end(Buffer.concat(answerChunks));
        });
      });
      upstream.on('error', (error) => {
        res.writeHead(502).end(error.message);
      });
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: own } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${own}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
