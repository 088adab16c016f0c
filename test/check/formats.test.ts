// Every output format of a check report, read back with independent tools: SARIF against the
// official SARIF 2.1.0 JSON schema (Ajv), JUnit with an XML parser, GitLab code quality as JSON
// against its documented fields, GitHub workflow commands by their escaping rules.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import Ajv from 'ajv';
import { XMLParser } from 'fast-xml-parser';
import { parseSuppressions, renderGithub, renderGitlab, renderHuman, renderJunit, renderMarkdownSummary, renderSarif, runCheck } from '../../collector/check/index.js';
import type { CheckReport } from '../../collector/check/index.js';
import { checkRules, encoder, labelSets, metricsRequest } from './support.js';

const require = createRequire(import.meta.url);
const SARIF_SCHEMA = JSON.parse(readFileSync(new URL('./testdata/sarif-2.1.0-rtm.5.json', import.meta.url), 'utf8')) as object;

/** A report with an error, a warning, a note, a suppressed finding, an expired suppression and a source location. */
function sampleReport(): CheckReport {
  const sample = metricsRequest({ 'service.name': 'checkout' }, {
    'http.requests': labelSets(2, 'user_id', 'u', { 'http.route': '/a,b:c%d' }),
    signups: [{ contact: 'ann@example.com' }],
    'legacy.hits': [{ user_id: 'x' }],
  });
  const baseline = metricsRequest({ 'service.name': 'checkout' }, { 'http.requests': [{}] });
  const suppressions = parseSuppressions(
    'suppressions:\n  - rule: attribute-policy/no-user-ids\n    metric: legacy.*\n    owner: "@team"\n    expires: 2099-01-01\n  - rule: "*"\n    metric: none\n    owner: old\n    expires: 2020-01-01\n',
    'suppressions.yaml',
  );
  const report = runCheck({
    rules: checkRules(),
    inputs: [{ kind: 'otlp', path: 'data/metrics.jsonl', bytes: encoder.encode(sample) }],
    baseline: [{ kind: 'otlp', path: 'main.jsonl', bytes: encoder.encode(baseline) }],
    suppressions,
    maxGrowth: 5,
    failOn: 'error',
    now: Date.parse('2026-06-01T00:00:00Z'),
    version: '1.2.3',
  });
  report.findings.find((f) => f.metric === 'http.requests' && f.ruleId.startsWith('attribute-policy/'))!.location = { path: 'src/app.ts', line: 42 };
  return report;
}

