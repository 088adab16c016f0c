import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileAnchoredRegex, regexProblem } from '../../rules/matchers.js';
import { findBacktrackingRisk } from '../../rules/regex-safety.js';
import { compile, issueMessages, yaml } from './support.js';

const CATASTROPHIC: readonly [string, 'nested-quantifier' | 'overlapping-alternatives'][] = [
  ['(a+)+', 'nested-quantifier'],
  ['(a*)*', 'nested-quantifier'],
  ['(a+)*b', 'nested-quantifier'],
  ['(.*a){20}', 'nested-quantifier'],
  ['(\\w+\\s?)+$', 'nested-quantifier'],
  ['^([a-zA-Z0-9._%-]+)+@', 'nested-quantifier'],
  ['(x+x+)+y', 'nested-quantifier'],
  ['(a+a)+', 'nested-quantifier'],
  ['((a+)|b)+', 'nested-quantifier'],
  ['(?<name>\\d{1,3})+', 'nested-quantifier'],
  ['(?:(?:ab)+c?)+', 'nested-quantifier'],
  ['(a|a)*', 'overlapping-alternatives'],
  ['(\\w|\\d)+', 'overlapping-alternatives'],
  ['(a|a?)+', 'overlapping-alternatives'],
  ['(x|[a-z])+$', 'overlapping-alternatives'],
];

const SAFE = [
  'user_id',
  '^[a-z]+(-[a-z]+)*$',
  '(?:\\.\\w+)+',
  '(ab+)+',
  '(a+b+)+',
  '(\\w+\\.)*\\w+',
  '(\\d{1,3}\\.){3}\\d{1,3}',
  '([^"]*")*x',
  '(GET|POST|PUT)+',
  '(ab|ac)*',
  '(a|ab)*',
  '[0-9a-f]{32}',
  'sk_live_[0-9a-z]{8,}',
  '\\u{1F600}+',
  '\\p{L}+',
  'a(?=b+)c',
  '\\bfoo\\b',
  '(?:[a-z]+|\\d+)',
];

test('the known catastrophic shapes are found', () => {
  for (const [source, kind] of CATASTROPHIC) {
    new RegExp(source, 'su'); // the cases are valid regexes
    assert.equal(findBacktrackingRisk(source)?.kind, kind, source);
  }
});

test('loops separated by a character the inner loop cannot match are not flagged', () => {
  for (const source of SAFE) assert.equal(findBacktrackingRisk(source), undefined, source);
});

test('the message quotes the parts of the regex involved', () => {
  assert.equal(
    findBacktrackingRisk('^(\\w+\\s?)+$')?.message,
    '"\\w+" inside the repetition "(\\w+\\s?)+" can divide the same text between iterations in a huge number of ways (nested quantifiers)',
  );
  assert.equal(findBacktrackingRisk('(a|a)*')?.message, 'the alternatives "a" and "a" inside the repetition "(a|a)*" can match the same text');
});

test('a flagged regex really is slow, and its safe rewrite is not', () => {
  const evil = compileAnchoredRegex('(a+)+b');
  const input = `${'a'.repeat(22)}c`;
  const slowStart = performance.now();
  evil.test(input);
  const slow = performance.now() - slowStart;
  const safe = compileAnchoredRegex('a+b');
  const fastStart = performance.now();
  safe.test(`${'a'.repeat(100_000)}c`);
  const fast = performance.now() - fastStart;
  assert.ok(slow > fast * 5, `expected the nested quantifier to be much slower (${slow.toFixed(1)} ms vs ${fast.toFixed(1)} ms)`);
});

test('regexProblem: syntax errors always, backtracking unless opted in', () => {
  assert.equal(regexProblem('(a', false), 'is not a valid regular expression: Unterminated group');
  assert.equal(regexProblem('(a', true), 'is not a valid regular expression: Unterminated group');
  // u mode is strict: an escaped hyphen outside a class is a mistake, not a hyphen.
  assert.equal(regexProblem('a\\-b', false), 'is not a valid regular expression: Invalid escape');
  assert.match(regexProblem('(a+)+', false) ?? '', /^can backtrack catastrophically: .*set allow_backtracking: true$/);
  assert.equal(regexProblem('(a+)+', true), undefined);
  assert.equal(regexProblem('a+', false), undefined);
});

test('in a rules file: rejected with the key path, accepted with allow_backtracking', () => {
  const rejected = issueMessages(
    yaml(
      'version: 1',
      'teams:',
      '  - { name: a, match: { service.name: {regex: "(a|a)*"} } }',
      'attribute_policies:',
      '  - { name: p, keys: {regex: "(x+)+"}, action: drop }',
      '  - { name: q, values: {regex: "(\\\\d+)*"}, action: drop }',
    ),
  );
  assert.equal(rejected.length, 3);
  assert.match(rejected[0], /^teams\[0\]\.match\["service\.name"\]\.regex: can backtrack catastrophically: the alternatives "a" and "a"/);
  assert.match(rejected[1], /^attribute_policies\[0\]\.keys\.regex: can backtrack catastrophically: "x\+" inside/);
  assert.match(rejected[2], /^attribute_policies\[1\]\.values\.regex: can backtrack catastrophically: "\\d\+" inside/);

  const accepted = compile(
    yaml(
      'version: 1',
      'attribute_policies:',
      '  - { name: p, keys: {regex: "(x+)+", allow_backtracking: true}, action: drop }',
      '  - { name: q, values: {regex: "(\\\\d+)*", allow_backtracking: true}, action: drop }',
    ),
  );
  assert.ok(accepted.attributePolicies[0].keys?.test('xxx'));
  assert.deepEqual((accepted.document as { attribute_policies: { keys: unknown }[] }).attribute_policies[0].keys, [{ regex: '(x+)+', allow_backtracking: true }]);
});
