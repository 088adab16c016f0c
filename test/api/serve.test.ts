import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startTollgate } from '../support/tollgate-process.js';

async function get(api: string, path: string, token?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`http://${api}${path}`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

test('tollgate serve with no api.tokens: an admin token on first start, kept across a restart, never logged', async () => {
  const first = await startTollgate();
  let dataDir = first.dataDir;
  try {
    const tokenFile = join(first.dataDir, 'admin.token');
    assert.equal(statSync(tokenFile).mode & 0o777, 0o600);
    const token = readFileSync(tokenFile, 'utf8').trim();
    assert.equal((await get(first.api, '/api/v1/teams')).status, 401);
    const teams = await get(first.api, '/api/v1/teams', token);
    assert.equal(teams.status, 200);
    assert.deepEqual(
      (teams.body.teams as { name: string }[]).map((t) => t.name),
      ['default'],
    );
    assert.equal((await get(first.api, '/api/v1/openapi.json')).body.openapi, '3.1.0');
    // Budget exceptions are wired to the store in serve: the default team's budget can be raised.
    const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
    const put = await fetch(`http://${first.api}/api/v1/teams/default/exceptions/launch`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ max_active_series: 250_000, reason: 'launch week', expires_at: expiresAt }),
    });
    assert.equal(put.status, 200, await put.clone().text());
    const listed = await get(first.api, '/api/v1/teams/default/exceptions', token);
    assert.equal(listed.status, 200);
    assert.match(JSON.stringify(listed.body), /launch week/);
    const logLine = first.stderr().split('\n').find((line) => line.includes('created an admin token'));
    assert.ok(logLine, 'the log says a token was created');
    assert.equal((JSON.parse(logLine) as { tokenFile: string }).tokenFile, tokenFile);
    assert.ok(!first.stderr().includes(token), 'the token is never logged');
    dataDir = first.dataDir;
  } finally {
    await first.stop();
  }

  const second = await startTollgate('', { dataDir });
  try {
    const token = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
    assert.equal((await get(second.api, '/api/v1/rules', token)).status, 200);
    assert.match(second.stderr(), /accepts the admin token created earlier/);
    assert.ok(!second.stderr().includes(token));
  } finally {
    await second.stop();
  }
});
