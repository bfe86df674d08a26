import { createHash, randomFill } from 'node:crypto';
import { mkdir, open, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const randomFillAsync = promisify(randomFill);

/** Uncompressed layers: registries and skopeo then move the bytes as they are, with no gzip on either side. */
export const LAYER_MEDIA_TYPE = 'application/vnd.oci.image.layer.v1.tar';
export const MANIFEST_MEDIA_TYPE = 'application/vnd.oci.image.manifest.v1+json';
const CONFIG_MEDIA_TYPE = 'application/vnd.oci.image.config.v1+json';
const CHUNK = 1024 * 1024;

export interface BlobFile {
  readonly digest: string;
  readonly size: number;
  /** The blob inside the OCI layout, for clients that upload it directly. */
  readonly path: string;
}

export interface BenchImage {
  /** OCI image layout directory (image-layout spec: oci-layout, index.json, blobs/). */
  readonly dir: string;
  /** The `org.opencontainers.image.ref.name` of the one manifest, for `oci:DIR:TAG` references. */
  readonly tag: string;
  readonly layers: readonly BlobFile[];
  readonly manifestDigest: string;
  /** Bytes a push moves: layers + config + manifest. */
  readonly totalBytes: number;
}

/**
 * Writes an OCI layout holding one image of `layerCount` layers of random (incompressible) bytes. Each layer is
 * generated and hashed 1 MiB at a time straight into its file, so memory stays flat whatever the layer size.
 */
export async function buildRandomImage(dir: string, opts: { layerCount: number; layerBytes: number; tag: string }): Promise<BenchImage> {
  const blobDir = join(dir, 'blobs', 'sha256');
  await mkdir(blobDir, { recursive: true });
  const layers: BlobFile[] = [];
  for (let i = 0; i < opts.layerCount; i++) layers.push(await writeRandomBlob(blobDir, opts.layerBytes));

  const config = await writeJsonBlob(blobDir, {
    architecture: 'amd64',
    os: 'linux',
    config: {},
    // Raw bytes are not a real tar, but clients that copy images never unpack them; diff_ids must still match.
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
  });
  const manifest = await writeJsonBlob(blobDir, {
    schemaVersion: 2,
    mediaType: MANIFEST_MEDIA_TYPE,
    config: { mediaType: CONFIG_MEDIA_TYPE, digest: config.digest, size: config.size },
    layers: layers.map((l) => ({ mediaType: LAYER_MEDIA_TYPE, digest: l.digest, size: l.size })),
  });
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{
      mediaType: MANIFEST_MEDIA_TYPE, digest: manifest.digest, size: manifest.size,
      annotations: { 'org.opencontainers.image.ref.name': opts.tag },
    }],
  }));
  const totalBytes = layers.reduce((sum, l) => sum + l.size, 0) + config.size + manifest.size;
  return { dir, tag: opts.tag, layers, manifestDigest: manifest.digest, totalBytes };
}

async function writeRandomBlob(blobDir: string, size: number): Promise<BlobFile> {
  const tmp = join(blobDir, `.partial-${process.pid}-${Date.now()}`);
  const hash = createHash('sha256');
  const fh = await open(tmp, 'w');
  try {
    // One buffer reused: each write completes before the next fill overwrites it.
    const buf = Buffer.allocUnsafe(CHUNK);
    for (let written = 0; written < size;) {
      const n = Math.min(CHUNK, size - written);
      const chunk = buf.subarray(0, n);
      await randomFillAsync(chunk);
      hash.update(chunk);
      await fh.write(chunk);
      written += n;
    }
    // Durable before any timing starts: otherwise the kernel flushes this 1 GiB during the first push measured.
    await fh.sync();
  } finally {
    await fh.close();
  }
  const hex = hash.digest('hex');
  const path = join(blobDir, hex);
  await rename(tmp, path);
  return { digest: `sha256:${hex}`, size, path };
}

async function writeJsonBlob(blobDir: string, value: unknown): Promise<BlobFile> {
  const bytes = Buffer.from(JSON.stringify(value));
  const hex = createHash('sha256').update(bytes).digest('hex');
  const path = join(blobDir, hex);
  await writeFile(path, bytes);
  return { digest: `sha256:${hex}`, size: bytes.length, path };
}
