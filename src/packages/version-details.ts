import type { Db } from '../db/schema.js';
import type { Digest } from '../oci/digest.js';
import { parseManifest, type Descriptor, type ParsedManifest, type Platform } from '../oci/manifest.js';
import type { RepoName } from '../oci/names.js';
import type { BlobService } from '../registry/blob-service.js';
import type { DownloadCounter } from '../registry/download-counter.js';
import { readLimited } from '../util/read-limited.js';
import type { PackageInfo } from './package-service.js';
import type { VersionInfo } from './version-service.js';

/** What a signature, attestation or SBOM attached to an image is. */
export type AttachmentKind = 'signature' | 'attestation' | 'sbom' | 'artifact';

/**
 * A manifest about another one: found through the referrers API (`subject`), cosign's tag scheme
 * (`sha256-<hex>.sig|.att|.sbom`) or, for buildx attestations, the image index itself.
 */
export interface Attachment {
  readonly digest: string;
  /** The version id of the attachment, when it is a version of this package. */
  readonly versionId: number | null;
  readonly kind: AttachmentKind;
  readonly artifactType: string | null;
  readonly via: 'referrers' | 'tag' | 'index';
}

/** What the package page's version list shows for one version. */
export interface VersionSummary {
  readonly kind: 'image' | 'index' | 'artifact';
  /** Platforms of a multi-arch index (attestation entries left out). */
  readonly platforms: Platform[];
  readonly sizeBytes: number;
  readonly downloads: number;
  /** The version this one is a signature/attestation of (its `subject`), if any. */
  readonly subjectDigest: string | null;
  /** What this version is when it is itself a signature, attestation or SBOM (by subject or artifact type). */
  readonly attachmentKind: AttachmentKind | null;
  readonly attachments: Attachment[];
  /** The multi-arch index (of this package) listing this manifest, and the platform it lists it for. */
  readonly partOf: { readonly digest: string; readonly versionId: number; readonly platform: Platform | null } | null;
}

/** A child manifest of an index, with the version it is. */
export interface ChildManifest {
  readonly descriptor: Descriptor;
  readonly versionId: number | null;
  readonly isAttestation: boolean;
}

export interface VersionDetail extends VersionSummary {
  /** The manifest exactly as pushed, and parsed. */
  readonly body: Buffer;
  readonly parsed: ParsedManifest | null;
  /** The image config's bytes when it is a JSON document of at most 1 MiB. */
  readonly config: Buffer | null;
  readonly layers: Descriptor[];
  readonly children: ChildManifest[];
  readonly subjectVersionId: number | null;
}

const MAX_CONFIG_BYTES = 1024 * 1024;
const COSIGN_TAG = /^sha256-([0-9a-f]{64})\.(sig|att|sbom)$/;

/**
 * The package pages' view of versions: platforms, sizes, downloads and attached signatures/attestations, batched
 * per page of versions (a fixed number of queries whatever the page size), and one version in full.
 */
export class VersionDetails {
  readonly #db: Db;
  readonly #blobs: BlobService;
  readonly #downloads: DownloadCounter;

  constructor(deps: { db: Db; blobs: BlobService; downloads: DownloadCounter }) {
    this.#db = deps.db;
    this.#blobs = deps.blobs;
    this.#downloads = deps.downloads;
  }

  async summarize(pkg: PackageInfo, versions: readonly VersionInfo[]): Promise<Map<number, VersionSummary>> {
    const out = new Map<number, VersionSummary>();
    if (versions.length === 0) return out;
    const ids = versions.map((v) => v.id);
    await this.#downloads.flush();
    const [rows, downloads] = await Promise.all([
      this.#db.selectFrom('manifests').select(['id', 'digest', 'mediaType', 'body', 'subjectDigest']).where('id', 'in', ids).execute(),
      this.#db.selectFrom('downloadsDaily').select(['manifestId', (eb) => eb.fn.sum('count').as('n')])
        .where('manifestId', 'in', ids).groupBy('manifestId').execute(),
    ]);
    const parsed = new Map(rows.map((r) => [Number(r.id), parse(r.body, r.mediaType)]));
    const sizes = await this.#sizes(pkg, rows.map((r) => ({ id: Number(r.id), parsed: parsed.get(Number(r.id)) ?? null })));
    const attachments = await this.#attachments(pkg, rows.map((r) => ({ digest: r.digest, parsed: parsed.get(Number(r.id)) ?? null })));
    const parents = await this.#parents(pkg, rows.map((r) => r.digest));
    const dl = new Map(downloads.map((d) => [Number(d.manifestId), Number(d.n)]));
    for (const r of rows) {
      const id = Number(r.id);
      const p = parsed.get(id) ?? null;
      const type = classify(p?.artifactType ?? r.mediaType, null);
      out.set(id, {
        kind: kindOf(p), platforms: p ? platformsOf(p) : [], sizeBytes: sizes.get(id) ?? 0, downloads: dl.get(id) ?? 0,
        subjectDigest: r.subjectDigest, attachmentKind: r.subjectDigest !== null || type !== 'artifact' ? type : null,
        attachments: attachments.get(r.digest) ?? [], partOf: parents.get(r.digest) ?? null,
      });
    }
    return out;
  }

