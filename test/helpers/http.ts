import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';

/** `sha256:<hex>` of the bytes. */

/**
 * Credentials added to every request these helpers make (and to `registryFetch`), so the /v2 tests speak to an
 * access-controlled Berth the way curl does: `Authorization: Basic user:token`. Set once per file in `before`.
 */
let defaultAuthorization: string | null = null;

export function useAuthorization(value: string | null): void {
  defaultAuthorization = value;
}

/** fetch with the default credentials, unless the request sets its own Authorization. */
export function registryFetch(input: string | URL, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (defaultAuthorization !== null && !headers.has('authorization')) headers.set('authorization', defaultAuthorization);
  return fetch(input, { ...init, headers });
}

export function sha256(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** `sha512:<hex>` of the bytes. */
export function sha512(bytes: Buffer | string): string {
  return `sha512:${createHash('sha512').update(bytes).digest('hex')}`;
}

export interface OciErrorEntry {
  readonly code: string;
  readonly message: string;
  readonly detail?: unknown;
}

/** The error codes of the distribution spec v1.1 ("Error Codes"). */
export const OCI_ERROR_CODES: readonly string[] = [
  'BLOB_UNKNOWN', 'BLOB_UPLOAD_INVALID', 'BLOB_UPLOAD_UNKNOWN', 'DIGEST_INVALID', 'MANIFEST_BLOB_UNKNOWN',
  'MANIFEST_INVALID', 'MANIFEST_UNKNOWN', 'NAME_INVALID', 'NAME_UNKNOWN', 'SIZE_INVALID', 'UNAUTHORIZED', 'DENIED',
  'UNSUPPORTED', 'TOOMANYREQUESTS',
];

/**
 * Asserts a spec error response: the status, a JSON body `{"errors":[{code,message,detail?}]}` whose first entry
 * has `code` (any code when `code` is null), and the registry's API version header. Returns the first entry.
 */
export async function assertOciError(res: Response, status: number, code: string | null): Promise<OciErrorEntry> {
  const text = await res.text();
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${text}`);
  return checkErrorBody(text, res.headers.get('content-type'), code);
}

/** The same check for a raw node:http response (see rawRequest). */
export function assertRawOciError(res: RawResponse, status: number, code: string | null): OciErrorEntry {
  const text = res.body.toString('utf8');
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${text}`);
  return checkErrorBody(text, headerValue(res.headers, 'content-type'), code);
}

