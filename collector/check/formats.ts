/**
 * Renderers of a check report, one pure function per format: the human summary, SARIF 2.1.0
 * (GitHub code scanning), JUnit XML (Ant/Jenkins style), GitHub workflow commands plus a
 * markdown table for $GITHUB_STEP_SUMMARY, and GitLab code quality JSON. Suppressed findings are
 * counted everywhere; they are annotated nowhere except SARIF, which has a field for them.
 */
import { CHECK_RULES, POLICY_RULE_PREFIX, atLeast, locationOf } from './findings.js';
import type { Finding, Level } from './findings.js';
import type { CheckReport } from './report.js';
import { reportToJson } from './report.js';

export const OUTPUT_FORMATS = ['json', 'sarif', 'junit', 'github', 'gitlab'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const open = (report: CheckReport) => report.findings.filter((f) => !f.suppressedBy);

function where(finding: Finding): string {
  const at = locationOf(finding);
  return at.line > 0 ? `${at.path}:${at.line}` : at.path;
}

export function checkedLine(report: CheckReport): string {
  const s = report.summary;
  return `checked ${plural(s.metrics, 'metric')}, ${plural(s.series, 'series').replace('seriess', 'series')}, ${plural(s.labels, 'label')} (${plural(s.points, 'data point')}, ${plural(s.items, 'span/log record')}) from ${plural(s.inputs, 'input')}`;
}

export function renderHuman(report: CheckReport): string {
  const s = report.summary;
  const lines: string[] = [];
  for (const f of open(report)) {
    lines.push(`${f.level.padEnd(7)} ${f.ruleId}  ${where(f)}`, `        ${f.message}`, `        fix: ${f.help}`);
  }
  const suppressed = s.suppressed > 0 ? `, ${s.suppressed} suppressed` : '';
  const expired = s.expiredSuppressions > 0 ? `, ${plural(s.expiredSuppressions, 'expired suppression')}` : '';
  lines.push(
    `tollgate check: ${report.passed ? 'passed' : 'FAILED'} — ${plural(s.findings.error, 'error')}, ${plural(s.findings.warning, 'warning')}, ${plural(s.findings.note, 'note')}${suppressed}${expired} (fails on ${report.failOn} and above)`,
    `  ${checkedLine(report)}`,
  );
  return `${lines.join('\n')}\n`;
}

export function renderJson(report: CheckReport): string {
  return `${JSON.stringify(reportToJson(report), null, 2)}\n`;
}

// ─── SARIF 2.1.0 ───────────────────────────────────────────────────────────────────────────────

const BUILTIN_DESCRIPTIONS = new Map<string, string>(Object.values(CHECK_RULES).map((r) => [r.id, r.description]));

function ruleDescription(id: string): string {
  if (id.startsWith(POLICY_RULE_PREFIX)) return `Attribute policy "${id.slice(POLICY_RULE_PREFIX.length)}" of the governance rules applies to the data.`;
  return BUILTIN_DESCRIPTIONS.get(id) ?? id;
}

function sarifLocation(finding: Finding) {
  const at = locationOf(finding);
  return { physicalLocation: { artifactLocation: { uri: at.path === '' ? 'unknown' : at.path }, ...(at.line > 0 ? { region: { startLine: at.line } } : {}) } };
}

export function renderSarif(report: CheckReport): string {
  const ruleIds = [...new Set(report.findings.map((f) => f.ruleId))].sort();
  const rules = ruleIds.map((id) => {
    const example = report.findings.find((f) => f.ruleId === id);
    return {
      id,
      name: id.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase()),
      shortDescription: { text: ruleDescription(id) },
      help: { text: example?.help ?? ruleDescription(id) },
      defaultConfiguration: { level: example?.level ?? 'warning' },
    };
  });
  const results = report.findings.map((f) => ({
    ruleId: f.ruleId,
    ruleIndex: ruleIds.indexOf(f.ruleId),
    level: f.level,
    message: { text: `${f.message} Fix: ${f.help}` },
    locations: [sarifLocation(f)],
    partialFingerprints: { 'tollgateFinding/v1': f.fingerprint },
    ...(f.suppressedBy
      ? { suppressions: [{ kind: 'external', status: 'accepted', justification: `owner ${f.suppressedBy.owner}, until ${new Date(f.suppressedBy.expiresAt).toISOString()}${f.suppressedBy.reason ? `: ${f.suppressedBy.reason}` : ''}` }] }
      : {}),
    properties: { team: f.team ?? null, metric: f.metric ?? null, label: f.label ?? null },
  }));
  const log = {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: { driver: { name: 'tollgate', semanticVersion: report.version, informationUri: 'https://opentelemetry.io/', rules } },
        results,
        properties: { rulesHash: report.rulesHash, summary: report.summary },
      },
    ],
  };
  return `${JSON.stringify(log, null, 2)}\n`;
}

// ─── JUnit XML ─────────────────────────────────────────────────────────────────────────────────

export function escapeXml(text: string): string {
  // Characters XML 1.0 cannot carry at all are dropped rather than escaped.
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '').replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] ?? c);
}

interface TestCase {
  readonly classname: string;
  readonly name: string;
  readonly failing: Finding[];
  readonly other: Finding[];
}

