// Transparent taps between the collector and Tollgate that note, per request, what was on the
// wire: the compression the collector used and the status Tollgate answered. Tollgate itself
// does not report the content encoding it received, and the collector does not log what it
// sent, so this is how the tests see that gzip really was used and how often a request was tried.
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';

/** One request that crossed the tap. */
export interface TappedRequest {
  readonly path: string;
  /** HTTP: Content-Encoding; gRPC: grpc-encoding (undefined when absent). */
  readonly encoding?: string;
  /** HTTP: the body starts with the gzip magic bytes. gRPC: the first message's compressed flag is set. */
  compressed: boolean;
  /** HTTP status, or for gRPC the grpc-status Tollgate answered ("0" = OK, "14" = UNAVAILABLE). */
  status?: string;
}

export interface WireTap {
  /** host:port the collector sends to. */
  readonly address: string;
  readonly requests: readonly TappedRequest[];
  close(): Promise<void>;
}

function listenAddress(server: http.Server | http2.Http2Server): string {
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function splitHostPort(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  return { host: address.slice(0, at), port: Number(address.slice(at + 1)) };
}

/** An HTTP/1.1 tap in front of an OTLP/HTTP receiver at `target` (host:port). */
export async function startHttpTap(target: string): Promise<WireTap> {
  const requests: TappedRequest[] = [];
  const { host, port } = splitHostPort(target);
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const record: TappedRequest = { path: req.url ?? '', encoding: req.headers['content-encoding'], compressed: body[0] === 0x1f && body[1] === 0x8b };
      requests.push(record);
      const upstream = http.request({ host, port, path: req.url, method: req.method, headers: { ...req.headers, 'content-length': body.length } }, (answer) => {
        record.status = String(answer.statusCode);
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      upstream.on('error', () => {
        record.status = 'network error';
        res.writeHead(502).end();
      });
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: listenAddress(server),
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function withoutPseudoHeaders(headers: http2.IncomingHttpHeaders): http2.OutgoingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !name.startsWith(':')));
}

/**
 * An HTTP/2 cleartext (h2c) tap in front of an OTLP/gRPC receiver at `target`: relays each
 * stream's headers, messages and trailers unchanged.
 */
export async function startGrpcTap(target: string): Promise<WireTap> {
  const requests: TappedRequest[] = [];
  const upstream = http2.connect(`http://${target}`);
  upstream.on('error', () => undefined);
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    const record: TappedRequest = { path: String(headers[':path']), encoding: headers['grpc-encoding'] as string | undefined, compressed: false };
    requests.push(record);
    let first = true;
    const call = upstream.request({ ':method': 'POST', ':path': headers[':path'], ...withoutPseudoHeaders(headers) });
    stream.on('data', (chunk: Buffer) => {
      // A gRPC message starts with a one-byte compressed flag and a four-byte length.
      if (first) record.compressed = chunk[0] === 1;
      first = false;
      call.write(chunk);
    });
    stream.on('end', () => call.end());
    stream.on('error', () => call.close());
    call.on('response', (answer) => {
      if (answer['grpc-status'] !== undefined) {
        // Trailers-only response (an error before any message): headers and status in one frame.
        record.status = String(answer['grpc-status']);
        stream.respond(withoutPseudoHeaders(answer), { endStream: true });
        return;
      }
      stream.respond({ ':status': answer[':status'], ...withoutPseudoHeaders(answer) }, { waitForTrailers: true });
    });
    let trailers: http2.OutgoingHttpHeaders = {};
    call.on('trailers', (received) => {
      record.status = String(received['grpc-status']);
      trailers = withoutPseudoHeaders(received);
    });
    stream.on('wantTrailers', () => stream.sendTrailers(trailers));
    call.on('data', (chunk: Buffer) => stream.write(chunk));
    call.on('end', () => {
      if (!stream.closed && !stream.headersSent) stream.respond({ ':status': 502 }, { endStream: true });
      else if (!stream.writableEnded) stream.end();
    });
    call.on('error', () => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  return {
    address: listenAddress(server),
    requests,
    close: () =>
      new Promise((resolve) => {
        for (const session of sessions) session.destroy();
        upstream.destroy();
        server.close(() => resolve());
      }),
  };
}
