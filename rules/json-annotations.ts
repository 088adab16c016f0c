/**
 * JSON Schema facts that the config toolkit's schema structure does not carry. `validate.ts`
 * exposes how containers nest (objects, lists, maps, optional defaults) but a scalar is only a
 * check function and a human type name, so the JSON type, bounds and enum values of each leaf
 * are attached here, next to where the rules schema builds it. The generator in
 * `json-schema.ts` walks the structure and reads these notes; a leaf without one is a bug it
 * reports, so the JSON Schema cannot silently lose a field.
 *
 * Kept apart from `json-schema.ts` so `schema.ts` can annotate without an import cycle.
 */
import type { AnySchema } from '../collector/config/validate.js';

export type JsonValue = string | number | boolean | null | readonly JsonValue[] | { readonly [key: string]: JsonValue };
export type JsonObject = { readonly [key: string]: JsonValue };

/** Converts a (nested) toolkit schema to JSON Schema; handed to annotation builders that wrap other schemas. */
export type ToJsonSchema = (schema: AnySchema) => JsonObject;

export interface JsonAnnotation {
  /** Replaces what the structure walk would produce (scalars, unions), or a builder for it. */
  readonly replace?: JsonObject | ((convert: ToJsonSchema) => JsonObject);
  /** Merged over what the structure walk produces (`minItems`, `propertyNames`, …). */
  readonly extend?: JsonObject;
  /** Emit the (replaced) fragment once under `$defs/<name>` and refer to it with `$ref`. */
  readonly definition?: string;
}

const annotations = new WeakMap<AnySchema, JsonAnnotation>();

/** Records how `schema` reads in JSON Schema; returns the same schema for inline use. */
export function withJsonSchema<S extends AnySchema>(schema: S, annotation: JsonAnnotation): S {
  annotations.set(schema, annotation);
  return schema;
}

export function jsonAnnotationOf(schema: AnySchema): JsonAnnotation | undefined {
  return annotations.get(schema);
}
