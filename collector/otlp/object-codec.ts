// The full OTLP object codec: protobuf bytes ⇄ plain objects in canonical OTLP/JSON form.
// Not the hot path (that works on the wire index); this is for OTLP/JSON ingestion, tests and
// debugging. One schema-driven decode loop and one encode loop serve every message.
//
// Canonical object form (the OTLP/JSON mapping of proto3):
//   - lowerCamelCase field names;
//   - int64/uint64/fixed64/sfixed64 as decimal strings, 32-bit integers and enums as numbers;
//   - trace/span ids as lowercase hex, other bytes as base64;
//   - doubles as numbers, except NaN/±Infinity as "NaN" / "Infinity" / "-Infinity";
//   - scalars holding the proto3 default and empty repeated fields are omitted, while oneof
//     members and proto3 `optional` fields are kept whatever their value (they have presence);
//   - sub-messages present on the wire are kept, even when empty (`{}`).

import {
  ByteWriter,
  readDouble,
  readFixed32,
  readFixed64Big,
  readVarint,
  readVarintBig,
  skipField,
  WireError,
  WIRE_LEN,
} from './wire.js';
import type { Cursor } from './wire.js';
import { MAX_ANY_VALUE_DEPTH, NESTING_MESSAGE, OTLP_SCHEMA, REQUEST_MESSAGE } from './schema.js';
import type { FieldSchema, MessageSchema, OtlpMessageName, ScalarType } from './schema.js';
import type { Signal } from './signal.js';

export type OtlpScalar = string | number | boolean;
export type OtlpValue = OtlpScalar | OtlpObject | OtlpValue[];
export interface OtlpObject {
  [field: string]: OtlpValue;
}

/** A canonical object the encoder cannot represent (wrong type, out of range, too deep). */
export class OtlpObjectError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OtlpObjectError';
  }
}

export function decodeRequest(signal: Signal, bytes: Uint8Array): OtlpObject {
  return decodeMessage(REQUEST_MESSAGE[signal], bytes);
}

export function encodeRequest(signal: Signal, obj: OtlpObject): Uint8Array {
  return encodeMessage(REQUEST_MESSAGE[signal], obj);
}

/** Decodes any message of the schema; throws WireError (and nothing else) on malformed input. */
export function decodeMessage(name: OtlpMessageName, bytes: Uint8Array): OtlpObject {
  const target: OtlpObject = {};
  decodeInto(OTLP_SCHEMA[name], bytes, 0, bytes.length, target, 0);
  return target;
}

/** Encodes a canonical object; fields are written in field-number order, repeated scalars packed. */
export function encodeMessage(name: OtlpMessageName, obj: OtlpObject): Uint8Array {
  const writer = new ByteWriter();
  writeMessage(OTLP_SCHEMA[name], obj, writer, 0);
  return writer.finish();
}

// ---------------------------------------------------------------------------------------------
// Decoding

const MAX_TAG = 0xffffffff;
const utf8 = new TextDecoder('utf-8');

function decodeInto(
  schema: MessageSchema,
  buf: Uint8Array,
  start: number,
  end: number,
  target: OtlpObject,
  anyValueDepth: number,
): void {
  const depth = schema.name === NESTING_MESSAGE ? anyValueDepth + 1 : anyValueDepth;
  if (depth > MAX_ANY_VALUE_DEPTH) throw new WireError(`AnyValue nesting deeper than ${MAX_ANY_VALUE_DEPTH}`, start);
  const cursor: Cursor = { pos: start };
  while (cursor.pos < end) {
    const tagPos = cursor.pos;
    const tag = readVarint(buf, cursor, end);
    if (tag > MAX_TAG) throw new WireError('field tag larger than 32 bits', tagPos);
    const fieldNumber = Math.floor(tag / 8);
    const wireType = tag & 7;
    if (fieldNumber === 0) throw new WireError('field number 0', tagPos);
    const field = schema.byNumber.get(fieldNumber);
    if (field === undefined) {
      // Unknown fields are skipped, but still validated so garbage cannot hide behind them.
      cursor.pos = skipField(buf, wireType, cursor.pos, end);
    } else if (field.type === 'message') {
      decodeMessageField(schema, field, wireType, buf, cursor, end, target, depth);
    } else if (field.packed && wireType === WIRE_LEN) {
      decodePackedField(field, buf, cursor, end, target);
    } else {
      if (wireType !== field.wireType) {
        throw new WireError(`wrong wire type ${wireType} for ${schema.name}.${field.jsonName}`, tagPos);
      }
      const value = readScalar(field.type, buf, cursor, end);
      if (field.repeated) appendTo(target, field, value);
      else setSingular(schema, field, target, value);
    }
  }
}

