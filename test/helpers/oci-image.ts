/**
 * Builds OCI image layouts (image-spec image-layout.md) on disk in pure TypeScript, so tests and the benchmark can
 * push real images with skopeo without docker. Layers are valid tar archives holding one file of random
 * (incompressible) bytes, optionally gzipped, and are written by streaming: a 256 MiB layer never sits in memory.
 */
import { createHash, randomFillSync, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER_TAR = 'application/vnd.oci.image.layer.v1.tar';
export const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
const REF_NAME = 'org.opencontainers.image.ref.name';

export interface Platform {
  readonly architecture: string;
  readonly os: string;
  readonly variant?: string;
}

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly platform?: Platform;
}

export interface LayerDescriptor extends Descriptor {
  /** sha256 of the uncompressed tar (the config's rootfs.diff_ids entry). */
  readonly diffId: string;
  /** The one file in the layer, at the root of the image filesystem (to check what a client unpacked). */
  readonly file: { readonly name: string; readonly size: number; readonly digest: string };
}

export interface LayerSpec {
  /** Bytes of random content in the layer's one file (the tar and gzip framing add a little). */
  readonly size: number;
  /**
   * Default 'gzip'. Note skopeo gzips a plain-tar layer when pushing to a registry, so only gzip layers keep their
   * digests through a push; 'none' suits tests that read the layout directly.
   */
  readonly compression?: 'gzip' | 'none';
}

export interface ImageSpec {
  /** One entry per layer: a content size in bytes, or a full spec. */
  readonly layers: readonly (number | LayerSpec)[];
  /** Default linux/amd64. */
  readonly platform?: Platform;
  /** Config `Labels` (what `docker inspect` shows). */
  readonly labels?: Readonly<Record<string, string>>;
  /** Manifest annotations, e.g. { 'org.opencontainers.image.source': 'https://…' }. */
  readonly annotations?: Readonly<Record<string, string>>;
  /**
   * zlib level for gzip layers. Default 0: random bytes do not compress anyway, and stored deflate blocks are still
   * valid gzip for every client while being about 3× faster to write than level 1.
   */
  readonly gzipLevel?: number;
}

export interface BuiltImage {
  readonly manifest: Descriptor;
  /** The manifest exactly as written (what a registry must store and serve byte-for-byte). */
  readonly manifestBytes: Buffer;
  readonly config: Descriptor;
  readonly configBytes: Buffer;
  readonly layers: readonly LayerDescriptor[];
}

export interface BuiltIndex {
  readonly index: Descriptor;
  readonly indexBytes: Buffer;
  /** The per-platform images, in index order. */
  readonly images: readonly BuiltImage[];
}

/** Digests of an image or index, comparable between what was built and what was pulled back. */
export interface ImageSummary {
  readonly mediaType: string;
  readonly digest: string;
  /** Set for an image manifest. */
  readonly config?: string;
  readonly layers?: readonly string[];
  /** Set for an index: its children, in order. */
  readonly manifests?: readonly ImageSummary[];
}

/**
 * Writes a single-platform image into the OCI layout at `dir` (created if needed) and lists it in index.json under
 * `tag`. Calling it again on the same directory adds another image; an entry with the same tag is replaced.
 */
export async function writeImageLayout(dir: string, spec: ImageSpec & { tag?: string }): Promise<BuiltImage> {
  await initLayout(dir);
  const image = await writeImage(dir, spec);
  await addToIndex(dir, image.manifest, spec.tag ?? 'latest');
  return image;
}

/**
 * Writes a multi-platform image: one image per platform (default linux/amd64 and linux/arm64, each with its own
 * random layers) and an OCI image index referencing them, listed in index.json under `tag`. Labels go into every
 * config; annotations onto the index and every manifest.
 */
