// `tollgate check` and `tollgate budget` as commands: exit codes for every case (pass, findings,
// --fail-on, usage errors, unreadable and empty inputs), outputs to files and stdout,
// $GITHUB_STEP_SUMMARY, --source locations, and the entry point wiring in a real process.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBudget } from '../../cli/budget.js';
import { DEFAULT_RATE_LIMIT } from '../../api/rate-limit.js';
import { runCheckCommand } from '../../cli/check.js';
import type { CheckIo } from '../../cli/check.js';
import { teamsUsage } from '../../cli/check-io.js';
import { parseRules } from '../../rules/load.js';
import { T0, TOKENS, startApiFixture } from '../api/support.js';
import type { ApiFixture } from '../api/support.js';
import { CHECK_RULES_YAML, labelSets, metricsRequest } from '../check/support.js';

const ROOT = new URL('../../', import.meta.url).pathname;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe('tollgate check (command)', () => {
  let dir: string;
  const path = (name: string) => join(dir, name);

  async function check(args: string[], env: Record<string, string> = {}): Promise<Run> {
    let stdout = '';
    let stderr = '';
    const io: CheckIo = {
      stdout: { write: (t: string) => (stdout += t) },
      stderr: { write: (t: string) => (stderr += t) },
      env,
      cwd: dir,
      fetch,
      now: () => Date.parse('2026-06-01T00:00:00Z'),
    };
    const code = await runCheckCommand(args, io);
    return { code, stdout, stderr };
  }

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tollgate-check-cli-'));
    writeFileSync(path('rules.yaml'), CHECK_RULES_YAML);
    const checkout = { 'service.name': 'checkout' };
    writeFileSync(path('bad.jsonl'), `${metricsRequest(checkout, { 'shop.orders': labelSets(2, 'user_id', 'u') })}\n`);
    writeFileSync(path('good.jsonl'), `${metricsRequest(checkout, { 'shop.orders': labelSets(2, 'shop', 's') })}\n`);
    writeFileSync(path('warn.jsonl'), `${metricsRequest(checkout, { 'shop.signups': [{ contact: 'ann@example.com' }] })}\n`);
    writeFileSync(path('empty.jsonl'), '');
    writeFileSync(path('garbage.jsonl'), '{"resourceMetrics": [ oops\n');
    writeFileSync(path('app.prom'), '# TYPE shop_orders_total counter\nshop_orders_total{user_id="u1"} 1\nshop_orders_total{user_id="u2"} 2\n');
    mkdirSync(path('src'));
    writeFileSync(path('src/orders.ts'), "import { metrics } from '@opentelemetry/api';\n\nconst orders = meter.createCounter('shop.orders');\nexport function order(user: string) {\n  orders.add(1, { user_id: user });\n}\n");
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('exit 0 when nothing fails, with the summary of what was checked', async () => {
    const run = await check(['--rules', path('rules.yaml'), '--otlp', path('good.jsonl')]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /tollgate check: passed — 0 errors/);
    assert.match(run.stdout, /checked 1 metric, 2 series, 1 label \(2 data points, 0 span\/log records\) from 1 input/);
  });

  test('exit 3 on an error finding; the message says what, where and how to fix it', async () => {
    const run = await check(['--rules', path('rules.yaml'), '--otlp', path('bad.jsonl'), '--source', path('src')]);
    assert.equal(run.code, 3, run.stderr);
    assert.match(run.stdout, /^error {3}attribute-policy\/no-user-ids {2}src\/orders\.ts:5$/m);
    assert.match(run.stdout, /label "user_id" on metric "shop.orders"/);
    assert.match(run.stdout, /fix: Stop recording "user_id"/);
  });

  test('--fail-on: a warning passes by default and fails with --fail-on warning', async () => {
    assert.equal((await check(['--rules', path('rules.yaml'), '--otlp', path('warn.jsonl')])).code, 0);
    assert.equal((await check(['--rules', path('rules.yaml'), '--otlp', path('warn.jsonl'), '--fail-on', 'warning'])).code, 3);
  });

  test('Prometheus text input, with --resource choosing the team', async () => {
    const run = await check(['--rules', path('rules.yaml'), '--prom', path('app.prom'), '--resource', 'service.name=checkout', '--format', 'json']);
    assert.equal(run.code, 3);
    const report = JSON.parse(run.stdout) as { findings: { rule_id: string; team: string; origin: { path: string; line: number } }[]; summary: { metrics: number } };
    assert.deepEqual(report.findings.map((f) => [f.rule_id, f.team, f.origin.line]), [['attribute-policy/no-user-ids', 'checkout', 2]]);
    // A machine format on stdout moves the human summary to stderr.
    assert.match(run.stderr, /tollgate check: FAILED/);
  });

  test('exit 1 for nothing to check, an unreadable or malformed input; never 0', async () => {
    const empty = await check(['--rules', path('rules.yaml'), '--otlp', path('empty.jsonl')]);
    assert.equal(empty.code, 1);
    assert.match(empty.stderr, /nothing to check: .*0 metrics, 0 series, 0 labels checked/);
    const missing = await check(['--rules', path('rules.yaml'), '--otlp', path('nope.jsonl')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /nope\.jsonl: file not found/);
    const garbage = await check(['--rules', path('rules.yaml'), '--otlp', path('garbage.jsonl')]);
    assert.equal(garbage.code, 1);
    assert.match(garbage.stderr, /garbage\.jsonl:1: not an OTLP\/JSON metrics request/);
    const unreachable = await check(['--scrape', 'http://127.0.0.1:9/metrics']);
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /GET http:\/\/127\.0\.0\.1:9\/metrics/);
  });

  test('exit 2 for usage errors: no input, unknown flag or format, bad values, invalid rules or suppressions', async () => {
    const cases: [string[], RegExp][] = [
      [['--rules', path('rules.yaml')], /no input/],
      [['--otlp', path('good.jsonl'), '--frobnicate'], /Unknown option '--frobnicate'/],
      [['--otlp', path('good.jsonl'), '--format', 'xml'], /unknown format "xml"/],
      [['--otlp', path('good.jsonl'), '--format', 'json', '--format', 'sarif'], /only one machine-readable format can go to stdout/],
      [['--otlp', path('good.jsonl'), '--fail-on', 'note'], /--fail-on must be error or warning/],
      [['--otlp', path('good.jsonl'), '--max-growth', 'lots'], /--max-growth must be/],
      [['--otlp', path('good.jsonl'), '--api', 'http://127.0.0.1:9'], /--api needs a token/],
      [['--rules', path('nope.yaml'), '--otlp', path('good.jsonl')], /nope\.yaml.*file not found/],
      [['--rules', path('good.jsonl'), '--otlp', path('good.jsonl')], /invalid rules/],
      [['--otlp', path('good.jsonl'), '--suppressions', path('nope.yaml')], /--suppressions .*nope\.yaml: file not found/],
    ];
    for (const [args, message] of cases) {
      const run = await check(args);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, message);
    }
  });

  test('--format X=PATH writes each format to its file; github writes the step summary', async () => {
    const summary = path('step-summary.md');
    writeFileSync(summary, 'before\n');
    const run = await check(
      ['--rules', path('rules.yaml'), '--otlp', path('bad.jsonl'), '--format', `sarif=${path('out.sarif')}`, '--format', `junit=${path('out.xml')}`, '--format', `gitlab=${path('gl.json')}`, '--format', 'github'],
      { GITHUB_STEP_SUMMARY: summary },
    );
    assert.equal(run.code, 3);
    assert.equal((JSON.parse(readFileSync(path('out.sarif'), 'utf8')) as { version: string }).version, '2.1.0');
    assert.match(readFileSync(path('out.xml'), 'utf8'), /<testsuites name="tollgate check" tests="1" failures="1"/);
    assert.equal((JSON.parse(readFileSync(path('gl.json'), 'utf8')) as unknown[]).length, 1);
    assert.match(run.stdout, /^::error file=[^,]*bad\.jsonl,line=1,title=attribute-policy\/no-user-ids::/m);
    assert.match(run.stdout, /tollgate check: FAILED/, 'the human summary stays on stdout next to workflow commands');
    const markdown = readFileSync(summary, 'utf8');
    assert.ok(markdown.startsWith('before\n### tollgate check: ❌ failed'), markdown);
    assert.match(markdown, /\| error \| `attribute-policy\/no-user-ids` \|/);
  });

  // A card number (passes the Luhn check) and e-mail addresses: what attribute policies exist to catch.
  const CARD = '4111111111111111';
  const SECRETS = [CARD, 'ann.secret@example.com', 'zed.hidden@example.org'];
  const SECRET_RULES = `version: 1
mode: enforce
teams:
  - name: checkout
    match:
      service.name: checkout
attribute_policies:
  - name: no-cards
    signals: [metrics, traces, logs]
    targets: [attributes, body]
    values: [credit_card]
    action: reject
  - name: no-emails
    signals: [metrics, traces, logs]
    targets: [attributes, body]
    values: [email]
    action: redact
`;
  const logsLine = (body: string, attributes: Record<string, string>) =>
    JSON.stringify({
      resourceLogs: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'checkout' } }] }, scopeLogs: [{ logRecords: [{ body: { stringValue: body }, attributes: Object.entries(attributes).map(([key, value]) => ({ key, value: { stringValue: value } })) }] }] }],
    });

  test('findings never show a caught value in any format, only its key, policy, detector and a masked form', async () => {
    writeFileSync(path('secret-rules.yaml'), SECRET_RULES);
    const checkout = { 'service.name': 'checkout' };
    writeFileSync(
      path('secrets.jsonl'),
      `${metricsRequest(checkout, { 'shop.payments': [{ card: CARD }, { contact: SECRETS[1] }] })}\n${logsLine(`mail sent to ${SECRETS[2]}`, { card: CARD })}\n`,
    );
    const summary = path('secret-summary.md');
    writeFileSync(summary, '');
    const files = { json: path('s.json'), sarif: path('s.sarif'), junit: path('s.xml'), gitlab: path('s-gl.json') };
    const run = await check(
      ['--rules', path('secret-rules.yaml'), '--otlp', path('secrets.jsonl'), ...Object.entries(files).flatMap(([format, file]) => ['--format', `${format}=${file}`]), '--format', 'github'],
      { GITHUB_STEP_SUMMARY: summary },
    );
    assert.equal(run.code, 3, run.stderr);
    const outputs: Record<string, string> = { stdout: run.stdout, stderr: run.stderr, summary: readFileSync(summary, 'utf8') };
    for (const [format, file] of Object.entries(files)) outputs[format] = readFileSync(file, 'utf8');
    const report = JSON.parse(outputs.json) as { findings: { rule_id: string; message: string }[] };
    // Both policies were found, on the metric's points and on the log record (attribute and body).
    assert.deepEqual([...new Set(report.findings.map((f) => f.rule_id))].sort(), ['attribute-policy/no-cards', 'attribute-policy/no-emails']);
    assert.ok(report.findings.length >= 4, JSON.stringify(report.findings));
    assert.ok(report.findings.some((f) => /label "card" on metric "shop\.payments" \(its value looks like credit_card\).*e\.g\. card=41…\(16 chars\)/.test(f.message)));
    for (const [name, text] of Object.entries(outputs)) {
      for (const secret of SECRETS) {
        for (const part of [secret, secret.split('@')[0], secret.slice(2, 12)]) assert.ok(!text.includes(part), `${name} shows "${part}"`);
      }
    }
    assert.match(run.stdout, /^::error .*title=attribute-policy\/no-cards::/m);
  });

  test('a sample whose every data point an enforced reject refuses is not empty: exit 3 with the reject finding', async () => {
    writeFileSync(path('secret-rules.yaml'), SECRET_RULES);
    writeFileSync(path('rejected.jsonl'), `${metricsRequest({ 'service.name': 'checkout' }, { 'shop.payments': [{ card: CARD }, { card: '5500005555555559' }] })}\n`);
    const run = await check(['--rules', path('secret-rules.yaml'), '--otlp', path('rejected.jsonl'), '--format', 'json']);
    assert.equal(run.code, 3, run.stderr);
    const report = JSON.parse(run.stdout) as { findings: { rule_id: string; level: string; message: string }[]; summary: { points: number } };
    assert.deepEqual(report.findings.map((f) => [f.rule_id, f.level]), [['attribute-policy/no-cards', 'error']]);
    assert.match(report.findings[0].message, /would reject the whole item — 2 data points/);
    assert.equal(report.summary.points, 0, 'no point survives the policy');
  });

  test('github with another format on stdout: stdout stays one JSON document, the workflow commands go to stderr', async () => {
    const run = await check(['--rules', path('rules.yaml'), '--otlp', path('bad.jsonl'), '--format', 'json', '--format', 'github']);
    assert.equal(run.code, 3, run.stderr);
    const report = JSON.parse(run.stdout) as { passed: boolean; findings: { rule_id: string }[] };
    assert.equal(report.passed, false);
    assert.deepEqual(report.findings.map((f) => f.rule_id), ['attribute-policy/no-user-ids']);
    assert.match(run.stderr, /^::error file=[^,]*bad\.jsonl,line=1,title=attribute-policy\/no-user-ids::/m);
    assert.doesNotMatch(run.stdout, /::error/);
  });

  test('protobuf traces and logs files are read as traces and logs, one request or length-prefixed', async () => {
    writeFileSync(path('secret-rules.yaml'), SECRET_RULES);
    // Encoded by the independent protobufjs code generated from opentelemetry-proto (dev dependency otlp-oracle).
    const proto = createRequire(import.meta.url)('otlp-oracle/build/src/generated/root.js') as {
      opentelemetry: { proto: { collector: Record<string, { v1: Record<string, { fromObject(o: unknown): unknown; encode(m: unknown): { finish(): Uint8Array } }> }> } };
    };
    const encode = (service: string, type: string, request: object) => {
      const t = proto.opentelemetry.proto.collector[service].v1[type];
      return t.encode(t.fromObject(request)).finish();
    };
    const resource = { attributes: [{ key: 'service.name', value: { stringValue: 'checkout' } }] };
    const kv = (key: string, value: string) => ({ key, value: { stringValue: value } });
    const spans = encode('trace', 'ExportTraceServiceRequest', {
      resourceSpans: [{ resource, scopeSpans: [{ scope: { name: 'shop' }, spans: [1, 2].map((n) => ({ traceId: Buffer.alloc(16, n), spanId: Buffer.alloc(8, n), name: `pay ${n}`, kind: 2, startTimeUnixNano: 1_700_000_000_000_000_000 + n, endTimeUnixNano: 1_700_000_001_000_000_000, attributes: [kv('card', CARD)] })) }] }],
    });
    const logs = encode('logs', 'ExportLogsServiceRequest', {
      resourceLogs: [{ resource, scopeLogs: [{ scope: { name: 'shop' }, logRecords: [{ timeUnixNano: 1_700_000_000_000_000_000, severityNumber: 9, body: { stringValue: `mail sent to ${SECRETS[1]}` }, attributes: [kv('order', 'o-1')] }] }] }],
    });
    const framed = Buffer.alloc(8 + spans.length + logs.length);
    framed.writeUInt32BE(spans.length, 0);
    framed.set(spans, 4);
    framed.writeUInt32BE(logs.length, 4 + spans.length);
    framed.set(logs, 8 + spans.length);
    writeFileSync(path('spans.pb'), spans);
    writeFileSync(path('logs.pb'), logs);
    writeFileSync(path('both.pb'), framed);
    type Report = { summary: { items: number; points: number }; findings: { rule_id: string; message: string }[] };
    const run = async (file: string): Promise<Report> => {
      const result = await check(['--rules', path('secret-rules.yaml'), '--otlp', path(file), '--format', 'json']);
      assert.equal(result.code, 3, result.stderr);
      return JSON.parse(result.stdout) as Report;
    };
    const traced = await run('spans.pb');
    assert.deepEqual([traced.summary.items, traced.summary.points], [2, 0]);
    assert.deepEqual(traced.findings.map((f) => f.rule_id), ['attribute-policy/no-cards']);
    assert.match(traced.findings[0].message, /attribute "card" on spans .*2 items/);
    const logged = await run('logs.pb');
    assert.deepEqual([logged.summary.items, logged.summary.points], [1, 0]);
    assert.deepEqual(logged.findings.map((f) => f.rule_id), ['attribute-policy/no-emails']);
    assert.match(logged.findings[0].message, /^the body of log records/);
    const both = await run('both.pb');
    assert.equal(both.summary.items, 3);
    assert.deepEqual(both.findings.map((f) => f.rule_id).sort(), ['attribute-policy/no-cards', 'attribute-policy/no-emails']);
  });

  test('the entry point runs check and budget in a real process', () => {
    const main = join(ROOT, 'cli/main.ts');
    const ran = spawnSync(process.execPath, ['--import', 'tsx', main, 'check', '--rules', path('rules.yaml'), '--otlp', path('bad.jsonl')], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    assert.equal(ran.status, 3, ran.stderr);
    assert.match(ran.stdout, /attribute-policy\/no-user-ids/);
    const help = spawnSync(process.execPath, ['--import', 'tsx', main, 'budget'], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    assert.equal(help.status, 2);
    assert.match(help.stderr, /--api is required/);
  });
});

