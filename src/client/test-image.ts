/**
 * The tiny image `berth doctor` pushes: one gzip layer holding one text file, an OCI config and manifest, built in
 * memory without a Docker engine (a few hundred bytes, so buffering is fine here). Same shape as a `FROM scratch`
 * image with a `COPY`, so every client and registry accepts it.
 */
import { gzipSync } from 'node:zlib';
import { MediaType } from '../oci/media-types.js';
import { sha256 } from './registry-client.js';

export interface TestBlob {
  readonly mediaType: string;
  readonly digest: string;
  readonly bytes: Buffer;
}

export interface TestImage {
  readonly config: TestBlob;
  readonly layer: TestBlob;
  readonly manifest: TestBlob;
  /** Path of the file inside the image (what `docker create … CMD` can name). */
  readonly file: string;
}

const LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
const CONFIG = 'application/vnd.oci.image.config.v1+json';

/** Builds the image for the host's platform, so a local `docker pull` picks it without a platform warning. */
export function buildTestImage(opts: { createdAt: Date; content?: string }): TestImage {
  const file = 'berth-doctor.txt';
  const content = Buffer.from(opts.content ?? `written by berth doctor at ${opts.createdAt.toISOString()}\n`);
  const tar = tarOneFile(file, content, Math.floor(opts.createdAt.getTime() / 1000));
  const layerBytes = gzipSync(tar);
  const config = {
    created: opts.createdAt.toISOString(),
    architecture: goArch(process.arch),
    os: 'linux',
    config: { Labels: { 'org.opencontainers.image.description': 'berth doctor test image, safe to delete' } },
    rootfs: { type: 'layers', diff_ids: [sha256(tar)] },
    history: [{ created: opts.createdAt.toISOString(), created_by: 'berth doctor' }],
  };
  const configBytes = Buffer.from(JSON.stringify(config));
  const layer: TestBlob = { mediaType: LAYER_GZIP, digest: sha256(layerBytes), bytes: layerBytes };
  const cfg: TestBlob = { mediaType: CONFIG, digest: sha256(configBytes), bytes: configBytes };
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: cfg.mediaType, digest: cfg.digest, size: cfg.bytes.length },
    layers: [{ mediaType: layer.mediaType, digest: layer.digest, size: layer.bytes.length }],
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  return { config: cfg, layer, manifest: { mediaType: MediaType.ociManifest, digest: sha256(manifestBytes), bytes: manifestBytes }, file: `/${file}` };
}

/** A POSIX ustar archive with one regular file (header, data padded to 512, two zero blocks). */
function tarOneFile(name: string, content: Buffer, mtime: number): Buffer {
  const header = Buffer.alloc(512);
  const put = (text: string, offset: number, length: number): void => void header.write(text, offset, length, 'ascii');
  const octal = (n: number, length: number): string => n.toString(8).padStart(length - 1, '0') + '\0';
  put(name, 0, 100);
  put(octal(0o644, 8), 100, 8);
  put(octal(0, 8), 108, 8);
  put(octal(0, 8), 116, 8);
  put(octal(content.length, 12), 124, 12);
  put(octal(mtime, 12), 136, 12);
  put('        ', 148, 8); // checksum is computed with its own field as spaces
  put('0', 156, 1);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  let sum = 0;
  for (const byte of header) sum += byte;
  put(octal(sum, 7) + ' ', 148, 8);
  const padding = (512 - (content.length % 512)) % 512;
  return Buffer.concat([header, content, Buffer.alloc(padding), Buffer.alloc(1024)]);
}

function goArch(arch: string): string {
  return ({ x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' } as Record<string, string>)[arch] ?? arch;
}
