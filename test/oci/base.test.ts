// Base endpoint, unknown endpoints and unsupported methods (distribution-spec "Endpoints" end-1 and "Error Codes").
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { assertOciError, assertRawOciError, pushBlob, rawRequest, registryFetch, sha256, useAuthorization } from '../helpers/http.js';

describe('OCI base endpoint and routing', () => {
  let berth: RunningBerth;
  before(async () => {
    berth = await startBerth();
    useAuthorization(berth.authorization);
  });
  after(async () => {
    await berth.stop();
  });

  it('GET /v2/ is 200 with the API version header', async () => {
    const res = await registryFetch(`${berth.url}/v2/`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
    assert.deepEqual(await res.json(), {});
  });

  it('GET /v2 (no trailing slash) and HEAD /v2/ are 200 too', async () => {
    const bare = await registryFetch(`${berth.url}/v2`);
    assert.equal(bare.status, 200);
    assert.equal(bare.headers.get('docker-distribution-api-version'), 'registry/2.0');
    await bare.arrayBuffer();
    const head = await registryFetch(`${berth.url}/v2/`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('docker-distribution-api-version'), 'registry/2.0');
  });

  it('every /v2 response carries the API version header, errors included', async () => {
    const res = await registryFetch(`${berth.url}/v2/acme/app/manifests/nope`);
    assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
    await assertOciError(res, 404, 'NAME_UNKNOWN');
  });

  it('POST/PUT/PATCH/DELETE on /v2/ are 405 UNSUPPORTED', async () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      const res = await registryFetch(`${berth.url}/v2/`, { method });
      await assertOciError(res, 405, 'UNSUPPORTED');
    }
  });

  it('unknown endpoints under /v2 are 404 with an OCI error body', async () => {
    for (const path of ['/v2/foo', '/v2/acme/app', '/v2/acme/app/blobs', '/v2/acme/app/tags', '/v2/acme/app/something/else', '/v2/_catalog/x']) {
      const res = await registryFetch(`${berth.url}${path}`);
      assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0', path);
      await assertOciError(res, 404, null);
    }
  });

  it('an OPTIONS request (a method no endpoint has) gets an OCI error, not a 500', async () => {
    const res = await registryFetch(`${berth.url}/v2/acme/app/tags/list`, { method: 'OPTIONS' });
    assert.ok(res.status === 404 || res.status === 405, `status ${res.status}`);
    await assertOciError(res, res.status, null);
  });

  it('methods an endpoint does not support are 405 UNSUPPORTED', async () => {
    const digest = await pushBlob(berth.url, 'acme/app', 'base-blob');
    const cases: Array<[string, string]> = [
      ['POST', '/v2/acme/app/manifests/latest'],
      ['PATCH', '/v2/acme/app/manifests/latest'],
      ['PUT', `/v2/acme/app/blobs/${digest}`],
      ['POST', `/v2/acme/app/blobs/${digest}`],
      ['PATCH', `/v2/acme/app/blobs/${digest}`],
      ['DELETE', '/v2/acme/app/tags/list'],
      ['PUT', '/v2/acme/app/tags/list'],
      ['POST', '/v2/_catalog'],
      ['DELETE', '/v2/_catalog'],
      ['GET', '/v2/acme/app/blobs/uploads/'],
      ['PUT', '/v2/acme/app/blobs/uploads/'],
      ['POST', `/v2/acme/app/referrers/${digest}`],
      ['DELETE', `/v2/acme/app/referrers/${digest}`],
    ];
    for (const [method, path] of cases) {
      const res = await registryFetch(`${berth.url}${path}`, { method });
      const error = await assertOciError(res, 405, 'UNSUPPORTED');
      assert.ok(error.message.includes(method), `${method} ${path}: ${error.message}`);
    }
    // The blob is untouched by the refused requests.
    const blob = await registryFetch(`${berth.url}/v2/acme/app/blobs/${digest}`);
    assert.equal(blob.status, 200);
    assert.equal(sha256(Buffer.from(await blob.arrayBuffer())), digest);
  });

  it('GET /healthz and /livez are 200', async () => {
    for (const path of ['/healthz', '/livez']) {
      const res = await registryFetch(`${berth.url}${path}`);
      assert.equal(res.status, 200, path);
      assert.deepEqual(await res.json(), { status: 'ok' });
    }
  });

  it('a raw path with an encoded slash in the name is rejected, never a 500', async () => {
    const res = await rawRequest(berth.url, { method: 'GET', path: '/v2/acme%2Fapp/manifests/latest' });
    assertRawOciError(res, 400, 'NAME_INVALID');
  });
});
