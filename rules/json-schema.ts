/**
 * The JSON Schema (draft 2020-12) of the rules file, generated from the same schema objects
 * that validate it, for editors (YAML language servers complete and check keys with it) and for
 * tools that want a structural check without running Tollgate. Cross-references (tier and team
 * names), reachability and regex safety need `tollgate lint`; a JSON Schema cannot say them.
 *
 *   node --import tsx rules/json-schema.ts [rules/rules.schema.json]   # rewrites the file
 *
 * A test fails when the committed file and the schema drift apart.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { AnySchema } from '../collector/config/validate.js';
import { jsonAnnotationOf } from './json-annotations.js';
import type { JsonObject, JsonValue, ToJsonSchema } from './json-annotations.js';
import { rulesSchema } from './schema.js';

export const JSON_SCHEMA_DIALECT = 'https://json-schema.org/draft/2020-12/schema';

function isOptional(schema: AnySchema): boolean {
  const { structure } = schema;
  if (structure.kind === 'optional') return true;
  return structure.kind === 'refined' && isOptional(structure.inner);
}

function withDescription(fragment: JsonObject, description: string): JsonObject {
  return description === '' ? fragment : { ...fragment, description };
}

/** What the toolkit's structure says about a schema, with `convert` for what it contains. */
function structuralJson(schema: AnySchema, convert: ToJsonSchema): JsonObject {
  const { structure } = schema;
  switch (structure.kind) {
    case 'object': {
      const entries = Object.entries(structure.fields);
      const required = entries.filter(([, field]) => !isOptional(field)).map(([key]) => key);
      return {
        type: 'object',
        properties: Object.fromEntries(entries.map(([key, field]) => [key, convert(field)])),
        ...(required.length > 0 ? { required } : {}),
        additionalProperties: false,
      };
    }
    case 'list':
      return { type: 'array', items: convert(structure.element) };
    case 'map':
      return { type: 'object', additionalProperties: convert(structure.values) };
    case 'optional':
      return structure.hasDefault ? { ...convert(structure.inner), default: structure.defaultValue as JsonValue } : convert(structure.inner);
    case 'nullable':
      return { anyOf: [convert(structure.inner), { type: 'null' }] };
    case 'refined':
      return convert(structure.inner);
    case 'scalar':
      throw new Error(`no JSON Schema is recorded for the scalar "${schema.typeName}": wrap it in withJsonSchema`);
    case 'components':
      throw new Error('components maps are not used by the rules file and have no JSON Schema mapping');
  }
}

/** JSON Schema of any toolkit schema whose scalars carry `withJsonSchema` notes; shared fragments go to `$defs`. */
export function toJsonSchema(schema: AnySchema, meta: { readonly title: string; readonly description: string }): JsonObject {
  const definitions: Record<string, JsonObject> = {};
  const convert: ToJsonSchema = (node) => {
    const annotation = jsonAnnotationOf(node);
    const replacement = annotation?.replace;
    if (replacement !== undefined) {
      const fragment = typeof replacement === 'function' ? replacement(convert) : replacement;
      if (annotation?.definition === undefined) return withDescription({ ...fragment, ...annotation?.extend }, node.description);
      definitions[annotation.definition] ??= fragment;
      return withDescription({ $ref: `#/$defs/${annotation.definition}` }, node.description);
    }
    return withDescription({ ...structuralJson(node, convert), ...annotation?.extend }, node.description);
  };
  // The root schema's own (short) description would otherwise overwrite the document's.
  const { description: _rootDescription, ...root } = convert(schema);
  const sortedDefinitions = Object.fromEntries(Object.entries(definitions).sort(([a], [b]) => a.localeCompare(b)));
  return { $schema: JSON_SCHEMA_DIALECT, title: meta.title, description: meta.description, ...root, $defs: sortedDefinitions };
}

/** The JSON Schema of the rules file. */
export function rulesJsonSchema(): JsonObject {
  return toJsonSchema(rulesSchema, {
    title: 'Tollgate rules (version 1)',
    description:
      'Governance rules for Tollgate: teams, budgets, sampling tiers and attribute policies (docs/rules.md). Generated from rules/schema.ts. Names that refer to other entries, unreachable rules and regex safety are checked by `tollgate lint`, not by this schema.',
  });
}

/** The committed file's exact text: 2-space JSON and a final newline. */
export function renderRulesJsonSchema(): string {
  return `${JSON.stringify(rulesJsonSchema(), null, 2)}\n`;
}

export const RULES_JSON_SCHEMA_PATH = new URL('./rules.schema.json', import.meta.url);

function main(path: string): void {
  const after = renderRulesJsonSchema();
  let before: string | undefined;
  try {
    before = readFileSync(path, 'utf8');
  } catch {
    before = undefined;
  }
  if (after !== before) writeFileSync(path, after);
  console.log(after === before ? `${path} is up to date` : `updated ${path}`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv[2] ?? RULES_JSON_SCHEMA_PATH.pathname);
}
