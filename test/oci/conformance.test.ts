// A port of the OCI conformance suite: opencontainers/distribution-spec `conformance/` v1.1.1 (Go + Ginkgo, client
// reggie), run against a real Berth because the project can neither vendor nor fetch the suite. Every spec of its
// four workflows is here, in the suite's order, under the suite's own name (describe = Ginkgo context, it = spec),
// with the same requests, the same test data shapes (setup.go, image.go), the same accepted status sets, and the
// settings OCI_TEST_PULL=1 OCI_TEST_PUSH=1 OCI_TEST_CONTENT_DISCOVERY=1 OCI_TEST_CONTENT_MANAGEMENT=1
// OCI_AUTOMATIC_CROSSMOUNT=1 (OCI_DELETE_MANIFEST_BEFORE_BLOBS at its default, true). All four workflows share one
// repository (OCI_NAMESPACE), so each one's teardown is the next one's starting point, as in a real run.
//
// Specs the suite registers but skips with these settings are kept as skipped tests, with the suite's reason:
// the two that read OCI_TAG_NAME / OCI_TAG_LIST instead of pushing, and the cross-mount spec for registries with
// automatic cross-mounting off. "Cross-mounting of nonexistent blob should yield session id" runs, as in the
// suite, only when the mount answered 202.
//
// Where this port differs from the suite, the comment at the spot says why (Go's HTTP client drops a manual
// Content-Length; one assertion of the suite looks at the wrong page; tokens are fetched once per scope). What the
// suite only warns about (a manifest without layers refused, referrers not filtered by artifactType) fails here: a
// clean run of the suite prints no warning, and Berth does both.
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { rawRequest } from '../helpers/http.js';

// --- setup.go ------------------------------------------------------------------------------------------------------

/** OCI_NAMESPACE and OCI_CROSSMOUNT_NAMESPACE (the suite's default `conformance-<uuid>` is no OWNER/NAME). */
const NAMESPACE = 'acme/conformance';
const CROSSMOUNT_NAMESPACE = 'acme/conformance-crossmount';
const AUTOMATIC_CROSSMOUNT = true;

const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const INDEX = 'application/vnd.oci.image.index.v1+json';
const testTagName = 'tagtest0';
const emptyLayerTestTag = 'emptylayer';
const nonexistentManifest = '.INVALID_MANIFEST_NAME';
const invalidManifestContent = Buffer.from('blablabla');
const artifactTypeFilter = 'artifactType';
const testAnnotationKey = 'org.opencontainers.conformance.test';
/** The suite's `errorCodes`: what a 400 body's first code must be one of. */
const SUITE_ERROR_CODES = [
  'BLOB_UNKNOWN', 'BLOB_UPLOAD_INVALID', 'BLOB_UPLOAD_UNKNOWN', 'DIGEST_INVALID', 'MANIFEST_BLOB_UNKNOWN', 'MANIFEST_INVALID',
  'MANIFEST_UNKNOWN', 'MANIFEST_UNVERIFIED', 'NAME_INVALID', 'NAME_UNKNOWN', 'SIZE_INVALID', 'TAG_INVALID', 'UNAUTHORIZED',
  'DENIED', 'UNSUPPORTED',
];

function digestOf(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

interface TestBlob {
  readonly content: Buffer;
  readonly contentLength: string;
  readonly digest: string;
}

function testBlob(content: Buffer): TestBlob {
  return { content, contentLength: String(content.length), digest: digestOf(content) };
}

/**
 * Go's `json.MarshalIndent(v, "", "\t")` for the suite's structs: callers build objects with the fields in struct
 * order and leave out the `omitempty` ones; `[]byte` fields are base64, a nil one `null`.
 */
function goJson(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value, null, '\t'));
}

/** image.go `descriptor`: `newUnspecifiedField` has no omitempty, so every descriptor carries it (null when unset). */
function descriptor(
  mediaType: string, digest: string, size: number,
  extra: { data?: Buffer; newUnspecifiedField?: Buffer } = {},
): Record<string, unknown> {
  return {
    mediaType, digest, size,
    ...(extra.data ? { data: extra.data.toString('base64') } : {}),
    newUnspecifiedField: extra.newUnspecifiedField ? extra.newUnspecifiedField.toString('base64') : null,
  };
}

/** image.go `manifest`, fields in struct order. */
function manifestJson(m: {
  mediaType?: string; artifactType?: string; config: unknown; layers: unknown[]; subject?: unknown; annotations?: Record<string, string>;
}): Buffer {
  return goJson({
    schemaVersion: 2,
    ...(m.mediaType ? { mediaType: m.mediaType } : {}),
    ...(m.artifactType ? { artifactType: m.artifactType } : {}),
    config: m.config,
    layers: m.layers,
    ...(m.subject ? { subject: m.subject } : {}),
    ...(m.annotations ? { annotations: m.annotations } : {}),
  });
}

/** setup.go `randomString`: letters, digits and '-'. */
function randomString(n: number): string {
  const letters = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-';
  return Array.from({ length: n }, () => letters[randomInt(letters.length)]).join('');
}

/**
 * The suite's layer: a gzipped tarball of one small text file (setup.go `layerBase64String`, made with
 * `tar czvf test.tar.gz test.txt`), built here with the same shape.
 */
