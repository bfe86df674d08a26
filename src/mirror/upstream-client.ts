import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Readable, Transform } from 'node:stream';
import { makeDigest, type Digest } from '../oci/digest.js';
import { MediaType } from '../oci/media-types.js';
import type { MirrorReaders } from '../oci/names.js';
import type { Clock } from '../util/clock.js';
import { LimitExceededError } from '../util/hash-stream.js';
import { readLimited } from '../util/read-limited.js';

/** One upstream registry, as the mirror configuration gives it (config `mirror.upstreams.<namespace>`). */
export interface UpstreamSettings {
  readonly namespace: string;
  readonly url: string;
  readonly credentials: { readonly username: string; readonly password: string } | null;
  readonly isDefault: boolean;
  /** Who may pull through it. */
  readonly access: MirrorReaders;
  /** Cached versions not pulled for this long are evicted (lifecycle/mirror-eviction.ts); null: kept. */
  readonly evictAfterMs: number | null;
}

/**
 * Why an upstream request failed. `unavailable` (network error, timeout, 5xx) and `throttled` (429) are the
 * upstream's trouble: cached content is served instead (stale-if-error). The others are answers about the content.
 */
export type UpstreamFailure = 'unavailable' | 'throttled' | 'not-found' | 'denied' | 'invalid';

export class UpstreamError extends Error {
  readonly kind: UpstreamFailure;
  /** For `throttled` (and while backing off): how long the upstream asked us to wait. */
  readonly retryAfterMs: number | null;

  constructor(kind: UpstreamFailure, message: string, opts: { retryAfterMs?: number | null; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'UpstreamError';
    this.kind = kind;
    this.retryAfterMs = opts.retryAfterMs ?? null;
  }
}

export interface UpstreamManifest {
  readonly digest: Digest;
  readonly mediaType: string;
  /** Absent for HEAD. */
  readonly body: Buffer | null;
  readonly size: number;
}

export interface UpstreamBlob {
  /** From Content-Length; null when the upstream streams without one. */
  readonly size: number | null;
  readonly body: Readable;
}

interface CachedToken {
  readonly token: string;
  readonly expiresAt: number;
}

/** Backoff after a 429 without Retry-After: 1 s, doubling per consecutive 429, at most 5 minutes. */
const BACKOFF_BASE_MS = 1000;
const BACKOFF_MAX_MS = 5 * 60_000;
/** A token is used until this long before it expires (clock skew, request time). */
const TOKEN_SLACK_MS = 10_000;
/** Docker's token spec: a token without expires_in lasts 60 seconds. */
const DEFAULT_TOKEN_SECONDS = 60;
const MAX_REDIRECTS = 5;
/** Every manifest type Berth stores, index types first: a tag comes back as the upstream has it. */
const MANIFEST_TYPES = [MediaType.ociIndex, MediaType.dockerManifestList, MediaType.ociManifest, MediaType.dockerManifest];

/**
 * An HTTP client of one upstream registry's pull API (OCI distribution spec "Pull"), with the three ways
 * registries authenticate: none, Basic (the CNCF registry with htpasswd) and Docker token auth (Docker Hub, ghcr.io,
 * Berth itself: a 401 challenge names a realm, which hands out a bearer token per repository scope). Tokens are
 * cached per scope until shortly before they expire. Manifests are verified against their digest
 * (Docker-Content-Digest, or the digest asked for); blob bodies are verified by whoever stores them.
 *
 * A 429 puts the whole upstream on hold for its Retry-After (else an exponential backoff): during the hold requests
 * fail at once as `throttled`, so a fleet of clients cannot keep hammering a registry that asked us to stop.
 */
export class UpstreamClient {
  readonly settings: UpstreamSettings;
  readonly #clock: Clock;
  readonly #timeoutMs: number;
  readonly #tokens = new Map<string, CachedToken>();
  /** Learnt from the first challenge: Basic upstreams get credentials up front, without a 401 round trip each. */
  #basic = false;
  #heldUntil = 0;
  #throttles = 0;

  constructor(settings: UpstreamSettings, deps: { clock: Clock; timeoutMs: number }) {
    this.settings = settings;
    this.#clock = deps.clock;
    this.#timeoutMs = deps.timeoutMs;
  }

