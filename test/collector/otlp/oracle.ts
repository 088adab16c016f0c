// The independent decoder/encoder the codec tests compare against: the protobufjs static code
// generated from opentelemetry-proto that ships in @opentelemetry/otlp-transformer 0.213
// (installed as the dev dependency `otlp-oracle`). Objects are converted between its
// representation and our canonical form here; values themselves come from the oracle.

import { createRequire } from 'node:module';
import { OTLP_SCHEMA } from '../../../collector/otlp/schema.js';
import type { MessageSchema, OtlpMessageName } from '../../../collector/otlp/schema.js';
import { isDefaultScalar } from '../../../collector/otlp/object-codec.js';
import type { OtlpObject, OtlpValue } from '../../../collector/otlp/object-codec.js';

interface OracleType {
  decode(bytes: Uint8Array): unknown;
  encode(message: unknown): { finish(): Uint8Array };
  fromObject(object: unknown): unknown;
  toObject(message: unknown, options: Record<string, unknown>): Record<string, unknown>;
}

const require = createRequire(import.meta.url);
const root = require('otlp-oracle/build/src/generated/root.js') as {
  opentelemetry: { proto: { collector: Record<string, { v1: Record<string, OracleType> }> } };
};

const ORACLE_PATH: Partial<Record<OtlpMessageName, [string, string]>> = {
  ExportMetricsServiceRequest: ['metrics', 'ExportMetricsServiceRequest'],
  ExportTraceServiceRequest: ['trace', 'ExportTraceServiceRequest'],
  ExportLogsServiceRequest: ['logs', 'ExportLogsServiceRequest'],
  ExportMetricsServiceResponse: ['metrics', 'ExportMetricsServiceResponse'],
  ExportTraceServiceResponse: ['trace', 'ExportTraceServiceResponse'],
  ExportLogsServiceResponse: ['logs', 'ExportLogsServiceResponse'],
};

function oracleType(name: OtlpMessageName): OracleType {
  const path = ORACLE_PATH[name];
  if (path === undefined) throw new Error(`the oracle has no ${name}`);
  return root.opentelemetry.proto.collector[path[0]].v1[path[1]];
}

/** Decodes with the oracle and converts the result to our canonical form. */
export function oracleDecode(name: OtlpMessageName, bytes: Uint8Array): OtlpObject {
  const type = oracleType(name);
  const object = type.toObject(type.decode(bytes), { longs: String, bytes: String, defaults: false, arrays: false });
  return oracleToCanonical(OTLP_SCHEMA[name], object);
}

/** Encodes a canonical object with the oracle. */
export function oracleEncode(name: OtlpMessageName, obj: OtlpObject): Uint8Array {
  const type = oracleType(name);
  return type.encode(type.fromObject(canonicalToOracle(OTLP_SCHEMA[name], obj))).finish();
}

function childOf(schema: MessageSchema, key: string): MessageSchema | undefined {
  const field = schema.byJsonName.get(key);
  return field?.message === undefined ? undefined : OTLP_SCHEMA[field.message];
}

function oracleToCanonical(schema: MessageSchema, object: Record<string, unknown>): OtlpObject {
  const out: OtlpObject = {};
  for (const [key, value] of Object.entries(object)) {
    const field = schema.byJsonName.get(key);
    if (field === undefined) throw new Error(`oracle produced unknown field ${schema.name}.${key}`);
    const convert = (v: unknown): OtlpValue => {
      const child = childOf(schema, key);
      if (child !== undefined) return oracleToCanonical(child, v as Record<string, unknown>);
      if (field.type === 'id') return Buffer.from(v as string, 'base64').toString('hex');
      if (field.type === 'double') return canonical(v as number);
      return v as OtlpValue;
    };
    if (field.repeated) {
      const list = (value as unknown[]).map(convert);
      if (list.length > 0) out[key] = list;
    } else {
      const converted = convert(value);
      if (field.explicitPresence || field.type === 'message' || !isDefaultScalar(field.type, converted)) {
        out[key] = converted;
      }
    }
  }
  return out;
}

function canonical(d: number): number | string {
  if (Number.isNaN(d)) return 'NaN';
  if (d === Infinity) return 'Infinity';
  if (d === -Infinity) return '-Infinity';
  return d;
}

function canonicalToOracle(schema: MessageSchema, obj: OtlpObject): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(obj)) {
    const field = schema.byJsonName.get(key);
    if (field === undefined) continue;
    const convert = (v: OtlpValue): unknown => {
      const child = childOf(schema, key);
      if (child !== undefined) return canonicalToOracle(child, v as OtlpObject);
      // protobufjs reads bytes from base64 strings; ids are hex in our form.
      if (field.type === 'id') return Buffer.from(v as string, 'hex').toString('base64');
      return v;
    };
    out[key] = field.repeated ? (value as OtlpValue[]).map(convert) : convert(value);
  }
  return out;
}
