// How the dashboard's files are served, from the TypeScript sources (tsx) and from the compiled
// dist/ that `npm install` builds: tsc copies no .html/.css/.js assets, so both must find the
// package's api/dashboard/ folder. Plain HTTP here; the browser test is dashboard.test.ts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Registry } from 'prom-client';
import * as sourceApp from '../../api/app.js';
import { findDashboardDir } from '../../api/dashboard.js';
import { TOKEN_ENTRIES, startApiFixture } from './support.js';
import type { ApiFixture } from './support.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ASSETS = join(ROOT, 'api', 'dashboard');
const DIST_APP = join(ROOT, 'dist', 'api', 'app.js');

type CreateApp = typeof sourceApp.createApp;

let fixture: ApiFixture;
before(async () => {
  fixture = await startApiFixture();
});
after(() => fixture.close());

async function serve(createApp: CreateApp, withBudgetApi = true): Promise<{ base: string; close: () => Promise<void> }> {
  const reload = () => ({ outcome: 'unchanged' as const, hash: fixture.rules.hash });
  const app = createApp({
    registry: new Registry(),
    isReady: () => true,
    version: '0.0.0-test',
    ...(withBudgetApi ? { budgetApi: { reader: fixture.store.reader, rules: () => fixture.rules, reload, tokens: TOKEN_ENTRIES } } : {}),
  });
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(0, '127.0.0.1');
    s.once('listening', () => resolve(s));
    s.once('error', reject);
  });
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Every file the page loads: what index.html links and main.js imports (transitively). */
function referencedAssets(): string[] {
  const html = readFileSync(join(ASSETS, 'index.html'), 'utf8');
  const found = new Set([...html.matchAll(/(?:href|src)="dashboard\/([^"]+)"/g)].map((m) => m[1]));
  const queue = [...found].filter((f) => f.endsWith('.js'));
  while (queue.length > 0) {
    const source = readFileSync(join(ASSETS, queue.pop() ?? ''), 'utf8');
    for (const [, file] of source.matchAll(/from '\.\/([^']+)'/g)) {
      if (!found.has(file)) {
        found.add(file);
        queue.push(file);
      }
    }
  }
  return [...found].sort();
}

const TYPES: Readonly<Record<string, RegExp>> = { js: /^text\/javascript/, css: /^text\/css/, svg: /^image\/svg\+xml/ };

async function checkServed(createApp: CreateApp, label: string): Promise<void> {
  const { base, close } = await serve(createApp);
  try {
    const page = await fetch(`${base}/`);
    assert.equal(page.status, 200, label);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/, label);
    const html = await page.text();
    assert.equal(html, readFileSync(join(ASSETS, 'index.html'), 'utf8'), `${label}: the page is the source file`);
    // The policy the page runs under: scripts and styles from this origin only, and no upgrade
    // to https (the API is plain HTTP).
    const csp = page.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'(;|$)/, label);
    assert.match(csp, /style-src 'self'(;|$)/, label);
    assert.doesNotMatch(csp, /upgrade-insecure-requests/, label);

    const assets = referencedAssets();
    assert.deepEqual(assets, ['api.js', 'chart.js', 'dashboard.css', 'favicon.svg', 'format.js', 'main.js']);
    for (const asset of assets) {
      const response = await fetch(`${base}/dashboard/${asset}`);
      assert.equal(response.status, 200, `${label}: ${asset}`);
      assert.match(response.headers.get('content-type') ?? '', TYPES[asset.split('.').pop() ?? ''], `${label}: ${asset}`);
      assert.equal(await response.text(), readFileSync(join(ASSETS, asset), 'utf8'), `${label}: ${asset}`);
    }
    // No directory index, nothing outside the folder, and the API's own 404 for the rest.
    for (const path of ['/dashboard/', '/dashboard/missing.js', '/dashboard/..%2Fdashboard.ts', '/dashboard/%2e%2e/app.ts']) {
      const response = await fetch(`${base}${path}`);
      assert.equal(response.status, 404, `${label}: ${path}`);
      assert.deepEqual(await response.json(), { code: 'not_found', message: 'no such route' }, `${label}: ${path}`);
    }
  } finally {
    await close();
  }
}

test('findDashboardDir finds api/dashboard under the package root from the sources and from dist/ builds', () => {
  assert.equal(findDashboardDir(), ASSETS);
  for (const compiled of ['dist/api/dashboard.js', 'dist/bench/api/dashboard.js']) {
    assert.equal(findDashboardDir(join(ROOT, ...compiled.split('/'))), ASSETS, compiled);
  }
  assert.equal(findDashboardDir('/dashboard.js'), undefined);
});

test('served from the sources: the page at /, its assets under /dashboard/, under a strict content security policy', async () => {
  await checkServed(sourceApp.createApp, 'tsx');
});

test('served from the compiled dist/ the same way', async (t) => {
  if (!existsSync(DIST_APP)) {
    // `npm ci` builds dist/ (the prepare script), so in CI it is there.
    if (process.env.CI) assert.fail(`${DIST_APP} is missing: run npm run build`);
    t.skip(`${DIST_APP} is missing: run npm run build`);
    return;
  }
  const compiled = (await import(pathToFileURL(DIST_APP).href)) as typeof sourceApp;
  await checkServed(compiled.createApp, 'dist');
});

test('without the budget API there is no dashboard (the page would have nothing to call)', async () => {
  const { base, close } = await serve(sourceApp.createApp, false);
  try {
    assert.equal((await fetch(`${base}/`)).status, 404);
    assert.equal((await fetch(`${base}/dashboard/main.js`)).status, 404);
  } finally {
    await close();
  }
});
