import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

/**
 * A real OpenID issuer on loopback, shaped like GitHub Actions' (https://token.actions.githubusercontent.com):
 * `/.well-known/openid-configuration` and a JWKS over HTTP, ID tokens signed with its RS256 (or ES256) keys. Why not
 * npm oidc-provider: it issues ID tokens only to interactive (authorization code) flows and never puts workload
 * claims such as `repository` or `job_workflow_ref` in them; a CI job's token is a signed JWT from a discovery
 * document and a key set, which is exactly what this serves. Counts fetches, can rotate keys and go down.
 */
export interface OidcIssuer {
  readonly url: string;
  /**
   * What a GitHub Actions job with `id-token: write` finds in ACTIONS_ID_TOKEN_REQUEST_URL and
   * ACTIONS_ID_TOKEN_REQUEST_TOKEN: `GET url&audience=AUD` with `Authorization: bearer TOKEN` answers `{"value": <ID token>}`.
   */
  readonly actionsRequest: { readonly url: string; readonly token: string };
  /** Key ids published now. */
  published(): string[];
  /** An ID token with GitHub Actions' claims (overridable), signed by the key `kid` (default: the first published). */
  token(claims?: JWTPayload, opts?: { kid?: string; key?: CryptoKey; alg?: string; header?: Record<string, unknown> }): Promise<string>;
  /** Adds a new key and publishes only it (the old ones disappear from the JWKS): a rotation. */
  rotate(): Promise<string>;
  /** A key this issuer never publishes, for forged tokens. */
  strangerKey(): Promise<{ kid: string; key: CryptoKey }>;
  /** Requests served so far, per path. */
  fetches(path: string): number;
  /** Answers 503 to everything while down. */
  setDown(down: boolean): void;
  /**
   * The authorization code flow's token endpoint (`POST /token`, named in discovery with an authorization endpoint
   * nobody visits): answers `status` and `body` (an `id_token` chosen by the test) and keeps each request it got.
   */
  setTokenAnswer(status: number, body: Record<string, unknown>): void;
  tokenRequests(): { form: URLSearchParams; authorization: string | null }[];
  stop(): Promise<void>;
}

const ACTIONS_REQUEST_TOKEN = 'actions-request-token';

interface Key { kid: string; privateKey: CryptoKey; jwk: JWK; alg: string }

async function newKey(kid: string, alg = 'RS256'): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, privateKey, alg, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

export async function startOidcIssuer(opts: { alg?: string } = {}): Promise<OidcIssuer> {
  const alg = opts.alg ?? 'RS256';
  let keys: Key[] = [await newKey('key-1', alg)];
  const all = new Map(keys.map((k) => [k.kid, k]));
  const counts = new Map<string, number>();
  let down = false;
  let n = 1;
  let tokenAnswer: { status: number; body: Record<string, unknown> } = { status: 400, body: { error: 'invalid_grant' } };
  const tokenRequests: { form: URLSearchParams; authorization: string | null }[] = [];
  let url = '';
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    counts.set(path, (counts.get(path) ?? 0) + 1);
    if (down) return void res.writeHead(503).end();
    if (path === '/.well-known/openid-configuration') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
        issuer: url, jwks_uri: `${url}/.well-known/jwks`, authorization_endpoint: `${url}/authorize`, token_endpoint: `${url}/token`,
        subject_types_supported: ['public', 'pairwise'],
        response_types_supported: ['id_token'], id_token_signing_alg_values_supported: [alg],
        claims_supported: ['sub', 'aud', 'exp', 'iat', 'iss', 'jti', 'nbf', 'ref', 'repository', 'repository_owner', 'environment', 'job_workflow_ref'],
      }));
      return;
    }
    if (path === '/actions-token') {
      if (req.headers.authorization !== `bearer ${ACTIONS_REQUEST_TOKEN}`) return void res.writeHead(401).end();
      const audience = new URL(req.url ?? '/', 'http://x').searchParams.get('audience');
      void issuer.token(audience ? { aud: audience } : {}).then((value) => {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ count: value.length, value }));
      });
      return;
    }
    if (path === '/token' && req.method === 'POST') {
      let body = '';
      req.on('data', (c: Buffer) => { body += c.toString(); });
      req.on('end', () => {
        tokenRequests.push({ form: new URLSearchParams(body), authorization: req.headers.authorization ?? null });
        res.writeHead(tokenAnswer.status, { 'content-type': 'application/json' }).end(JSON.stringify(tokenAnswer.body));
      });
      return;
    }
    if (path === '/.well-known/jwks') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: keys.map((k) => k.jwk) }));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const issuer: OidcIssuer = {
    url,
    actionsRequest: { url: `${url}/actions-token?api-version=2.0`, token: ACTIONS_REQUEST_TOKEN },
    published: () => keys.map((k) => k.kid),
    async token(claims = {}, o = {}) {
      const kid = o.kid ?? keys[0]!.kid;
      const signer = o.key ?? all.get(kid)!.privateKey;
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({
        repository: 'acme/api', repository_owner: 'acme', ref: 'refs/heads/main', environment: 'production',
        job_workflow_ref: 'acme/api/.github/workflows/release.yml@refs/heads/main', sub: 'repo:acme/api:environment:production', ...claims,
      }).setProtectedHeader({ alg: o.alg ?? alg, kid, typ: 'JWT', ...o.header })
        .setIssuer(typeof claims.iss === 'string' ? claims.iss : url).setAudience(claims.aud ?? 'berth-test')
        .setIssuedAt(typeof claims.iat === 'number' ? claims.iat : now).setNotBefore(typeof claims.nbf === 'number' ? claims.nbf : now - 5)
        .setExpirationTime(typeof claims.exp === 'number' ? claims.exp : now + 300).setJti(`jti-${Math.random()}`)
        .sign(signer);
    },
    async rotate() {
      const key = await newKey(`key-${++n}`, alg);
      all.set(key.kid, key);
      keys = [key];
      return key.kid;
    },
    async strangerKey() {
      const k = await newKey('stranger', alg);
      return { kid: k.kid, key: k.privateKey };
    },
    fetches: (path) => counts.get(path) ?? 0,
    setDown: (d) => { down = d; },
    setTokenAnswer: (status, body) => { tokenAnswer = { status, body }; },
    tokenRequests: () => tokenRequests,
    stop: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
  return issuer;
}
