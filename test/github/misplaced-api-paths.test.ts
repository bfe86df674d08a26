// A script written for api.github.com with only the host swapped calls `https://berth.example.com/orgs/…`, which is
// a web UI page. Asked for JSON, such paths answer GitHub's 404 naming the real base (`…/api/v3`), so `jq` shows
// what to fix; browsers still get the pages (issue 18).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';

const run = promisify(execFile);
let berth: RunningBerth;

before(async () => {
  berth = await startBerth();
  await berth.admin(async (s) => {
    await s.accounts.createUser({ login: 'x' });
  });
});
after(() => berth.stop());

const API_PATHS = ['/orgs/acme/packages?package_type=container', '/user/packages?package_type=container', '/users/x/packages?package_type=container',
  '/orgs/acme/packages/container/app/versions', '/user', '/rate_limit'];

test('API paths without /api/v3 asked for JSON answer GitHub\'s 404 naming the base URL, with or without a token', async () => {
  for (const accept of ['application/vnd.github+json', 'application/json', 'application/vnd.github.v3+json, application/json;q=0.9']) {
    for (const path of API_PATHS) {
      for (const auth of [undefined, null] as const) {
        const res = await berth.fetch(path, { headers: { accept }, auth });
        assert.equal(res.status, 404, `${accept} ${path}`);
        assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
        const body = await res.json() as { message: string; documentation_url: string; status: string };
        assert.equal(body.status, '404');
        assert.match(body.documentation_url, /^https:\/\/docs\.github\.com\/rest/);
        assert.ok(body.message.startsWith('Not Found.'), body.message);
        assert.ok(body.message.includes(`${berth.url}/api/v3 (use ${berth.url}/api/v3${path})`), body.message);
      }
    }
  }
  // The URL it names works.
  const fixed = await berth.fetch('/api/v3/orgs/acme/packages?package_type=container', { headers: { accept: 'application/vnd.github+json' } });
  assert.equal(fixed.status, 200);
  assert.ok(Array.isArray(await fixed.json()));
});

test('the guide\'s curl | jq gets the message, not a page', async () => {
  const { stdout } = await run('sh', ['-c', 'curl -s -H "Authorization: Bearer $T" -H "Accept: application/vnd.github+json" "$U" | jq -r .message'], {
    env: { ...process.env, T: berth.token, U: `${berth.url}/orgs/acme/packages?package_type=container` },
  });
  assert.match(stdout, new RegExp(`its GitHub REST API is under ${berth.url.replace(/\./g, '\\.')}/api/v3`));
});

test('browsers (text/html) and clients accepting anything still get the web UI', async () => {
  for (const accept of ['text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', '*/*', 'text/html, application/json']) {
    const res = await berth.fetch('/orgs/acme/packages', { headers: { accept }, auth: null });
    assert.equal(res.status, 200, accept);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(await res.text(), /<html/);
  }
  // A UI path that is no API path stays a page even when JSON is asked for.
  const login = await berth.fetch('/login', { headers: { accept: 'application/json' }, auth: null });
  assert.equal(login.status, 200);
  assert.match(login.headers.get('content-type') ?? '', /^text\/html/);
});

test('with server.publicUrl the message names it', async () => {
  const other = await startBerth({ env: { BERTH_SERVER_PUBLIC_URL: 'https://registry.example.com' } });
  try {
    const res = await other.fetch('/orgs/acme/packages', { headers: { accept: 'application/vnd.github+json' } });
    assert.equal(res.status, 404);
    assert.match((await res.json() as { message: string }).message, /under https:\/\/registry\.example\.com\/api\/v3 \(use https:\/\/registry\.example\.com\/api\/v3\/orgs\/acme\/packages\)/);
  } finally {
    await other.stop();
  }
});