describe('check report formats', () => {
  const report = sampleReport();
  const levels = new Set(report.findings.map((f) => f.level));

  test('the sample report has every level and a suppressed finding', () => {
    assert.deepEqual([...levels].sort(), ['error', 'note', 'warning']);
    assert.equal(report.summary.suppressed, 1);
    assert.equal(report.summary.expiredSuppressions, 1);
  });

  test('SARIF validates against the SARIF 2.1.0 schema and carries rule ids, levels, locations and fingerprints', () => {
    const ajv = new Ajv({ schemaId: 'id', meta: false, allErrors: true, validateSchema: false });
    ajv.addMetaSchema(require('ajv/lib/refs/json-schema-draft-04.json') as object);
    const validate = ajv.compile(SARIF_SCHEMA);
    const sarif = JSON.parse(renderSarif(report)) as {
      version: string;
      runs: { tool: { driver: { rules: { id: string }[] } }; results: { ruleId: string; ruleIndex: number; level: string; locations: { physicalLocation: { artifactLocation: { uri: string }; region?: { startLine: number } } }[]; partialFingerprints: Record<string, string>; suppressions?: unknown[] }[] }[];
    };
    assert.equal(validate(sarif), true, JSON.stringify(validate.errors, null, 2));
    // The schema must reject what is not SARIF, or the check above proves nothing.
    assert.equal(validate({ version: '2.1.0', runs: [{ results: [] }] }), false);
    const [run] = sarif.runs;
    assert.equal(run.results.length, report.findings.length);
    for (const result of run.results) {
      assert.equal(run.tool.driver.rules[result.ruleIndex].id, result.ruleId);
      assert.match(Object.values(result.partialFingerprints)[0], /^[0-9a-f]{32}$/);
    }
    const located = run.results.find((r) => r.locations[0].physicalLocation.artifactLocation.uri === 'src/app.ts');
    assert.deepEqual(located?.locations[0].physicalLocation.region, { startLine: 42 });
    assert.equal(run.results.filter((r) => r.suppressions !== undefined).length, 1);
  });

  test('JUnit XML parses back: one test case per metric, failures for findings at or above --fail-on', () => {
    const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => name === 'testcase' || name === 'failure' });
    const xml = parser.parse(renderJunit(report)) as { testsuites: { testsuite: { tests: string; failures: string; testcase: { classname: string; name: string; failure?: { message: string; type: string; '#text': string }[] }[] } } };
    const suite = xml.testsuites.testsuite;
    const cases = suite.testcase;
    assert.equal(Number(suite.tests), cases.length);
    const failing = cases.filter((c) => c.failure !== undefined);
    assert.equal(Number(suite.failures), failing.length);
    // Errors are on http.requests (user_id) only: the legacy.hits one is suppressed, signups' email policy is audit (a warning).
    assert.deepEqual(failing.map((c) => `${c.classname}/${c.name}`), ['tollgate.checkout/http.requests']);
    assert.equal(failing[0].failure![0].type, 'attribute-policy/no-user-ids');
    assert.match(failing[0].failure![0]['#text'], /src\/app\.ts:42/);
    for (const name of ['http.requests', 'signups', 'legacy.hits']) assert.ok(cases.some((c) => c.name === name), `a test case for ${name}`);
  });

  test('GitLab code quality: an array of issues with the documented fields and severities', () => {
    const issues = JSON.parse(renderGitlab(report)) as { description: string; check_name: string; fingerprint: string; severity: string; location: { path: string; lines: { begin: number } } }[];
    assert.equal(issues.length, report.findings.filter((f) => !f.suppressedBy).length);
    for (const issue of issues) {
      assert.deepEqual(Object.keys(issue).sort(), ['check_name', 'description', 'fingerprint', 'location', 'severity']);
      assert.ok(['info', 'minor', 'major', 'critical', 'blocker'].includes(issue.severity));
      assert.ok(issue.location.lines.begin >= 1);
      assert.ok(issue.location.path.length > 0);
    }
    const user = issues.find((i) => i.check_name === 'attribute-policy/no-user-ids');
    assert.deepEqual([user?.severity, user?.location], ['critical', { path: 'src/app.ts', lines: { begin: 42 } }]);
    assert.equal(new Set(issues.map((i) => i.fingerprint)).size, issues.length, 'fingerprints are unique');
  });

  test('GitHub workflow commands: one per unsuppressed finding, with %, CR, LF (and : , in properties) escaped', () => {
    const lines = renderGithub(report).trimEnd().split('\n');
    assert.equal(lines.length, report.findings.filter((f) => !f.suppressedBy).length);
    for (const line of lines) {
      const match = /^::(error|warning|notice) ([^:]*)::(.*)$/.exec(line);
      assert.ok(match, line);
      assert.ok(!match[3].includes('\n') && !match[3].includes('\r'));
    }
    assert.ok(lines.includes(lines.find((l) => l.startsWith('::error file=src/app.ts,line=42,title=attribute-policy/no-user-ids::'))!));
    assert.ok(lines.some((l) => l.startsWith('::warning file=suppressions.yaml,line=6,title=suppression/expired::')));
    assert.ok(lines.some((l) => l.startsWith('::notice ')));
    // Messages carry a line break before "Fix:", escaped.
    assert.ok(lines.every((l) => l.includes('%0AFix: ')));
  });

  test('human summary and the step summary say what was checked and what failed', () => {
    const human = renderHuman(report);
    // Notes: legacy.hits and signups are not in the baseline. Series: http.requests' two points
    // differ only in the dropped user_id (one series), plus one each for the other two metrics.
    assert.match(human, /tollgate check: FAILED — 1 error, 3 warnings, 2 notes, 1 suppressed, 1 expired suppression/);
    assert.match(human, /checked 3 metrics, 3 series, 3 labels \(4 data points, 0 span\/log records\) from 1 input/);
    const markdown = renderMarkdownSummary(report);
    assert.match(markdown, /^### tollgate check: ❌ failed/);
    assert.equal(markdown.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| level')).length, report.findings.filter((f) => !f.suppressedBy).length);
  });
});
