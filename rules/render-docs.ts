/**
 * Keeps the generated parts of docs/rules.md in step with the code: the field reference table
 * (from the rules schema), the built-in tiers, the default sampling rules and the embedded
 * default rules. Each sits between
 * `<!-- name:start -->` and `<!-- name:end -->` markers, so the page keeps its hand-written
 * prose around them; a test fails when the page and the code drift apart.
 *
 *   node --import tsx rules/render-docs.ts [docs/rules.md]   # rewrites the blocks in place
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { describeSchema } from '../collector/config/validate.js';
import { BUILTIN_TIERS, DEFAULT_SAMPLING_RULES, LOG_SEVERITIES } from './builtins.js';
import { DEFAULT_RULES_YAML } from './default-rules.js';
import { rulesSchema } from './schema.js';

/** The generated blocks of docs/rules.md, by marker name. */
export const RULES_DOC_BLOCKS = ['rules-table', 'builtin-tiers', 'default-sampling', 'default-rules'] as const;
export type RulesDocBlock = (typeof RULES_DOC_BLOCKS)[number];

export const blockStart = (block: RulesDocBlock) => `<!-- ${block}:start -->`;
export const blockEnd = (block: RulesDocBlock) => `<!-- ${block}:end -->`;

/** The markdown reference table of every rules key. */
export function renderRulesTable(): string {
  return describeSchema(rulesSchema);
}

function percent(probability: number): string {
  return `${Math.round(probability * 1000) / 10} %`;
}

/** One row per built-in tier: trace probability and log probability per severity. */
export function renderBuiltinTiers(): string {
  const header = ['Tier', 'Traces', ...LOG_SEVERITIES.map((s) => `Logs: ${s}`), 'Logs: default', 'logs_follow_traces'];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const [name, tier] of Object.entries(BUILTIN_TIERS)) {
    const logs = [...LOG_SEVERITIES, 'default' as const].map((severity) => percent(tier.log_probability[severity]));
    lines.push(`| \`${name}\` | ${percent(tier.trace_probability)} | ${logs.join(' | ')} | ${tier.logs_follow_traces} |`);
  }
  return `${lines.join('\n')}\n`;
}

// Plain YAML scalars only where they cannot read as anything else; JSON strings are valid YAML.
const PLAIN_SCALAR = /^[A-Za-z][A-Za-z0-9._/-]*$/;
const YAML_KEYWORDS = /^(?:true|false|yes|no|on|off|null|y|n)$/i;

/** A value in YAML flow style, `{ name: a, signals: [traces] }`, the way the docs write rules. */
function flowYaml(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(flowYaml).join(', ')}]`;
  if (typeof value === 'object' && value !== null) {
    return `{ ${Object.entries(value)
      .map(([key, item]) => `${flowYaml(key)}: ${flowYaml(item)}`)
      .join(', ')} }`;
  }
  if (typeof value === 'string') return PLAIN_SCALAR.test(value) && !YAML_KEYWORDS.test(value) ? value : JSON.stringify(value);
  return String(value);
}

/** The sampling rules of a file without a `sampling` section, as a file would spell them. */
export function renderDefaultSampling(): string {
  const rules = DEFAULT_SAMPLING_RULES.map((rule) => `    - ${flowYaml(rule)}`);
  return `\`\`\`yaml\nsampling:\n  rules:\n${rules.join('\n')}\n\`\`\`\n`;
}

export function renderDefaultRules(): string {
  return `\`\`\`yaml\n${DEFAULT_RULES_YAML}\`\`\`\n`;
}

const RENDERERS: Readonly<Record<RulesDocBlock, () => string>> = {
  'rules-table': renderRulesTable,
  'builtin-tiers': renderBuiltinTiers,
  'default-sampling': renderDefaultSampling,
  'default-rules': renderDefaultRules,
};

/** `doc` with the text between one block's markers replaced by `content` (the markers stay). */
export function replaceBlock(doc: string, block: RulesDocBlock, content: string): string {
  const start = doc.indexOf(blockStart(block));
  const end = doc.indexOf(blockEnd(block));
  if (start === -1 || end === -1 || end < start) throw new Error(`the document must contain ${blockStart(block)} followed by ${blockEnd(block)}`);
  return `${doc.slice(0, start + blockStart(block).length)}\n${content}${doc.slice(end)}`;
}

/** `doc` with every generated block brought up to date. */
export function renderRulesDoc(doc: string): string {
  return RULES_DOC_BLOCKS.reduce((text, block) => replaceBlock(text, block, RENDERERS[block]()), doc);
}

function main(docPath: string): void {
  const before = readFileSync(docPath, 'utf8');
  const after = renderRulesDoc(before);
  if (after !== before) writeFileSync(docPath, after);
  console.log(after === before ? `${docPath} is up to date` : `updated ${docPath}`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv[2] ?? new URL('../docs/rules.md', import.meta.url).pathname);
}