function tarGzOneFile(name: string, text: string): Buffer {
  const content = Buffer.from(text);
  const header = Buffer.alloc(512);
  const field = (offset: number, length: number, value: string): void => {
    header.write(value, offset, length, 'ascii');
  };
  field(0, 100, name);
  field(100, 8, '0000644\0');
  field(108, 8, '0001750\0');
  field(116, 8, '0001750\0');
  field(124, 12, `${content.length.toString(8).padStart(11, '0')}\0`);
  field(136, 12, `${Math.floor(Date.UTC(2020, 0, 1) / 1000).toString(8).padStart(11, '0')}\0`);
  field(148, 8, '        ');
  field(156, 1, '0');
  field(257, 6, 'ustar\0');
  field(263, 2, '00');
  let sum = 0;
  for (const byte of header) sum += byte;
  field(148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  const padded = Buffer.alloc(Math.ceil(content.length / 512) * 512);
  content.copy(padded);
  return gzipSync(Buffer.concat([header, padded, Buffer.alloc(1024)]));
}

// "create a unique config for each workflow category": numWorkflows is 1<<4 through iota, so the suite makes 16;
// indices 0–4 are the ones used.
const configs: TestBlob[] = Array.from({ length: 5 }, () => testBlob(goJson({
  author: randomString(16),
  architecture: 'amd64',
  os: 'linux',
  rootfs: { type: 'layers', diff_ids: [] },
})));

const layerBlobData = tarGzOneFile('test.txt', 'you bothered to find out what was in here. Congratulations!\n');
const layerBlobDigest = digestOf(layerBlobData);
const layerBlobContentLength = String(layerBlobData.length);
const layers = [descriptor('application/vnd.oci.image.layer.v1.tar+gzip', layerBlobDigest, layerBlobData.length)];

const manifests: TestBlob[] = configs.map((config) => testBlob(manifestJson({
  mediaType: MANIFEST,
  config: descriptor('application/vnd.oci.image.config.v1+json', config.digest, config.content.length, {
    data: config.content, // must be the config content
    newUnspecifiedField: Buffer.from('hello world'), // content does not matter
  }),
  layers,
})));

// Used in the push test: no mediaType field, no layers.
const emptyLayerManifestContent = manifestJson({
  config: descriptor('application/vnd.oci.image.config.v1+json', configs[1]!.digest, configs[1]!.content.length, {
    data: configs[1]!.content, newUnspecifiedField: Buffer.from('hello world'),
  }),
  layers: [],
});
const emptyLayerManifestDigest = digestOf(emptyLayerManifestContent);

/** setup.go `randomBlob` (Go's math/rand with a seed there; any bytes do). */
const randomBlob = (size: number): Buffer => randomBytes(size);
const testBlobA = testBlob(randomBlob(42));

let testBlobB: Buffer;
let testBlobBDigest: string;
let testBlobBChunk1: Buffer;
let testBlobBChunk2: Buffer;
let testBlobBChunk1Range: string;
let testBlobBChunk2Range: string;
/** setup.go `setupChunkedBlob`: the first chunk is one byte over half. */
function setupChunkedBlob(size: number): void {
  testBlobB = randomBlob(size);
  testBlobBDigest = digestOf(testBlobB);
  testBlobBChunk1 = testBlobB.subarray(0, Math.floor(size / 2) + 1);
  testBlobBChunk2 = testBlobB.subarray(Math.floor(size / 2) + 1);
  testBlobBChunk1Range = `0-${testBlobBChunk1.length - 1}`;
  testBlobBChunk2Range = `${testBlobBChunk1.length}-${testBlobB.length - 1}`;
}
setupChunkedBlob(42);

// Referrers (artifacts with a subject).
const emptyJSONBlob = Buffer.from('{}');
const emptyJSONDescriptor = descriptor('application/vnd.oci.empty.v1+json', digestOf(emptyJSONBlob), emptyJSONBlob.length);
const testRefBlobA = testBlob(Buffer.from('NHL Peanut Butter on my NHL bagel'));
const testRefArtifactTypeA = 'application/vnd.nhl.peanut.butter.bagel';
const testRefBlobB = testBlob(Buffer.from('NBA Strawberry Jam on my NBA croissant'));
const testRefArtifactTypeB = 'application/vnd.nba.strawberry.jam.croissant';
const testRefArtifactTypeIndex = 'application/vnd.food.stand';
const subjectOf = (m: TestBlob): Record<string, unknown> => descriptor(MANIFEST, m.digest, m.content.length);
const testAnnotationValues = new Map<string, string>();
function refs(content: Buffer, annotation?: string): TestBlob {
  const blob = testBlob(content);
  if (annotation !== undefined) testAnnotationValues.set(blob.digest, annotation);
  return blob;
}
// config.mediaType = artifactType
const refsManifestAConfigArtifact = refs(manifestJson({
  mediaType: MANIFEST,
  config: descriptor(testRefArtifactTypeA, testRefBlobA.digest, testRefBlobA.content.length),
  layers: [emptyJSONDescriptor],
  subject: subjectOf(manifests[4]!),
  annotations: { [testAnnotationKey]: 'test config a' },
}), 'test config a');
const refsManifestBConfigArtifact = refs(manifestJson({
  mediaType: MANIFEST,
  config: descriptor(testRefArtifactTypeB, testRefBlobB.digest, testRefBlobB.content.length),
  layers: [emptyJSONDescriptor],
  subject: subjectOf(manifests[4]!),
  annotations: { [testAnnotationKey]: 'test config b' },
}), 'test config b');
// artifactType set, config.mediaType = the empty JSON
const refsManifestALayerArtifact = refs(manifestJson({
  mediaType: MANIFEST,
  artifactType: testRefArtifactTypeA,
  config: emptyJSONDescriptor,
  layers: [descriptor(testRefArtifactTypeA, testRefBlobA.digest, testRefBlobA.content.length)],
  subject: subjectOf(manifests[4]!),
  annotations: { [testAnnotationKey]: 'test layer a' },
}), 'test layer a');
const refsManifestBLayerArtifact = refs(manifestJson({
  mediaType: MANIFEST,
  artifactType: testRefArtifactTypeB,
  config: emptyJSONDescriptor,
  layers: [descriptor(testRefArtifactTypeB, testRefBlobB.digest, testRefBlobB.content.length)],
  subject: subjectOf(manifests[4]!),
  annotations: { [testAnnotationKey]: 'test layer b' },
}), 'test layer b');
// Like B, but its subject (manifests[3]) is never pushed before it.
const refsManifestCLayerArtifact = refs(manifestJson({
  mediaType: MANIFEST,
  artifactType: testRefArtifactTypeB,
  config: emptyJSONDescriptor,
  layers: [descriptor(testRefArtifactTypeB, testRefBlobB.digest, testRefBlobB.content.length)],
  subject: subjectOf(manifests[3]!),
}));
// image.go `index`, fields in struct order.
const refsIndexArtifact = refs(goJson({
  schemaVersion: 2,
  mediaType: INDEX,
  artifactType: testRefArtifactTypeIndex,
  manifests: [
    descriptor(MANIFEST, refsManifestAConfigArtifact.digest, refsManifestAConfigArtifact.content.length),
    descriptor(MANIFEST, refsManifestALayerArtifact.digest, refsManifestALayerArtifact.content.length),
  ],
  subject: subjectOf(manifests[4]!),
  annotations: { [testAnnotationKey]: 'test index' },
}), 'test index');

const dummyDigest = digestOf('hello world');

// --- the client (reggie) -------------------------------------------------------------------------------------------

interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Buffer;
}