function checkErrorBody(text: string, contentType: string | null, code: string | null): OciErrorEntry {
  assert.match(contentType ?? '', /^application\/json/, `error Content-Type: ${contentType}`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    assert.fail(`error body is not JSON: ${text.slice(0, 200)}`);
  }
  assert.ok(isRecord(body) && Array.isArray(body.errors) && body.errors.length > 0, `not an OCI error body: ${text.slice(0, 200)}`);
  const first: unknown = body.errors[0];
  assert.ok(isRecord(first), `errors[0] is not an object: ${text.slice(0, 200)}`);
  assert.equal(typeof first.code, 'string', 'errors[0].code is a string');
  assert.equal(typeof first.message, 'string', 'errors[0].message is a string');
  // Spec "Error Codes": the code MUST be one of the listed ones, whatever the situation.
  assert.ok(OCI_ERROR_CODES.includes(first.code as string), `"${String(first.code)}" is not an OCI error code`);
  if (code !== null) assert.equal(first.code, code, `error code in ${text.slice(0, 300)}`);
  // Nothing internal leaks into messages.
  assert.doesNotMatch(text, /\bat [\w.<>]+ \(|SQLITE|\/tmp\/|node_modules/, 'no stack, SQL or path in the error body');
  return first as unknown as OciErrorEntry;
}

/** Monolithic blob push (`POST /v2/<name>/blobs/uploads/?digest=`); asserts 201 and returns the digest. */
export async function pushBlob(url: string, name: string, bytes: Buffer | string, digest: string = sha256(bytes)): Promise<string> {
  const res = await registryFetch(`${url}/v2/${name}/blobs/uploads/?digest=${digest}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/octet-stream' },
    body: bytes,
  });
  const text = await res.text();
  assert.equal(res.status, 201, `push blob ${digest} to ${name}: ${res.status} ${text}`);
  assert.equal(res.headers.get('docker-content-digest'), digest);
  return digest;
}

export interface PushedManifest {
  readonly digest: string;
  readonly bytes: Buffer;
  readonly response: Response;
}

/**
 * `PUT /v2/<name>/manifests/<reference>`; asserts 201 and the digest header. `body` is sent byte for byte
 * (objects are JSON.stringify'd).
 */
export async function pushManifest(
  url: string, name: string, reference: string, body: string | Buffer | object, mediaType: string,
): Promise<PushedManifest> {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  const res = await registryFetch(`${url}/v2/${name}/manifests/${reference}`, { method: 'PUT', headers: { 'Content-Type': mediaType }, body: bytes });
  const text = await res.text();
  assert.equal(res.status, 201, `push manifest ${name}:${reference}: ${res.status} ${text}`);
  const digest = sha256(bytes);
  if (!reference.startsWith('sha512:')) assert.equal(res.headers.get('docker-content-digest'), digest);
  return { digest, bytes, response: res };
}

export const MEDIA = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string; variant?: string };
}

export interface PushedImage {
  readonly config: Descriptor;
  readonly layers: Descriptor[];
  /** The manifest object (pushed as JSON.stringify of it). */
  readonly manifest: Record<string, unknown>;
  readonly bytes: Buffer;
  readonly digest: string;
  /** Descriptor of the manifest, for indexes and subjects. */
  readonly descriptor: Descriptor;
}

/**
 * Pushes a small OCI image (config + one layer, contents made unique by `seed`) and its manifest under
 * `reference` (a tag, or its own digest when omitted). `extra` is merged into the manifest (subject,
 * artifactType, annotations …).
 */
export async function pushImage(
  url: string, name: string, seed: string, reference?: string, extra: Record<string, unknown> = {},
): Promise<PushedImage> {
  const configBytes = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, seed }));
  const layerBytes = Buffer.from(`layer for ${seed}`);
  const config: Descriptor = { mediaType: MEDIA.ociConfig, digest: await pushBlob(url, name, configBytes), size: configBytes.length };
  const layer: Descriptor = { mediaType: MEDIA.ociLayer, digest: await pushBlob(url, name, layerBytes), size: layerBytes.length };
  const manifest = { schemaVersion: 2, mediaType: MEDIA.ociManifest, config, layers: [layer], ...extra };
  const bytes = Buffer.from(JSON.stringify(manifest));
  const digest = sha256(bytes);
  await pushManifest(url, name, reference ?? digest, bytes, MEDIA.ociManifest);
  return { config, layers: [layer], manifest, bytes, digest, descriptor: { mediaType: MEDIA.ociManifest, digest, size: bytes.length } };
}

export interface RawResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/**
 * A request through node:http with the path sent exactly as given (fetch normalises `..` and `%2e`), and an
 * optional body sent as is (`chunked: true` → Transfer-Encoding: chunked, no Content-Length).
 */
export function rawRequest(
  url: string,
  opts: { method: string; path: string; headers?: Record<string, string>; body?: Buffer | string; chunked?: boolean },
): Promise<RawResponse> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const headers = { ...(defaultAuthorization === null ? {} : { authorization: defaultAuthorization }), ...opts.headers };
    const req = httpRequest({ host: hostname, port, method: opts.method, path: opts.path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (opts.chunked) req.setHeader('Transfer-Encoding', 'chunked');
    if (opts.body !== undefined) {
      if (opts.chunked) {
        // Several writes, so the body really goes out as more than one chunk.
        const body = Buffer.from(opts.body);
        const step = Math.max(1, Math.ceil(body.length / 3));
        for (let i = 0; i < body.length; i += step) req.write(body.subarray(i, i + step));
      } else {
        req.setHeader('Content-Length', Buffer.byteLength(opts.body));
        req.write(opts.body);
      }
    }
    req.end();
  });
}

export function headerValue(headers: IncomingHttpHeaders, name: string): string | null {
  const v = headers[name.toLowerCase()];
  return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
}

/** GET /healthz is 200: the server survived whatever the test did to it. */
export async function assertHealthy(url: string): Promise<void> {
  const res = await registryFetch(`${url}/healthz`);
  assert.equal(res.status, 200, 'server healthy');
  await res.arrayBuffer();
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