/**
 * One test case per metric checked (failing when a finding on it is at or above --fail-on),
 * plus one per finding that is not about a single metric (team budgets, suppressions, spans).
 */
export function renderJunit(report: CheckReport): string {
  const cases = new Map<string, TestCase>();
  for (const m of report.metrics) cases.set(`${m.team}\u0000${m.name}`, { classname: `tollgate.${m.team}`, name: m.name, failing: [], other: [] });
  for (const f of open(report)) {
    const id = f.metric !== undefined && f.team !== undefined ? `${f.team}\u0000${f.metric}` : `${f.ruleId}\u0000${f.fingerprint}`;
    let testCase = cases.get(id);
    if (!testCase) cases.set(id, (testCase = { classname: 'tollgate.check', name: `${f.ruleId}${f.team ? ` (${f.team})` : ''}`, failing: [], other: [] }));
    (atLeast(f.level, report.failOn) ? testCase.failing : testCase.other).push(f);
  }
  const all = [...cases.values()];
  const failures = all.filter((c) => c.failing.length > 0).length;
  const body = all.map((c) => {
    const head = `    <testcase classname="${escapeXml(c.classname)}" name="${escapeXml(c.name)}"`;
    if (c.failing.length === 0 && c.other.length === 0) return `${head}/>`;
    const parts = [`${head}>`];
    if (c.failing.length > 0) {
      const first = c.failing[0];
      const text = c.failing.map((f) => `${f.level} ${f.ruleId} at ${where(f)}: ${f.message}\nfix: ${f.help}`).join('\n\n');
      parts.push(`      <failure message="${escapeXml(first.message)}" type="${escapeXml(first.ruleId)}">${escapeXml(text)}</failure>`);
    }
    if (c.other.length > 0) parts.push(`      <system-out>${escapeXml(c.other.map((f) => `${f.level} ${f.ruleId}: ${f.message}`).join('\n'))}</system-out>`);
    parts.push('    </testcase>');
    return parts.join('\n');
  });
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="tollgate check" tests="${all.length}" failures="${failures}" errors="0">`,
    `  <testsuite name="tollgate check" tests="${all.length}" failures="${failures}" errors="0" skipped="0">`,
    ...body,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}

// ─── GitHub workflow commands ──────────────────────────────────────────────────────────────────

const GITHUB_COMMAND: Readonly<Record<Level, string>> = { error: 'error', warning: 'warning', note: 'notice' };

export function escapeGithubData(text: string): string {
  return text.replaceAll('%', '%25').replaceAll('\r', '%0D').replaceAll('\n', '%0A');
}

export function escapeGithubProperty(text: string): string {
  return escapeGithubData(text).replaceAll(':', '%3A').replaceAll(',', '%2C');
}

export function renderGithub(report: CheckReport): string {
  const lines = open(report).map((f) => {
    const at = locationOf(f);
    const props = [`file=${escapeGithubProperty(at.path)}`, ...(at.line > 0 ? [`line=${at.line}`] : []), `title=${escapeGithubProperty(f.ruleId)}`];
    return `::${GITHUB_COMMAND[f.level]} ${props.join(',')}::${escapeGithubData(`${f.message}\nFix: ${f.help}`)}`;
  });
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

const cell = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ');

/** The full list as markdown, for $GITHUB_STEP_SUMMARY (annotations are capped per step; this is not). */
export function renderMarkdownSummary(report: CheckReport): string {
  const s = report.summary;
  const lines = [
    `### tollgate check: ${report.passed ? '✅ passed' : '❌ failed'}`,
    '',
    `${plural(s.findings.error, 'error')}, ${plural(s.findings.warning, 'warning')}, ${plural(s.findings.note, 'note')}; ${s.suppressed} suppressed, ${plural(s.expiredSuppressions, 'expired suppression')}. Fails on ${report.failOn} and above.`,
    '',
    `${checkedLine(report)[0].toUpperCase()}${checkedLine(report).slice(1)}.`,
    '',
  ];
  const findings = open(report);
  if (findings.length > 0) {
    lines.push('| level | rule | where | finding | fix |', '|---|---|---|---|---|');
    for (const f of findings) lines.push(`| ${f.level} | \`${f.ruleId}\` | ${cell(where(f))} | ${cell(f.message)} | ${cell(f.help)} |`);
    lines.push('');
  }
  return `${lines.join('\n')}\n`;
}

// ─── GitLab code quality ───────────────────────────────────────────────────────────────────────

const GITLAB_SEVERITY: Readonly<Record<Level, string>> = { error: 'critical', warning: 'major', note: 'info' };

export function renderGitlab(report: CheckReport): string {
  const issues = open(report).map((f) => {
    const at = locationOf(f);
    return {
      description: f.message,
      check_name: f.ruleId,
      fingerprint: f.fingerprint,
      severity: GITLAB_SEVERITY[f.level],
      location: { path: at.path, lines: { begin: Math.max(1, at.line) } },
    };
  });
  return `${JSON.stringify(issues, null, 2)}\n`;
}

export const RENDERERS: Readonly<Record<OutputFormat, (report: CheckReport) => string>> = {
  json: renderJson,
  sarif: renderSarif,
  junit: renderJunit,
  github: renderGithub,
  gitlab: renderGitlab,
};