describe('tollgate check --api against the budget API with its default rate limit', () => {
  const TEAMS = 80;
  let api: ApiFixture;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tollgate-check-api-'));
    const others = Array.from({ length: TEAMS - 1 }, (_, i) => `  - name: team-${i}\n    match: { service.name: app-${i} }\n    budgets:\n      metrics: { max_active_series: 100 }\n`).join('');
    const rules = parseRules(`version: 1\nteams:\n  - name: checkout\n    match: { service.name: checkout }\n    budgets:\n      metrics: { max_active_series: 1000 }\n${others}`, 'many-teams.yaml');
    // The rate limiter runs on the API's clock: let it move with real time from the fixture's T0.
    const started = Date.now();
    api = await startApiFixture({ rules: () => rules, rateLimit: DEFAULT_RATE_LIMIT, now: () => T0 + (Date.now() - started) });
    writeFileSync(join(dir, 'rules.yaml'), CHECK_RULES_YAML);
    writeFileSync(join(dir, 'good.jsonl'), `${metricsRequest({ 'service.name': 'checkout' }, { 'shop.orders': labelSets(2, 'shop', 's') })}\n`);
  });
  after(async () => {
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test(`the usage of all ${TEAMS} teams is fetched without failing on 429 (a burst of 60, then 20/s)`, { timeout: 30_000 }, async () => {
    let refused = 0;
    const counting: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (response.status === 429) refused++;
      return response;
    };
    const names = ['checkout', ...Array.from({ length: TEAMS - 1 }, (_, i) => `team-${i}`)];
    const usage = await teamsUsage(counting, api.base, TOKENS.admin, new Set(names));
    assert.equal(usage.size, TEAMS);
    assert.deepEqual(usage.get('checkout'), { usage: 850, limit: 1000 });
    assert.deepEqual(usage.get('team-78'), { usage: 0, limit: 100 });
    assert.ok(refused > 0, 'the rate limit was reached and waited out');
  });

  test('the check asks only the budgets of the teams in its sample', { timeout: 30_000 }, async () => {
    const asked: string[] = [];
    let stdout = '';
    let stderr = '';
    const io: CheckIo = {
      stdout: { write: (t: string) => (stdout += t) },
      stderr: { write: (t: string) => (stderr += t) },
      env: {},
      cwd: dir,
      fetch: (input, init) => {
        asked.push(new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url).pathname);
        return fetch(input, init);
      },
      now: () => Date.parse('2026-06-01T00:00:00Z'),
    };
    const code = await runCheckCommand(['--rules', join(dir, 'rules.yaml'), '--otlp', join(dir, 'good.jsonl'), '--api', api.base, '--token', TOKENS.admin], io);
    assert.equal(code, 0, stderr);
    assert.deepEqual([...new Set(asked)], ['/api/v1/teams', '/api/v1/teams/checkout/budget']);
    // 850 active now (the fixture's seed) + 2 series in the sample, of the API's limit of 1,000.
    assert.match(stdout, /team "checkout" would have 852 active series \(850 active now \+ 2 in this sample\), 85 % of its budget of 1000/);
  });
});