interface ReferrersIndex {
  manifests: Array<{ digest: string; annotations?: Record<string, string> }>;
}

const is2xx = (status: number): boolean => status >= 200 && status < 300;

describe('OCI Distribution Conformance Tests (distribution-spec v1.1.1 suite, ported)', () => {
  let berth: RunningBerth;

  before(async () => {
    berth = await startBerth();
  });
  after(async () => {
    await berth.stop();
  });

  const tokens = new Map<string, string>();
  /**
   * One request as reggie sends it: first without credentials; on a 401 with a challenge, a token from the
   * challenge's realm (its service and scope, Basic OCI_USERNAME:OCI_PASSWORD), then the same request again with
   * it. Through node:http, which (like Go's client) sends a GET body and `Content-Length: 0` on an empty PUT/POST.
   */
  async function send(
    method: string, path: string,
    opts: { query?: Record<string, string>; headers?: Record<string, string>; body?: Buffer } = {},
  ): Promise<Reply> {
    const url = new URL(path, berth.url);
    for (const [k, v] of Object.entries(opts.query ?? {})) url.searchParams.set(k, v);
    const attempt = async (authorization: string | null): Promise<Reply> => {
      const headers: Record<string, string> = { 'User-Agent': 'distribution-spec-conformance-tests', ...opts.headers };
      if (opts.body === undefined && method !== 'GET' && method !== 'HEAD' && method !== 'DELETE') headers['Content-Length'] = '0';
      if (authorization) headers.Authorization = authorization;
      const res = await rawRequest(berth.url, { method, path: url.pathname + url.search, headers, body: opts.body });
      const replyHeaders = new Headers();
      for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) replyHeaders.set(k, Array.isArray(v) ? v.join(', ') : v);
      return { status: res.status, headers: replyHeaders, body: res.body };
    };
    const first = await attempt(null);
    const challenge = first.headers.get('www-authenticate');
    if (first.status !== 401 || !challenge) return first;
    // reggie parseAuthHeader: every key="value" pair of the challenge.
    const params = new Map([...challenge.matchAll(/([a-zA-Z]+)="(.+?)"/g)].map((m) => [m[1]!.toLowerCase(), m[2]!]));
    const realm = new URL(params.get('realm') ?? '');
    realm.searchParams.set('service', params.get('service') ?? '');
    realm.searchParams.set('scope', params.get('scope') ?? '');
    // reggie asks for a token on every 401; one per scope is the same grant, and saves a third of the requests.
    let token = tokens.get(realm.href);
    if (token === undefined) {
      const tokenRes = await fetch(realm, { headers: { Accept: 'application/json', Authorization: berth.authorization } });
      const info = await tokenRes.json() as { token?: string; access_token?: string };
      token = info.token || info.access_token || '';
      tokens.set(realm.href, token);
    }
    return attempt(`Bearer ${token}`);
  }

  /** reggie `GetRelativeLocation`: path and query of the Location header. */
  function relativeLocation(reply: Reply): string {
    const location = reply.headers.get('location');
    assert.ok(location, `no Location header (status ${reply.status})`);
    const u = new URL(location, berth.url);
    return u.pathname + u.search;
  }

  const show = (reply: Reply): string => `${reply.status} ${reply.body.toString('utf8').slice(0, 300)}`;

  function expectStatus(reply: Reply, accepted: readonly number[] | ((status: number) => boolean)): void {
    const ok = typeof accepted === 'function' ? accepted(reply.status) : accepted.includes(reply.status);
    assert.ok(ok, `unexpected status ${show(reply)}`);
  }

  /** 2xx, or one of `others`. */
  const success = (...others: number[]) => (status: number): boolean => is2xx(status) || others.includes(status);

  /** "Populate registry with test blob/layer": POST a session, PUT the bytes with ?digest=, expect 2xx. */
  async function populateBlob(blob: { content: Buffer; contentLength: string; digest: string }): Promise<void> {
    const start = await send('POST', `/v2/${NAMESPACE}/blobs/uploads/`);
    const put = await send('PUT', relativeLocation(start), {
      query: { digest: blob.digest },
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': blob.contentLength },
      body: blob.content,
    });
    expectStatus(put, is2xx);
  }

  const layerBlob = { content: layerBlobData, contentLength: layerBlobContentLength, digest: layerBlobDigest };

  async function putManifest(reference: string, content: Buffer, contentType = MANIFEST): Promise<Reply> {
    return send('PUT', `/v2/${NAMESPACE}/manifests/${reference}`, { headers: { 'Content-Type': contentType }, body: content });
  }

  function referrersIndex(reply: Reply): ReferrersIndex {
    expectStatus(reply, [200]);
    assert.equal(reply.headers.get('content-type'), INDEX);
    return JSON.parse(reply.body.toString('utf8')) as ReferrersIndex;
  }

  function tagList(reply: Reply): string[] {
    try {
      return (JSON.parse(reply.body.toString('utf8')) as { tags?: string[] | null }).tags ?? [];
    } catch {
      return [];
    }
  }

  // --- 01_pull_test.go -----------------------------------------------------------------------------------------

  describe('Pull', () => {
    let tag = '';

    describe('Setup', () => {
      it('Populate registry with test blob (config[0])', async () => {
        await populateBlob(configs[0]!);
      });
      it('Populate registry with test blob (config[1])', async () => {
        await populateBlob(configs[1]!);
      });
      it('Populate registry with test layer', async () => {
        await populateBlob(layerBlob);
      });
      it('Populate registry with test manifest (manifest[0] by tag)', async () => {
        tag = testTagName;
        expectStatus(await putManifest(tag, manifests[0]!.content), is2xx);
      });
      it('Populate registry with test manifest (manifest[1] by digest)', async () => {
        expectStatus(await putManifest(manifests[1]!.digest, manifests[1]!.content), is2xx);
      });
      it('Get tag name from environment', { skip: 'suite: runs only without the pull setup (OCI_TAG_NAME and digests given)' });
    });

    describe('Pull blobs', () => {
      it('HEAD request to nonexistent blob should result in 404 response', async () => {
        expectStatus(await send('HEAD', `/v2/${NAMESPACE}/blobs/${dummyDigest}`), [404]);
      });
      it('HEAD request to existing blob should yield 200', async () => {
        const reply = await send('HEAD', `/v2/${NAMESPACE}/blobs/${configs[0]!.digest}`);
        expectStatus(reply, [200]);
        const h = reply.headers.get('docker-content-digest');
        if (h) assert.equal(h, configs[0]!.digest);
      });
      it('GET nonexistent blob should result in 404 response', async () => {
        expectStatus(await send('GET', `/v2/${NAMESPACE}/blobs/${dummyDigest}`), [404]);
      });
      it('GET request to existing blob URL should yield 200', async () => {
        expectStatus(await send('GET', `/v2/${NAMESPACE}/blobs/${configs[0]!.digest}`), [200]);
      });
    });

    describe('Pull manifests', () => {
      const accept = { Accept: MANIFEST };
      it('HEAD request to nonexistent manifest should return 404', async () => {
        expectStatus(await send('HEAD', `/v2/${NAMESPACE}/manifests/${nonexistentManifest}`), [404]);
      });
      for (const i of [0, 1]) {
        it(`HEAD request to manifest[${i}] path (digest) should yield 200 response`, async () => {
          const reply = await send('HEAD', `/v2/${NAMESPACE}/manifests/${manifests[i]!.digest}`, { headers: accept });
          expectStatus(reply, [200]);
          const h = reply.headers.get('docker-content-digest');
          if (h) assert.equal(h, manifests[i]!.digest);
        });
      }
      it('HEAD request to manifest path (tag) should yield 200 response', async () => {
        assert.ok(tag);
        const reply = await send('HEAD', `/v2/${NAMESPACE}/manifests/${tag}`, { headers: accept });
        expectStatus(reply, [200]);
        const h = reply.headers.get('docker-content-digest');
        if (h) assert.equal(h, manifests[0]!.digest);
      });
      it('GET nonexistent manifest should return 404', async () => {
        expectStatus(await send('GET', `/v2/${NAMESPACE}/manifests/${nonexistentManifest}`), [404]);
      });
      for (const i of [0, 1]) {
        it(`GET request to manifest[${i}] path (digest) should yield 200 response`, async () => {
          expectStatus(await send('GET', `/v2/${NAMESPACE}/manifests/${manifests[i]!.digest}`, { headers: accept }), [200]);
        });
      }
      it('GET request to manifest path (tag) should yield 200 response', async () => {
        assert.ok(tag);
        expectStatus(await send('GET', `/v2/${NAMESPACE}/manifests/${tag}`, { headers: accept }), [200]);
      });
    });

    describe('Error codes', () => {
      it('400 response body should contain OCI-conforming JSON message', async () => {
        const res = await send('GET', `/v2/${NAMESPACE}/manifests/sha256:totallywrong`, {
          headers: { 'Content-Type': MANIFEST },
          body: invalidManifestContent,
        });
        expectStatus(res, [400, 404]);
        if (res.status === 400) {
          const { errors } = JSON.parse(res.body.toString('utf8')) as { errors: Array<{ code: string }> };
          assert.ok(errors.length > 0);
          assert.ok(SUITE_ERROR_CODES.includes(errors[0]!.code), errors[0]!.code);
        }
      });
    });

    describe('Teardown', () => {
      for (const i of [0, 1]) {
        it(`Delete manifest[${i}] created in setup`, async () => {
          expectStatus(await send('DELETE', `/v2/${NAMESPACE}/manifests/${manifests[i]!.digest}`), success(405));
        });
      }
      for (const i of [0, 1]) {
        it(`Delete config[${i}] blob created in setup`, async () => {
          expectStatus(await send('DELETE', `/v2/${NAMESPACE}/blobs/${configs[i]!.digest}`), success(404, 405));
        });
      }
      it('Delete layer blob created in setup', async () => {
        expectStatus(await send('DELETE', `/v2/${NAMESPACE}/blobs/${layerBlobDigest}`), success(404, 405));
      });
    });
  });

  // --- 02_push_test.go -----------------------------------------------------------------------------------------

  describe('Push', () => {
    let lastResponse: Reply | undefined;
    let prevResponse: Reply | undefined;
    let emptyLayerManifestRef = '';

    describe('Blob Upload Streamed', () => {
      it('PATCH request with blob in body should yield 202 response', async () => {
        const start = await send('POST', `/v2/${NAMESPACE}/blobs/uploads/`);
        assert.ok(start.headers.get('location'));
        const reply = await send('PATCH', relativeLocation(start), { headers: { 'Content-Type': 'application/octet-stream' }, body: testBlobA.content });
        expectStatus(reply, [202]);
        lastResponse = reply;
      });
      it('PUT request to session URL with digest should yield 201 response', async () => {
        assert.ok(lastResponse);
        // The suite sets Content-Length to the blob's length but sends no body; Go's client then sends
        // Content-Length: 0, as this does.
        const reply = await send('PUT', relativeLocation(lastResponse), {
          query: { digest: testBlobA.digest },
          headers: { 'Content-Type': 'application/octet-stream' },
        });
        expectStatus(reply, [201]);
        assert.ok(reply.headers.get('location'));
      });
    });

    describe('Blob Upload Monolithic', () => {
      it('GET nonexistent blob should result in 404 response', async () => {
        expectStatus(await send('GET', `/v2/${NAMESPACE}/blobs/${dummyDigest}`), [404]);
      });
      it('POST request with digest and blob should yield a 201 or 202', async () => {
        const reply = await send('POST', `/v2/${NAMESPACE}/blobs/uploads/`, {
          query: { digest: configs[1]!.digest },
          headers: { 'Content-Length': configs[1]!.contentLength, 'Content-Type': 'application/octet-stream' },
          body: configs[1]!.content,
        });
        assert.ok(reply.headers.get('location'));
        expectStatus(reply, [201, 202]);
        lastResponse = reply;
      });
      it('GET request to blob URL from prior request should yield 200 or 404 based on response code', async () => {
        assert.ok(lastResponse);
        const reply = await send('GET', `/v2/${NAMESPACE}/blobs/${configs[1]!.digest}`);
        expectStatus(reply, [lastResponse.status === 202 ? 404 : 200]);
      });
      it('POST request should yield a session ID', async () => {
        const reply = await send('POST', `/v2/${NAMESPACE}/blobs/uploads/`);
        expectStatus(reply, [202]);
        lastResponse = reply;
      });
      it('PUT upload of a blob should yield a 201 Response', async () => {
        assert.ok(lastResponse);
        const reply = await send('PUT', relativeLocation(lastResponse), {
          query: { digest: configs[1]!.digest },
          headers: { 'Content-Length': configs[1]!.contentLength, 'Content-Type': 'application/octet-stream' },
          body: configs[1]!.content,
        });
        assert.ok(reply.headers.get('location'));
        expectStatus(reply, [201]);
      });
      it('GET request to existing blob should yield 200 response', async () => {
        expectStatus(await send('GET', `/v2/${NAMESPACE}/blobs/${configs[1]!.digest}`), [200]);
      });
      it('PUT upload of a layer blob should yield a 201 Response', async () => {
        const start = await send('POST', `/v2/${NAMESPACE}/blobs/uploads/`);
        const reply = await send('PUT', relativeLocation(start), {
          query: { digest: layerBlobDigest },
          headers: { 'Content-Length': layerBlobContentLength, 'Content-Type': 'application/octet-stream' },
          body: layerBlobData,
        });
        assert.ok(reply.headers.get('location'));
        expectStatus(reply, [201]);
      });
      it('GET request to existing layer should yield 200 response', async () => {
        expectStatus(await send('GET', `/v2/${NAMESPACE}/blobs/${layerBlobDigest}`), [200]);
      });
    });

    describe('Blob Upload Chunked', () => {
      it('Out-of-order blob upload should return 416', async () => {
        const start = await send('POST', `/v2/${NAMESPACE}/blobs/uploads/`, { headers: { 'Content-Length': '0' } });
        assert.ok(start.headers.get('location'));
        // Rebuild the chunked blob if the registry's minimum chunk is above our chunk size.
        const minSizeText = start.headers.get('oci-chunk-min-length');
        if (minSizeText) {
          const minSize = Number(minSizeText);
          assert.ok(Number.isInteger(minSize), `OCI-Chunk-Min-Length: ${minSizeText}`);
          if (minSize > testBlobBChunk1.length) setupChunkedBlob(minSize * 2 - 2);
        }
        const reply = await send('PATCH', relativeLocation(start), {
          headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(testBlobBChunk2.length), 'Content-Range': testBlobBChunk2Range },
          body: testBlobBChunk2,
        });
        expectStatus(reply, [416]);
      });
      it('PATCH request with first chunk should return 202', async () => {
        const start = await send('POST', `/v2/${NAMESPACE}/blobs/uploads/`, { headers: { 'Content-Length': '0' } });
        assert.ok(start.headers.get('location'));
        prevResponse = start;
        const reply = await send('PATCH', relativeLocation(start), {
          headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(testBlobBChunk1.length), 'Content-Range': testBlobBChunk1Range },
          body: testBlobBChunk1,
        });
        expectStatus(reply, [202]);
        assert.equal(reply.headers.get('range'), testBlobBChunk1Range);
        lastResponse = reply;
      });
      it('Retry previous blob chunk should return 416', async () => {
        assert.ok(prevResponse);
        const reply = await send('PATCH', relativeLocation(prevResponse), {
          headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(testBlobBChunk1.length), 'Content-Range': testBlobBChunk1Range },
          body: testBlobBChunk1,
        });
        expectStatus(reply, [416]);
      });
      it('Get on stale blob upload should return 204 with a range and location', async () => {
        assert.ok(prevResponse);
        const reply = await send('GET', relativeLocation(prevResponse));
        expectStatus(reply, [204]);
        assert.ok(reply.headers.get('location'));
        assert.equal(reply.headers.get('range'), testBlobBChunk1Range);
        lastResponse = reply;
      });
      it('PATCH request with second chunk should return 202', async () => {
        assert.ok(lastResponse);
        const reply = await send('PATCH', relativeLocation(lastResponse), {
          headers: { 'Content-Length': String(testBlobBChunk2.length), 'Content-Range': testBlobBChunk2Range, 'Content-Type': 'application/octet-stream' },
          body: testBlobBChunk2,
        });
        expectStatus(reply, [202]);
        assert.ok(reply.headers.get('location'));
        lastResponse = reply;
      });
      it('PUT request with digest should return 201', async () => {
        assert.ok(lastResponse);
        const reply = await send('PUT', relativeLocation(lastResponse), {
          query: { digest: testBlobBDigest },
          headers: { 'Content-Length': '0', 'Content-Type': 'application/octet-stream' },
        });
        expectStatus(reply, [201]);
        assert.ok(reply.headers.get('location'));
      });
    });

    describe('Cross-Repository Blob Mount', () => {
      it('Cross-mounting of a blob without the from argument should yield session id', async () => {
        const reply = await send('POST', `/v2/${CROSSMOUNT_NAMESPACE}/blobs/uploads/`, { query: { mount: dummyDigest } });
        expectStatus(reply, [202]);
        assert.ok(reply.headers.get('location'));
      });
      it('POST request to mount another repository\'s blob should return 201 or 202', async () => {
        const reply = await send('POST', `/v2/${CROSSMOUNT_NAMESPACE}/blobs/uploads/`, { query: { mount: testBlobA.digest, from: NAMESPACE } });
        expectStatus(reply, [201, 202]);
        lastResponse = reply;
      });
      it('GET request to test digest within cross-mount namespace should return 200', async (t) => {
        assert.ok(lastResponse);
        if (lastResponse.status !== 201) return t.skip('suite: runs only when the mount answered 201');
        assert.equal(relativeLocation(lastResponse), `/v2/${CROSSMOUNT_NAMESPACE}/blobs/${testBlobA.digest}`);
        expectStatus(await send('GET', relativeLocation(lastResponse)), [200]);
      });
      it('Cross-mounting of nonexistent blob should yield session id', (t) => {
        assert.ok(lastResponse);
        if (lastResponse.status !== 202) return t.skip('suite: runs only when the mount answered 202');
        assert.ok(relativeLocation(lastResponse).startsWith(`/v2/${CROSSMOUNT_NAMESPACE}/blobs/uploads/`));
      });
      it('Cross-mounting without from, and automatic content discovery enabled should return a 201', async (t) => {
        assert.ok(lastResponse);
        if (lastResponse.status !== 201 || !AUTOMATIC_CROSSMOUNT) return t.skip('suite: runs only with automatic cross-mount on and a 201 mount');
        expectStatus(await send('POST', `/v2/${CROSSMOUNT_NAMESPACE}/blobs/uploads/`, { query: { mount: testBlobA.digest } }), [201]);
      });
      it('Cross-mounting without from, and automatic content discovery disabled should return a 202', {
        skip: 'suite: runs only with OCI_AUTOMATIC_CROSSMOUNT=0; Berth always mounts a blob the pusher can read',
      });
    });

    describe('Manifest Upload', () => {
      it('GET nonexistent manifest should return 404', async () => {
        expectStatus(await send('GET', `/v2/${NAMESPACE}/manifests/${nonexistentManifest}`), [404]);
      });
      it('PUT should accept a manifest upload', async () => {
        for (let i = 0; i < 4; i++) {
          const reply = await putManifest(`test${i}`, manifests[1]!.content);
          assert.ok(reply.headers.get('location'));
          expectStatus(reply, [201]);
        }
      });
      it('Registry should accept a manifest upload with no layers', async () => {
        const reply = await putManifest(emptyLayerTestTag, emptyLayerManifestContent);
        // The suite only warns when this is refused; Berth accepts it, and this port holds it to that.
        expectStatus(reply, [201]);
        emptyLayerManifestRef = reply.headers.get('location') ?? '';
        assert.ok(emptyLayerManifestRef);
      });
      it('GET request to manifest URL (digest) should yield 200 response', async () => {
        expectStatus(await send('GET', `/v2/${NAMESPACE}/manifests/${manifests[1]!.digest}`, { headers: { Accept: MANIFEST } }), [200]);
      });
    });

    describe('Teardown', () => {
      it('Delete manifest created in tests', async () => {
        expectStatus(await send('DELETE', `/v2/${NAMESPACE}/manifests/${manifests[1]!.digest}`), success(405));
        if (emptyLayerManifestRef !== '') {
          expectStatus(await send('DELETE', `/v2/${NAMESPACE}/manifests/${emptyLayerManifestDigest}`), success(405));
        }
      });
      it('Delete config blob created in tests', async () => {
        expectStatus(await send('DELETE', `/v2/${NAMESPACE}/blobs/${configs[1]!.digest}`), success(404, 405));
      });
      it('Delete layer blob created in setup', async () => {
        expectStatus(await send('DELETE', `/v2/${NAMESPACE}/blobs/${layerBlobDigest}`), success(404, 405));
      });
    });
  });

  // --- 03_discovery_test.go ------------------------------------------------------------------------------------

  describe('Content Discovery', () => {
    let numTags = 4;
    let tags: string[] = [];

    describe('Setup', () => {
      it('Populate registry with test blob', async () => {
        await populateBlob(configs[2]!);
      });
      it('Populate registry with test layer', async () => {
        await populateBlob(layerBlob);
      });
      it('Populate registry with test tags', async () => {
        for (let i = 0; i < numTags; i++) expectStatus(await putManifest(`test${i}`, manifests[2]!.content), is2xx);
        tags = tagList(await send('GET', `/v2/${NAMESPACE}/tags/list`));
      });
      it('Populate registry with test tags (no push)', { skip: 'suite: runs only with OCI_TAG_LIST given instead of pushing' });
      it('References setup', async () => {
        assert.equal(digestOf(emptyJSONBlob), 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a');
        await populateBlob(testBlob(emptyJSONBlob));
        // Reference blob before the image manifest is pushed.
        await populateBlob(testRefBlobA);
        for (const m of [refsManifestAConfigArtifact, refsManifestALayerArtifact]) {
          const reply = await putManifest(m.digest, m.content);
          expectStatus(reply, is2xx);
          assert.equal(reply.headers.get('oci-subject'), manifests[4]!.digest);
        }
        const index = await putManifest(refsIndexArtifact.digest, refsIndexArtifact.content, INDEX);
        expectStatus(index, is2xx);
        assert.equal(index.headers.get('oci-subject'), manifests[4]!.digest);
        await populateBlob(configs[4]!);
        await populateBlob(layerBlob);
        expectStatus(await putManifest(testTagName, manifests[4]!.content), is2xx);
        // Reference blob after the image manifest is pushed.
        await populateBlob(testRefBlobB);
        for (const m of [refsManifestBConfigArtifact, refsManifestBLayerArtifact]) {
          const reply = await putManifest(m.digest, m.content);
          expectStatus(reply, is2xx);
          assert.equal(reply.headers.get('oci-subject'), manifests[4]!.digest);
        }
        // A subject that does not exist.
        const dangling = await putManifest(refsManifestCLayerArtifact.digest, refsManifestCLayerArtifact.content);
        expectStatus(dangling, is2xx);
        assert.equal(dangling.headers.get('oci-subject'), manifests[3]!.digest);
      });
    });

    describe('Test content discovery endpoints (listing tags)', () => {
      it('GET request to list tags should yield 200 response', async () => {
        const reply = await send('GET', `/v2/${NAMESPACE}/tags/list`);
        expectStatus(reply, [200]);
        tags = tagList(reply);
        numTags = tags.length;
      });
      it('GET number of tags should be limitable by `n` query parameter', async () => {
        const numResults = Math.floor(numTags / 2);
        const reply = await send('GET', `/v2/${NAMESPACE}/tags/list`, { query: { n: String(numResults) } });
        expectStatus(reply, [200]);
        tags = tagList(reply);
        assert.equal(tags.length, numResults);
      });
      it('GET start of tag is set by `last` query parameter', async () => {
        const numResults = Math.floor(numTags / 2);
        tags = tagList(await send('GET', `/v2/${NAMESPACE}/tags/list`, { query: { n: String(numResults) } }));
        const last = tags[numResults - 1]!;
        const reply = await send('GET', `/v2/${NAMESPACE}/tags/list`, { query: { n: String(numResults), last } });
        expectStatus(reply, [200]);
        // v1.1.1 asserts on the first page again (it never re-reads the list), which cannot fail; this checks the
        // page after `last`, as later versions of the suite do.
        const page = tagList(reply);
        assert.ok(page.length <= numResults, `${page.length} tags for n=${numResults}`);
        assert.ok(!page.includes(last), `the page after "${last}" repeats it: ${page.join(',')}`);
      });
    });

    describe('Test content discovery endpoints (listing references)', () => {
      it('GET request to nonexistent blob should result in empty 200 response', async () => {
        const index = referrersIndex(await send('GET', `/v2/${NAMESPACE}/referrers/${dummyDigest}`));
        assert.equal(index.manifests.length, 0);
      });
      it('GET request to existing blob should yield 200', async () => {
        const index = referrersIndex(await send('GET', `/v2/${NAMESPACE}/referrers/${manifests[4]!.digest}`));
        assert.equal(index.manifests.length, 5);
        assert.notEqual(index.manifests[0]!.digest, index.manifests[1]!.digest);
        for (const m of index.manifests) {
          assert.equal(Object.keys(m.annotations ?? {}).length, 1, m.digest);
          assert.equal(m.annotations?.[testAnnotationKey], testAnnotationValues.get(m.digest));
        }
      });
      it('GET request to existing blob with filter should yield 200', async () => {
        const reply = await send('GET', `/v2/${NAMESPACE}/referrers/${manifests[4]!.digest}`, { query: { artifactType: testRefArtifactTypeA } });
        const index = referrersIndex(reply);
        const applied = reply.headers.get('oci-filters-applied');
        // The suite also accepts an unfiltered list (with a warning) when the header is absent; Berth filters.
        assert.equal(applied, artifactTypeFilter);
        assert.equal(index.manifests.length, 2);
        for (const m of index.manifests) {
          assert.equal(Object.keys(m.annotations ?? {}).length, 1, m.digest);
          assert.equal(m.annotations?.[testAnnotationKey], testAnnotationValues.get(m.digest));
        }
      });
      it('GET request to missing manifest should yield 200', async () => {
        const index = referrersIndex(await send('GET', `/v2/${NAMESPACE}/referrers/${manifests[3]!.digest}`));
        assert.equal(index.manifests.length, 1);
        assert.equal(index.manifests[0]!.digest, refsManifestCLayerArtifact.digest);
      });
    });

    describe('Teardown', () => {
      const deleteAccepted = success(405, 404);
      it('Delete created manifest & associated tags', async () => {
        const references = [
          refsIndexArtifact.digest, manifests[2]!.digest, manifests[4]!.digest, refsManifestAConfigArtifact.digest,
          refsManifestALayerArtifact.digest, testTagName, refsManifestBConfigArtifact.digest, refsManifestBLayerArtifact.digest,
          refsManifestCLayerArtifact.digest,
        ];
        for (const ref of references) expectStatus(await send('DELETE', `/v2/${NAMESPACE}/manifests/${ref}`), deleteAccepted);
      });
      it('Delete config blob created in tests', async () => {
        expectStatus(await send('DELETE', `/v2/${NAMESPACE}/blobs/${configs[2]!.digest}`), success(405));
      });
      it('Delete layer blob created in setup', async () => {
        expectStatus(await send('DELETE', `/v2/${NAMESPACE}/blobs/${layerBlobDigest}`), success(405));
      });
      it('References teardown', async () => {
        for (const ref of [refsIndexArtifact.digest, refsManifestAConfigArtifact.digest, refsManifestALayerArtifact.digest, manifests[4]!.digest,
          refsManifestBConfigArtifact.digest, refsManifestBLayerArtifact.digest]) {
          expectStatus(await send('DELETE', `/v2/${NAMESPACE}/manifests/${ref}`), deleteAccepted);
        }
        for (const digest of [configs[4]!.digest, testRefBlobA.digest, testRefBlobB.digest, digestOf(emptyJSONBlob)]) {
          expectStatus(await send('DELETE', `/v2/${NAMESPACE}/blobs/${digest}`), deleteAccepted);
        }
      });
    });
  });

  // --- 04_management_test.go -----------------------------------------------------------------------------------

  describe('Content Management', () => {
    const defaultTagName = 'tagtest0';
    let tagToDelete = '';
    let numTags = 0;
    let blobDeleteAllowed = true;

    describe('Setup', () => {
      it('Populate registry with test config blob', async () => {
        await populateBlob(configs[3]!);
      });
      it('Populate registry with test layer', async () => {
        await populateBlob(layerBlob);
      });
      it('Populate registry with test tag', async () => {
        tagToDelete = defaultTagName;
        expectStatus(await putManifest(tagToDelete, manifests[3]!.content), is2xx);
      });
      it('Check how many tags there are before anything gets deleted', async () => {
        const reply = await send('GET', `/v2/${NAMESPACE}/tags/list`);
        expectStatus(reply, [200]);
        numTags = ((JSON.parse(reply.body.toString('utf8')) as { tags: string[] | null }).tags ?? []).length;
      });
    });

    describe('Manifest delete', () => {
      it('DELETE request to manifest tag should return 202, unless tag deletion is disallowed (400/405)', async () => {
        const reply = await send('DELETE', `/v2/${NAMESPACE}/manifests/${tagToDelete}`);
        expectStatus(reply, [400, 202, 405]);
        if (reply.status === 400) {
          const { errors } = JSON.parse(reply.body.toString('utf8')) as { errors: Array<{ code: string }> };
          assert.equal(errors[0]?.code, 'UNSUPPORTED');
        }
      });
      it('DELETE request to manifest (digest) should yield 202 response unless already deleted', async () => {
        expectStatus(await send('DELETE', `/v2/${NAMESPACE}/manifests/${manifests[3]!.digest}`), [202, 404]);
      });
      it('GET request to deleted manifest URL should yield 404 response, unless delete is disallowed', async () => {
        expectStatus(await send('GET', `/v2/${NAMESPACE}/manifests/${manifests[3]!.digest}`), [404, 200]);
      });
      it('GET request to tags list should reflect manifest deletion', async () => {
        const reply = await send('GET', `/v2/${NAMESPACE}/tags/list`);
        expectStatus(reply, [200]);
        const tags = (JSON.parse(reply.body.toString('utf8')) as { tags: string[] | null }).tags ?? [];
        assert.ok(tags.length < numTags, `${tags.length} tags, ${numTags} before`);
      });
    });

    describe('Blob delete', () => {
      it('DELETE request to blob URL should yield 202 response', async () => {
        expectStatus(await send('DELETE', `/v2/${NAMESPACE}/blobs/${configs[3]!.digest}`), [202, 404, 405]);
        const layer = await send('DELETE', `/v2/${NAMESPACE}/blobs/${layerBlobDigest}`);
        expectStatus(layer, [202, 404, 405]);
        if (layer.status === 405) blobDeleteAllowed = false;
      });
      it('GET request to deleted blob URL should yield 404 response', async (t) => {
        if (!blobDeleteAllowed) return t.skip('suite: runs only when blob deletion is allowed');
        expectStatus(await send('GET', `/v2/${NAMESPACE}/blobs/${configs[3]!.digest}`), [404]);
      });
    });
  });
});
