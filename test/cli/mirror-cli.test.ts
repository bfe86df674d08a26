import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runBuilt, type CliResult } from '../helpers/built-cli.js';

/** `berth …` on a fresh data directory of its own (created with --init). */
function berth(args: string[], env: Record<string, string>): CliResult {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BERTH_')));
  const data = mkdtempSync(join(tmpdir(), 'berth-mirror-cli-'));
  const r = runBuilt([...args, '--data', data, '--init'], { env: { ...clean, ...env } });
  rmSync(data, { recursive: true, force: true });
  return r;
}

test('berth mirror list shows each namespace, its upstream, how Berth signs in and the default, never a password', () => {
  const env = {
    BERTH_MIRROR_UPSTREAMS_DOCKERHUB_URL: 'https://registry-1.docker.io', BERTH_MIRROR_UPSTREAMS_DOCKERHUB_DEFAULT: 'true',
    BERTH_MIRROR_UPSTREAMS_GHCR_URL: 'https://ghcr.io', BERTH_MIRROR_UPSTREAMS_GHCR_USERNAME: 'bot', BERTH_MIRROR_UPSTREAMS_GHCR_PASSWORD: 'hunter2-secret',
    BERTH_MIRROR_UPSTREAMS_GHCR_ACCESS: 'org:acme',
  };
  const text = berth(['mirror', 'list'], env);
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /^dockerhub\s+https:\/\/registry-1\.docker\.io\s+anonymous\s+yes\s+signed-in\s+configuration$/m);
  assert.match(text.stdout, /^ghcr\s+https:\/\/ghcr\.io\s+user bot\s+-\s+org:acme\s+configuration$/m);
  const json = berth(['mirror', 'list', '--json'], env);
  assert.equal(json.status, 0, json.stderr);
  assert.deepEqual((JSON.parse(json.stdout) as { upstreams: unknown[] }).upstreams, [
    { namespace: 'dockerhub', upstream: 'https://registry-1.docker.io', auth: 'anonymous', default: true, access: 'signed-in', source: 'config' },
    { namespace: 'ghcr', upstream: 'https://ghcr.io', auth: 'user bot', default: false, access: 'org:acme', source: 'config' },
  ]);
  assert.doesNotMatch(text.stdout + json.stdout, /hunter2/);
});

test('berth mirror list: a bad upstream is a configuration error (exit 2) naming the key', () => {
  const r = berth(['mirror', 'list'], { BERTH_MIRROR_UPSTREAMS_HUB_URL: 'not a url' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /mirror\.upstreams\.hub\.url/);
  assert.match(berth(['mirror', 'list'], {}).stdout, /no mirrors yet/);
  const access = berth(['mirror', 'list'], { BERTH_MIRROR_UPSTREAMS_HUB_URL: 'https://x', BERTH_MIRROR_UPSTREAMS_HUB_ACCESS: 'members' });
  assert.equal(access.status, 2);
  assert.match(access.stderr, /mirror\.upstreams\.hub\.access.*must be public, signed-in or org:LOGIN/);
});