function decodeMessageField(
  schema: MessageSchema,
  field: FieldSchema,
  wireType: number,
  buf: Uint8Array,
  cursor: Cursor,
  end: number,
  target: OtlpObject,
  depth: number,
): void {
  if (wireType !== WIRE_LEN) {
    throw new WireError(`wrong wire type ${wireType} for ${schema.name}.${field.jsonName}`, cursor.pos);
  }
  const stop = readLengthPrefix(buf, cursor, end);
  const child = OTLP_SCHEMA[field.message as OtlpMessageName];
  if (field.repeated) {
    const element: OtlpObject = {};
    decodeInto(child, buf, cursor.pos, stop, element, depth);
    appendTo(target, field, element);
  } else {
    // A singular message seen twice is merged into the first, as protobuf parsers do.
    const existing = target[field.jsonName];
    const element = isPlainObject(existing) ? existing : {};
    clearOneofSiblings(schema, field, target);
    decodeInto(child, buf, cursor.pos, stop, element, depth);
    target[field.jsonName] = element;
  }
  cursor.pos = stop;
}

function decodePackedField(field: FieldSchema, buf: Uint8Array, cursor: Cursor, end: number, target: OtlpObject): void {
  const stop = readLengthPrefix(buf, cursor, end);
  const values = existingArray(target, field);
  const inner: Cursor = { pos: cursor.pos };
  // readScalar bounds every element by `stop`, so a packed run cannot read past its length.
  while (inner.pos < stop) values.push(readScalar(field.type as ScalarType, buf, inner, stop));
  if (values.length > 0) target[field.jsonName] = values;
  cursor.pos = stop;
}

/** Reads a length prefix and returns where the delimited bytes stop; cursor is left at their start. */
function readLengthPrefix(buf: Uint8Array, cursor: Cursor, end: number): number {
  const at = cursor.pos;
  const length = readVarint(buf, cursor, end);
  const stop = cursor.pos + length;
  if (stop > end) throw new WireError('length past the end of its message', at);
  return stop;
}

function readScalar(type: ScalarType, buf: Uint8Array, cursor: Cursor, end: number): OtlpScalar {
  switch (type) {
    case 'bool':
      return readVarintBig(buf, cursor, end) !== 0n;
    case 'int32':
    case 'enum':
      // Negative int32s are sign-extended to 10 bytes on the wire; keep the low 32 bits.
      return Number(BigInt.asIntN(32, readVarintBig(buf, cursor, end)));
    case 'uint32':
      return Number(BigInt.asUintN(32, readVarintBig(buf, cursor, end)));
    case 'sint32':
      return zigzagDecode32(Number(BigInt.asUintN(32, readVarintBig(buf, cursor, end))));
    case 'int64':
      return BigInt.asIntN(64, readVarintBig(buf, cursor, end)).toString();
    case 'uint64':
      return readVarintBig(buf, cursor, end).toString();
    case 'fixed64':
      return readFixed64Big(buf, take(cursor, 8, end)).toString();
    case 'sfixed64':
      return BigInt.asIntN(64, readFixed64Big(buf, take(cursor, 8, end))).toString();
    case 'fixed32':
      return readFixed32(buf, take(cursor, 4, end));
    case 'double':
      return canonicalDouble(readDouble(buf, take(cursor, 8, end)));
    case 'string':
    case 'bytes':
    case 'id': {
      const stop = readLengthPrefix(buf, cursor, end);
      const bytes = buf.subarray(cursor.pos, stop);
      cursor.pos = stop;
      // Strings are decoded leniently (invalid UTF-8 becomes U+FFFD), like protobufjs and the
      // Collector's pdata: a bad byte in one attribute is not worth rejecting a whole batch.
      if (type === 'string') return utf8.decode(bytes);
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString(type === 'id' ? 'hex' : 'base64');
    }
  }
}

