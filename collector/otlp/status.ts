// Response bodies an OTLP server writes: google.rpc.Status for rejected requests (HTTP 400/413/
// 429/503 bodies, gRPC status details) and Export*ServiceResponse, optionally carrying
// partial_success, for accepted ones. Both come in the request's format, protobuf or JSON.

import { decodeMessage, encodeMessage } from './object-codec.js';
import type { OtlpObject } from './object-codec.js';
import { normalizeOtlpJson } from './otlp-json.js';
import { REJECTED_FIELD, RESPONSE_MESSAGE } from './schema.js';
import type { OtlpMessageName } from './schema.js';
import type { Signal } from './signal.js';

/** gRPC status codes (grpc/doc/statuscodes.md), as google.rpc.Status.code carries them. */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

export type GrpcStatusCode = (typeof GrpcStatus)[keyof typeof GrpcStatus];

/** Body encoding; OTLP answers in the format the request came in. */
export type BodyFormat = 'protobuf' | 'json';

export const BODY_CONTENT_TYPE: Readonly<Record<BodyFormat, string>> = {
  protobuf: 'application/x-protobuf',
  json: 'application/json',
};

export interface RpcStatus {
  code: number;
  message: string;
}

/** The partial_success of an Export*ServiceResponse: how many items were rejected, and why. */
export interface PartialSuccess {
  rejected: number;
  message: string;
}

const jsonEncoder = new TextEncoder();
const jsonDecoder = new TextDecoder();

/** google.rpc.Status with code and message (details are never written). */
export function encodeStatus(code: number, message: string, format: BodyFormat): Uint8Array {
  if (!Number.isInteger(code) || code < 0 || code > 0x7fffffff) throw new RangeError(`invalid status code ${code}`);
  // JSON keeps both fields even when default, so a human reading an error body sees them.
  if (format === 'json') return jsonEncoder.encode(JSON.stringify({ code, message }));
  return encodeMessage('RpcStatus', { code, message });
}

/** Reads a google.rpc.Status body (for tests and for exporters reading a downstream's answer). */
export function decodeStatus(bytes: Uint8Array, format: BodyFormat): RpcStatus {
  const obj = decodeBody('RpcStatus', bytes, format);
  return { code: typeof obj.code === 'number' ? obj.code : 0, message: typeof obj.message === 'string' ? obj.message : '' };
}

/**
 * Export*ServiceResponse for a signal. Without a partial success (or with an empty one, which
 * the spec says means the same) the response is empty: zero bytes, or `{}` in JSON.
 */
export function encodeExportResponse(signal: Signal, partial: PartialSuccess | undefined, format: BodyFormat): Uint8Array {
  const response = exportResponseObject(signal, partial);
  if (format === 'json') return jsonEncoder.encode(JSON.stringify(response));
  return encodeMessage(RESPONSE_MESSAGE[signal], response);
}

/** Reads an Export*ServiceResponse; undefined when partial_success is absent. */
export function decodeExportResponse(signal: Signal, bytes: Uint8Array, format: BodyFormat): PartialSuccess | undefined {
  const partial = decodeBody(RESPONSE_MESSAGE[signal], bytes, format).partialSuccess as OtlpObject | undefined;
  if (partial === undefined) return undefined;
  const rejected = partial[REJECTED_FIELD[signal]];
  const message = partial.errorMessage;
  return { rejected: Number(rejected ?? 0), message: typeof message === 'string' ? message : '' };
}

function exportResponseObject(signal: Signal, partial: PartialSuccess | undefined): OtlpObject {
  if (partial === undefined || (partial.rejected === 0 && partial.message === '')) return {};
  if (!Number.isSafeInteger(partial.rejected) || partial.rejected < 0) {
    throw new RangeError(`invalid rejected count ${partial.rejected}`);
  }
  // Canonical OTLP/JSON: int64 as a decimal string, default values left out.
  const body: OtlpObject = {};
  if (partial.rejected !== 0) body[REJECTED_FIELD[signal]] = String(partial.rejected);
  if (partial.message !== '') body.errorMessage = partial.message;
  return { partialSuccess: body };
}

function decodeBody(name: OtlpMessageName, bytes: Uint8Array, format: BodyFormat): OtlpObject {
  if (format === 'protobuf') return decodeMessage(name, bytes);
  return normalizeOtlpJson(name, JSON.parse(jsonDecoder.decode(bytes)));
}