export async function writeIndexLayout(
  dir: string,
  spec: Omit<ImageSpec, 'platform'> & { tag?: string; platforms?: readonly Platform[] },
): Promise<BuiltIndex> {
  await initLayout(dir);
  const platforms = spec.platforms ?? [{ architecture: 'amd64', os: 'linux' }, { architecture: 'arm64', os: 'linux' }];
  const images: BuiltImage[] = [];
  for (const platform of platforms) images.push(await writeImage(dir, { ...spec, platform }));
  // Field order as Go's image-spec structs marshal it, so a client that re-serialises produces the same bytes.
  const index = {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: images.map((img) => ({ ...img.manifest })),
    ...(spec.annotations ? { annotations: spec.annotations } : {}),
  };
  const indexBytes = Buffer.from(JSON.stringify(index));
  const descriptor = await writeJsonBlob(dir, OCI_INDEX, indexBytes);
  await addToIndex(dir, descriptor, spec.tag ?? 'latest');
  return { index: descriptor, indexBytes, images };
}

/** The summary of what was built, to compare with `summarizeLayout` of a pulled-back copy. */
export function summarize(built: BuiltImage | BuiltIndex): ImageSummary {
  if ('index' in built) {
    return { mediaType: built.index.mediaType, digest: built.index.digest, manifests: built.images.map((img) => summarize(img)) };
  }
  return { mediaType: built.manifest.mediaType, digest: built.manifest.digest, config: built.config.digest, layers: built.layers.map((l) => l.digest) };
}

/**
 * Reads an OCI layout (e.g. what `skopeo copy docker://… oci:DIR:tag` wrote) and summarises the image listed under
 * `tag` (or the only entry), following an index into its children. Fails if a referenced blob is missing.
 */
export async function summarizeLayout(dir: string, tag?: string): Promise<ImageSummary> {
  const top = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
  const entries = tag === undefined ? top.manifests : top.manifests.filter((m) => m.annotations?.[REF_NAME] === tag);
  if (entries.length !== 1) throw new Error(`${dir}/index.json has ${entries.length} entries for tag ${tag ?? '(any)'}`);
  return summarizeBlob(dir, entries[0]!);
}

/** The bytes of a blob in a layout, checked against its digest. */
export async function readLayoutBlob(dir: string, digest: string): Promise<Buffer> {
  const bytes = await readFile(blobPath(dir, digest));
  const actual = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  if (actual !== digest) throw new Error(`blob ${digest} in ${dir} has content ${actual}`);
  return bytes;
}

/** sha256 of a file, streamed (blobs can be large). */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

async function summarizeBlob(dir: string, desc: Descriptor): Promise<ImageSummary> {
  const json = JSON.parse((await readLayoutBlob(dir, desc.digest)).toString('utf8')) as {
    mediaType?: string; manifests?: Descriptor[]; config?: Descriptor; layers?: Descriptor[];
  };
  const mediaType = json.mediaType ?? desc.mediaType;
  if (json.manifests) {
    const manifests: ImageSummary[] = [];
    for (const child of json.manifests) manifests.push(await summarizeBlob(dir, child));
    return { mediaType, digest: desc.digest, manifests };
  }
  if (!json.config || !json.layers) throw new Error(`${desc.digest} in ${dir} is neither an index nor an image manifest`);
  // Touch every blob so a pull that left one out fails here.
  for (const d of [json.config, ...json.layers]) await sha256File(blobPath(dir, d.digest));
  return { mediaType, digest: desc.digest, config: json.config.digest, layers: json.layers.map((l) => l.digest) };
}

async function writeImage(dir: string, spec: ImageSpec): Promise<BuiltImage> {
  const platform = spec.platform ?? { architecture: 'amd64', os: 'linux' };
  const layers: LayerDescriptor[] = [];
  for (const [i, entry] of spec.layers.entries()) {
    const layer = typeof entry === 'number' ? { size: entry } : entry;
    layers.push(await writeLayer(dir, `layer-${i}.bin`, layer.size, layer.compression ?? 'gzip', spec.gzipLevel ?? 0));
  }
  const config = {
    created: '2024-01-01T00:00:00Z',
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: { Labels: { ...spec.labels } },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((_, i) => ({ created: '2024-01-01T00:00:00Z', created_by: `berth test layer ${i}` })),
  };
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDesc = await writeJsonBlob(dir, OCI_CONFIG, configBytes);
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: configDesc,
    layers: layers.map(({ mediaType, digest, size }) => ({ mediaType, digest, size })),
    ...(spec.annotations ? { annotations: spec.annotations } : {}),
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  const manifestDesc = { ...(await writeJsonBlob(dir, OCI_MANIFEST, manifestBytes)), platform };
  return { manifest: manifestDesc, manifestBytes, config: configDesc, configBytes, layers };
}

