// deploy/ci: the script both CI integrations run builds a working `tollgate check` command line
// from their variables (run here for real), and the GitHub Action and GitLab template refer
// only to inputs and files that exist.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { CHECK_RULES_YAML, labelSets, metricsRequest } from './support.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const SCRIPT = join(ROOT, 'deploy/ci/run-check.sh');

describe('deploy/ci', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-deploy-ci-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('run-check.sh turns the variables into flags and exits with the check\'s code', { timeout: 60_000 }, () => {
    writeFileSync(join(dir, 'rules.yaml'), CHECK_RULES_YAML);
    writeFileSync(join(dir, 'a.jsonl'), `${metricsRequest({ 'service.name': 'checkout' }, { orders: labelSets(1, 'user_id', 'u') })}\n`);
    writeFileSync(join(dir, 'b.prom'), 'orders_total{shop="s1"} 1\n');
    const run = (env: Record<string, string>) =>
      spawnSync('bash', [SCRIPT], {
        cwd: dir,
        encoding: 'utf8',
        timeout: 30_000,
        env: { ...process.env, TOLLGATE: `${process.execPath} --import ${join(ROOT, 'node_modules/tsx/dist/loader.mjs')} ${join(ROOT, 'cli/main.ts')}`, ...env },
      });
    const failing = run({
      TOLLGATE_RULES: join(dir, 'rules.yaml'),
      TOLLGATE_OTLP: join(dir, 'a.jsonl'),
      TOLLGATE_PROM: join(dir, 'b.prom'),
      TOLLGATE_RESOURCE: 'service.name=checkout',
      TOLLGATE_FAIL_ON: 'error',
      TOLLGATE_FORMATS: `github\nsarif=${join(dir, 'out.sarif')}\ngitlab=${join(dir, 'gl.json')}`,
    });
    assert.equal(failing.status, 3, failing.stderr);
    assert.match(failing.stderr, /\+ tollgate check --rules .* --otlp .*a\.jsonl --prom .*b\.prom --resource service\.name=checkout --fail-on error --format github --format sarif=/);
    assert.match(failing.stdout, /^::error file=.*a\.jsonl,line=1,title=attribute-policy\/no-user-ids::/m);
    assert.ok(existsSync(join(dir, 'out.sarif')) && existsSync(join(dir, 'gl.json')));
    assert.match(failing.stdout, /checked 2 metrics/);

    const usage = run({ TOLLGATE_RULES: join(dir, 'rules.yaml') });
    assert.equal(usage.status, 2, 'no input is a usage error');
  });

  test('the GitHub Action uses only inputs it declares and calls the shared script', () => {
    const text = readFileSync(join(ROOT, 'deploy/ci/github/action.yml'), 'utf8');
    const action = parse(text) as { inputs: Record<string, unknown>; runs: { using: string; steps: { uses?: string; run?: string }[] } };
    assert.equal(action.runs.using, 'composite');
    const used = new Set([...text.matchAll(/inputs\.([a-z-]+)/g)].map((m) => m[1]));
    for (const name of used) assert.ok(name in action.inputs, `input "${name}" is declared`);
    assert.ok(action.runs.steps.some((s) => s.run?.includes('/../run-check.sh')));
    assert.ok(action.runs.steps.some((s) => s.uses?.startsWith('github/codeql-action/upload-sarif@')));
  });

  test('the GitLab template reports what the script writes', () => {
    const template = parse(readFileSync(join(ROOT, 'deploy/ci/gitlab/tollgate-check.gitlab-ci.yml'), 'utf8')) as Record<string, { variables: Record<string, string>; script: string[]; artifacts: { reports: { codequality: string; junit: string } } }>;
    const job = template['.tollgate-check'];
    const formats = job.variables.TOLLGATE_FORMATS.split(/\s+/);
    assert.ok(formats.includes(`gitlab=${job.artifacts.reports.codequality}`));
    assert.ok(formats.includes(`junit=${job.artifacts.reports.junit}`));
    assert.ok(job.script.some((line) => line.includes('deploy/ci/run-check.sh')));
  });
});
