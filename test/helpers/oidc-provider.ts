import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

/** What the provider says about a person who signs in with that login on its page. */
export interface ProviderPerson {
  preferred_username?: string;
  email?: string;
  groups?: string[];
}

export interface OidcProvider {
  /** The issuer URL (what auth.sso.issuer names). */
  readonly url: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** People by the login typed on the provider's page; changeable between sign-ins (a group left). */
  readonly people: Map<string, ProviderPerson>;
  stop(): Promise<void>;
}

/**
 * A real, certified OpenID provider (npm oidc-provider) on loopback for the web UI's single sign-on: one
 * confidential client with `redirectUris`, PKCE required, and its development login and consent pages (any login
 * with any password; the login is the subject). ID tokens carry the profile, email and groups claims asked for.
 * Why not test/helpers/oidc-issuer.ts: that one only signs workload tokens; this one runs the whole authorization
 * code flow a browser goes through (login page, consent, code, token endpoint that refuses a code used twice).
 */
export async function startOidcProvider(opts: { redirectUris: string[] }): Promise<OidcProvider> {
  const people = new Map<string, ProviderPerson>();
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.writeHead(503).end();
  const server: Server = createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clientId = 'berth-ui';
  const clientSecret = 'berth-ui-client-secret-for-tests';
  const provider = new Provider(url, {
    clients: [{
      client_id: clientId, client_secret: clientSecret, redirect_uris: opts.redirectUris,
      grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic',
    }],
    pkce: { required: () => true },
    claims: { openid: ['sub'], profile: ['preferred_username'], email: ['email'], groups: ['groups'] },
    // The claims of the scopes asked for go into the ID token itself (Berth reads no userinfo).
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: true } },
    cookies: { keys: ['berth-test-provider-cookie-key'] },
    async findAccount(_ctx, id) {
      return { accountId: id, claims: async () => ({ sub: id, ...(people.get(id) ?? {}) }) };
    },
  });
  // The development pages warn on the console about being for development; quiet for tests.
  provider.on('server_error', (_ctx, err) => { console.error('oidc-provider:', err); });
  handler = provider.callback();
  return {
    url, clientId, clientSecret, people,
    stop: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
