import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAuthenticator } from '../../api/auth.js';
import { API_ROUTES } from '../../api/routes.js';
import { ADMIN_TOKEN_FILE, ADMIN_TOKEN_HASH_FILE, configuredTokens, ensureAdminToken, loadApiTokens } from '../../api/tokens.js';
import { TOKEN_ENTRIES, TOKENS, startApiFixture } from './support.js';
import type { ApiFixture } from './support.js';

type Caller = 'none' | 'wrong' | 'other team' | 'own team' | 'admin';

const TOKEN_OF: Readonly<Record<Caller, string | undefined>> = {
  none: undefined,
  wrong: 'not-a-token-0123456789abcdef',
  'other team': TOKENS.search,
  'own team': TOKENS.checkout,
  admin: TOKENS.admin,
};

/**
 * Expected status per route (team routes target checkout, the "own team"). Team-less routes
 * answer any valid token; the other team gets 404 on checkout's resources; admin routes 403 to team tokens.
 */
const MATRIX: Readonly<Record<string, Readonly<Record<Caller, number>>>> = {
  'GET /teams': { none: 401, wrong: 401, 'other team': 200, 'own team': 200, admin: 200 },
  'GET /teams/{team}/budget': { none: 401, wrong: 401, 'other team': 404, 'own team': 200, admin: 200 },
  'GET /teams/{team}/usage': { none: 401, wrong: 401, 'other team': 404, 'own team': 200, admin: 200 },
  'GET /teams/{team}/cardinality': { none: 401, wrong: 401, 'other team': 404, 'own team': 200, admin: 200 },
  'GET /teams/{team}/violations': { none: 401, wrong: 401, 'other team': 404, 'own team': 200, admin: 200 },
  'GET /teams/{team}/exceptions': { none: 401, wrong: 401, 'other team': 404, 'own team': 200, admin: 200 },
  'PUT /teams/{team}/exceptions/{id}': { none: 401, wrong: 401, 'other team': 403, 'own team': 403, admin: 200 },
  'DELETE /teams/{team}/exceptions/{id}': { none: 401, wrong: 401, 'other team': 403, 'own team': 403, admin: 200 },
  'GET /rules': { none: 401, wrong: 401, 'other team': 200, 'own team': 200, admin: 200 },
  'POST /rules/validate': { none: 401, wrong: 401, 'other team': 200, 'own team': 200, admin: 200 },
  'POST /check': { none: 401, wrong: 401, 'other team': 200, 'own team': 200, admin: 200 },
  'POST /admin/reload': { none: 401, wrong: 401, 'other team': 403, 'own team': 403, admin: 200 },
  'GET /openapi.json': { none: 200, wrong: 200, 'other team': 200, 'own team': 200, admin: 200 },
};

/** A valid exception (the fixture's clock is 2025-01-15T10:00Z); PUT before DELETE in the matrix, so the DELETE finds it. */
const EXCEPTION_BODY = { max_active_series: 2000, reason: 'matrix', expires_at: '2025-01-16T10:00:00Z' };

let api: ApiFixture;
before(async () => {
  api = await startApiFixture();
});
after(() => api.close());

test('the matrix covers every route of the table, and the OpenAPI document', () => {
  const routes = API_ROUTES.map((route) => `${route.method.toUpperCase()} ${route.path}`);
  assert.deepEqual(Object.keys(MATRIX).sort(), [...routes, 'GET /openapi.json'].sort());
});

test('every route × {no token, wrong token, other team, own team, admin}', async () => {
  const failures: string[] = [];
  for (const [key, expected] of Object.entries(MATRIX)) {
    const [method, path] = key.split(' ');
    for (const [caller, status] of Object.entries(expected) as [Caller, number][]) {
      const body = path === '/rules/validate' ? { rules: 'version: 1\n' } : path === '/check' ? { prometheus: 'up 1\n' } : method === 'PUT' ? EXCEPTION_BODY : undefined;
      const response = await api.request(method, `/api/v1${path.replace('{team}', 'checkout').replace('{id}', 'matrix')}`, TOKEN_OF[caller], body);
      if (response.status !== status) failures.push(`${key} as ${caller}: ${response.status}, expected ${status}`);
      assert.equal(response.headers.get('cache-control'), 'no-store', `${key} as ${caller}`);
      assert.equal(response.headers.get('x-content-type-options'), 'nosniff', `${key} as ${caller}`);
      assert.equal(response.headers.get('x-frame-options'), 'SAMEORIGIN', `helmet: ${key} as ${caller}`);
      assert.match(response.headers.get('content-security-policy') ?? '', /default-src 'self'/, `helmet: ${key} as ${caller}`);
      assert.equal(response.headers.get('strict-transport-security'), null, 'no HSTS on plain-HTTP loopback');
      if (status >= 400) {
        assert.deepEqual(Object.keys(response.body).sort(), ['code', 'message'], `${key} as ${caller}`);
        assert.equal(typeof response.body.code, 'string');
      }
      if (status === 401) {
        assert.equal(response.body.code, 'unauthorized');
        assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer /);
      }
    }
  }
  assert.deepEqual(failures, []);
});

test('another team and a team that does not exist answer the same 404: no existence leak', async () => {
  const other = await api.get('/api/v1/teams/checkout/budget', TOKENS.search);
  const missing = await api.get('/api/v1/teams/no-such-team/budget', TOKENS.search);
  assert.equal(other.status, 404);
  assert.equal(missing.status, 404);
  assert.equal(other.body.code, 'resource_not_found');
  assert.equal(String(other.body.message).replace('checkout', 'X'), String(missing.body.message).replace('no-such-team', 'X'));
  assert.equal((await api.get('/api/v1/teams/no-such-team/budget', TOKENS.admin)).status, 404);
});

