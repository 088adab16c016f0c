import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ERROR_CODES } from '../../../collector/errors/codes.js';
import { renderErrorTable } from '../../../collector/errors/docs.js';

test('docs/errors.md lists exactly the error codes of the code table', () => {
  const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
  const block = /<!-- error-table:start -->\n([\s\S]*?)\n<!-- error-table:end -->/.exec(doc);
  assert.ok(block, 'docs/errors.md has the marked table');
  assert.equal(block[1], renderErrorTable());
  for (const code of Object.keys(ERROR_CODES)) assert.match(block[1], new RegExp(`\\| \`${code}\` \\|`));
});

test('retryable codes map to statuses OTLP clients retry, the others to statuses they do not', () => {
  for (const [code, spec] of Object.entries(ERROR_CODES)) {
    const clientRetries = [429, 502, 503, 504].includes(spec.httpStatus);
    assert.equal(clientRetries, spec.retryable, code);
  }
});
