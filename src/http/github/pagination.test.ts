import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FastifyRequest } from 'fastify';
import { isBerthError } from '../../util/errors.js';
import { linkHeader, readPage } from './pagination.js';

const request = (url: string): FastifyRequest => ({ url }) as FastifyRequest;
const BASE = 'https://b.example';

test('page and per_page: defaults 1 and 30, per_page at most 100, malformed values ignored', () => {
  assert.deepEqual(readPage(request('/api/v3/x')), { page: 1, perPage: 30 });
  assert.deepEqual(readPage(request('/api/v3/x?page=3&per_page=7')), { page: 3, perPage: 7 });
  assert.deepEqual(readPage(request('/api/v3/x?per_page=500')), { page: 1, perPage: 100 });
  assert.deepEqual(readPage(request('/api/v3/x?page=0&per_page=-2')), { page: 1, perPage: 30 });
  assert.throws(() => readPage(request('/api/v3/x?page=101&per_page=100')), (err: unknown) => isBerthError(err) && err.status === 400);
});

test('Link: none on a single page; prev, next, last, first otherwise, echoing the other parameters', () => {
  const url = '/api/v3/orgs/a/packages?package_type=container&per_page=2';
  assert.equal(linkHeader(BASE, request(url), { page: 1, perPage: 2 }, 2), null);
  assert.equal(linkHeader(BASE, request(url), { page: 1, perPage: 2 }, 5),
    `<${BASE}${url}&page=2>; rel="next", <${BASE}${url}&page=3>; rel="last"`);
  assert.equal(linkHeader(BASE, request(`${url}&page=2`), { page: 2, perPage: 2 }, 5),
    `<${BASE}${url}&page=1>; rel="prev", <${BASE}${url}&page=3>; rel="next", <${BASE}${url}&page=3>; rel="last", <${BASE}${url}&page=1>; rel="first"`);
  assert.equal(linkHeader(BASE, request(`${url}&page=3`), { page: 3, perPage: 2 }, 5),
    `<${BASE}${url}&page=2>; rel="prev", <${BASE}${url}&page=1>; rel="first"`);
  assert.equal(linkHeader(BASE, request('/api/v3/orgs/a/packages/container/team%2Fapi/versions'), { page: 1, perPage: 30 }, 31),
    `<${BASE}/api/v3/orgs/a/packages/container/team%2Fapi/versions?page=2>; rel="next", <${BASE}/api/v3/orgs/a/packages/container/team%2Fapi/versions?page=2>; rel="last"`);
});

test('Link: last is the last page GitHub serves (10,000 items), also when the count stopped above that', () => {
  const url = '/api/v3/orgs/a/packages?package_type=container';
  // 10,001 = "more than 10,000" (packages/listing-count.ts); 30 × 333 = 9,990 is the last full page allowed.
  assert.equal(linkHeader(BASE, request(url), { page: 1, perPage: 30 }, 10_001),
    `<${BASE}${url}&page=2>; rel="next", <${BASE}${url}&page=333>; rel="last"`);
  assert.equal(linkHeader(BASE, request(url), { page: 1, perPage: 30 }, 10_000),
    `<${BASE}${url}&page=2>; rel="next", <${BASE}${url}&page=333>; rel="last"`);
  assert.equal(linkHeader(BASE, request(`${url}&per_page=100`), { page: 1, perPage: 100 }, 10_001),
    `<${BASE}${url}&per_page=100&page=2>; rel="next", <${BASE}${url}&per_page=100&page=100>; rel="last"`);
  assert.doesNotThrow(() => readPage(request(`${url}&page=333`)));
  assert.throws(() => readPage(request(`${url}&page=334`)));
});
