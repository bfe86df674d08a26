// Webhooks end to end: hooks created through GitHub's org-hook REST API, real pushes with skopeo, real HTTP
// receivers on loopback (allowed with webhooks.allowPrivateTargets, as the issue asks tests to do explicitly).
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { skopeoCopy } from '../helpers/clients.js';
import { api, assertGithubError } from '../helpers/github.js';
import { writeImageLayout } from '../helpers/oci-image.js';
import { Receiver, until } from '../helpers/webhook-receiver.js';

const SECRET = 'It\'s a Secret to Everybody';
let berth: RunningBerth;
let layoutDir: string;
const receivers: Receiver[] = [];

async function receiver(port = 0): Promise<Receiver> {
  const r = await new Receiver().start(port);
  receivers.push(r);
  return r;
}

async function createHook(url: string, extra: Record<string, unknown> = {}): Promise<{ id: number }> {
  const res = await api<{ id: number }>(berth, '/v3/orgs/acme/hooks', {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'web', config: { url, content_type: 'json', secret: SECRET }, events: ['package', 'berth_package_version'], active: true, ...extra }),
  });
  assert.equal(res.status, 201, res.text);
  return res.body;
}

async function push(name: string, tag: string, size: number): Promise<void> {
  const dir = join(layoutDir, `${name.replace('/', '_')}-${tag}`);
  await writeImageLayout(dir, { layers: [size], tag });
  await skopeoCopy(`oci:${dir}:${tag}`, `docker://${berth.host}/${name}:${tag}`, [], { creds: `${berth.user}:${berth.token}` });
}

async function deliveries(hookId: number): Promise<{ id: number; guid: string; status: string; status_code: number; event: string; action: string | null; redelivery: boolean; attempts: number }[]> {
  const res = await api<{ id: number; guid: string; status: string; status_code: number; event: string; action: string | null; redelivery: boolean; attempts: number }[]>(
    berth, `/v3/orgs/acme/hooks/${hookId}/deliveries?per_page=100`);
  assert.equal(res.status, 200, res.text);
  return res.body;
}

before(async () => {
  layoutDir = await mkdtemp(join(tmpdir(), 'berth-webhooks-'));
  berth = await startBerth({
    env: {
      BERTH_WEBHOOKS_ALLOW_PRIVATE_TARGETS: 'true', BERTH_WEBHOOKS_POLL_INTERVAL: '200ms', BERTH_WEBHOOKS_TIMEOUT: '1s',
      BERTH_WEBHOOKS_MAX_BACKOFF: '2s', BERTH_WEBHOOKS_RETRY_PERIOD: '1h', BERTH_METRICS_TOKEN: 'metrics-token-for-tests',
    },
  });
});
after(async () => {
  await berth.stop();
  await Promise.all(receivers.map((r) => r.stop()));
});

