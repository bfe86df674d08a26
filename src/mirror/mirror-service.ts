import { PassThrough, Transform, type Readable } from 'node:stream';
import type { ChangeFeed } from '../db/change-feed.js';
import type { Db } from '../db/schema.js';
import { transaction } from '../db/transaction.js';
import type { Digest } from '../oci/digest.js';
import { blobUnknown, manifestUnknown, upstreamDenied, upstreamInvalid, upstreamUnavailable } from '../oci/errors.js';
import { isRepoName, type MirrorReaders, type Reference, type RepoName } from '../oci/names.js';
import type { Logger } from '../observability/logger.js';
import type { ManifestHead, StoredManifest } from '../registry/manifest-service.js';
import type { Registry } from '../registry/registry.js';
import { countArrivedBlob } from '../registry/storage-usage.js';
import type { Clock } from '../util/clock.js';
import { isBerthError, type BerthError } from '../util/errors.js';
import type { ClusterFlight, FetchClaim } from './cluster-flight.js';
import { SingleFlight } from './single-flight.js';
import { UpstreamClient, UpstreamError, type UpstreamSettings } from './upstream-client.js';
import type { MirrorUpstream, UpstreamStore } from './upstream-store.js';

/** The mirror slice of the configuration (config `mirror`); the upstreams come from an UpstreamStore. */
export interface MirrorSettings {
  readonly tagTtlMs: number;
  readonly timeoutMs: number;
}

/** A /v2 repository name served by a mirror. */
export interface MirrorRoute {
  readonly upstream: UpstreamClient;
  /** Where the cache keeps it: `dockerhub/library/alpine`, a repository of the mirror's namespace. */
  readonly local: RepoName;
  /** What the upstream calls it: `library/alpine`. */
  readonly remote: string;
}

/** What a blob request through a mirror comes to: already cached (serve `route.local` as usual), or streamed. */
export type MirrorBlob =
  | { readonly kind: 'cached' }
  | { readonly kind: 'upstream'; readonly size: number | null; readonly body: Readable };

/** What the mirror pages and `GET /api/v3/berth/mirrors` show of an upstream: never its credentials. */
export interface UpstreamSummary {
  readonly namespace: string;
  readonly url: string;
  readonly isDefault: boolean;
  /** `anonymous`, or the user name Berth signs in with. */
  readonly auth: string;
  /** Who may pull through it. */
  readonly access: MirrorReaders;
  readonly evictAfterMs: number | null;
  /** Defined by the configuration, or added by an admin (and removable by one). */
  readonly source: 'config' | 'admin';
}

/** Requests answered per result since this process started (the metric berth_mirror_requests_total, summed). */
export type MirrorCounts = Record<MirrorResult, number>;

const RESULTS: readonly MirrorResult[] = ['hit', 'miss', 'revalidated', 'stale', 'not_found', 'error'];
/**
 * A cache hit records its pull (mirror_pulls, for evictAfter and the last-pull column) at most this often per
 * version and process: a write per pull would serialise SQLite's writers. A fetch or revalidation always records.
 */
const PULL_RECORD_MS = 60_000;
/** Versions whose last recorded pull this process remembers, at most (then it forgets them all). */
const PULL_MEMORY = 10_000;
const DOCKER_HUB_HOSTS = new Set(['registry-1.docker.io', 'index.docker.io', 'docker.io', 'registry.hub.docker.com']);
/** When the upstream gave no Retry-After, clients are asked to come back after this. */
const RETRY_SECONDS = 5;
/**
 * Bytes each branch of a blob being fetched holds (to the store, to the client): at most 2 MiB per blob in flight,
 * and single flight makes that one per distinct blob.
 */
const BRANCH_BUFFER_BYTES = 1024 * 1024;
/** While the change feed is down, the upstreams are read again this often. */
const UPSTREAMS_REREAD_MS = 5_000;

/** The upstreams as last read: by namespace, and the default mirror's. */
interface Upstreams {
  readonly list: readonly MirrorUpstream[];
  readonly byNamespace: ReadonlyMap<string, UpstreamClient>;
  readonly fallback: UpstreamClient | null;
}

