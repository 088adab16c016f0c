// `tollgate check` on telemetry real exporters produced, not hand-written samples:
// - Debian's prometheus-node-exporter, started on a loopback port and scraped (--scrape);
// - a prom-client registry of a small test app, scraped the same way;
// - a real OpenTelemetry SDK app exporting through `tollgate serve` to its file exporter,
//   whose metrics.jsonl is then checked (--otlp): the injected user_id label fails the check,
//   and the same app without it passes.
// The node exporter is installed by .ci/setup-node-exporter.sh; in CI its absence fails the
// test, elsewhere the test is skipped with a message.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Counter, Registry } from 'prom-client';
import { runCheckCommand } from '../../cli/check.js';
import { startSdkMeter } from '../support/sdk-meter.js';
import { startTollgate } from '../support/tollgate-process.js';
import type { TollgateProcess } from '../support/tollgate-process.js';

const NODE_EXPORTER = 'prometheus-node-exporter';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const dir = mkdtempSync(join(tmpdir(), 'tollgate-check-real-'));

async function check(args: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await runCheckCommand(args, { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) }, env: {}, cwd: dir, fetch, now: Date.now });
  return { code, stdout, stderr };
}

interface JsonReport {
  summary: { metrics: number; series: number; labels: number };
  findings: { rule_id: string; level: string; metric: string | null; label: string | null; suppressed_by: unknown }[];
  metrics: { name: string; series: number; labels: Record<string, number> }[];
}

function rulesFile(name: string, deniedKey: string): string {
  const path = join(dir, name);
  writeFileSync(
    path,
    [
      'version: 1',
      'mode: enforce',
      'teams:',
      '  - name: everyone',
      '    budgets:',
      '      metrics:',
      '        max_active_series: 1000000',
      'attribute_policies:',
      `  - name: deny-${deniedKey.replaceAll(/[^a-z0-9]+/g, '-')}`,
      '    signals: [metrics]',
      `    keys: [${deniedKey}]`,
      '    action: drop',
      '',
    ].join('\n'),
  );
  return path;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function waitForMetrics(url: string, child: ChildProcess, logs: () => string): Promise<string> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${NODE_EXPORTER} exited with ${child.exitCode}:\n${logs()}`);
    try {
      const response = await fetch(url);
      if (response.ok) return await response.text();
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${NODE_EXPORTER} did not answer on ${url}:\n${logs()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Families (by # TYPE line) that have at least one sample: counted here without the check's parser. */
function familiesWithSamples(text: string): Set<string> {
  const lines = text.split('\n');
  const typed = lines.flatMap((l) => /^# TYPE (\S+) /.exec(l)?.[1] ?? []);
  const samples = lines.filter((l) => l !== '' && !l.startsWith('#'));
  return new Set(typed.filter((family) => samples.some((s) => s.startsWith(family) && /^[{ _]/.test(s.slice(family.length)))));
}

after(() => rmSync(dir, { recursive: true, force: true }));

describe('check on a real prometheus-node-exporter', () => {
  const installed = spawnSync(NODE_EXPORTER, ['--version'], { encoding: 'utf8' }).status === 0;
  let exporter: ChildProcess | undefined;
  after(() => {
    exporter?.kill('SIGKILL');
  });

  test('a rules file denying a label the exporter really has fails the check; without it the check passes', { timeout: 60_000, skip: !installed && !process.env.CI ? `${NODE_EXPORTER} is not installed (run .ci/setup-node-exporter.sh)` : false }, async () => {
    assert.ok(installed, `${NODE_EXPORTER} must be installed in CI (.ci/setup-node-exporter.sh)`);
    const port = await freePort();
    let logs = '';
    exporter = spawn(NODE_EXPORTER, [`--web.listen-address=127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    exporter.stdout?.on('data', (c: Buffer) => (logs += c.toString()));
    exporter.stderr?.on('data', (c: Buffer) => (logs += c.toString()));
    const url = `http://127.0.0.1:${port}/metrics`;
    const text = await waitForMetrics(url, exporter, () => logs);
    // The label is chosen from what this exporter really exposes: the CPU mode label.
    assert.match(text, /^node_cpu_seconds_total\{cpu="\d+",mode="idle"\}/m, 'node_cpu_seconds_total{cpu,mode} is exposed');
    const cpus = new Set([...text.matchAll(/^node_cpu_seconds_total\{cpu="(\d+)"/gm)].map((m) => m[1])).size;

    const failing = await check(['--rules', rulesFile('deny-mode.yaml', 'mode'), '--scrape', url, '--format', 'json']);
    assert.equal(failing.code, 3, failing.stderr);
    const report = JSON.parse(failing.stdout) as JsonReport;
    const denied = report.findings.filter((f) => f.rule_id === 'attribute-policy/deny-mode');
    assert.ok(denied.some((f) => f.metric === 'node_cpu_seconds_total' && f.label === 'mode' && f.level === 'error'), JSON.stringify(denied));
    // After the enforced drop of `mode`, node_cpu_seconds_total has one series per CPU.
    assert.equal(report.metrics.find((m) => m.name === 'node_cpu_seconds_total')?.series, cpus);
    const families = familiesWithSamples(text);
    assert.ok(Math.abs(report.summary.metrics - families.size) <= 2, `metrics checked ${report.summary.metrics} vs families with samples ${families.size}`);
    assert.ok(report.summary.series > report.summary.metrics);

    const passing = await check(['--rules', rulesFile('deny-nothing-real.yaml', 'no_such_label'), '--scrape', url]);
    assert.equal(passing.code, 0, passing.stdout + passing.stderr);
    assert.match(passing.stdout, /tollgate check: passed/);
  });
});