test('the team comes from the token only: a team header changes nothing', async () => {
  const response = await fetch(`${api.base}/api/v1/teams`, { headers: { authorization: `Bearer ${TOKENS.search}`, 'x-tollgate-team': 'checkout' } });
  const body = (await response.json()) as { teams: { name: string }[] };
  assert.deepEqual(
    body.teams.map((t) => t.name),
    ['search'],
  );
});

test('unknown routes under /api/v1 need a token too (401 without, 404 with)', async () => {
  assert.equal((await api.get('/api/v1/nope')).status, 401);
  const found = await api.get('/api/v1/nope', TOKENS.admin);
  assert.equal(found.status, 404);
  assert.equal(found.body.code, 'resource_not_found');
});

test('admin reload calls the governance once per request and reports its outcome', async () => {
  const before = api.reloads.count;
  const response = await api.request('POST', '/api/v1/admin/reload', TOKENS.admin);
  assert.equal(response.status, 200);
  assert.deepEqual(response.body, { outcome: 'unchanged', hash: api.rules.hash });
  assert.equal(api.reloads.count, before + 1);
  await api.request('POST', '/api/v1/admin/reload', TOKENS.checkout);
  assert.equal(api.reloads.count, before + 1, 'a refused call does not reload');
});

test('the authenticator: Bearer scheme (any case), exact token, principal from the entry', () => {
  const authenticate = createAuthenticator(TOKEN_ENTRIES);
  assert.deepEqual(authenticate(`Bearer ${TOKENS.checkout}`), { name: 'checkout-ci', admin: false, team: 'checkout' });
  assert.deepEqual(authenticate(`bearer ${TOKENS.admin}`), { name: 'ops', admin: true });
  for (const header of [undefined, '', TOKENS.admin, `Basic ${TOKENS.admin}`, `Bearer ${TOKENS.admin}x`, `Bearer ${TOKENS.admin.slice(1)}`, 'Bearer ', `Bearer ${TOKENS.admin} extra`]) {
    assert.equal(authenticate(header), undefined, String(header));
  }
  assert.throws(() => createAuthenticator([{ name: 'bad', admin: true, sha256: 'abc' }]), /64 hex digits/);
  assert.throws(() => createAuthenticator([{ name: 'scope-less', admin: false, sha256: 'a'.repeat(64) }]), /neither a team nor admin/);
});

test('bootstrap admin token: created once with mode 0600, only its hash kept, reused after the token file is gone', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-token-'));
  const first = ensureAdminToken(dir);
  assert.equal(first.created, true);
  assert.equal(first.tokenPath, join(dir, ADMIN_TOKEN_FILE));
  assert.equal(statSync(first.tokenPath).mode & 0o777, 0o600);
  const token = readFileSync(first.tokenPath, 'utf8').trim();
  assert.match(token, /^tg_[A-Za-z0-9_-]{43}$/);
  const hash = readFileSync(join(dir, ADMIN_TOKEN_HASH_FILE), 'utf8').trim();
  assert.equal(hash, createHash('sha256').update(token).digest('hex'));
  assert.ok(!JSON.stringify(first).includes(token), 'the token is not handed back, only its path');
  assert.deepEqual(createAuthenticator([first.entry])(`Bearer ${token}`), { name: 'bootstrap-admin', admin: true });

  writeFileSync(first.tokenPath, 'overwritten by the operator\n');
  const second = ensureAdminToken(dir);
  assert.equal(second.created, false);
  assert.equal(second.entry.sha256, hash);

  writeFileSync(join(dir, ADMIN_TOKEN_HASH_FILE), 'garbage');
  assert.throws(() => ensureAdminToken(dir), /does not hold a SHA-256/);
});

test('configured tokens: hashes as given, token files read (trimmed) and hashed; no bootstrap token then', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-token-'));
  const file = join(dir, 'secret');
  writeFileSync(file, `${TOKENS.admin}\n`);
  const loaded = loadApiTokens(
    [
      { name: 'ops', admin: true, token_file: file },
      { name: 'checkout-ci', admin: false, team: 'checkout', sha256: TOKEN_ENTRIES[1].sha256 },
    ],
    dir,
  );
  assert.equal(loaded.bootstrap, undefined);
  assert.deepEqual(loaded.entries, [
    { name: 'ops', admin: true, team: undefined, sha256: TOKEN_ENTRIES[0].sha256 },
    { name: 'checkout-ci', admin: false, team: 'checkout', sha256: TOKEN_ENTRIES[1].sha256 },
  ]);
  assert.throws(() => configuredTokens([{ name: 'gone', admin: true, token_file: join(dir, 'missing') }]), /api token "gone": cannot read token_file .*missing: ENOENT/);
  writeFileSync(file, 'short\n');
  assert.throws(
    () => configuredTokens([{ name: 'weak', admin: true, token_file: file }]),
    (error: Error) => /at least 16 characters/.test(error.message) && !error.message.includes('short'),
  );
  const bootstrapped = loadApiTokens([], dir);
  assert.equal(bootstrapped.bootstrap?.created, true);
  assert.deepEqual(bootstrapped.entries, [bootstrapped.bootstrap?.entry]);
});