describe('webhooks', () => {
  it('a push delivers GitHub\'s package event, signed with the hook\'s secret, with GitHub\'s headers', async () => {
    const rx = await receiver();
    const hook = await createHook(rx.url);
    const got = await api<Record<string, unknown>>(berth, `/v3/orgs/acme/hooks/${hook.id}`);
    assert.equal(got.status, 200, got.text);
    assert.equal(got.body.name, 'web');
    assert.deepEqual(got.body.config, { url: rx.url, content_type: 'json', insecure_ssl: '0', secret: '********' });
    assert.ok(!got.text.includes(SECRET), 'the secret never comes back');

    await push('acme/hooked', '1.0', 1024);
    const [event] = await until('the package event', () => (rx.of('package').length > 0 ? rx.of('package') : undefined));
    assert.equal(event!.headers['content-type'], 'application/json');
    assert.match(String(event!.headers['x-github-delivery']), /^[0-9a-f-]{36}$/);
    assert.equal(event!.headers['x-github-hook-id'], String(hook.id));
    const expected = `sha256=${createHmac('sha256', SECRET).update(event!.raw).digest('hex')}`;
    assert.equal(event!.headers['x-hub-signature-256'], expected, 'the signature verifies with the secret');
    assert.equal(event!.body.action, 'published');
    const pkg = event!.body.package as Record<string, unknown>;
    assert.equal(pkg.name, 'hooked');
    assert.equal(pkg.namespace, 'acme');
    assert.equal(pkg.package_type, 'CONTAINER');
    const version = pkg.package_version as { name: string; metadata: { container: { tags: string[] } } };
    assert.match(version.name, /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(version.metadata.container.tags, ['1.0']);
    assert.deepEqual((event!.body.organization as { login: string }).login, 'acme');
    assert.equal((event!.body.sender as { login: string }).login, berth.user);
    // Only the events the hook asked for: registry_package was not among them.
    assert.equal(rx.of('registry_package').length, 0);

    // Moving a tag onto the version already there: `updated`.
    await skopeoCopy(`docker://${berth.host}/acme/hooked:1.0`, `docker://${berth.host}/acme/hooked:stable`, [], { creds: `${berth.user}:${berth.token}` });
    const updated = await until('the updated event', () => rx.of('package').find((r) => r.body.action === 'updated'));
    assert.equal(((updated.body.package as Record<string, unknown>).package_version as { name: string }).name, version.name);

    // The delivery log shows both, delivered.
    const log = await deliveries(hook.id);
    assert.deepEqual(log.filter((d) => d.event === 'package').map((d) => [d.action, d.status, d.status_code]), [['updated', 'OK', 200], ['published', 'OK', 200]]);

    // Prometheus counts them by result.
    const metrics = await (await berth.fetch('/metrics', { auth: 'Bearer metrics-token-for-tests' })).text();
    assert.match(metrics, /berth_webhook_deliveries_total\{result="success"\} [1-9]/);
  });

  it('a receiver answering 500 gets the same delivery again, and then 200 ends it', async () => {
    const rx = await receiver();
    let calls = 0;
    rx.answer = () => ({ status: ++calls === 1 ? 500 : 200 });
    const hook = await createHook(rx.url);
    await push('acme/flaky', '1', 512);
    const [first, second] = await until('two attempts', () => (rx.of('package').length >= 2 ? rx.of('package') : undefined));
    assert.equal(first!.headers['x-github-delivery'], second!.headers['x-github-delivery'], 'one delivery id on every attempt');
    assert.equal(first!.raw, second!.raw);
    const [d] = await until('the log to show success', async () => {
      const log = await deliveries(hook.id);
      return log[0]?.status === 'OK' ? log : undefined;
    });
    assert.equal(d!.attempts, 2);
    assert.equal(d!.guid, first!.headers['x-github-delivery']);
  });

  it('a slow receiver times out and is retried; a redirect is not followed', async () => {
    const rx = await receiver();
    let calls = 0;
    rx.answer = () => (++calls === 1 ? { status: 200, delayMs: 5000 } : { status: 200 });
    const hook = await createHook(rx.url);
    await push('acme/slow', '1', 256);
    const log = await until('the timed-out attempt in the log', async () => {
      const l = await deliveries(hook.id);
      return l[0]?.status.startsWith('retrying: no answer within') ? l : undefined;
    });
    assert.equal(log[0]!.status_code, 0);
    const attempts = await until('the retry', () => (rx.of('package').length >= 2 ? rx.of('package') : undefined));
    assert.equal(attempts[0]!.headers['x-github-delivery'], attempts[1]!.headers['x-github-delivery']);
    await until('success', async () => ((await deliveries(hook.id))[0]?.status === 'OK' ? true : undefined));

    const redirecting = await receiver();
    redirecting.answer = () => ({ status: 302 });
    const moved = await createHook(redirecting.url);
    await push('acme/moved', '1', 256);
    const l = await until('the redirect in the log', async () => {
      const x = await deliveries(moved.id);
      return x[0]?.status.startsWith('retrying: redirect 302 not followed') ? x : undefined;
    });
    assert.equal(l[0]!.status_code, 302);
    await api(berth, `/v3/orgs/acme/hooks/${moved.id}`, { method: 'DELETE' });
  });

  it('a receiver down across a Berth crash and restart gets every event afterwards, in order, with the ids logged before', async () => {
    const rx = await receiver();
    const port = rx.port;
    const hook = await createHook(rx.url);
    await rx.stop();
    await push('acme/offline', 'a', 300);
    await push('acme/offline', 'b', 301);
    // The first has failed at least once; the second waits behind it (per-hook order), never sent yet.
    const before = await until('the first delivery failing, the second queued behind it', async () => {
      const l = (await deliveries(hook.id)).filter((d) => d.event === 'package');
      return l.length === 2 && l[1]!.attempts >= 1 ? l : undefined;
    });
    assert.equal(before[0]!.attempts, 0, 'nothing after a failing delivery is sent before it');
    await berth.kill();
    await berth.restart();
    const back = await receiver(port);
    const got = await until('both events after the restart', () => (back.of('package').length >= 2 ? back.of('package') : undefined));
    const tags = got.map((r) => ((r.body.package as Record<string, unknown>).package_version as { metadata: { container: { tags: string[] } } }).metadata.container.tags[0]);
    assert.deepEqual(tags.slice(0, 2), ['a', 'b'], 'per-hook order kept');
    assert.deepEqual(new Set(got.map((r) => r.headers['x-github-delivery'])), new Set(before.map((d) => d.guid)));
  });

  it('redelivers a delivery with its id, pings, and sends Berth\'s deleted event', async () => {
    const rx = await receiver();
    const hook = await createHook(rx.url);
    assert.equal((await api(berth, `/v3/orgs/acme/hooks/${hook.id}/pings`, { method: 'POST' })).status, 204);
    const ping = await until('the ping', () => rx.of('ping')[0]);
    assert.equal((ping.body as { hook_id: number }).hook_id, hook.id);

    await push('acme/gone', '1', 100);
    await push('acme/gone', '2', 101);
    const published = await until('two published events', () => (rx.of('package').length >= 2 ? rx.of('package') : undefined));
    const versions = await api<{ id: number; metadata: { container: { tags: string[] } } }[]>(berth, '/v3/orgs/acme/packages/container/gone/versions');
    const v1 = versions.body.find((v) => v.metadata.container.tags.includes('1'))!;
    assert.equal((await api(berth, `/v3/orgs/acme/packages/container/gone/versions/${v1.id}`, { method: 'DELETE' })).status, 204);
    const deleted = await until('the deleted event', () => rx.of('berth_package_version')[0]);
    assert.equal(deleted.body.action, 'deleted');
    assert.equal(((deleted.body.package as Record<string, unknown>).package_version as { id: number }).id, v1.id);

    const log = await deliveries(hook.id);
    const original = log.find((d) => d.guid === published[0]!.headers['x-github-delivery'])!;
    const detail = await api<{ request: { headers: Record<string, string>; payload: unknown } }>(berth, `/v3/orgs/acme/hooks/${hook.id}/deliveries/${original.id}`);
    assert.equal(detail.status, 200, detail.text);
    assert.equal(detail.body.request.headers['x-github-delivery'], original.guid);
    const again = await api(berth, `/v3/orgs/acme/hooks/${hook.id}/deliveries/${original.id}/attempts`, { method: 'POST' });
    assert.equal(again.status, 202, again.text);
    const copies = await until('the redelivery', () => {
      const c = rx.received.filter((r) => r.headers['x-github-delivery'] === original.guid);
      return c.length >= 2 ? c : undefined;
    });
    assert.equal(copies[0]!.raw, copies[1]!.raw);
    assert.ok((await deliveries(hook.id)).some((d) => d.redelivery && d.guid === original.guid));
  });

  it('manages hooks with GitHub\'s shapes; bad input gets 422, others\' hooks 404', async () => {
    const rx = await receiver();
    const hook = await createHook(rx.url);
    const list = await api<{ id: number }[]>(berth, '/v3/orgs/acme/hooks');
    assert.ok(list.body.some((h) => h.id === hook.id));
    const patched = await api<{ active: boolean; events: string[] }>(berth, `/v3/orgs/acme/hooks/${hook.id}`, {
      method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ active: false, events: ['*'] }),
    });
    assert.equal(patched.status, 200, patched.text);
    assert.equal(patched.body.active, false);
    assert.deepEqual(patched.body.events, ['*']);
    const bad = await api(berth, '/v3/orgs/acme/hooks', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ config: { url: 'ftp://example.com/' } }),
    });
    assert.equal(bad.status, 422, bad.text);
    const badEvents = await api(berth, `/v3/orgs/acme/hooks/${hook.id}`, {
      method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ events: ['push'] }),
    });
    assert.equal(badEvents.status, 422, badEvents.text);
    assertGithubError(await api(berth, '/v3/orgs/acme/hooks/999999'), 404);
    assertGithubError(await api(berth, '/v3/orgs/acme/hooks', { auth: null }), 401);
    assert.equal((await api(berth, `/v3/orgs/acme/hooks/${hook.id}`, { method: 'DELETE' })).status, 204);
    assertGithubError(await api(berth, `/v3/orgs/acme/hooks/${hook.id}`), 404);
  });
});

