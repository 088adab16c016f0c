// OTLP/JSON ⇄ protobuf. The receiver turns a JSON body into protobuf once, so everything behind
// it sees a single representation. Parsing is lenient where the OTLP/JSON mapping allows it
// (64-bit integers as numbers or strings, enum names, snake_case field names, unknown fields,
// null for absent) and strict about types, naming the JSON path of the first bad value.

import { MAX_ANY_VALUE_DEPTH, NESTING_MESSAGE, OTLP_ENUMS, OTLP_SCHEMA, REQUEST_MESSAGE } from './schema.js';
import type { FieldSchema, MessageSchema, OtlpMessageName, ScalarType } from './schema.js';
import { canonicalDouble, decodeRequest, encodeRequest, int64Of, isBase64, isDefaultScalar, isHex } from './object-codec.js';
import type { OtlpObject, OtlpScalar, OtlpValue } from './object-codec.js';
import type { Signal } from './signal.js';

/** An OTLP/JSON body that is not valid JSON or does not fit the OTLP schema. */
export class OtlpJsonError extends Error {
  constructor(
    /** JSON path of the offending value, e.g. `resourceSpans[0].scopeSpans[1].spans[3].traceId`. */
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${path === '' ? 'request' : path}: ${reason}`);
    this.name = 'OtlpJsonError';
  }
}

/** OTLP/JSON request body → protobuf bytes of the signal's Export*ServiceRequest. */
export function parseOtlpJson(signal: Signal, text: string): Uint8Array {
  return encodeRequest(signal, parseOtlpJsonObject(signal, text));
}

/** OTLP/JSON request body → the canonical object form used by the object codec. */
export function parseOtlpJsonObject(signal: Signal, text: string): OtlpObject {
  let parsed: unknown;
  try {
    parsed = JSON.parse(quoteLongIntegers(text));
  } catch (error) {
    throw new OtlpJsonError('', `invalid JSON (${(error as Error).message})`);
  }
  return normalizeOtlpJson(REQUEST_MESSAGE[signal], parsed);
}

/** Protobuf bytes → canonical OTLP/JSON text on one line. Throws WireError on malformed bytes. */
export function toOtlpJson(signal: Signal, bytes: Uint8Array): string {
  return JSON.stringify(decodeRequest(signal, bytes));
}

/**
 * Any JSON value of a message (as JSON.parse returns it) → canonical object: defaults dropped,
 * 64-bit integers as decimal strings, ids lowercase hex, bytes standard base64, enums numbers.
 */
export function normalizeOtlpJson(name: OtlpMessageName, value: unknown): OtlpObject {
  return normalizeMessage(OTLP_SCHEMA[name], value, '', 0);
}

function normalizeMessage(schema: MessageSchema, value: unknown, path: string, anyValueDepth: number): OtlpObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new OtlpJsonError(path, path === '' ? 'must be a JSON object' : 'must be an object');
  }
  const depth = schema.name === NESTING_MESSAGE ? anyValueDepth + 1 : anyValueDepth;
  if (depth > MAX_ANY_VALUE_DEPTH) throw new OtlpJsonError(path, `AnyValue nesting deeper than ${MAX_ANY_VALUE_DEPTH}`);
  const json = value as Record<string, unknown>;
  const out: OtlpObject = {};
  const oneofSeen = new Map<string, string>();
  for (const field of schema.fields) {
    const raw = fieldValue(json, field);
    if (raw === undefined || raw === null) continue;
    const fieldPath = path === '' ? field.jsonName : `${path}.${field.jsonName}`;
    if (field.oneof !== undefined) {
      const other = oneofSeen.get(field.oneof);
      if (other !== undefined) throw new OtlpJsonError(fieldPath, `cannot be set together with ${other}`);
      oneofSeen.set(field.oneof, field.jsonName);
    }
    const normalized = field.repeated
      ? normalizeRepeated(field, raw, fieldPath, depth)
      : normalizeSingular(field, raw, fieldPath, depth);
    if (normalized !== undefined) out[field.jsonName] = normalized;
  }
  return out;
}

/** The lowerCamelCase name wins; the proto (snake_case) name is accepted as an alias. */
function fieldValue(json: Record<string, unknown>, field: FieldSchema): unknown {
  if (Object.hasOwn(json, field.jsonName)) return json[field.jsonName];
  if (Object.hasOwn(json, field.protoName)) return json[field.protoName];
  return undefined;
}

function normalizeRepeated(field: FieldSchema, raw: unknown, path: string, depth: number): OtlpValue[] | undefined {
  if (!Array.isArray(raw)) throw new OtlpJsonError(path, 'must be an array');
  const values = raw.map((element, i): OtlpValue => {
    const elementPath = `${path}[${i}]`;
    if (field.type === 'message') return normalizeMessage(childSchema(field), element, elementPath, depth);
    if (element === null || element === undefined) throw new OtlpJsonError(elementPath, 'must not be null');
    return normalizeScalar(field, element, elementPath);
  });
  return values.length > 0 ? values : undefined;
}

function normalizeSingular(field: FieldSchema, raw: unknown, path: string, depth: number): OtlpValue | undefined {
  if (field.type === 'message') return normalizeMessage(childSchema(field), raw, path, depth);
  const value = normalizeScalar(field, raw, path);
  return field.explicitPresence || !isDefaultScalar(field.type, value) ? value : undefined;
}

function childSchema(field: FieldSchema): MessageSchema {
  return OTLP_SCHEMA[field.message as OtlpMessageName];
}

const INT32_RANGE = [-(2 ** 31), 2 ** 31 - 1] as const;
const UINT32_RANGE = [0, 2 ** 32 - 1] as const;

function normalizeScalar(field: FieldSchema, raw: unknown, path: string): OtlpScalar {
  const fail = (reason: string): never => {
    throw new OtlpJsonError(path, reason);
  };
  switch (field.type as ScalarType) {
    case 'string':
      return typeof raw === 'string' ? raw : fail('must be a string');
    case 'bytes':
      if (typeof raw !== 'string' || !isBase64(raw)) return fail('must be a base64 string');
      return Buffer.from(raw, 'base64').toString('base64');
    case 'id':
      return normalizeId(field, raw, path);
    case 'bool':
      return typeof raw === 'boolean' ? raw : fail('must be true or false');
    case 'int32':
    case 'sint32':
      return integer32(raw, INT32_RANGE) ?? fail('must be a 32-bit integer');
    case 'uint32':
    case 'fixed32':
      return integer32(raw, UINT32_RANGE) ?? fail('must be an unsigned 32-bit integer');
    case 'enum':
      return normalizeEnum(field, raw) ?? fail(`must be an integer or one of ${enumNames(field).join(', ')}`);
    case 'int64':
    case 'sfixed64':
      return int64Of(raw, true)?.toString() ?? fail('must be a signed 64-bit integer (number or decimal string)');
    case 'uint64':
    case 'fixed64':
      return int64Of(raw, false)?.toString() ?? fail('must be an unsigned 64-bit integer (number or decimal string)');
    case 'double':
      return jsonDouble(raw) ?? fail('must be a number, "NaN", "Infinity" or "-Infinity"');
  }
}

/** Trace and span ids are hex in OTLP/JSON (not base64); an empty string means absent. */
function normalizeId(field: FieldSchema, raw: unknown, path: string): string {
  const length = (field.idLength ?? 0) * 2;
  if (typeof raw !== 'string' || !isHex(raw) || (raw !== '' && length > 0 && raw.length !== length)) {
    throw new OtlpJsonError(path, length > 0 ? `must be ${length} hex characters` : 'must be a hex string');
  }
  return raw.toLowerCase();
}

function integer32(raw: unknown, [min, max]: readonly [number, number]): number | undefined {
  const n = typeof raw === 'string' && /^-?[0-9]+$/.test(raw) ? Number(raw) : raw;
  return typeof n === 'number' && Number.isInteger(n) && n >= min && n <= max ? n : undefined;
}

function enumNames(field: FieldSchema): readonly string[] {
  return field.enumType === undefined ? [] : OTLP_ENUMS[field.enumType];
}

function normalizeEnum(field: FieldSchema, raw: unknown): number | undefined {
  if (typeof raw === 'string') {
    const index = enumNames(field).indexOf(raw);
    if (index >= 0) return index;
  }
  // Unknown numeric values are kept: proto3 enums are open.
  return integer32(raw, INT32_RANGE);
}

const JSON_NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;

function jsonDouble(raw: unknown): number | string | undefined {
  // canonicalDouble because JSON.parse reads an overflowing literal such as 1e400 as Infinity.
  if (typeof raw === 'number') return canonicalDouble(raw);
  if (raw === 'NaN' || raw === 'Infinity' || raw === '-Infinity') return raw;
  // The proto3 JSON mapping also allows a number written as a string.
  if (typeof raw === 'string' && JSON_NUMBER.test(raw)) return canonicalDouble(Number(raw));
  return undefined;
}

/**
 * JSON.parse turns integers above 2^53 into rounded doubles, and nanosecond timestamps are
 * above 2^53. Quoting every integer literal of 16 or more digits before parsing keeps them
 * exact; the schema then reads them back from the decimal string (as OTLP/JSON allows).
 */
export function quoteLongIntegers(text: string): string {
  if (!/[0-9]{16}/.test(text)) return text;
  let out = '';
  let copiedUpTo = 0;
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      i = skipJsonString(text, i);
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      const start = i;
      i++;
      while (i < text.length && isNumberChar(text.charCodeAt(i))) i++;
      const token = text.slice(start, i);
      if (/^-?[1-9][0-9]{15,}$/.test(token)) {
        out += `${text.slice(copiedUpTo, start)}"${token}"`;
        copiedUpTo = i;
      }
    } else {
      i++;
    }
  }
  return copiedUpTo === 0 ? text : out + text.slice(copiedUpTo);
}

/** Returns the index after the string literal opening at `start` (or the end of the text). */
function skipJsonString(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 0x5c) i += 2;
    else if (c === 0x22) return i + 1;
    else i++;
  }
  return i;
}

function isNumberChar(c: number): boolean {
  // digits . e E + -
  return (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === 0x2d;
}