  /**
   * GET or HEAD a manifest by tag or digest; null when the upstream has no such manifest. `accept` is what the
   * client accepts; every manifest type Berth stores is added, so an index comes back as the index it is (the
   * digest a client pins must be the upstream's), not converted to one platform's manifest.
   */
  async manifest(repository: string, reference: string, accept: readonly string[], method: 'GET' | 'HEAD', maxBytes: number): Promise<UpstreamManifest | null> {
    const types = [...new Set([...accept.filter((t) => t !== '*/*' && t !== ''), ...MANIFEST_TYPES])];
    const res = await this.#request(method, repository, `manifests/${reference}`, { Accept: types.join(', ') });
    if (res.status === 404) {
      res.discard();
      return null;
    }
    const header = res.header('docker-content-digest');
    const mediaType = (res.header('content-type') ?? '').split(';', 1)[0]!.trim();
    const byDigest = reference.includes(':');
    if (method === 'HEAD') {
      res.discard();
      const digest = byDigest ? reference : header;
      if (!digest || !/^sha(256|512):[0-9a-f]+$/.test(digest)) throw new UpstreamError('invalid', `${this.#where(repository)}: a manifest HEAD without Docker-Content-Digest`);
      return { digest: digest as Digest, mediaType, body: null, size: Number(res.header('content-length') ?? 0) };
    }
    let body: Buffer;
    try {
      const stalled = (): UpstreamError => new UpstreamError('unavailable', `${this.#where(repository)}: the manifest body stalled for ${this.#timeoutMs} ms`);
      body = await readLimited(idleLimited(res.body, this.#timeoutMs, stalled), maxBytes);
    } catch (err) {
      if (err instanceof LimitExceededError) throw new UpstreamError('invalid', `${this.#where(repository)}: manifest larger than ${maxBytes} bytes`);
      throw new UpstreamError('unavailable', `${this.#where(repository)}: the manifest body broke off (${(err as Error).message})`, { cause: err });
    }
    const expected = byDigest ? reference : header;
    const algorithm = expected && /^sha512:/.test(expected) ? 'sha512' : 'sha256';
    const digest = makeDigest(algorithm, createHash(algorithm).update(body).digest('hex'));
    if (expected && expected !== digest) {
      throw new UpstreamError('invalid', `${this.#where(repository)}: manifest ${reference} does not match its digest (${expected} expected, ${digest} received)`);
    }
    if (byDigest && header && header !== digest) {
      throw new UpstreamError('invalid', `${this.#where(repository)}: Docker-Content-Digest ${header} does not match the manifest ${digest}`);
    }
    return { digest, mediaType, body, size: body.length };
  }

  /**
   * GET (or HEAD: `body` then empty) a blob, following the redirects registries use to send blobs from a CDN
   * (credentials go only to the upstream itself). The body stream fails if no byte arrives within the timeout.
   */
  async blob(repository: string, digest: Digest, method: 'GET' | 'HEAD' = 'GET'): Promise<UpstreamBlob> {
    const res = await this.#request(method, repository, `blobs/${digest}`, {});
    if (res.status === 404) {
      res.discard();
      throw new UpstreamError('not-found', `${this.#where(repository)} has no blob ${digest}`);
    }
    const length = res.header('content-length');
    const size = length !== null && /^\d+$/.test(length) ? Number(length) : null;
    if (method === 'HEAD') {
      res.discard();
      return { size, body: Readable.from([]) };
    }
    return { size, body: idleLimited(res.body, this.#timeoutMs, () => new UpstreamError('unavailable', `${this.#where(repository)}: blob ${digest} stalled for ${this.#timeoutMs} ms`)) };
  }

  async #request(method: 'GET' | 'HEAD', repository: string, path: string, headers: Record<string, string>): Promise<UpstreamResponse> {
    const now = this.#clock.now();
    if (now < this.#heldUntil) {
      throw new UpstreamError('throttled', `${this.settings.url} asked us to slow down (429); holding off for ${Math.ceil((this.#heldUntil - now) / 1000)} s`, {
        retryAfterMs: this.#heldUntil - now,
      });
    }
    const url = `${this.settings.url}/v2/${repository}/${path}`;
    const scope = `repository:${repository}:pull`;
    let res = await this.#send(method, url, { ...headers, ...this.#authorization(scope) });
    if (res.status === 401) {
      res.discard();
      const auth = await this.#answerChallenge(res.header('www-authenticate') ?? '', scope);
      if (auth) res = await this.#send(method, url, { ...headers, ...auth });
    }
    if (res.status === 429) {
      res.discard();
      this.#throttles++;
      const wait = retryAfterMs(res.header('retry-after'), this.#clock.now())
        ?? Math.min(BACKOFF_BASE_MS * 2 ** (this.#throttles - 1), BACKOFF_MAX_MS);
      this.#heldUntil = this.#clock.now() + wait;
      throw new UpstreamError('throttled', `${this.settings.url} answered 429 Too Many Requests; holding off for ${Math.ceil(wait / 1000)} s`, { retryAfterMs: wait });
    }
    this.#throttles = 0;
    if (res.status === 200 || res.status === 404) return res;
    res.discard();
    if (res.status === 401 || res.status === 403) {
      throw new UpstreamError('denied', `${this.#where(repository)} refused access (${res.status})${this.settings.credentials ? '' : '; the mirror has no credentials for it'}`);
    }
    if (res.status >= 500) throw new UpstreamError('unavailable', `${this.settings.url} answered ${res.status}`);
    throw new UpstreamError('invalid', `${this.#where(repository)} answered ${res.status} to ${method} ${path}`);
  }

  /**
   * Sends one request, following redirects by hand: Authorization is dropped once the request leaves the upstream.
   * node:http rather than fetch: a blob body as a Node stream costs half the CPU of fetch's web stream turned into
   * one (Readable.fromWeb), and a first pull through the cache is bound by it.
   */
  async #send(method: 'GET' | 'HEAD', url: string, headers: Record<string, string>): Promise<UpstreamResponse> {
    const origin = new URL(this.settings.url).origin;
    let target = url;
    for (let hop = 0; ; hop++) {
      const sameOrigin = new URL(target).origin === origin;
      const sent = sameOrigin ? headers : Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'authorization'));
      let res: UpstreamResponse;
      try {
        res = await exchange(method, target, sent, this.#timeoutMs);
      } catch (err) {
        throw new UpstreamError('unavailable', `${this.settings.url} is unreachable (${causeOf(err)})`, { cause: err });
      }
      const location = res.header('location');
      if (res.status >= 300 && res.status < 400 && location && hop < MAX_REDIRECTS) {
        res.discard();
        target = new URL(location, target).toString();
        continue;
      }
      return res;
    }
  }

  #authorization(scope: string): Record<string, string> {
    const cached = this.#tokens.get(scope);
    if (cached && cached.expiresAt > this.#clock.now()) return { Authorization: `Bearer ${cached.token}` };
    if (this.#basic && this.settings.credentials) return { Authorization: basic(this.settings.credentials) };
    return {};
  }

  /** The answer to a 401: Basic credentials, or a token from the realm (docs "Token Authentication Specification"). */
  async #answerChallenge(header: string, scope: string): Promise<Record<string, string> | null> {
    const scheme = header.trim().split(/\s+/, 1)[0]?.toLowerCase();
    if (scheme === 'basic') {
      if (!this.settings.credentials) return null;
      this.#basic = true;
      return { Authorization: basic(this.settings.credentials) };
    }
    if (scheme !== 'bearer') return null;
    const params = challengeParams(header);
    const realm = params.get('realm');
    if (!realm) return null;
    const tokenUrl = new URL(realm);
    if (params.has('service')) tokenUrl.searchParams.set('service', params.get('service')!);
    // Our scope (repository:<name>:pull), whatever the challenge names: we only ever pull.
    tokenUrl.searchParams.set('scope', scope);
    const headers: Record<string, string> = this.settings.credentials ? { Authorization: basic(this.settings.credentials) } : {};
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), this.#timeoutMs);
    let res: Response;
    try {
      res = await fetch(tokenUrl, { headers, signal: abort.signal });
    } catch (err) {
      throw new UpstreamError('unavailable', `the token service ${tokenUrl.origin} of ${this.settings.url} is unreachable (${causeOf(err)})`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
    if (res.status === 429) {
      await res.body?.cancel();
      const wait = retryAfterMs(res.headers.get('retry-after'), this.#clock.now()) ?? BACKOFF_BASE_MS;
      this.#heldUntil = this.#clock.now() + wait;
      throw new UpstreamError('throttled', `the token service of ${this.settings.url} answered 429`, { retryAfterMs: wait });
    }
    if (res.status !== 200) {
      await res.body?.cancel();
      if (res.status >= 500) throw new UpstreamError('unavailable', `the token service of ${this.settings.url} answered ${res.status}`);
      throw new UpstreamError('denied', `the token service of ${this.settings.url} refused the mirror's credentials (${res.status})`);
    }
    const body = await res.json().catch(() => null) as { token?: unknown; access_token?: unknown; expires_in?: unknown } | null;
    const token = typeof body?.token === 'string' ? body.token : typeof body?.access_token === 'string' ? body.access_token : null;
    if (!token) throw new UpstreamError('invalid', `the token service of ${this.settings.url} answered without a token`);
    const seconds = typeof body?.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : DEFAULT_TOKEN_SECONDS;
    this.#tokens.set(scope, { token, expiresAt: this.#clock.now() + seconds * 1000 - TOKEN_SLACK_MS });
    // Expired entries of other repositories go as new ones come: the cache stays as large as the set in use.
    for (const [key, t] of this.#tokens) if (t.expiresAt <= this.#clock.now()) this.#tokens.delete(key);
    return { Authorization: `Bearer ${token}` };
  }

  #where(repository: string): string {
    return `${this.settings.url}/v2/${repository}`;
  }
}

/** An upstream's answer: status, headers and the body as a Node stream (empty for HEAD). */
interface UpstreamResponse {
  readonly status: number;
  header(name: string): string | null;
  readonly body: Readable;
  /** Drops the body unread (and its connection). */
  discard(): void;
}

/** One request; fails when the response headers take longer than `timeoutMs` (the body has its own idle limit). */
function exchange(method: 'GET' | 'HEAD', target: string, headers: Record<string, string>, timeoutMs: number): Promise<UpstreamResponse> {
  return new Promise((resolve, reject) => {
    const url = new URL(target);
    const request = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, { method, headers }, (incoming) => {
      clearTimeout(timer);
      resolve({
        status: incoming.statusCode ?? 0,
        header: (name) => {
          const value = incoming.headers[name.toLowerCase()];
          return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
        },
        body: incoming,
        discard: () => incoming.destroy(),
      });
    });
    const timer = setTimeout(() => request.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    // Kept for the request's lifetime: a later error (the connection dropping mid-body) must not go unhandled; the
    // body stream reports it to its reader.
    request.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    request.end();
  });
}

function basic(credentials: { username: string; password: string }): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
}

/** `Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="…"` → its parameters. */
export function challengeParams(header: string): Map<string, string> {
  const params = new Map<string, string>();
  for (const m of header.replace(/^\s*\S+\s*/, '').matchAll(/([a-zA-Z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) {
    params.set(m[1]!.toLowerCase(), (m[2] ?? m[3] ?? '').replace(/\\(.)/g, '$1'));
  }
  return params;
}

/** Retry-After in seconds or as an HTTP date (RFC 9110 §10.2.3). */
export function retryAfterMs(header: string | null, now: number): number | null {
  if (header === null) return null;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? null : Math.max(at - now, 0);
}

function causeOf(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as { code?: string }).code ?? (err as Error).message;
}

/**
 * `stream` through a pass-through that fails with `error()` when the upstream sends nothing for `ms`. Time spent
 * waiting for a slow consumer (backpressure) does not count: only a silent upstream does.
 */
function idleLimited(stream: Readable, ms: number, error: () => Error): Readable {
  // One timer, pushed back by every chunk (refresh() is cheap; a new timer per 64 KiB chunk was not).
  const timer: NodeJS.Timeout = setTimeout(() => {
    if (out.writableNeedDrain || stream.isPaused()) timer.refresh();
    else out.destroy(error());
  }, ms);
  const out = new Transform({
    transform(chunk, _encoding, done) {
      timer.refresh();
      done(null, chunk);
    },
    flush(done) {
      clearTimeout(timer);
      done();
    },
  });
  out.once('close', () => {
    clearTimeout(timer);
    stream.destroy();
  });
  stream.once('error', (err) => out.destroy(new UpstreamError('unavailable', `the upstream connection broke off (${causeOf(err)})`, { cause: err })));
  return stream.pipe(out);
}
