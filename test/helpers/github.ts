import assert from 'node:assert/strict';
import type { RunningBerth } from './berth.js';
import { MEDIA, pushBlob, pushManifest, sha256, type Descriptor } from './http.js';

/** A parsed /api response: status, headers, JSON body (or null) and the raw text. */
export interface ApiResponse<T = unknown> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
  readonly text: string;
}

/**
 * Calls Berth's GitHub-compatible API. `path` is under /api (`/v3/orgs/acme/packages?…`); credentials default to
 * `Authorization: Bearer <the seeded token>` unless `auth` is given (null: anonymous).
 */
export async function api<T = unknown>(
  berth: RunningBerth, path: string, init: RequestInit & { auth?: string | null } = {},
): Promise<ApiResponse<T>> {
  const { auth, ...rest } = init;
  const res = await berth.fetch(`/api${path}`, { ...rest, auth: auth === undefined ? `Bearer ${berth.token}` : auth });
  const text = await res.text();
  let body: unknown = null;
  try {
    body = text === '' ? null : JSON.parse(text);
  } catch {
    body = null;
  }
  return { status: res.status, headers: res.headers, body: body as T, text };
}

/** Asserts GitHub's error shape `{"message","documentation_url","status":"<code>"}` with `status`; returns the message. */
export function assertGithubError(res: ApiResponse, status: number, message?: string | RegExp): string {
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${res.text}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  const body = res.body as Record<string, unknown>;
  assert.equal(typeof body.message, 'string', res.text);
  assert.match(String(body.documentation_url), /^https:\/\/docs\.github\.com\//, res.text);
  assert.equal(body.status, String(status), res.text);
  const keys = Object.keys(body).filter((k) => k !== 'errors');
  assert.deepEqual(keys.sort(), ['documentation_url', 'message', 'status']);
  if (typeof message === 'string') assert.equal(body.message, message);
  else if (message) assert.match(body.message as string, message);
  assert.doesNotMatch(res.text, /\bat [\w.<>]+ \(|SQLITE|\/tmp\/|node_modules/, 'no stack, SQL or path in the error body');
  return body.message as string;
}

/** A token of `user` with `scopes`, created as the CLI would. */
export function createToken(berth: RunningBerth, user: string, scopes: string[]): Promise<string> {
  return berth.admin(async (s) => (await s.tokens.create({ userId: (await s.accounts.getUser(user)).id, note: 'github api test', scopes, expiresAt: null })).token);
}

/** Runs SQL on the server's metadata database (SQLite or PostgreSQL), for what no API can do (age a deletion). */
export function sql<T = unknown>(berth: RunningBerth, text: string, ...params: unknown[]): Promise<T[]> {
  return berth.query<T>(text, ...params);
}

export interface PushedImageWithLabels {
  readonly digest: string;
  readonly descriptor: Descriptor;
}

/**
 * Pushes an image whose config carries `labels` (what `LABEL` in a Dockerfile writes) and whose manifest carries
 * `annotations`, under `reference` (default: its digest). Contents are unique per `seed`.
 */
export async function pushLabelledImage(
  url: string, name: string, seed: string, opts: { reference?: string; labels?: Record<string, string>; annotations?: Record<string, string>; platform?: { architecture: string; os: string } } = {},
): Promise<PushedImageWithLabels> {
  const platform = opts.platform ?? { architecture: 'amd64', os: 'linux' };
  const configBytes = Buffer.from(JSON.stringify({ ...platform, config: { Labels: opts.labels ?? {} }, rootfs: { type: 'layers', diff_ids: [] }, seed }));
  const layerBytes = Buffer.from(`layer of ${seed}`);
  const config = { mediaType: MEDIA.ociConfig, digest: await pushBlob(url, name, configBytes), size: configBytes.length };
  const layer = { mediaType: MEDIA.ociLayer, digest: await pushBlob(url, name, layerBytes), size: layerBytes.length };
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: MEDIA.ociManifest, config, layers: [layer], ...(opts.annotations ? { annotations: opts.annotations } : {}),
  }));
  const digest = sha256(manifest);
  await pushManifest(url, name, opts.reference ?? digest, manifest, MEDIA.ociManifest);
  return { digest, descriptor: { mediaType: MEDIA.ociManifest, digest, size: manifest.length, platform } };
}

/** Pushes an OCI index of `children` (already pushed) under `reference`, with `annotations`. */
export async function pushIndex(url: string, name: string, reference: string, children: Descriptor[], annotations?: Record<string, string>): Promise<string> {
  const index = { schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: children, ...(annotations ? { annotations } : {}) };
  return (await pushManifest(url, name, reference, index, MEDIA.ociIndex)).digest;
}