  async detail(pkg: PackageInfo, version: VersionInfo): Promise<VersionDetail> {
    const [summary, row] = await Promise.all([
      this.summarize(pkg, [version]),
      this.#db.selectFrom('manifests').select(['body', 'mediaType', 'configDigest', 'subjectDigest']).where('id', '=', version.id).executeTakeFirstOrThrow(),
    ]);
    const parsed = parse(row.body, row.mediaType);
    const childDigests = parsed?.children.map((c) => c.digest) ?? [];
    const lookups = [...childDigests, ...(row.subjectDigest ? [row.subjectDigest] : [])];
    const ids = await this.#versionIds(pkg, lookups);
    const children = (parsed?.children ?? []).map((d) => ({ descriptor: d, versionId: ids.get(d.digest) ?? null, isAttestation: isAttestationEntry(d) }));
    return {
      ...summary.get(version.id)!,
      body: row.body,
      parsed,
      config: parsed?.config ? await this.#config(pkg, parsed.config) : null,
      layers: parsed && parsed.kind === 'image' ? parsed.blobs.filter((b) => b.digest !== parsed.config?.digest) : [],
      children,
      subjectVersionId: row.subjectDigest ? ids.get(row.subjectDigest) ?? null : null,
    };
  }

  /** The version ids (live versions of this package) of these digests. */
  async #versionIds(pkg: PackageInfo, digests: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (let i = 0; i < digests.length; i += 500) {
      const rows = await this.#db.selectFrom('manifests').select(['id', 'digest']).where('repositoryId', '=', pkg.id)
        .where('digest', 'in', digests.slice(i, i + 500)).where('deletedAt', 'is', null).execute();
      for (const r of rows) out.set(r.digest, Number(r.id));
    }
    return out;
  }

  /** For each digest, the newest live index of the package listing it (with the platform it is listed for). */
  async #parents(pkg: PackageInfo, digests: readonly string[]): Promise<Map<string, NonNullable<VersionSummary['partOf']>>> {
    const out = new Map<string, NonNullable<VersionSummary['partOf']>>();
    if (digests.length === 0) return out;
    // Two indexed steps rather than a join: joined, SQLite's planner may start from the manifests side and walk every
    // live manifest of the instance (tens of milliseconds at 10,000 versions) instead of the few references.
    const refs = await this.#db.selectFrom('manifestReferences').select(['manifestId', 'digest'])
      .where('digest', 'in', [...digests]).where('kind', '=', 'manifest').execute();
    if (refs.length === 0) return out;
    const indexes = await this.#db.selectFrom('manifests').select(['id', 'digest', 'mediaType', 'body'])
      .where('id', 'in', [...new Set(refs.map((r) => Number(r.manifestId)))]).where('repositoryId', '=', pkg.id).where('deletedAt', 'is', null)
      .orderBy('id', 'desc').execute();
    const childrenOf = new Map<number, string[]>();
    for (const r of refs) childrenOf.set(Number(r.manifestId), [...(childrenOf.get(Number(r.manifestId)) ?? []), r.digest]);
    const rows = indexes.flatMap((m) => (childrenOf.get(Number(m.id)) ?? []).map((child) => ({ child, ...m })));
    for (const r of rows) {
      if (out.has(r.child)) continue;
      const entry = parse(r.body, r.mediaType)?.children.find((c) => c.digest === r.child);
      out.set(r.child, { digest: r.digest, versionId: Number(r.id), platform: entry?.platform && !isAttestationEntry(entry) ? entry.platform : null });
    }
    return out;
  }

  /** Distinct blob bytes per version; an index counts its child manifests' blobs too. */
  async #sizes(pkg: PackageInfo, versions: { id: number; parsed: ParsedManifest | null }[]): Promise<Map<number, number>> {
    const childDigests = [...new Set(versions.flatMap((v) => v.parsed?.children.map((c) => c.digest) ?? []))];
    const childIds = await this.#versionIds(pkg, childDigests);
    const manifestIds = [...new Set([...versions.map((v) => v.id), ...childIds.values()])];
    const refs = new Map<number, string[]>();
    for (let i = 0; i < manifestIds.length; i += 500) {
      const rows = await this.#db.selectFrom('manifestReferences').select(['manifestId', 'digest'])
        .where('manifestId', 'in', manifestIds.slice(i, i + 500)).where('kind', '=', 'blob').execute();
      for (const r of rows) refs.set(Number(r.manifestId), [...(refs.get(Number(r.manifestId)) ?? []), r.digest]);
    }
    const allBlobs = [...new Set([...refs.values()].flat())];
    const blobSize = new Map<string, number>();
    for (let i = 0; i < allBlobs.length; i += 500) {
      const rows = await this.#db.selectFrom('blobs').select(['digest', 'size']).where('digest', 'in', allBlobs.slice(i, i + 500)).execute();
      for (const r of rows) blobSize.set(r.digest, Number(r.size));
    }
    const out = new Map<number, number>();
    for (const v of versions) {
      const own = [v.id, ...(v.parsed?.children.map((c) => childIds.get(c.digest)).filter((x): x is number => x !== undefined) ?? [])];
      const digests = new Set(own.flatMap((id) => refs.get(id) ?? []));
      out.set(v.id, [...digests].reduce((sum, d) => sum + (blobSize.get(d) ?? 0), 0));
    }
    return out;
  }

  /** Signatures, attestations and SBOMs of each digest, by every route Berth can see them. */
  async #attachments(pkg: PackageInfo, versions: { digest: string; parsed: ParsedManifest | null }[]): Promise<Map<string, Attachment[]>> {
    const digests = versions.map((v) => v.digest);
    const out = new Map<string, Attachment[]>();
    const add = (subject: string, a: Attachment) => {
      const list = out.get(subject) ?? [];
      if (!list.some((x) => x.digest === a.digest)) list.push(a);
      out.set(subject, list);
    };
    const cosignTags = digests.filter((d) => d.startsWith('sha256:')).flatMap((d) => ['sig', 'att', 'sbom'].map((s) => `sha256-${d.slice(7)}.${s}`));
    const [referrers, tagged] = await Promise.all([
      this.#db.selectFrom('manifests').select(['id', 'digest', 'mediaType', 'artifactType', 'subjectDigest'])
        .where('repositoryId', '=', pkg.id).where('subjectDigest', 'in', digests).where('deletedAt', 'is', null).execute(),
      cosignTags.length === 0 ? [] : this.#db.selectFrom('tags as t').innerJoin('manifests as m', 'm.id', 't.manifestId')
        .select(['t.name', 'm.id', 'm.digest', 'm.artifactType']).where('t.repositoryId', '=', pkg.id).where('t.name', 'in', cosignTags).execute(),
    ]);
    // Ordered here, not in SQL: with ORDER BY id SQLite walked the live manifests of the package (180 ms at 100,000
    // versions) instead of looking the page's digests up in `manifests_subject` (0.2 ms).
    for (const r of referrers.sort((a, b) => Number(a.id) - Number(b.id))) {
      add(r.subjectDigest!, { digest: r.digest, versionId: Number(r.id), kind: classify(r.artifactType ?? r.mediaType, null), artifactType: r.artifactType, via: 'referrers' });
    }
    for (const t of tagged) {
      const m = COSIGN_TAG.exec(t.name)!;
      add(`sha256:${m[1]}`, { digest: t.digest, versionId: Number(t.id), kind: classify(t.artifactType ?? '', m[2]!), artifactType: t.artifactType, via: 'tag' });
    }
    // buildx puts provenance/SBOM attestations into the index, pointing at the image they describe.
    const entries = versions.flatMap((v) => (v.parsed?.children ?? []).filter(isAttestationEntry));
    const ids = await this.#versionIds(pkg, entries.map((e) => e.digest));
    for (const e of entries) {
      const subject = e.annotations?.['vnd.docker.reference.digest'];
      if (subject) add(subject, { digest: e.digest, versionId: ids.get(e.digest) ?? null, kind: 'attestation', artifactType: e.artifactType ?? null, via: 'index' });
    }
    return out;
  }

  async #config(pkg: PackageInfo, config: Descriptor): Promise<Buffer | null> {
    if (config.size > MAX_CONFIG_BYTES || !/json/i.test(config.mediaType)) return null;
    try {
      const info = await this.#blobs.stat(pkg.repository as RepoName, config.digest as Digest);
      return await readLimited(await this.#blobs.open(info, null), MAX_CONFIG_BYTES);
    } catch {
      // A config not linked here or gone from storage: the page says it is not available.
      return null;
    }
  }
}

function parse(body: Buffer, mediaType: string): ParsedManifest | null {
  try {
    return parseManifest(body, mediaType);
  } catch {
    return null;
  }
}

function kindOf(p: ParsedManifest | null): VersionSummary['kind'] {
  if (!p) return 'artifact';
  if (p.kind === 'index') return 'index';
  const t = p.artifactType ?? '';
  return /image\.config|container\.image/.test(t) ? 'image' : 'artifact';
}

function isAttestationEntry(d: Descriptor): boolean {
  return d.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest';
}

function platformsOf(p: ParsedManifest): Platform[] {
  return p.children.filter((c) => c.platform && !isAttestationEntry(c) && c.platform.os !== 'unknown').map((c) => c.platform!);
}

function classify(type: string, cosignSuffix: string | null): AttachmentKind {
  if (cosignSuffix === 'sig' || /cosign\.artifact\.sig|notary\.signature|signature/i.test(type)) return 'signature';
  if (cosignSuffix === 'sbom' || /spdx|cyclonedx|sbom/i.test(type)) return 'sbom';
  if (cosignSuffix === 'att' || /in-toto|attestation|dsse/i.test(type)) return 'attestation';
  return 'artifact';
}
