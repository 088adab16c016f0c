/**
 * Keeps the config reference in docs/config.md generated from the schema. The table lives
 * between two markers so the page can have hand-written prose around it; a test fails when the
 * page and the schema drift apart.
 *
 *   node --import tsx collector/config/render-docs.ts [docs/config.md]   # rewrites the table in place
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { tollgateConfigSchema } from './config.js';
import { describeSchema } from './validate.js';

export const CONFIG_TABLE_START = '<!-- config-table:start -->';
export const CONFIG_TABLE_END = '<!-- config-table:end -->';

/** The markdown reference table of every config key. */
export function renderConfigTable(): string {
  return describeSchema(tollgateConfigSchema);
}

/** `doc` with the text between the markers replaced by `table` (the markers stay). */
export function replaceConfigTable(doc: string, table: string = renderConfigTable()): string {
  const start = doc.indexOf(CONFIG_TABLE_START);
  const end = doc.indexOf(CONFIG_TABLE_END);
  if (start === -1 || end === -1 || end < start) {
    throw new Error(`the document must contain ${CONFIG_TABLE_START} followed by ${CONFIG_TABLE_END}`);
  }
  return `${doc.slice(0, start + CONFIG_TABLE_START.length)}\n${table}${doc.slice(end)}`;
}

function main(docPath: string): void {
  const before = readFileSync(docPath, 'utf8');
  const after = replaceConfigTable(before);
  if (after !== before) writeFileSync(docPath, after);
  console.log(after === before ? `${docPath} is up to date` : `updated ${docPath}`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv[2] ?? new URL('../../docs/config.md', import.meta.url).pathname);
}