/**
 * Pull-through caches of other registries (issue 17). Each upstream owns a namespace of this registry: a pull of
 * `dockerhub/library/alpine:3.20` is answered from the cache when it can be, else fetched from the upstream's
 * `library/alpine:3.20`, stored like a push (same tables, same blob store, same verification) and served. The
 * upstream marked default also serves Docker's `registry-mirrors` mode, which asks for `library/alpine` itself.
 *
 * - Manifests by digest never change: once cached they are never asked for again.
 * - Tags are confirmed with a HEAD (which Docker Hub does not count as a pull) once `tagTtl` has passed since the
 *   last confirmation, and fetched again only when the upstream moved them.
 * - Stale-if-error: when the upstream is down, slow or throttling us, what is cached is served as it is; only what
 *   is not cached fails, with UNAVAILABLE saying so.
 * - A blob streams to its first client while it is written through the upload path (UploadService: hashed,
 *   verified against its digest, committed, then linked), and the client's last bytes are held back until that
 *   commit: a client never completes a blob the cache refused, and an upstream dying mid-blob leaves nothing.
 * - Single flight: concurrent first pulls of one manifest or blob in this process make one upstream request; the
 *   others wait for it and are served from the cache. With `cluster` (replicas on PostgreSQL) a lease in the
 *   database extends that to all replicas: one fetches, the others wait and serve its copy (cluster-flight.ts).
 */
/** How a request through the cache was answered (metrics: berth_mirror_requests_total). */
export type MirrorResult = 'hit' | 'miss' | 'revalidated' | 'stale' | 'not_found' | 'error';
export type MirrorObserver = (upstream: string, kind: 'manifest' | 'blob', result: MirrorResult) => void;
/** Where the bytes of a blob sent through a mirror came from: the cache (the upstream was spared them) or the upstream. */
export type MirrorBytesSource = 'cache' | 'upstream';
export type MirrorBytesObserver = (upstream: string, source: MirrorBytesSource, bytes: number) => void;

export class MirrorService {
  readonly #db: Db;
  readonly #registry: Registry;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #settings: MirrorSettings;
  readonly #manifestMaxBytes: number;
  readonly #store: UpstreamStore;
  readonly #changes: ChangeFeed;
  #upstreams: Upstreams = { list: [], byNamespace: new Map(), fallback: null };
  /** The change feed's version when the upstreams were read (undefined: never; null: the feed was down). */
  #seen: number | null | undefined = undefined;
  #readAt = 0;
  #reading: Promise<Upstreams> | null = null;
  readonly #flights = new SingleFlight();
  readonly #cluster: ClusterFlight | null;
  readonly #observe: MirrorObserver;
  readonly #counts = new Map<string, MirrorCounts>();
  readonly #bytes = new Map<string, Record<MirrorBytesSource, number>>();
  readonly #onBytes: MirrorBytesObserver;
  /** Manifest id → when this process last recorded its pull. */
  readonly #recorded = new Map<number, number>();

