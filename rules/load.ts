/**
 * Rules loading: read → parse YAML → validate (every issue with key path and line:column) →
 * compile → hash. Used at start, on every hot reload (an invalid file throws and the caller
 * keeps the old rules), and by `tollgate lint`.
 *
 * Rules files get no `${env:NAME}` substitution, unlike the process config: rules are policy
 * reviewed in git, and what the file says must be what runs, the same in CI (`tollgate lint`)
 * as in every environment. A `$` in a regex is just a `$`.
 */
import { readFileSync } from 'node:fs';
import { ConfigError, readYamlSource } from '../collector/config/config.js';
import type { CompiledRules } from './compiled.js';
import { compileRules } from './compile.js';
import { DEFAULT_RULES_YAML } from './default-rules.js';
import { rulesSchema } from './schema.js';
import type { RulesDocument } from './schema.js';

export { DEFAULT_RULES_YAML } from './default-rules.js';

/** The headline word of rules errors: "invalid rules in rules.yaml (2 errors): …". */
export const RULES_SUBJECT = 'rules';

/** The name the embedded default goes by in errors and logs. */
export const DEFAULT_RULES_SOURCE = '<default rules>';

/** Parses and validates rules text into the normalized document; throws ConfigError listing every issue. */
export function validateRules(text: string, sourceName: string): RulesDocument {
  return readYamlSource(rulesSchema, text, sourceName, { env: false, subject: RULES_SUBJECT });
}

/** Parses, validates and compiles rules text; `sourceName` names it in errors. Throws ConfigError. */
export function parseRules(text: string, sourceName: string): CompiledRules {
  return compileRules(validateRules(text, sourceName));
}

/** Reads the file's text, or throws a ConfigError that says why it cannot be read. */
export function readRulesFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    let reason = `cannot read the file: ${(error as Error).message}`;
    if (code === 'ENOENT') reason = 'file not found';
    else if (code === 'EISDIR') reason = 'is a directory, not a rules file';
    throw new ConfigError(path, [{ path: '', segments: [], message: reason }], RULES_SUBJECT);
  }
}

/** Loads the rules file at `path`. Throws ConfigError (unreadable or invalid file). */
export function loadRules(path: string): CompiledRules {
  return parseRules(readRulesFile(path), path);
}

let embeddedDefault: CompiledRules | undefined;

/** The embedded default rules, compiled once (they are immutable, so sharing is safe). */
export function defaultRules(): CompiledRules {
  embeddedDefault ??= parseRules(DEFAULT_RULES_YAML, DEFAULT_RULES_SOURCE);
  return embeddedDefault;
}
