import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { JsonObject, JsonValue } from '../../rules/json-annotations.js';
import { RULES_JSON_SCHEMA_PATH, renderRulesJsonSchema, rulesJsonSchema } from '../../rules/json-schema.js';
import { loadRules } from '../../rules/load.js';
import { RULES_DOC_BLOCKS, blockEnd, blockStart, renderRulesDoc, renderRulesTable } from '../../rules/render-docs.js';

// Regenerate what these tests compare with:
//   node --import tsx rules/render-docs.ts    (the generated blocks of docs/rules.md)
//   node --import tsx rules/json-schema.ts    (rules/rules.schema.json)

const DOC_PATH = new URL('../../docs/rules.md', import.meta.url);
const EXAMPLES_DIR = new URL('../../rules/examples/', import.meta.url).pathname;

const readDoc = () => readFileSync(DOC_PATH, 'utf8');

test('rules/rules.schema.json is exactly the JSON Schema generated from rules/schema.ts', () => {
  assert.equal(readFileSync(RULES_JSON_SCHEMA_PATH, 'utf8'), renderRulesJsonSchema(), 'out of date: run `node --import tsx rules/json-schema.ts`');
});

test('docs/rules.md holds exactly the generated blocks', () => {
  const doc = readDoc();
  for (const block of RULES_DOC_BLOCKS) {
    assert.equal(doc.split(blockStart(block)).length, 2, `${blockStart(block)} appears once`);
    assert.equal(doc.split(blockEnd(block)).length, 2, `${blockEnd(block)} appears once`);
  }
  assert.equal(renderRulesDoc(doc), doc, 'out of date: run `node --import tsx rules/render-docs.ts`');
});

/** A JSON Schema fragment as an object, or undefined for `true`, `false` and the like. */
function objectOf(value: JsonValue | undefined): JsonObject | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as JsonObject) : undefined;
}

/**
 * Every key a rules file can hold, spelled as the reference table spells it: `teams[].name`,
 * `tiers.<key>.trace_probability`. Union types (patterns, detectors, `match`) are leaves: the
 * table describes them as one type and the page explains their forms in prose.
 */
function schemaKeyPaths(node: JsonObject, path = ''): string[] {
  const paths: string[] = [];
  const properties = objectOf(node.properties);
  for (const [key, child] of Object.entries(properties ?? {})) {
    const childPath = path === '' ? key : `${path}.${key}`;
    paths.push(childPath, ...schemaKeyPaths(objectOf(child) ?? {}, childPath));
  }
  const items = objectOf(node.items);
  if (node.type === 'array' && items) paths.push(...schemaKeyPaths(items, `${path}[]`));
  const values = objectOf(node.additionalProperties);
  if (node.type === 'object' && values) paths.push(...schemaKeyPaths(values, `${path}.<key>`));
  return paths;
}

/** The key column of the generated reference table. */
function tableKeyPaths(table: string): string[] {
  return [...table.matchAll(/^\| `([^`]+)` \|/gm)].map((match) => match[1]);
}

test('every key of the JSON Schema has its row in the reference table of docs/rules.md, and no row is extra', () => {
  const schemaPaths = schemaKeyPaths(rulesJsonSchema());
  const tablePaths = tableKeyPaths(renderRulesTable());
  // The walk must reach deep keys, or this test would compare two short lists.
  for (const deep of ['tiers.<key>.log_probability.fatal', 'teams[].budgets.metrics.per_label[].max_distinct_values', 'attribute_policies[].max_length']) {
    assert.ok(schemaPaths.includes(deep), `the schema walk reaches ${deep}`);
  }
  assert.deepEqual([...tablePaths].sort(), [...schemaPaths].sort());

  const doc = readDoc();
  for (const path of schemaPaths) assert.ok(doc.includes(`| \`${path}\` |`), `docs/rules.md documents ${path}`);
});

test('every form of pattern and every detector of the JSON Schema is explained in docs/rules.md', () => {
  const doc = readDoc();
  const definitions = objectOf(rulesJsonSchema().$defs) ?? {};
  const forms = (objectOf(definitions.pattern)?.anyOf ?? []) as JsonObject[];
  const keys = forms.flatMap((form) => Object.keys(objectOf(form.properties) ?? {}));
  assert.deepEqual([...new Set(keys)].sort(), ['allow_backtracking', 'exact', 'glob', 'regex']);
  for (const key of keys) assert.match(doc, new RegExp(`\`\\{?${key}:`), `docs/rules.md shows ${key}`);

  const [detectorNames] = (objectOf(definitions.detector)?.anyOf ?? []) as JsonObject[];
  const names = (detectorNames.enum ?? []) as string[];
  assert.ok(names.length >= 7, 'the detector enum was found');
  for (const name of names) assert.ok(doc.includes(`| \`${name}\` |`), `the detector table lists ${name}`);
});

const exampleFiles = () =>
  readdirSync(EXAMPLES_DIR)
    .filter((name) => /\.ya?ml$/.test(name))
    .map((name) => join(EXAMPLES_DIR, name));

test('every example in rules/examples/ is valid, commented, and points editors at the JSON Schema', () => {
  const files = exampleFiles();
  assert.ok(files.length > 0, 'rules/examples/ holds at least one example');
  for (const file of files) {
    const rules = loadRules(file); // throws, listing every issue, when the example is invalid
    assert.ok(rules.teams.length > 1 && rules.attributePolicies.length > 0, `${file} shows teams and policies`);

    const text = readFileSync(file, 'utf8');
    const lines = text.split('\n');
    const comments = lines.filter((line) => /(^|\s)#/.test(line)).length;
    assert.ok(comments >= lines.length / 4, `${file} is commented (${comments} of ${lines.length} lines)`);

    const modeline = /^# yaml-language-server: \$schema=(\S+)$/m.exec(text);
    assert.ok(modeline, `${file} names the JSON Schema for editors`);
    assert.ok(existsSync(join(dirname(file), modeline[1])), `${file}: ${modeline[1]} exists`);
  }
});

test('the example is linked from docs/rules.md', () => {
  const doc = readDoc();
  for (const file of exampleFiles()) {
    const relative = file.slice(file.indexOf('rules/examples/'));
    assert.ok(doc.includes(`(../${relative})`), `docs/rules.md links ${relative}`);
  }
});