  constructor(deps: {
    db: Db; registry: Registry; clock: Clock; log: Logger; settings: MirrorSettings; upstreams: UpstreamStore; changes: ChangeFeed;
    manifestMaxBytes: number; onResult?: MirrorObserver; onBytes?: MirrorBytesObserver; cluster?: ClusterFlight;
  }) {
    this.#cluster = deps.cluster ?? null;
    this.#onBytes = deps.onBytes ?? (() => {});
    const onResult = deps.onResult ?? (() => {});
    this.#observe = (upstream, kind, result) => {
      const counts = this.#counts.get(upstream);
      if (counts) counts[result]++;
      onResult(upstream, kind, result);
    };
    this.#db = deps.db;
    this.#registry = deps.registry;
    this.#clock = deps.clock;
    this.#log = deps.log;
    this.#settings = deps.settings;
    this.#store = deps.upstreams;
    this.#changes = deps.changes;
    this.#manifestMaxBytes = deps.manifestMaxBytes;
  }

  /**
   * The upstreams, read again once the change feed moved (an admin added or removed one, here or on another
   * replica, or with the CLI; any other change moves it too, and costs one small read), or every
   * UPSTREAMS_REREAD_MS while the feed is down. A client whose settings did not change is kept, with its tokens and
   * its backoff.
   */
  async #current(): Promise<Upstreams> {
    const version = this.#changes.version();
    const fresh = version === null ? this.#clock.now() - this.#readAt < UPSTREAMS_REREAD_MS : version === this.#seen;
    if (fresh) return this.#upstreams;
    this.#reading ??= this.#read(version).finally(() => { this.#reading = null; });
    return this.#reading;
  }

  async #read(version: number | null): Promise<Upstreams> {
    const list = await this.#store.list();
    const byNamespace = new Map<string, UpstreamClient>();
    let fallback: UpstreamClient | null = null;
    for (const u of list) {
      const old = this.#upstreams.byNamespace.get(u.namespace);
      const client = old && sameSettings(old.settings, u) ? old : new UpstreamClient(u, { clock: this.#clock, timeoutMs: this.#settings.timeoutMs });
      byNamespace.set(u.namespace, client);
      if (u.isDefault) fallback = client;
      if (!this.#counts.has(u.namespace)) this.#counts.set(u.namespace, Object.fromEntries(RESULTS.map((r) => [r, 0])) as MirrorCounts);
    }
    this.#upstreams = { list, byNamespace, fallback };
    this.#seen = version;
    this.#readAt = this.#clock.now();
    return this.#upstreams;
  }

  /** Who may pull through the mirror serving `name`, null when none does; for the policy (auth/mirror-access.ts). */
  readonly readersOf = async (name: string): Promise<MirrorReaders | null> =>
    (isRepoName(name) ? (await this.route(name as RepoName))?.upstream.settings.access ?? null : null);

  /**
   * The mirror serving `name`, or null for the registry's own repositories. `NS/…` belongs to the upstream of
   * namespace NS; with a default mirror, a name whose first component is neither a mirror namespace, an account nor
   * an existing repository (Docker's `registry-mirrors` asks for `library/alpine`) belongs to the default upstream.
   */
  async route(name: RepoName): Promise<MirrorRoute | null> {
    const { byNamespace, fallback } = await this.#current();
    const slash = name.indexOf('/');
    const first = slash < 0 ? name : name.slice(0, slash);
    const upstream = byNamespace.get(first);
    if (upstream && slash > 0) return { upstream, local: name, remote: remoteName(upstream, name.slice(slash + 1)) };
    if (!fallback || upstream) return null;
    const local = `${fallback.settings.namespace}/${name}`;
    if (!isRepoName(local)) return null;
    const [account, repository] = await Promise.all([
      this.#db.selectFrom('accounts').select('id').where('lowerLogin', '=', first).executeTakeFirst(),
      this.#db.selectFrom('repositories').select('id').where('name', '=', name).executeTakeFirst(),
    ]);
    if (account || repository) return null;
    return { upstream: fallback, local: local as RepoName, remote: remoteName(fallback, name) };
  }

  /** The upstreams in namespace order. */
  async upstreams(): Promise<UpstreamSummary[]> {
    return (await this.#current()).list.map((u) => ({
      namespace: u.namespace, url: u.url, isDefault: u.isDefault, auth: u.credentials ? u.credentials.username : 'anonymous', evictAfterMs: u.evictAfterMs,
      access: u.access, source: u.source,
    }));
  }

  /** Manifest and blob requests through the namespace's cache since this process started, by result. */
  counts(namespace: string): MirrorCounts | null {
    const counts = this.#counts.get(namespace);
    return counts ? { ...counts } : null;
  }

  /** Blob bytes sent to clients through the route's mirror, from the cache or from the upstream (the metrics, /admin/mirrors). */
  sent(route: MirrorRoute, source: MirrorBytesSource, bytes: number): void {
    const namespace = route.upstream.settings.namespace;
    let sent = this.#bytes.get(namespace);
    if (!sent) this.#bytes.set(namespace, sent = { cache: 0, upstream: 0 });
    sent[source] += bytes;
    this.#onBytes(namespace, source, bytes);
  }

  /** Blob bytes sent through the namespace's mirror since this process started, by where they came from. */
  bytesSent(namespace: string): Record<MirrorBytesSource, number> {
    return { ...(this.#bytes.get(namespace) ?? { cache: 0, upstream: 0 }) };
  }

  /** What the upstream calls a cached repository (`dockerhub/alpine` → `library/alpine`), null for other names. */
  remoteOf(local: string): string | null {
    const slash = local.indexOf('/');
    const upstream = slash > 0 ? this.#upstreams.byNamespace.get(local.slice(0, slash)) : undefined;
    return upstream ? remoteName(upstream, local.slice(slash + 1)) : null;
  }

  /** The namespace's upstream, for messages (a push refused). */
  upstreamOf(route: MirrorRoute): { namespace: string; url: string } {
    return { namespace: route.upstream.settings.namespace, url: route.upstream.settings.url };
  }

  /** A manifest through the cache; `accept` is the client's Accept list. */
  async manifest(route: MirrorRoute, reference: Reference, accept: readonly string[], withBody: boolean): Promise<ManifestHead | StoredManifest> {
    const note = (result: MirrorResult): void => this.#observe(route.upstream.settings.namespace, 'manifest', result);
    const read = (): Promise<ManifestHead | StoredManifest> =>
      withBody ? this.#registry.manifests.get(route.local, reference, true) : this.#registry.manifests.get(route.local, reference, false);
    const cached = await orNull(read());
    const key = `manifest ${route.local}@${reference.kind === 'tag' ? reference.tag : reference.digest}`;
    if (cached && reference.kind === 'digest') {
      note('hit');
      await this.#recordPull(cached, false);
      return cached;
    }
    if (cached && reference.kind === 'tag') {
      if (this.#clock.now() - (await this.#checkedAt(route.local, reference.tag)) < this.#settings.tagTtlMs) {
        note('hit');
        await this.#recordPull(cached, false);
        return cached;
      }
      try {
        await this.#flights.run(key, () => this.#revalidate(route, reference.tag, cached.digest, accept));
      } catch (err) {
        if (!(err instanceof UpstreamError) || err.kind === 'not-found' || err.kind === 'invalid') throw this.#failed(err, route, reference, 'manifest');
        // Stale-if-error: the upstream cannot be asked; what we have is what the tag last was.
        this.#log.warn({ upstream: route.upstream.settings.url, repository: route.remote, tag: reference.tag, reason: err.message },
          'upstream unavailable: serving the cached tag without revalidation');
        note('stale');
        await this.#recordPull(cached, false);
        return cached;
      }
      note('revalidated');
      return this.#pulled(read());
    }
    try {
      // Looked for again inside the flight: a fetch that finished since our look above needs no second one.
      await this.#flights.run(key, async () => {
        const isCached = async (): Promise<boolean> => (await orNull(this.#registry.manifests.get(route.local, reference, false))) !== null;
        if (await isCached()) return;
        const claim = this.#cluster ? await this.#cluster.claim(key, isCached) : null;
        if (this.#cluster && claim === null) return;
        try {
          await this.#fetchManifest(route, reference, accept);
        } finally {
          await claim?.release();
        }
      });
    } catch (err) {
      throw this.#failed(err, route, reference, 'manifest');
    }
    note('miss');
    return this.#pulled(read());
  }

  async #pulled<T extends ManifestHead>(read: Promise<T>): Promise<T> {
    const manifest = await read;
    await this.#recordPull(manifest, true);
    return manifest;
  }

  /**
   * Notes that a cached version was pulled now (mirror_pulls): what evictAfter and the last-pull columns go by.
   * Best effort: a pull is never refused because its bookkeeping failed.
   */
  async #recordPull(version: ManifestHead, always: boolean): Promise<void> {
    const now = this.#clock.now();
    if (!always && now - (this.#recorded.get(version.id) ?? -Infinity) < PULL_RECORD_MS) return;
    if (this.#recorded.size >= PULL_MEMORY) this.#recorded.clear();
    this.#recorded.set(version.id, now);
    try {
      await this.#db.insertInto('mirrorPulls').values({ manifestId: version.id, pulledAt: now })
        .onConflict((oc) => oc.column('manifestId').doUpdateSet({ pulledAt: now })).execute();
    } catch (err) {
      this.#log.warn({ err, digest: version.digest }, 'could not record a pull through the mirror');
    }
  }

  /** A blob through the cache: `cached` once it is (or was just) stored in `route.local`, else its upstream stream. */
  async blob(route: MirrorRoute, digest: Digest, method: 'GET' | 'HEAD'): Promise<MirrorBlob> {
    const key = `blob ${route.local}@${digest}`;
    for (let attempt = 0; ; attempt++) {
      const running = this.#flights.current(key);
      // Someone is fetching it: wait, then serve it from the cache. Should their fetch fail, one more try of our own.
      if (running && attempt < 2) {
        await running;
        continue;
      }
      try {
        if (await this.#cachedBlob(route, digest)) {
          this.#observe(route.upstream.settings.namespace, 'blob', 'hit');
          return { kind: 'cached' };
        }
        if (method === 'HEAD') {
          const head = await route.upstream.blob(route.remote, digest, 'HEAD');
          this.#observe(route.upstream.settings.namespace, 'blob', 'miss');
          return { kind: 'upstream', size: head.size, body: head.body };
        }
        // A fetch started while we looked in the cache: join it. The check and the claim below are one synchronous
        // step, so two requests can never both become the fetcher.
        if (this.#flights.current(key) && attempt < 2) continue;
        const fetched = await this.#streamAndStore(route, digest, key);
        // Cached after all when another replica fetched it while we waited for its lease.
        this.#observe(route.upstream.settings.namespace, 'blob', fetched.kind === 'cached' ? 'hit' : 'miss');
        return fetched;
      } catch (err) {
        throw this.#failed(err, route, { kind: 'digest', digest }, 'blob');
      }
    }
  }

  /**
   * Fetches the blob and tees it: one branch into an upload of `route.local` (verified and committed by
   * UploadService), the other to the client, whose final chunk waits until UploadService found the digest right.
   */
  async #streamAndStore(route: MirrorRoute, digest: Digest, key: string): Promise<MirrorBlob> {
    // Claimed before the first await: from here on others wait for this fetch (see blob()).
    let settle!: (outcome: Promise<unknown>) => void;
    this.#flights.track(key, new Promise<unknown>((resolve) => { settle = resolve; }).then((outcome) => outcome));
    let size: number | null;
    let body: Readable;
    let claim: FetchClaim | null = null;
    try {
      // Another replica may be fetching it: then wait for its copy (cluster-flight.ts).
      if (this.#cluster) {
        claim = await this.#cluster.claim(key, () => this.#cachedBlob(route, digest));
        if (claim === null) {
          settle(Promise.resolve());
          return { kind: 'cached' };
        }
      }
      ({ size, body } = await route.upstream.blob(route.remote, digest));
    } catch (err) {
      await claim?.release();
      settle(Promise.reject(err));
      throw err;
    }
    // 1 MiB between the branches instead of 16 KiB: the upstream socket keeps being read while a disk write or a
    // client write is in flight, instead of pausing on every chunk (first pull 1.05 → 0.90 s for 134 MB on loopback).
    const toStore = new PassThrough({ highWaterMark: BRANCH_BUFFER_BYTES });
    // An upstream that breaks off may do so before UploadService, a few database round trips away, listens on this
    // branch: it sees the error then (stream.finished on a failed stream), and an 'error' nobody heard yet must not
    // be an uncaught exception that ends the process (test/mirror/hostile-upstream.test.ts).
    toStore.on('error', () => {});
    let committed!: Promise<unknown>;
    // The client's last chunk waits until the whole blob matched its digest (not for the bytes to be made durable
    // and committed: the client has what it asked for either way), or gets the error that it did not.
    let verified!: () => void;
    const matched = new Promise<void>((resolve) => { verified = resolve; });
    const toClient = holdLastChunk(() => Promise.race([matched, committed]));
    body.on('error', (err) => {
      toStore.destroy(err);
      // As the client's error: a 503 saying the upstream broke off, when it comes before the first byte was sent.
      const failure = this.#failure(err, route, { kind: 'digest', digest }, 'blob');
      toClient.destroy(failure instanceof Error ? failure : err);
    });
    // pipe(): the slower branch sets the pace; a client that goes away unpipes its branch and the store goes on.
    body.pipe(toStore);
    body.pipe(toClient);
    committed = this.#registry.uploads.putMonolithic(route.local, digest, toStore, null, verified)
      .then(async () => this.#countArrived(route.local, digest));
    const held = claim;
    void committed.then(() => held?.release(), () => held?.release());
    committed.catch((err: unknown) => {
      this.#log.warn({ err, upstream: route.upstream.settings.url, repository: route.remote, digest }, 'blob from the upstream not cached');
      toClient.destroy(err instanceof Error ? err : new Error(String(err)));
      body.destroy();
    });
    settle(committed);
    return { kind: 'upstream', size, body: toClient };
  }

  /**
   * Linked in the cache's repository already, or made so: a cached manifest there references it, we hold its bytes
   * (cached through another repository), and the upstream confirms with a HEAD that this repository has it. The
   * HEAD matters: anyone can publish a manifest upstream naming any digest, and a link must never expose bytes that
   * only a private package of this registry holds.
   */
  async #cachedBlob(route: MirrorRoute, digest: Digest): Promise<boolean> {
    if (await orNull(this.#registry.blobs.stat(route.local, digest))) return true;
    const referenced = await this.#db.selectFrom('manifestReferences as mr')
      .innerJoin('manifests as m', 'm.id', 'mr.manifestId')
      .innerJoin('repositories as r', 'r.id', 'm.repositoryId')
      .innerJoin('blobs as b', 'b.digest', 'mr.digest')
      .select('r.id')
      .where('r.name', '=', route.local).where('mr.digest', '=', digest).where('b.quarantinedAt', 'is', null)
      .executeTakeFirst();
    if (!referenced) return false;
    await route.upstream.blob(route.remote, digest, 'HEAD');
    await this.#registry.blobs.link(referenced.id, digest);
    await transaction(this.#db, (tx) => countArrivedBlob(tx, referenced.id, digest));
    return true;
  }

  /** The storage figure counts a cached layer once its bytes are here (registry/storage-usage.ts). */
  async #countArrived(local: RepoName, digest: Digest): Promise<void> {
    const repo = await this.#db.selectFrom('repositories').select('id').where('name', '=', local).executeTakeFirst();
    if (!repo) return;
    // The blob is committed and served either way; a figure left behind is put right by `berth usage recompute`.
    await transaction(this.#db, (tx) => countArrivedBlob(tx, repo.id, digest))
      .catch((err: unknown) => this.#log.warn({ err, repository: local, digest }, 'cached blob not counted in the storage figure'));
  }

  async #revalidate(route: MirrorRoute, tag: string, cachedDigest: Digest, accept: readonly string[]): Promise<void> {
    const head = await route.upstream.manifest(route.remote, tag, accept, 'HEAD', this.#manifestMaxBytes);
    if (head === null) throw new UpstreamError('not-found', `${route.upstream.settings.url} has no tag ${tag} in ${route.remote}`);
    if (head.digest === cachedDigest) {
      await this.#touchTag(route.local, tag);
      return;
    }
    await this.#fetchManifest(route, { kind: 'tag', tag: tag as never }, accept);
  }

  async #fetchManifest(route: MirrorRoute, reference: Reference, accept: readonly string[]): Promise<void> {
    const ref = reference.kind === 'tag' ? reference.tag : reference.digest;
    const got = await route.upstream.manifest(route.remote, ref, accept, 'GET', this.#manifestMaxBytes);
    if (got === null || got.body === null) throw new UpstreamError('not-found', `${route.upstream.settings.url} has no manifest ${ref} in ${route.remote}`);
    await this.#registry.manifests.put(route.local, reference, got.body, got.mediaType || undefined, null, { fromUpstream: true });
    if (reference.kind === 'tag') await this.#touchTag(route.local, reference.tag);
  }

  async #checkedAt(local: RepoName, tag: string): Promise<number> {
    const row = await this.#db.selectFrom('mirrorTags as mt').innerJoin('repositories as r', 'r.id', 'mt.repositoryId')
      .select('mt.checkedAt').where('r.name', '=', local).where('mt.name', '=', tag).executeTakeFirst();
    return row?.checkedAt ?? 0;
  }

  async #touchTag(local: RepoName, tag: string): Promise<void> {
    const repo = await this.#registry.repos.get(local);
    const now = this.#clock.now();
    await this.#db.insertInto('mirrorTags').values({ repositoryId: repo.id, name: tag, checkedAt: now })
      .onConflict((oc) => oc.columns(['repositoryId', 'name']).doUpdateSet({ checkedAt: now })).execute();
  }

  /** An upstream failure as the client sees it. */
  /** The client's error for a failed fetch, counted as the upstream not having it or as an error. */
  #failed(err: unknown, route: MirrorRoute, reference: Reference, kind: 'manifest' | 'blob'): unknown {
    this.#observe(route.upstream.settings.namespace, kind, err instanceof UpstreamError && err.kind === 'not-found' ? 'not_found' : 'error');
    return this.#failure(err, route, reference, kind);
  }

  #failure(err: unknown, route: MirrorRoute, reference: Reference, what: 'manifest' | 'blob'): BerthError | unknown {
    if (!(err instanceof UpstreamError)) return err;
    const ref = reference.kind === 'tag' ? reference.tag : reference.digest;
    switch (err.kind) {
      case 'not-found':
        return what === 'blob' ? blobUnknown(ref) : manifestUnknown(ref);
      case 'denied':
        return upstreamDenied(route.local, err.message);
      case 'invalid':
        return upstreamInvalid(err.message);
      case 'unavailable':
      case 'throttled':
        return upstreamUnavailable(`${route.local}${reference.kind === 'tag' ? ':' : '@'}${ref}`, route.upstream.settings.url, err.message,
          err.retryAfterMs === null ? RETRY_SECONDS : Math.max(1, Math.ceil(err.retryAfterMs / 1000)));
    }
  }
}

/** Docker Hub keeps official images under `library/`: `dockerhub/alpine` is its `library/alpine`, as docker does. */
function remoteName(upstream: UpstreamClient, rest: string): string {
  return !rest.includes('/') && DOCKER_HUB_HOSTS.has(new URL(upstream.settings.url).hostname) ? `library/${rest}` : rest;
}

/** Whether a client made with `a` would talk to the upstream `b` describes in the same way. */
function sameSettings(a: UpstreamSettings, b: UpstreamSettings): boolean {
  return a.url === b.url && a.isDefault === b.isDefault && a.evictAfterMs === b.evictAfterMs && a.access === b.access
    && a.credentials?.username === b.credentials?.username && a.credentials?.password === b.credentials?.password;
}

/** The value, or null when it failed with NAME_UNKNOWN / MANIFEST_UNKNOWN / BLOB_UNKNOWN (not cached). */
async function orNull<T>(p: Promise<T>): Promise<T | null> {
  try {
    return await p;
  } catch (err) {
    if (isBerthError(err) && ['NAME_UNKNOWN', 'MANIFEST_UNKNOWN', 'BLOB_UNKNOWN'].includes(err.code)) return null;
    throw err;
  }
}

/**
 * Passes chunks on one behind, and the last only once `ready()` resolves (the blob is verified and committed); if
 * it rejects, the stream fails instead and the client never receives a complete body.
 */
function holdLastChunk(ready: () => Promise<unknown>): Transform {
  let held: Buffer | null = null;
  return new Transform({
    highWaterMark: BRANCH_BUFFER_BYTES,
    transform(chunk: Buffer, _encoding, done) {
      const previous = held;
      held = chunk;
      done(null, previous ?? undefined);
    },
    flush(done) {
      ready().then(() => done(null, held ?? undefined), (err: unknown) => done(err instanceof Error ? err : new Error(String(err))));
    },
  });
}
