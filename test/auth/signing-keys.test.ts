// The registry-token signing key: registry JWTs without a token id or an expiry are refused even when signed with
// the registry's own key, and with auth.keyEncryptionKey the key is stored encrypted (converted at start, also
// after a restart and a rotation) while /token keeps issuing tokens /v2 accepts.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeJwt, decodeProtectedHeader, importJWK, SignJWT, type JWK, type JWTPayload } from 'jose';
import { after, test } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';

const servers: RunningBerth[] = [];
after(async () => {
  for (const s of servers) await s.stop();
});

async function bearer(berth: RunningBerth, auth: string | null, scope: string): Promise<string> {
  const res = await berth.fetch(`/token?${new URLSearchParams({ service: berth.host, scope })}`, { auth });
  assert.equal(res.status, 200, await res.clone().text());
  return ((await res.json()) as { token: string }).token;
}

/** Pushes a one-blob "image" the quick way (Basic auth on /v2) so there is something to pull. */
async function pushBlob(berth: RunningBerth, name: string): Promise<string> {
  const blob = randomBytes(64);
  const digest = `sha256:${(await import('node:crypto')).createHash('sha256').update(blob).digest('hex')}`;
  const res = await berth.fetch(`/v2/${name}/blobs/uploads/?digest=${digest}`, { method: 'POST', body: blob });
  assert.equal(res.status, 201);
  return digest;
}

async function keyRows(berth: RunningBerth): Promise<{ kid: string; privateJwk: string; retired: boolean }[]> {
  const rows = await berth.query<{ kid: string; private_jwk: string; retired_at: number | null }>('select kid, private_jwk, retired_at from signing_keys');
  return rows.map((r) => ({ kid: r.kid, privateJwk: r.private_jwk, retired: r.retired_at !== null }));
}

test('a registry JWT signed with the real key is refused without a token id (jti) or an expiry (exp)', async () => {
  const berth = await startBerth();
  servers.push(berth);
  const digest = await pushBlob(berth, 'acme/claims');
  const good = await bearer(berth, berth.authorization, 'repository:acme/claims:pull');
  const claims = decodeJwt(good);
  assert.equal(typeof claims.jti, 'string', 'issued tokens carry an id');
  const kid = decodeProtectedHeader(good).kid!;

  // What someone holding a copy of the database can do: sign their own claims with the stored key.
  const [row] = (await keyRows(berth)).filter((r) => r.kid === kid);
  const key = await importJWK(JSON.parse(row!.privateJwk) as JWK, 'ES256');
  const sign = (payload: JWTPayload): Promise<string> => new SignJWT(payload).setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' }).sign(key);
  const { jti: _jti, ...withoutJti } = claims;
  const { exp: _exp, ...withoutExp } = claims;
  const get = async (jwt: string): Promise<number> => (await berth.fetch(`/v2/acme/claims/blobs/${digest}`, { method: 'HEAD', auth: `Bearer ${jwt}` })).status;
  assert.equal(await get(await sign(withoutJti)), 401, 'no jti');
  assert.equal(await get(await sign(withoutExp)), 401, 'no exp');
  // The same claims with both are accepted: the refusals above are about the missing claims, not the key.
  assert.equal(await get(await sign({ ...claims, jti: 'minted-by-test' })), 200);
  assert.equal(await get(good), 200);

  // Anonymous tokens (for public packages) carry an id too.
  await berth.admin((s) => s.packages.setVisibility('acme/claims', 'public'));
  const anonymous = await bearer(berth, null, 'repository:acme/claims:pull');
  assert.equal(typeof decodeJwt(anonymous).jti, 'string');
  assert.equal(await get(anonymous), 200);
});

test('with auth.keyEncryptionKey the signing keys are stored encrypted, also those made before, and tokens keep working across restarts', async () => {
  const plain = await startBerth();
  servers.push(plain);
  const digest = await pushBlob(plain, 'acme/sealed');
  const before = await bearer(plain, plain.authorization, 'repository:acme/sealed:pull');
  const [old] = await keyRows(plain);
  const secretD = (JSON.parse(old!.privateJwk) as JWK).d!;
  assert.ok(secretD.length > 20, 'without a key the private key is stored as a JWK (file modes protect it)');
  await plain.stop();

  const keyEncryptionKey = randomBytes(32).toString('base64');
  // Same port: a registry token's audience is the host:port it was issued for.
  const berth = await startBerth({ dataDir: plain.dataDir, port: Number(new URL(plain.url).port), env: { BERTH_AUTH_KEY_ENCRYPTION_KEY: keyEncryptionKey } });
  servers.push(berth);
  const sealedRows = async (): Promise<void> => {
    for (const row of await keyRows(berth)) {
      assert.match(row.privateJwk, /^enc:v1:/);
      assert.ok(!row.privateJwk.includes('"d"'), 'no private key in clear in the row');
    }
  };
  await sealedRows();
  const { d: _d, ...publicPart } = JSON.parse(old!.privateJwk) as JWK;
  assert.ok(publicPart.x, 'the public part is still readable in clear (it only verifies)');
  if (berth.backend === 'sqlite-fs') {
    // Not in the file either: the old plaintext pages were rewritten (VACUUM), the write-ahead log truncated.
    for (const file of ['berth.db', 'berth.db-wal'].map((f) => join(berth.dataDir, f)).filter((f) => existsSync(f))) {
      assert.ok(!readFileSync(file).includes(secretD), `${file} holds no plaintext private key`);
    }
  }

  const pull = async (jwt: string): Promise<number> => (await berth.fetch(`/v2/acme/sealed/blobs/${digest}`, { method: 'HEAD', auth: `Bearer ${jwt}` })).status;
  assert.equal(await pull(before), 200, 'a token issued before the conversion still verifies');
  const issued = await bearer(berth, berth.authorization, 'repository:acme/sealed:pull');
  assert.equal(await pull(issued), 200);

  // A rotation (admin CLI) stores the new key sealed too; after a restart the server signs with it.
  await berth.admin((s) => s.keys.rotate());
  await berth.restart();
  await sealedRows();
  const afterRestart = await bearer(berth, berth.authorization, 'repository:acme/sealed:pull');
  const current = (await keyRows(berth)).find((r) => !r.retired)!;
  assert.equal(decodeProtectedHeader(afterRestart).kid, current.kid);
  assert.equal(await pull(afterRestart), 200);
  assert.equal(await pull(issued), 200, 'tokens of the retired key verify until they expire');
  await berth.stop();

  // A different key cannot open them: the start fails and says so.
  const wrong = await startBerth({ dataDir: plain.dataDir, env: { BERTH_AUTH_KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64') } }).then(() => null, (e: unknown) => e);
  assert.ok(wrong instanceof Error, 'a wrong key stops the start');
  assert.match(readFileSync(join(plain.dataDir, 'server.log'), 'utf8'), /auth\.keyEncryptionKey does not decrypt the stored signing keys/);
});
