import { isDigest, type Digest } from './digest.js';
import { manifestInvalid } from './errors.js';
import { isForeignLayer, isImageManifestMediaType, isIndexMediaType, MediaType } from './media-types.js';

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: Digest;
  readonly size: number;
  readonly artifactType?: string;
  readonly annotations?: Record<string, string>;
  readonly platform?: Platform;
  readonly urls?: string[];
}

export interface Platform {
  readonly architecture: string;
  readonly os: string;
  readonly variant?: string;
}

/** What Berth needs to know about a pushed manifest; the bytes themselves are stored untouched. */
export interface ParsedManifest {
  readonly mediaType: string;
  readonly kind: 'image' | 'index';
  /** image-spec: `artifactType`, else (image manifests) the config media type; used by the referrers API. */
  readonly artifactType: string | null;
  readonly config: Descriptor | null;
  /** Blobs that must exist in the repository (config and distributable layers, or blob entries of an index). */
  readonly blobs: Descriptor[];
  /** Child manifests of an index. */
  readonly children: Descriptor[];
  readonly subject: Descriptor | null;
  readonly annotations: Record<string, string>;
}

/**
 * Parses and validates a manifest body (image-spec manifest.md, image-index.md; Docker schema 2). `contentType`
 * is the request's Content-Type; when the body carries `mediaType` too, they must agree.
 */
export function parseManifest(body: Buffer, contentType: string | undefined): ParsedManifest {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw manifestInvalid('body is not valid JSON');
  }
  if (!isObject(json)) throw manifestInvalid('body is not a JSON object');

  const declared = typeof json.mediaType === 'string' ? json.mediaType : undefined;
  const header = normaliseContentType(contentType);
  if (json.schemaVersion === 1 || declared === MediaType.dockerSchema1 || declared === MediaType.dockerSchema1Signed
    || header === MediaType.dockerSchema1 || header === MediaType.dockerSchema1Signed) {
    throw manifestInvalid('Docker schema 1 manifests are not supported; push with a current client (schema 2 or OCI)');
  }
  if (json.schemaVersion !== 2) throw manifestInvalid('schemaVersion must be 2');
  if (declared !== undefined && header !== undefined && isKnown(header) && declared !== header) {
    throw manifestInvalid(`Content-Type "${header}" does not match the manifest's mediaType "${declared}"`);
  }
  const mediaType = declared ?? (header && isKnown(header) ? header : guessMediaType(json));

  const subject = json.subject === undefined ? null : descriptor(json.subject, 'subject');
  const annotations = stringMap(json.annotations, 'annotations');
  const artifactType = json.artifactType === undefined ? null : str(json.artifactType, 'artifactType');

  if (isIndexMediaType(mediaType)) {
    if (!Array.isArray(json.manifests)) throw manifestInvalid('an index needs a "manifests" array');
    const entries = json.manifests.map((m, i) => descriptor(m, `manifests[${i}]`));
    // buildx registry-cache indexes list plain blobs (cache layers, cache config) next to manifests.
    const children = entries.filter((d) => isIndexMediaType(d.mediaType) || isImageManifestMediaType(d.mediaType) || !looksLikeBlob(d));
    const blobs = entries.filter((d) => !children.includes(d));
    return { mediaType, kind: 'index', artifactType, config: null, blobs, children, subject, annotations };
  }
  if (isImageManifestMediaType(mediaType)) {
    const config = descriptor(json.config, 'config');
    if (!Array.isArray(json.layers)) throw manifestInvalid('an image manifest needs a "layers" array');
    const layers = json.layers.map((l, i) => descriptor(l, `layers[${i}]`));
    const blobs = [config, ...layers.filter((l) => !isForeignLayer(l.mediaType))];
    return {
      mediaType, kind: 'image', artifactType: artifactType ?? config.mediaType, config, blobs, children: [], subject, annotations,
    };
  }
  throw manifestInvalid(`unsupported manifest media type "${mediaType.slice(0, 200)}"`);
}

function looksLikeBlob(d: Descriptor): boolean {
  return !d.mediaType.includes('manifest') && !d.mediaType.includes('index');
}

function isKnown(mediaType: string): boolean {
  return isIndexMediaType(mediaType) || isImageManifestMediaType(mediaType);
}

function guessMediaType(json: Record<string, unknown>): string {
  if (Array.isArray(json.manifests)) return MediaType.ociIndex;
  if (json.config !== undefined) return MediaType.ociManifest;
  throw manifestInvalid('cannot tell the manifest type: no mediaType, no Content-Type, no config or manifests');
}

function normaliseContentType(value: string | undefined): string | undefined {
  const v = value?.split(';')[0]?.trim().toLowerCase();
  return v ? v : undefined;
}

function descriptor(value: unknown, where: string): Descriptor {
  if (!isObject(value)) throw manifestInvalid(`${where} must be a descriptor object`);
  const mediaType = str(value.mediaType, `${where}.mediaType`);
  const digest = str(value.digest, `${where}.digest`);
  if (!isDigest(digest)) throw manifestInvalid(`${where}.digest "${digest.slice(0, 140)}" is not a valid digest`);
  const size = value.size;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw manifestInvalid(`${where}.size must be a non-negative integer`);
  }
  const out: { -readonly [K in keyof Descriptor]: Descriptor[K] } = { mediaType, digest: digest as Digest, size };
  if (value.artifactType !== undefined) out.artifactType = str(value.artifactType, `${where}.artifactType`);
  if (value.annotations !== undefined) out.annotations = stringMap(value.annotations, `${where}.annotations`);
  if (value.platform !== undefined) {
    if (!isObject(value.platform)) throw manifestInvalid(`${where}.platform must be an object`);
    const p = value.platform;
    out.platform = {
      architecture: str(p.architecture, `${where}.platform.architecture`),
      os: str(p.os, `${where}.platform.os`),
      ...(p.variant === undefined ? {} : { variant: str(p.variant, `${where}.platform.variant`) }),
    };
  }
  return out;
}

function str(value: unknown, where: string): string {
  if (typeof value !== 'string' || value.length === 0) throw manifestInvalid(`${where} must be a non-empty string`);
  if (value.includes('\u0000')) throw manifestInvalid(`${where} contains a NUL character`);
  return value;
}

function stringMap(value: unknown, where: string): Record<string, string> {
  if (value === undefined) return {};
  if (!isObject(value)) throw manifestInvalid(`${where} must be an object of strings`);
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw manifestInvalid(`${where} values must be strings`);
    if (k.includes('\u0000') || v.includes('\u0000')) throw manifestInvalid(`${where} contains a NUL character`);
  }
  return value as Record<string, string>;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