describe('webhooks without webhooks.allowPrivateTargets', () => {
  it('refuses loopback, private and link-local targets', async () => {
    const strict = await startBerth();
    try {
      for (const url of ['http://127.0.0.1:9/hook', 'http://localhost/hook', 'http://10.1.2.3/', 'http://169.254.169.254/latest', 'http://[::1]/']) {
        const res = await api(strict, '/v3/orgs/acme/hooks', {
          method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ config: { url } }),
        });
        assert.equal(res.status, 422, `${url}: ${res.text}`);
        assert.match(res.text, /webhooks\.allowPrivateTargets/);
      }
    } finally {
      await strict.stop();
    }
  });
});

describe('webhooks failing past webhooks.retryPeriod', () => {
  it('disable the hook with the reason; enabled again, it delivers the events that waited', async () => {
    const short = await startBerth({
      env: { BERTH_WEBHOOKS_ALLOW_PRIVATE_TARGETS: 'true', BERTH_WEBHOOKS_POLL_INTERVAL: '200ms', BERTH_WEBHOOKS_RETRY_PERIOD: '2s', BERTH_WEBHOOKS_MAX_BACKOFF: '500ms' },
    });
    const main = berth;
    berth = short;
    try {
      const rx = await receiver();
      let failing = true;
      rx.answer = () => ({ status: failing ? 500 : 200 });
      const hook = await createHook(rx.url);
      await push('acme/doomed', '1', 128);
      const disabled = await until('the hook disabled', async () => {
        const h = await api<{ active: boolean; last_response: { status: string; message: string | null } }>(berth, `/v3/orgs/acme/hooks/${hook.id}`);
        return h.body.active === false ? h.body : undefined;
      });
      assert.equal(disabled.last_response.status, 'disabled');
      assert.match(disabled.last_response.message ?? '', /^delivery [0-9a-f-]{36} failed for \d+ s: HTTP 500/);
      const [failed] = await deliveries(hook.id);
      assert.match(failed!.status, /^failed: HTTP 500/);

      // While disabled, new events wait; enabled again, they go.
      await push('acme/doomed', '2', 129);
      await until('the second event queued', async () => ((await deliveries(hook.id)).length === 2 ? true : undefined));
      const sent = rx.received.length;
      failing = false;
      const enabled = await api<{ active: boolean; last_response: { status: string } }>(berth, `/v3/orgs/acme/hooks/${hook.id}`, {
        method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ active: true }),
      });
      assert.equal(enabled.body.last_response.status, 'active');
      const next = await until('the waiting event', () => rx.received.slice(sent).find((r) => r.headers['x-github-event'] === 'package'));
      const tags = ((next.body.package as Record<string, unknown>).package_version as { metadata: { container: { tags: string[] } } }).metadata.container.tags;
      assert.deepEqual(tags, ['2']);
    } finally {
      berth = main;
      await short.stop();
    }
  });
});
