import assert from 'node:assert/strict';
import { ConfigError } from '../../collector/config/config.js';
import type { CompiledRules } from '../../rules/compiled.js';
import { parseRules } from '../../rules/load.js';

/** Rules text from lines, so tests read like the files they stand for. */
export function yaml(...lines: string[]): string {
  return `${lines.join('\n')}\n`;
}

/** Compiles rules text, failing the test with every issue if it is refused. */
export function compile(text: string): CompiledRules {
  try {
    return parseRules(text, 'rules.yaml');
  } catch (error) {
    if (error instanceof ConfigError) assert.fail(error.message);
    throw error;
  }
}

/** The issues of a rules text as `line:col path: message`, or a failure if it was accepted. */
export function rulesIssues(text: string): string[] {
  try {
    parseRules(text, 'rules.yaml');
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error.issues.map((issue) => `${issue.line ?? '-'}:${issue.column ?? '-'} ${issue.path}: ${issue.message}`);
  }
  assert.fail('expected the rules to be rejected');
}

/** The issues as `path: message`, without positions, for tests about messages only. */
export function issueMessages(text: string): string[] {
  return rulesIssues(text).map((line) => line.replace(/^\S+ /, ''));
}

/** A resource attribute lookup over a plain object, counting how often each key is asked for. */
export function resource(attributes: Record<string, string>): { lookup: (key: string) => string | undefined; asked: Map<string, number> } {
  const asked = new Map<string, number>();
  return {
    asked,
    lookup: (key) => {
      asked.set(key, (asked.get(key) ?? 0) + 1);
      return Object.hasOwn(attributes, key) ? attributes[key] : undefined;
    },
  };
}

/** UTF-8 bytes of a value, as detectors see it on the wire. */
export function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}
