// The check against a running Tollgate: real `tollgate serve` with a rules file, the real
// OpenTelemetry metrics SDK putting a team at 8 of its 10 series, then
// - POST /api/v1/check (in the OpenAPI document) projects 8 + the sample's series against 10;
// - `tollgate check --api` does the same from the command line;
// - `tollgate budget --fail-above` exits 3 above the threshold and 0 below.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBudget } from '../../cli/budget.js';
import { runCheckCommand } from '../../cli/check.js';
import { startSdkMeter } from '../support/sdk-meter.js';
import { startTollgate } from '../support/tollgate-process.js';
import type { TollgateProcess } from '../support/tollgate-process.js';
import { labelSets, metricsRequest } from './support.js';

const RULES = `version: 1
mode: enforce
teams:
  - name: checkout
    match:
      service.name: checkout
    budgets:
      metrics:
        max_active_series: 10
        warning_thresholds: [0.95]
  - name: everyone-else
attribute_policies:
  - name: no-user-ids
    signals: [metrics]
    keys: [user_id]
    action: drop
`;

function buffers() {
  const out = { stdout: '', stderr: '' };
  return { out, io: { stdout: { write: (t: string) => (out.stdout += t) }, stderr: { write: (t: string) => (out.stderr += t) } } };
}

describe('check against a running tollgate (POST /api/v1/check, --api, tollgate budget)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-check-api-'));
  let tollgate: TollgateProcess;
  let token: string;
  let api: string;
  const sample = metricsRequest({ 'service.name': 'checkout' }, { 'shop.carts': labelSets(3, 'shop', 's', { user_id: 'u-1' }) });

  before(async () => {
    writeFileSync(join(dir, 'rules.yaml'), RULES);
    writeFileSync(join(dir, 'sample.jsonl'), `${sample}\n`);
    tollgate = await startTollgate(
      [`rules: ${join(dir, 'rules.yaml')}`, 'processors:', '  cardinality:', '    sweep_interval: 1s', '    snapshot_interval: 1s', 'usage_store:', '  flush_interval: 250ms', 'exporters:', '  file: {}', ''].join('\n'),
    );
    token = readFileSync(join(tollgate.dataDir, 'admin.token'), 'utf8').trim();
    api = `http://${tollgate.api}`;
    const meter = startSdkMeter({ http: tollgate.http, resourceAttributes: { 'service.name': 'checkout' } });
    const counter = meter.meter.createCounter('shop.orders');
    for (let i = 0; i < 8; i++) counter.add(1, { shop: `s${i}` });
    await meter.collect();
    await meter.shutdown();
    // Wait until the budget API reports the 8 series (sweeps refresh usage every second).
    const deadline = Date.now() + 20_000;
    for (;;) {
      const response = await fetch(`${api}/api/v1/teams/checkout/budget`, { headers: { authorization: `Bearer ${token}` } });
      const body = (await response.json()) as { signals: { metrics: { usage: number } } };
      if (body.signals.metrics.usage === 8) break;
      if (Date.now() > deadline) assert.fail(`usage never reached 8: ${JSON.stringify(body)}\n${tollgate.stderr()}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  });

  after(async () => {
    await tollgate?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('POST /api/v1/check: the policy finding and the projected series over the budget; in the OpenAPI document', async () => {
    const response = await fetch(`${api}/api/v1/check`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ otlp: [JSON.parse(sample)] }),
    });
    assert.equal(response.status, 200, await response.clone().text());
    const report = (await response.json()) as { passed: boolean; summary: { series: number }; findings: { rule_id: string; level: string; message: string }[] };
    assert.equal(report.passed, false);
    assert.deepEqual(report.findings.map((f) => f.rule_id).sort(), ['attribute-policy/no-user-ids', 'budget/projected-active-series']);
    // 8 active now (from the SDK) + 3 series in the sample (user_id dropped first) = 11 > 10.
    assert.match(report.findings.find((f) => f.rule_id === 'budget/projected-active-series')!.message, /11 active series \(8 active now \+ 3 in this sample\), over its budget of 10/);

    const empty = await fetch(`${api}/api/v1/check`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{}' });
    assert.equal(empty.status, 400);
    assert.equal(((await empty.json()) as { code: string }).code, 'invalid_body');
    const nothing = await fetch(`${api}/api/v1/check`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"prometheus":""}' });
    assert.equal(nothing.status, 400);
    assert.match(((await nothing.json()) as { message: string }).message, /nothing to check/);
    assert.equal((await fetch(`${api}/api/v1/check`, { method: 'POST', body: '{}' })).status, 401);

    const openApi = (await (await fetch(`${api}/api/v1/openapi.json`)).json()) as { paths: Record<string, Record<string, { operationId: string; requestBody?: unknown }>> };
    assert.equal(openApi.paths['/api/v1/check']?.post?.operationId, 'checkSample');
    assert.ok(openApi.paths['/api/v1/check'].post.requestBody, 'the request body is documented');
  });

  test('tollgate check --api includes the current usage', async () => {
    const { out, io } = buffers();
    const code = await runCheckCommand(['--rules', join(dir, 'rules.yaml'), '--otlp', join(dir, 'sample.jsonl'), '--api', api], { ...io, env: { TOLLGATE_TOKEN: token }, cwd: dir, fetch, now: Date.now });
    assert.equal(code, 3, out.stderr);
    assert.match(out.stdout, /team "checkout" would have 11 active series \(8 active now \+ 3 in this sample\), over its budget of 10/);
    const denied = buffers();
    const refused = await runCheckCommand(['--otlp', join(dir, 'sample.jsonl'), '--api', api, '--token', 'wrong'], { ...denied.io, env: {}, cwd: dir, fetch, now: Date.now });
    assert.equal(refused, 1);
    assert.match(denied.out.stderr, /HTTP 401/);
  });

  test('tollgate budget: 8 of 10 fails above 0.5 and passes at 0.9', async () => {
    const high = buffers();
    const run = (args: string[], b: ReturnType<typeof buffers>): Promise<number> => runBudget(['--api', api, '--team', 'checkout', '--token', token, ...args], { ...b.io, env: {}, fetch });
    assert.equal(await run(['--fail-above', '0.5'], high), 3, high.out.stderr);
    assert.match(high.out.stdout, /team checkout: 8 active series of 10 \(80\.0 %/);
    const low = buffers();
    assert.equal(await run(['--fail-above', '90%'], low), 0, low.out.stderr);
  });
});