/** Streams tar(one file of random bytes) → [gzip] → blobs/sha256/<hex>, hashing before and after compression. */
async function writeLayer(dir: string, fileName: string, size: number, compression: 'gzip' | 'none', level: number): Promise<LayerDescriptor> {
  const tmp = join(dir, 'blobs', `.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const diff = new HashCount();
  const blob = new HashCount();
  const content = createHash('sha256');
  const source = Readable.from(tarOfRandomFile(fileName, size, content));
  if (compression === 'gzip') await pipeline(source, diff, createGzip({ level }), blob, createWriteStream(tmp));
  else await pipeline(source, diff, blob, createWriteStream(tmp));
  const digest = blob.digest();
  await rename(tmp, blobPath(dir, digest));
  return {
    mediaType: compression === 'gzip' ? OCI_LAYER_GZIP : OCI_LAYER_TAR, digest, size: blob.bytes, diffId: diff.digest(),
    file: { name: fileName, size, digest: `sha256:${content.digest('hex')}` },
  };
}

/** A ustar archive with one regular file: header, content in 1 MiB chunks, padding, two zero end blocks. */
async function* tarOfRandomFile(name: string, size: number, content: Hash): AsyncGenerator<Buffer> {
  yield tarHeader(name, size);
  const CHUNK = 1024 * 1024;
  for (let left = size; left > 0; left -= CHUNK) {
    // A fresh buffer per chunk: downstream stages may still hold the previous one.
    const chunk = randomFillSync(Buffer.allocUnsafe(Math.min(CHUNK, left)));
    content.update(chunk);
    yield chunk;
  }
  yield Buffer.alloc((512 - (size % 512)) % 512 + 1024);
}

function tarHeader(name: string, size: number): Buffer {
  if (Buffer.byteLength(name) > 100) throw new Error(`tar entry name too long: ${name}`);
  if (size >= 8 ** 11) throw new Error('tar entries over 8 GiB need base-256 sizes, not implemented');
  const h = Buffer.alloc(512);
  const field = (offset: number, length: number, value: string) => h.write(value, offset, length, 'ascii');
  const octal = (offset: number, length: number, value: number) => field(offset, length, `${value.toString(8).padStart(length - 1, '0')}\0`);
  field(0, 100, name);
  octal(100, 8, 0o644); // mode
  octal(108, 8, 0); // uid
  octal(116, 8, 0); // gid
  octal(124, 12, size);
  octal(136, 12, 1_704_067_200); // mtime 2024-01-01
  field(148, 8, '        '); // checksum is computed with its own field as spaces
  field(156, 1, '0'); // regular file
  field(257, 6, 'ustar\0');
  field(263, 2, '00');
  field(265, 32, 'root');
  field(297, 32, 'root');
  let sum = 0;
  for (const byte of h) sum += byte;
  field(148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return h;
}

/** Pass-through that hashes and counts what flows through it. */
class HashCount extends Transform {
  readonly #hash: Hash = createHash('sha256');
  bytes = 0;

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.#hash.update(chunk);
    this.bytes += chunk.length;
    done(null, chunk);
  }

  digest(): string {
    return `sha256:${this.#hash.digest('hex')}`;
  }
}

async function writeJsonBlob(dir: string, mediaType: string, bytes: Buffer): Promise<Descriptor> {
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  await writeFile(blobPath(dir, digest), bytes);
  return { mediaType, digest, size: bytes.length };
}

async function initLayout(dir: string): Promise<void> {
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
}

async function addToIndex(dir: string, descriptor: Descriptor, tag: string): Promise<void> {
  const path = join(dir, 'index.json');
  const current = await readFile(path, 'utf8').then((text) => JSON.parse(text) as { manifests: Descriptor[] }, () => ({ manifests: [] }));
  const manifests = current.manifests.filter((m) => m.annotations?.[REF_NAME] !== tag);
  manifests.push({ ...descriptor, annotations: { ...descriptor.annotations, [REF_NAME]: tag } });
  await writeFile(path, JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }));
}

function blobPath(dir: string, digest: string): string {
  const [algorithm, hex] = digest.split(':');
  return join(dir, 'blobs', algorithm!, hex!);
}