/** Advances the cursor over a fixed-size value and returns where it starts. */
function take(cursor: Cursor, size: number, end: number): number {
  const at = cursor.pos;
  if (at + size > end) throw new WireError(`truncated fixed${size * 8}`, at);
  cursor.pos = at + size;
  return at;
}

function zigzagDecode32(n: number): number {
  return (n >>> 1) ^ -(n & 1);
}

function zigzagEncode32(n: number): number {
  return ((n << 1) ^ (n >> 31)) >>> 0;
}

/** NaN and the infinities have no JSON number form; OTLP/JSON spells them as strings. */
export function canonicalDouble(value: number): number | string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return 'Infinity';
  if (value === -Infinity) return '-Infinity';
  return value;
}

/** True when a canonical scalar holds the proto3 default of its type (and may be omitted). */
export function isDefaultScalar(type: ScalarType, value: OtlpValue): boolean {
  switch (type) {
    case 'string':
    case 'bytes':
    case 'id':
      return value === '';
    case 'bool':
      return value === false;
    case 'int64':
    case 'uint64':
    case 'fixed64':
    case 'sfixed64':
      return value === '0' || value === 0;
    default:
      return value === 0;
  }
}

function setSingular(schema: MessageSchema, field: FieldSchema, target: OtlpObject, value: OtlpScalar): void {
  clearOneofSiblings(schema, field, target);
  // The last occurrence wins, so a later default value erases an earlier one.
  if (!field.explicitPresence && isDefaultScalar(field.type as ScalarType, value)) delete target[field.jsonName];
  else target[field.jsonName] = value;
}

function clearOneofSiblings(schema: MessageSchema, field: FieldSchema, target: OtlpObject): void {
  if (field.oneof === undefined) return;
  for (const sibling of schema.oneofs.get(field.oneof) ?? []) {
    if (sibling !== field) delete target[sibling.jsonName];
  }
}

function existingArray(target: OtlpObject, field: FieldSchema): OtlpValue[] {
  const existing = target[field.jsonName];
  return Array.isArray(existing) ? existing : [];
}

function appendTo(target: OtlpObject, field: FieldSchema, value: OtlpValue): void {
  const values = existingArray(target, field);
  values.push(value);
  target[field.jsonName] = values;
}

function isPlainObject(value: unknown): value is OtlpObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// ---------------------------------------------------------------------------------------------
// Encoding

function writeMessage(schema: MessageSchema, obj: OtlpObject, writer: ByteWriter, anyValueDepth: number): void {
  if (!isPlainObject(obj)) throw new OtlpObjectError(`${schema.name}: expected an object`);
  const depth = schema.name === NESTING_MESSAGE ? anyValueDepth + 1 : anyValueDepth;
  if (depth > MAX_ANY_VALUE_DEPTH) throw new OtlpObjectError(`AnyValue nesting deeper than ${MAX_ANY_VALUE_DEPTH}`);
  for (const field of schema.fields) {
    const value = obj[field.jsonName];
    if (value === undefined || value === null) continue;
    if (field.repeated) writeRepeated(schema, field, value, writer, depth);
    else if (field.type === 'message') writeSubMessage(field, value, writer, depth);
    else if (field.explicitPresence || !isDefaultScalar(field.type, value)) {
      writer.tag(field.number, field.wireType);
      writeScalar(schema, field, value, writer);
    }
  }
}

function writeSubMessage(field: FieldSchema, value: OtlpValue, writer: ByteWriter, depth: number): void {
  writer.fork();
  writeMessage(OTLP_SCHEMA[field.message as OtlpMessageName], value as OtlpObject, writer, depth);
  writer.join(field.number);
}

