/**
 * A small HTTP client for `berth doctor`: it speaks the public protocols like any outside client would (OCI
 * Distribution /v2, the Docker token dance, the GitHub-style REST API) and nothing else of Berth. Built on
 * node:http(s) rather than fetch because Node 20's fetch cannot skip certificate checks per request (`--insecure`)
 * without the undici package, and its errors hide the TLS/socket code behind `cause`.
 */
import { createHash } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface ClientOptions {
  /** Base URL, e.g. https://registry.example.com */
  readonly url: string;
  readonly username?: string;
  readonly token?: string;
  /** Accept self-signed or mismatching certificates. */
  readonly insecure?: boolean;
  /** Per-request timeout in ms (default 15 s). */
  readonly timeoutMs?: number;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** What `GET /v2/` says before logging in. */
export interface Challenge {
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

export interface ProbeResult {
  readonly status: number;
  readonly challenge: Challenge | null;
  /** The server's `Date` header, to detect clock skew. */
  readonly serverDate: Date | null;
  readonly apiVersion: string | null;
}

export interface LoginResult {
  /** Actions granted per repository by the token endpoint (a subset of those asked, never an error). */
  readonly granted: readonly string[];
  readonly expiresIn: number | null;
}

/**
 * A failed request: `status` is null when no HTTP answer came (then `code` is the socket/TLS error code, e.g.
 * ECONNREFUSED, DEPTH_ZERO_SELF_SIGNED_CERT); otherwise `code` is the OCI error code (DENIED, NAME_UNKNOWN…) or
 * HTTP_<status> for a body without one.
 */
export class ClientError extends Error {
  readonly status: number | null;
  readonly code: string;
  readonly retryAfter: number | null;
  readonly operation: string;

  constructor(opts: { operation: string; status: number | null; code: string; message: string; retryAfter?: number | null; cause?: unknown }) {
    super(opts.message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'ClientError';
    this.operation = opts.operation;
    this.status = opts.status;
    this.code = opts.code;
    this.retryAfter = opts.retryAfter ?? null;
  }
}

export const sha256 = (bytes: Buffer): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

export class RegistryClient {
  readonly base: URL;
  readonly #opts: ClientOptions;
  /** Authorization for /v2 after login: a registry Bearer token, Basic credentials, or none. */
  #v2Auth: string | null = null;

  constructor(opts: ClientOptions) {
    this.#opts = opts;
    this.base = new URL(opts.url.replace(/\/+$/, '') + '/');
  }

  /** GET /v2/ without credentials: 200 (open registry) or 401 with a challenge. */
  async probe(): Promise<ProbeResult> {
    const res = await this.#send('GET /v2/', 'GET', '/v2/', {});
    if (res.status !== 200 && res.status !== 401) throw errorOf('GET /v2/', res);
    const header = first(res.headers['www-authenticate']);
    const date = first(res.headers.date);
    return {
      status: res.status,
      challenge: header ? parseChallenge(header) : null,
      serverDate: date ? new Date(date) : null,
      apiVersion: first(res.headers['docker-distribution-api-version']) ?? null,
    };
  }

  /**
   * Logs in for `scope` as a Docker client would: a Bearer challenge means a token from the realm (Basic
   * username:token), a Basic challenge means sending the credentials on every request.
   */
  async login(challenge: Challenge, scope: string): Promise<LoginResult> {
    const basic = `Basic ${Buffer.from(`${this.#opts.username ?? ''}:${this.#opts.token ?? ''}`).toString('base64')}`;
    if (challenge.scheme.toLowerCase() === 'basic') {
      this.#v2Auth = basic;
      return { granted: [], expiresIn: null };
    }
    const realm = challenge.params.realm;
    if (!realm) throw new ClientError({ operation: 'token', status: null, code: 'BAD_CHALLENGE', message: 'the Bearer challenge has no realm' });
    const url = new URL(realm);
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
    url.searchParams.set('scope', scope);
    const headers: Record<string, string> = this.#opts.token ? { authorization: basic } : {};
    const res = await this.#send('token', 'GET', url, headers);
    if (res.status !== 200) throw errorOf('token', res);
    const body = JSON.parse(res.body.toString('utf8')) as { token?: string; access_token?: string; expires_in?: number };
    const token = body.token ?? body.access_token;
    if (!token) throw new ClientError({ operation: 'token', status: 200, code: 'BAD_TOKEN_RESPONSE', message: 'the token endpoint answered without a token' });
    this.#v2Auth = `Bearer ${token}`;
    return { granted: grantedActions(token, scope), expiresIn: body.expires_in ?? null };
  }

  /** Monolithic upload: POST to open a session, then PUT the bytes with the digest (distribution spec "Pushing blobs"). */
  async pushBlob(name: string, bytes: Buffer, onProgress?: (sent: number, total: number) => void): Promise<string> {
    const digest = sha256(bytes);
    const start = await this.#v2('push blob', 'POST', `/v2/${name}/blobs/uploads/`, { 'content-length': '0' });
    if (start.status !== 202) throw errorOf('push blob', start);
    const location = first(start.headers.location);
    if (!location) throw new ClientError({ operation: 'push blob', status: start.status, code: 'NO_LOCATION', message: 'upload started without a Location header' });
    const url = new URL(location, this.base);
    url.searchParams.set('digest', digest);
    const done = await this.#v2('push blob', 'PUT', url, { 'content-type': 'application/octet-stream' }, bytes, onProgress);
    if (done.status !== 201) throw errorOf('push blob', done);
    return digest;
  }

  async putManifest(name: string, reference: string, mediaType: string, bytes: Buffer): Promise<string> {
    const res = await this.#v2('push manifest', 'PUT', `/v2/${name}/manifests/${reference}`, { 'content-type': mediaType }, bytes);
    if (res.status !== 201) throw errorOf('push manifest', res);
    return first(res.headers['docker-content-digest']) ?? sha256(bytes);
  }

  async getManifest(name: string, reference: string, accept: readonly string[]): Promise<{ bytes: Buffer; mediaType: string; digest: string | null }> {
    const res = await this.#v2('pull manifest', 'GET', `/v2/${name}/manifests/${reference}`, { accept: accept.join(', ') });
    if (res.status !== 200) throw errorOf('pull manifest', res);
    return { bytes: res.body, mediaType: first(res.headers['content-type']) ?? '', digest: first(res.headers['docker-content-digest']) ?? null };
  }

  async getBlob(name: string, digest: string): Promise<Buffer> {
    const res = await this.#v2('pull blob', 'GET', `/v2/${name}/blobs/${digest}`, {});
    if (res.status !== 200) throw errorOf('pull blob', res);
    return res.body;
  }

  async deleteManifest(name: string, digest: string): Promise<void> {
    const res = await this.#v2('delete manifest', 'DELETE', `/v2/${name}/manifests/${digest}`, {});
    if (res.status !== 202 && res.status !== 200) throw errorOf('delete manifest', res);
  }

  /** A REST call with the personal access token as Bearer (GitHub style); JSON body or null. */
  async rest(method: 'GET' | 'DELETE', path: string): Promise<{ status: number; headers: IncomingHttpHeaders; json: unknown }> {
    const headers: Record<string, string> = { accept: 'application/vnd.github+json' };
    if (this.#opts.token) headers.authorization = `Bearer ${this.#opts.token}`;
    const res = await this.#send(`${method} ${path}`, method, path, headers);
    const type = first(res.headers['content-type']) ?? '';
    let json: unknown = null;
    if (type.includes('json') && res.body.length > 0) {
      try { json = JSON.parse(res.body.toString('utf8')); } catch { json = null; }
    }
    return { status: res.status, headers: res.headers, json };
  }

  #v2(operation: string, method: string, target: string | URL, headers: Record<string, string>, body?: Buffer, onProgress?: (sent: number, total: number) => void): Promise<HttpResponse> {
    return this.#send(operation, method, target, this.#v2Auth ? { ...headers, authorization: this.#v2Auth } : headers, body, onProgress);
  }

  /** One request; the body is sent in 16 KiB slices so a progress bar can follow it. */
  #send(operation: string, method: string, target: string | URL, headers: Record<string, string>, body?: Buffer, onProgress?: (sent: number, total: number) => void): Promise<HttpResponse> {
    const url = typeof target === 'string' ? new URL(target.replace(/^\//, ''), this.base) : target;
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<HttpResponse>((resolve, reject) => {
      const req = request(url, {
        method,
        headers: { 'user-agent': 'berth-doctor', ...headers, ...(body ? { 'content-length': String(body.length) } : {}) },
        timeout: this.#opts.timeoutMs ?? 15_000,
        ...(url.protocol === 'https:' ? { rejectUnauthorized: !this.#opts.insecure } : {}),
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${this.#opts.timeoutMs ?? 15_000} ms`), { code: 'ETIMEDOUT' })));
      req.on('error', (err: NodeJS.ErrnoException) => reject(new ClientError({
        operation, status: null, code: err.code ?? 'NETWORK', message: `${method} ${url.origin}${url.pathname}: ${err.message}`, cause: err,
      })));
      if (!body) return void req.end();
      const slice = 16 * 1024;
      for (let sent = 0; sent < body.length; sent += slice) {
        req.write(body.subarray(sent, sent + slice));
        onProgress?.(Math.min(sent + slice, body.length), body.length);
      }
      req.end();
    });
  }
}

/** `Bearer realm="…",service="…",scope="…"` → scheme and parameters (RFC 7235 auth-params, quoted or token). */
export function parseChallenge(header: string): Challenge {
  const space = header.indexOf(' ');
  const scheme = space < 0 ? header : header.slice(0, space);
  const params: Record<string, string> = {};
  for (const m of header.slice(space + 1).matchAll(/([A-Za-z_]+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) {
    params[m[1]!.toLowerCase()] = (m[2] ?? m[3] ?? '').replace(/\\(.)/g, '$1');
  }
  return { scheme, params };
}

/**
 * The actions the registry token grants for the scope's repository. Docker tokens are JWTs whose `access` claim
 * lists them; an opaque token says nothing, so we assume what was asked and let the push tell.
 */
function grantedActions(token: string, scope: string): string[] {
  const [, name, actions] = /^repository:([^:]+):(.+)$/.exec(scope) ?? [];
  const payload = token.split('.')[1];
  if (!payload) return actions?.split(',') ?? [];
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { access?: { name?: string; actions?: string[] }[] };
    return claims.access?.find((a) => a.name === name)?.actions ?? [];
  } catch {
    return actions?.split(',') ?? [];
  }
}

function errorOf(operation: string, res: HttpResponse): ClientError {
  const text = res.body.toString('utf8');
  let code = `HTTP_${res.status}`;
  let message = text.slice(0, 300).trim() || `HTTP ${res.status}`;
  try {
    const body = JSON.parse(text) as { errors?: { code?: string; message?: string }[]; message?: string; details?: string };
    const e = body.errors?.[0];
    if (e) {
      code = e.code ?? code;
      message = e.message ?? message;
    } else if (body.message) {
      message = body.message;
    } else if (body.details) {
      message = body.details;
    }
  } catch {
    // Not JSON (a proxy's HTML page, say): keep the start of the text.
  }
  const retry = first(res.headers['retry-after']);
  return new ClientError({ operation, status: res.status, code, message, retryAfter: retry && /^\d+$/.test(retry) ? Number(retry) : null });
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
