import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compile, issueMessages, yaml } from './support.js';

function teams(...entries: string[]): string {
  return yaml('version: 1', 'teams:', ...entries.map((entry) => `  - ${entry}`));
}

test('a team after the catch-all team is unreachable', () => {
  assert.deepEqual(issueMessages(teams('{ name: a, match: { k: v } }', '{ name: everyone }', '{ name: late, match: { k: w } }')), [
    'teams[2]: unreachable: teams[1] ("everyone") has no match, so it takes every resource first; the team without match must be the last one',
  ]);
});

test('a matcher an earlier team already covers is unreachable', () => {
  assert.deepEqual(
    issueMessages(
      teams(
        '{ name: a, match: { service.namespace: shop } }',
        // the same conjunction
        '{ name: b, match: { service.namespace: shop } }',
        // stricter: more attributes, one of them the same
        '{ name: c, match: { service.namespace: shop, service.name: cart } }',
        // an exact value that an earlier glob matches; [billing, ledger] is reachable through ledger
        '{ name: d, match: [{ service.name: "pay-*" }, { service.name: billing }] }',
        '{ name: e, match: [{ service.name: pay-api }, { service.name: [billing, ledger] }] }',
        // a glob covered by the same glob, a regex by the same regex, anything by "*"
        '{ name: f, match: { k8s.namespace.name: "*" } }',
        '{ name: g, match: { k8s.namespace.name: {regex: "p.*"} } }',
      ),
    ),
    [
      'teams[1].match[0]: unreachable: teams[0] ("a") comes first and matches every resource this matches (the first matching team wins)',
      'teams[2].match[0]: unreachable: teams[0] ("a") comes first and matches every resource this matches (the first matching team wins)',
      'teams[4].match[0]: unreachable: teams[3] ("d") comes first and matches every resource this matches (the first matching team wins)',
      'teams[6].match[0]: unreachable: teams[5] ("f") comes first and matches every resource this matches (the first matching team wins)',
    ],
  );
});

test('a matcher repeated within one team is redundant', () => {
  assert.deepEqual(issueMessages(teams('{ name: a, match: [{ k: "x*" }, { k: x1, j: y }] }')), [
    'teams[0].match[1]: redundant: match[0] of this team already matches every resource this matches',
  ]);
});

test('matchers that only overlap, or whose inclusion is undecidable here, are not reported', () => {
  compile(
    teams(
      '{ name: a, match: { service.name: "pay-*" } }',
      '{ name: b, match: { service.name: "pay-api-*" } }', // narrower glob: covered, but not decided for globs
      '{ name: c, match: { service.name: {regex: "shop-.*"} } }',
      '{ name: d, match: { service.name: {regex: "shop-[a-z]+"} } }',
      '{ name: e, match: { service.namespace: shop } }', // a different attribute
      '{ name: f, match: { service.namespace: shop2, service.name: x } }',
      '{ name: g }',
    ),
  );
});

function policies(...entries: string[]): string {
  return yaml('version: 1', 'teams: [{ name: pay, match: { k: v } }]', 'attribute_policies:', ...entries.map((entry) => `  - ${entry}`));
}

test('a policy an earlier policy always pre-empts can never apply', () => {
  assert.deepEqual(
    issueMessages(
      policies(
        '{ name: ids, keys: [user_id, "*.user_id"], action: drop }',
        // same keys on a subset of the signals, teams and targets
        '{ name: ids-again, keys: app.user_id, signals: [metrics], targets: [attributes], teams: [pay], action: hash }',
        // a truncate with keys "*" takes every attribute first, even the ones it leaves short
        '{ name: cut, keys: "*", signals: [traces], action: truncate, max_length: 10 }',
        '{ name: secrets, values: [jwt], signals: [traces], targets: [attributes], action: redact }',
      ),
    ),
    [
      'attribute_policies[1]: can never apply: attribute_policies[0] ("ids") comes first and matches every attribute this would (the first matching policy wins)',
      'attribute_policies[3]: can never apply: attribute_policies[2] ("cut") comes first and matches every attribute this would (the first matching policy wins)',
    ],
  );
});

test('coverage may come from several earlier policies, one per signal', () => {
  assert.deepEqual(
    issueMessages(
      policies(
        '{ name: m, keys: k, signals: [metrics], action: drop }',
        '{ name: t, keys: k, signals: [traces, logs], action: redact }',
        '{ name: all, keys: k, action: hash }',
      ),
    ),
    [
      'attribute_policies[2]: can never apply: attribute_policies[0] ("m") and attribute_policies[1] ("t") come first and match every attribute this would (the first matching policy wins)',
    ],
  );
});

test('a later policy that reaches further than the earlier ones is kept', () => {
  const rules = compile(
    policies(
      '{ name: a, keys: k, teams: [pay], action: drop }', // only one team
      '{ name: b, keys: k, services: "shop-*", action: drop }', // only some services
      '{ name: c, keys: k, values: [email], action: drop }', // only some values
      '{ name: d, keys: k, signals: [logs], action: drop }', // the other teams' logs
      '{ name: e, keys: k, action: drop }', // everything else about k
      '{ name: f, values: [email], targets: [body], signals: [logs], action: redact }',
      '{ name: g, values: [email, jwt], targets: [attributes, body], signals: [logs], action: redact }',
    ),
  );
  assert.equal(rules.attributePolicies.length, 7);
});

test('body targets are covered by value detectors alone', () => {
  assert.deepEqual(
    issueMessages(
      policies(
        '{ name: a, values: [email, jwt], targets: [body], signals: [logs], action: redact }',
        '{ name: b, values: [jwt], targets: [body], signals: [logs, traces], action: drop }',
      ),
    ),
    [
      'attribute_policies[1]: can never apply: attribute_policies[0] ("a") comes first and matches every attribute this would (the first matching policy wins)',
    ],
  );
});