function writeRepeated(schema: MessageSchema, field: FieldSchema, value: OtlpValue, writer: ByteWriter, depth: number): void {
  if (!Array.isArray(value)) throw new OtlpObjectError(`${schema.name}.${field.jsonName}: expected an array`);
  if (value.length === 0) return;
  if (field.type === 'message') {
    for (const element of value) writeSubMessage(field, element, writer, depth);
  } else if (field.packed) {
    writer.fork();
    for (const element of value) writeScalar(schema, field, element, writer);
    writer.join(field.number);
  } else {
    for (const element of value) {
      writer.tag(field.number, field.wireType);
      writeScalar(schema, field, element, writer);
    }
  }
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const UINT32_MAX = 2 ** 32 - 1;

function writeScalar(schema: MessageSchema, field: FieldSchema, value: OtlpValue, writer: ByteWriter): void {
  const fail = (expected: string): never => {
    throw new OtlpObjectError(`${schema.name}.${field.jsonName}: expected ${expected}, got ${JSON.stringify(value)}`);
  };
  switch (field.type) {
    case 'string':
      if (typeof value !== 'string') fail('a string');
      writer.string(value as string);
      return;
    case 'bytes':
      if (typeof value !== 'string' || !isBase64(value)) fail('a base64 string');
      writer.bytes(Buffer.from(value as string, 'base64'));
      return;
    case 'id':
      if (typeof value !== 'string' || !isHex(value)) fail('a hex string');
      writer.bytes(Buffer.from(value as string, 'hex'));
      return;
    case 'bool':
      if (typeof value !== 'boolean') fail('a boolean');
      writer.varint(value ? 1 : 0);
      return;
    case 'int32':
    case 'enum': {
      const n = integerIn(value, INT32_MIN, INT32_MAX) ?? fail('a 32-bit integer');
      // Negative values go on the wire as 10-byte two's complement varints.
      if (n < 0) writer.varintBig(BigInt(n));
      else writer.varint(n);
      return;
    }
    case 'sint32':
      writer.varint(zigzagEncode32(integerIn(value, INT32_MIN, INT32_MAX) ?? fail('a 32-bit integer')));
      return;
    case 'uint32':
      writer.varint(integerIn(value, 0, UINT32_MAX) ?? fail('an unsigned 32-bit integer'));
      return;
    case 'fixed32':
      writer.fixed32(integerIn(value, 0, UINT32_MAX) ?? fail('an unsigned 32-bit integer'));
      return;
    case 'int64':
      writer.varintBig(int64Of(value, true) ?? fail('a signed 64-bit integer'));
      return;
    case 'uint64':
      writer.varintBig(int64Of(value, false) ?? fail('an unsigned 64-bit integer'));
      return;
    case 'fixed64':
      writer.fixed64(int64Of(value, false) ?? fail('an unsigned 64-bit integer'));
      return;
    case 'sfixed64':
      writer.fixed64(int64Of(value, true) ?? fail('a signed 64-bit integer'));
      return;
    case 'double':
      writer.double(doubleOf(value) ?? fail('a number, "NaN", "Infinity" or "-Infinity"'));
      return;
    case 'message':
      fail('a message');
  }
}

function integerIn(value: OtlpValue, min: number, max: number): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max ? value : undefined;
}

const UINT64_MAX = (1n << 64n) - 1n;
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
const DECIMAL = /^-?[0-9]+$/;

/** A 64-bit integer from its decimal string (or a safe JS integer), range-checked. */
export function int64Of(value: unknown, signed: boolean): bigint | undefined {
  let big: bigint;
  if (typeof value === 'string' && DECIMAL.test(value)) big = BigInt(value);
  else if (typeof value === 'number' && Number.isInteger(value)) big = BigInt(value);
  else return undefined;
  const [min, max] = signed ? [INT64_MIN, INT64_MAX] : [0n, UINT64_MAX];
  return big >= min && big <= max ? big : undefined;
}

/** A double from a canonical value: a number or one of the three special strings. */
export function doubleOf(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (value === 'NaN') return NaN;
  if (value === 'Infinity') return Infinity;
  if (value === '-Infinity') return -Infinity;
  return undefined;
}

export function isHex(value: string): boolean {
  return /^(?:[0-9a-fA-F]{2})*$/.test(value);
}

/** Standard or URL-safe base64, padded or not (proto3 JSON parsers accept both alphabets). */
export function isBase64(value: string): boolean {
  return /^[A-Za-z0-9+/_-]*={0,2}$/.test(value) && value.replace(/=+$/, '').length % 4 !== 1;
}
