// Absolute URLs behind a reverse proxy: X-Forwarded-Proto/Host/For are believed only from server.trustedProxies,
// and server.publicUrl, when set, wins over both.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { api } from '../helpers/github.js';

const FORWARDED = { 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'registry.example', 'X-Forwarded-For': '198.51.100.7' };
const servers: RunningBerth[] = [];
after(() => Promise.all(servers.map((s) => s.stop())));

async function start(env: Record<string, string>): Promise<RunningBerth> {
  const berth = await startBerth({ env });
  servers.push(berth);
  return berth;
}

const currentUserUrl = async (berth: RunningBerth): Promise<string> =>
  (await api<{ current_user_url: string }>(berth, '/v3/', { auth: null, headers: FORWARDED })).body.current_user_url;

const challenge = async (berth: RunningBerth): Promise<string> =>
  (await berth.fetch('/v2/', { auth: null, headers: FORWARDED })).headers.get('www-authenticate') ?? '';

describe('reverse proxies', () => {
  it('ignores X-Forwarded-* when no proxy is trusted', async () => {
    const berth = await start({});
    assert.equal(await currentUserUrl(berth), `${berth.url}/api/v3/user`);
    assert.match(await challenge(berth), new RegExp(`realm="${berth.url}/token"`));
  });

  it('believes X-Forwarded-Proto/Host/For from a trusted proxy (address or CIDR)', async () => {
    for (const trusted of ['127.0.0.1', '10.0.0.0/8, 127.0.0.0/8']) {
      const berth = await start({ BERTH_SERVER_TRUSTED_PROXIES: trusted, BERTH_API_RATE_LIMIT_ANONYMOUS: '1' });
      assert.equal(await currentUserUrl(berth), 'https://registry.example/api/v3/user');
      assert.match(await challenge(berth), /realm="https:\/\/registry\.example\/token",service="registry\.example"/);
      // The forwarded client address is the one rate-limited (the first call above used it up).
      const limited = await api<{ message: string }>(berth, '/v3/', { auth: null, headers: FORWARDED });
      assert.equal(limited.status, 403);
      assert.match(limited.body.message, /for 198\.51\.100\.7\./);
    }
  });

  it('builds URLs from server.publicUrl when set, whatever the headers say', async () => {
    const berth = await start({ BERTH_SERVER_PUBLIC_URL: 'https://berth.example.com/', BERTH_SERVER_TRUSTED_PROXIES: '127.0.0.1' });
    assert.equal(await currentUserUrl(berth), 'https://berth.example.com/api/v3/user');
  });
});
