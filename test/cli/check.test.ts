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
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBudget } from '../../cli/budget.js';
import { runCheckCommand } from '../../cli/check.js';
import type { CheckIo } from '../../cli/check.js';
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