describe('check on a prom-client registry of a test app', () => {
  let server: Server | undefined;
  after(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  test('a user_id label on a prom-client counter fails; the app without it passes', { timeout: 30_000 }, async () => {
    const registry = new Registry();
    const withUser = new Counter({ name: 'shop_orders_total', help: 'Orders.', labelNames: ['route', 'user_id'], registers: [registry] });
    withUser.inc({ route: '/checkout', user_id: 'u-1' });
    withUser.inc({ route: '/checkout', user_id: 'u-2' });
    let current = registry;
    server = createServer((_req, res) => {
      void current.metrics().then((body) => res.writeHead(200, { 'content-type': current.contentType }).end(body));
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
    const rules = rulesFile('deny-user-id.yaml', 'user_id');

    const failing = await check(['--rules', rules, '--scrape', url]);
    assert.equal(failing.code, 3, failing.stderr);
    assert.match(failing.stdout, /label "user_id" on metric "shop_orders_total": attribute policy "deny-user-id" would drop the attribute — 2 data points/);

    const fixed = new Registry();
    new Counter({ name: 'shop_orders_total', help: 'Orders.', labelNames: ['route'], registers: [fixed] }).inc({ route: '/checkout' });
    current = fixed;
    const passing = await check(['--rules', rules, '--scrape', url]);
    assert.equal(passing.code, 0, passing.stdout + passing.stderr);
    assert.match(passing.stdout, /checked 1 metric, 1 series, 1 label/);
  });
});

describe('check on what a real OpenTelemetry SDK app wrote through tollgate serve', () => {
  let tollgate: TollgateProcess | undefined;
  after(async () => {
    await tollgate?.stop();
  });

  test('the injected user_id label is caught in the file exporter output, and passes once removed', { timeout: 60_000 }, async () => {
    // The embedded default rules run in audit mode: serve keeps user_id, so it reaches the file.
    tollgate = await startTollgate('exporters:\n  file: {}\n');
    const file = join(tollgate.dataDir, 'export', 'metrics.jsonl');
    const rules = rulesFile('deny-user-id-sdk.yaml', 'user_id');

    const bad = startSdkMeter({ http: tollgate.http, resourceAttributes: { 'service.name': 'checkout' } });
    const orders = bad.meter.createCounter('shop.orders');
    orders.add(1, { 'http.route': '/cart', user_id: 'u-17' });
    orders.add(1, { 'http.route': '/cart', user_id: 'u-18' });
    await bad.collect();
    await bad.shutdown();
    assert.equal(bad.exports.every((e) => e.code === 0), true, tollgate.stderr());
    const before = readFileSync(file, 'utf8');
    writeFileSync(join(dir, 'with-user-id.jsonl'), before);

    const failing = await check(['--rules', rules, '--otlp', join(dir, 'with-user-id.jsonl')]);
    assert.equal(failing.code, 3, failing.stderr);
    // Each export (the collection, then the final one at shutdown) carries both cumulative points.
    const requests = before.trimEnd().split('\n').length;
    assert.ok(requests >= 1);
    assert.ok(failing.stdout.includes(`label "user_id" on metric "shop.orders": attribute policy "deny-user-id" would drop the attribute — ${2 * requests} data points, team "everyone"`), failing.stdout);
    // Without user_id the two points are one series.
    assert.match(failing.stdout, /checked 1 metric, 1 series, 2 labels/);

    const good = startSdkMeter({ http: tollgate.http, resourceAttributes: { 'service.name': 'checkout' } });
    good.meter.createCounter('shop.orders').add(1, { 'http.route': '/cart' });
    await good.collect();
    await good.shutdown();
    // Only the lines the fixed app wrote.
    writeFileSync(join(dir, 'without-user-id.jsonl'), readFileSync(file, 'utf8').slice(before.length));
    const passing = await check(['--rules', rules, '--otlp', join(dir, 'without-user-id.jsonl')]);
    assert.equal(passing.code, 0, passing.stdout + passing.stderr);
    assert.match(passing.stdout, /checked 1 metric, 1 series, 1 label \(\d+ data points?/);
  });
});
