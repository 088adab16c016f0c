// The Kubernetes examples rely on this: a ConfigMap mounted as a directory is updated by the
// kubelet with an atomic symlink swap (rules.yaml → ..data/rules.yaml, ..data → a timestamped
// directory; a new directory is written, ..data is replaced by rename, the old one removed).
// Tollgate, started with --rules on such a mount, must pick up the new rules without a restart,
// and keep the rules in force when the new file is invalid.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseRules } from '../../rules/index.js';
import { scrapeMetrics, sampleSum } from '../support/prometheus.js';
import type { Sample } from '../support/prometheus.js';
import { startTollgate } from '../support/tollgate-process.js';
import type { TollgateProcess } from '../support/tollgate-process.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const BASE_RULES = readFileSync(join(ROOT, 'deploy/kubernetes/base/rules.yaml'), 'utf8');

/** Writes a new version of the mounted ConfigMap the way the kubelet's atomic writer does. */
function publish(mount: string, version: number, rules: string): void {
  const dir = `..2026_11_24_00_00_0${version}`;
  mkdirSync(join(mount, dir));
  writeFileSync(join(mount, dir, 'rules.yaml'), rules);
  symlinkSync(dir, join(mount, '..data_tmp'));
  renameSync(join(mount, '..data_tmp'), join(mount, '..data'));
  if (version > 1) rmSync(join(mount, `..2026_11_24_00_00_0${version - 1}`), { recursive: true });
  else symlinkSync('..data/rules.yaml', join(mount, 'rules.yaml'));
}

async function waitFor(api: string, check: (samples: Sample[]) => boolean, what: string): Promise<Sample[]> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const samples = await scrapeMetrics(api);
    if (check(samples)) return samples;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('rules from a ConfigMap-style mount hot-reload', () => {
  let dir: string;
  let tollgate: TollgateProcess;
  const first = parseRules(BASE_RULES, 'v1').hash;
  const secondText = BASE_RULES.replace('max_active_series: 50000', 'max_active_series: 60000');
  const second = parseRules(secondText, 'v2').hash;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tollgate-configmap-'));
    const mount = join(dir, 'rules');
    mkdirSync(mount);
    publish(mount, 1, BASE_RULES);
    mkdirSync(join(dir, 'data'));
    tollgate = await startTollgate(`rules: ${join(mount, 'rules.yaml')}`, { dataDir: join(dir, 'data') });
  });

  after(async () => {
    await tollgate?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('serves the mounted rules, swaps in an update, and keeps them when the next update is invalid', async () => {
    assert.notEqual(first, second);
    await waitFor(tollgate.api, (s) => sampleSum(s, 'tollgate_rules_info', { hash: first }) === 1, 'the first rules');
    publish(join(dir, 'rules'), 2, secondText);
    const updated = await waitFor(tollgate.api, (s) => sampleSum(s, 'tollgate_rules_info', { hash: second }) === 1, 'the updated rules');
    assert.equal(sampleSum(updated, 'tollgate_rules_info', { hash: first }), 0);
    assert.equal(sampleSum(updated, 'tollgate_rules_reload_total', { outcome: 'success' }), 1);
    publish(join(dir, 'rules'), 3, secondText.replace('tier: standard', 'tier: standrad'));
    const refused = await waitFor(tollgate.api, (s) => sampleSum(s, 'tollgate_rules_reload_total', { outcome: 'failure' }) === 1, 'the refused update');
    assert.equal(sampleSum(refused, 'tollgate_rules_info', { hash: second }), 1, 'the rules in force stay');
  });
});
