import type { IncomingMessage } from 'node:http';
import { promisify } from 'node:util';
import { gunzip, inflate } from 'node:zlib';
import { TollgateError } from '../errors/codes.js';
import type { BodyFormat } from '../otlp/status.js';

const gunzipAsync = promisify(gunzip);
const inflateAsync = promisify(inflate);

export type BodyEncoding = 'identity' | 'gzip' | 'deflate';

/** The body format named by a Content-Type header, or undefined when we do not speak it. */
export function bodyFormatOf(contentType: string | undefined): BodyFormat | undefined {
  const mediaType = (contentType ?? '').split(';', 1)[0].trim().toLowerCase();
  if (mediaType === 'application/x-protobuf' || mediaType === 'application/protobuf') return 'protobuf';
  if (mediaType === 'application/json') return 'json';
  return undefined;
}

export function bodyEncodingOf(contentEncoding: string | undefined): BodyEncoding | undefined {
  const encoding = (contentEncoding ?? '').trim().toLowerCase();
  if (encoding === '' || encoding === 'identity' || encoding === 'none') return 'identity';
  if (encoding === 'gzip' || encoding === 'x-gzip') return 'gzip';
  if (encoding === 'deflate') return 'deflate';
  return undefined;
}

/**
 * Reads a request body and decompresses it, enforcing `limit` on the decompressed size (and on
 * the bytes on the wire, which never legitimately exceed it) without buffering past the limit.
 */
export async function readBody(req: IncomingMessage, encoding: BodyEncoding, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    throw new TollgateError('request_too_large', `content-length ${declared} > ${limit} bytes`);
  }
  const raw = await collect(req, limit);
  if (encoding === 'identity') return raw;
  try {
    return await (encoding === 'gzip' ? gunzipAsync : inflateAsync)(raw, { maxOutputLength: limit });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new TollgateError('request_too_large', `decompressed body exceeds ${limit} bytes`);
    }
    throw new TollgateError('malformed_request', `invalid ${encoding} data: ${(error as Error).message}`);
  }
}

function collect(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        chunks.length = 0;
        reject(new TollgateError('request_too_large', `body exceeds ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!failed) resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
    });
    req.on('error', (error) => {
      if (!failed) reject(error);
      failed = true;
    });
  });
}