describe('tollgate budget (command)', () => {
  let server: Server;
  let api: string;
  const budgets: Record<string, { limit: number | null; usage: number; utilization: number | null }> = {
    checkout: { limit: 1000, usage: 950, utilization: 0.95 },
    search: { limit: 1000, usage: 100, utilization: 0.1 },
  };

  before(async () => {
    // A stand-in for the budget API's GET /api/v1/teams/{team}/budget, answering its documented shape.
    server = createServer((req, res) => {
      const team = /^\/api\/v1\/teams\/([^/]+)\/budget$/.exec(req.url ?? '')?.[1];
      if (req.headers.authorization !== 'Bearer secret') {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":{"code":"unauthorized"}}');
        return;
      }
      const line = team === undefined ? undefined : budgets[team];
      if (!line) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"resource_not_found"}}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ team, signals: { metrics: { ...line, status: line.utilization! > 0.9 ? 'warning' : 'ok', as_of: '2026-06-01T00:00:00.000Z' } } }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  async function budget(args: string[], env: Record<string, string> = {}): Promise<Run> {
    let stdout = '';
    let stderr = '';
    const code = await runBudget(args, { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) }, env, fetch });
    return { code, stdout, stderr };
  }

  test('exit 3 above --fail-above, 0 within it', async () => {
    const high = await budget(['--api', api, '--team', 'checkout', '--token', 'secret', '--fail-above', '0.9']);
    assert.equal(high.code, 3, high.stderr);
    assert.match(high.stdout, /team checkout: 950 active series of 1000 \(95\.0 %, status warning/);
    assert.equal((await budget(['--api', api, '--team', 'checkout', '--fail-above', '96%'], { TOLLGATE_TOKEN: 'secret' })).code, 0);
    const low = await budget(['--api', api, '--team', 'search', '--token', 'secret', '--format', 'json']);
    assert.equal(low.code, 0);
    assert.deepEqual((JSON.parse(low.stdout) as { usage: number; passed: boolean }).passed, true);
  });

  test('exit 1 when the API refuses, exit 2 for usage errors', async () => {
    const denied = await budget(['--api', api, '--team', 'checkout', '--token', 'wrong']);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /HTTP 401/);
    assert.equal((await budget(['--api', api, '--team', 'nobody', '--token', 'secret'])).code, 1);
    assert.equal((await budget(['--api', api, '--token', 'secret'])).code, 2);
    assert.equal((await budget(['--api', api, '--team', 'checkout', '--token', 'secret', '--fail-above', 'high'])).code, 2);
  });
});
