// Contract: Berth's package and package-version JSON against fixtures written from GitHub's documentation (the
// response examples of docs "REST API endpoints for packages", and the schemas' required/optional keys): the same
// keys in the same order, each of the same JSON type, URLs in GitHub's formats pointing at Berth.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startBerth, type RunningBerth } from '../helpers/berth.js';
import { api, createToken, pushLabelledImage } from '../helpers/github.js';
import { pushImage, useAuthorization } from '../helpers/http.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
const fixture = (name: string): Record<string, Json> => JSON.parse(readFileSync(new URL(`fixtures/${name}`, import.meta.url), 'utf8')) as Record<string, Json>;
const PACKAGE = fixture('package.json');
const VERSION = fixture('package-version.json');
const SCHEMAS = fixture('schemas.json') as Record<string, { required: string[]; optional: string[]; nullable?: string[]; enums?: Record<string, string[]>; types?: Record<string, string> }>;

const typeOf = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : Number.isInteger(v) ? 'integer' : typeof v);

/**
 * `actual` has exactly the fixture's keys plus any of `optional` (of type `types[key]`, or null when `nullable`),
 * in the fixture's order, each value of the fixture value's type, recursively; arrays against their first item.
 */
function assertShape(actual: unknown, expected: Json, path: string, extra: { optional?: string[]; nullable?: string[]; types?: Record<string, string> } = {}): void {
  if (expected === null) return;
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${path}: array expected, got ${typeOf(actual)}`);
    if (expected.length > 0) for (const [i, item] of actual.entries()) assertShape(item, expected[0]!, `${path}[${i}]`);
    return;
  }
  if (typeof expected === 'object') {
    assert.equal(typeOf(actual), 'object', `${path}: object expected`);
    const obj = actual as Record<string, unknown>;
    const known = Object.keys(expected);
    const unexpected = Object.keys(obj).filter((k) => !known.includes(k) && !(extra.optional ?? []).includes(k));
    assert.deepEqual(unexpected, [], `${path}: keys GitHub does not send`);
    const missing = known.filter((k) => !(k in obj));
    assert.deepEqual(missing, [], `${path}: keys GitHub sends`);
    assert.deepEqual(Object.keys(obj).filter((k) => known.includes(k)), known, `${path}: key order`);
    for (const key of known) assertShape(obj[key], expected[key]!, `${path}.${key}`);
    for (const key of (extra.optional ?? []).filter((k) => k in obj && !known.includes(k))) {
      const t = typeOf(obj[key]);
      const ok = (extra.nullable ?? []).includes(key) && t === 'null' || extra.types?.[key] === t;
      assert.ok(ok, `${path}.${key}: ${t} is not allowed (${extra.types?.[key] ?? 'null'})`);
    }
    return;
  }
  assert.equal(typeOf(actual), typeOf(expected), `${path}: ${JSON.stringify(actual)} should be of type ${typeOf(expected)}`);
}

const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
let berth: RunningBerth;
/** `Bearer` token of octo, whose private package octo/tool is. */
let octoAuth: string;

before(async () => {
  berth = await startBerth();
  useAuthorization(berth.authorization);
  await pushImage(berth.url, 'acme/hello_docker', 'plain', 'latest');
  await pushLabelledImage(berth.url, 'acme/hello_docker', 'labelled', {
    reference: 'labelled', annotations: { 'org.opencontainers.image.description': 'Hello from Berth', 'org.opencontainers.image.licenses': 'MIT' },
  });
  await pushImage(berth.url, 'acme/team/api', 'nested', 'v1');
  await berth.admin((s) => s.accounts.createUser({ login: 'octo' }));
  const octo = await createToken(berth, 'octo', ['write:packages', 'delete:packages']);
  octoAuth = `Bearer ${octo}`;
  useAuthorization(`Basic ${Buffer.from(`octo:${octo}`).toString('base64')}`);
  await pushImage(berth.url, 'octo/tool', 'tool one', 'v1');
  await pushImage(berth.url, 'octo/tool', 'tool two', 'v2');
  useAuthorization(berth.authorization);
});
after(() => berth.stop());

describe('package object', () => {
  it('matches the documented example key by key, for an organization\'s package', async () => {
    const res = await api<Record<string, unknown>>(berth, '/v3/orgs/acme/packages/container/hello_docker');
    const schema = SCHEMAS.package!;
    assertShape(res.body, PACKAGE, 'package', { optional: ['repository'], nullable: schema.nullable! });
    for (const key of schema.required) assert.ok(key in res.body, `required ${key}`);
    assert.equal(res.body.repository, null, 'no linked repository');
    assert.ok(schema.enums!.package_type!.includes(res.body.package_type as string));
    assert.ok(schema.enums!.visibility!.includes(res.body.visibility as string));
    assert.match(res.body.created_at as string, TIMESTAMP);
    assert.match(res.body.updated_at as string, TIMESTAMP);
    assert.ok((res.body.id as number) > 0);
    assert.equal(res.body.url, `${berth.url}/api/v3/orgs/acme/packages/container/hello_docker`);
    assert.equal(res.body.html_url, `${berth.url}/orgs/acme/packages/container/package/hello_docker`);
    const owner = res.body.owner as Record<string, unknown>;
    for (const key of SCHEMAS['simple-user']!.required) assert.ok(key in owner, `owner.${key}`);
    assert.equal(owner.type, 'Organization');
    assert.equal(owner.url, `${berth.url}/api/v3/users/acme`);
    assert.equal(Buffer.from(owner.node_id as string, 'base64').toString(), `012:Organization${owner.id as number}`);
  });

  it('matches for a user\'s package and a nested name, in lists too', async () => {
    const mine = await api<Record<string, unknown>>(berth, '/v3/users/octo/packages/container/tool', { auth: octoAuth });
    assertShape(mine.body, PACKAGE, 'package', { optional: ['repository'], nullable: ['repository'] });
    assert.equal(mine.body.url, `${berth.url}/api/v3/users/octo/packages/container/tool`);
    assert.equal(mine.body.html_url, `${berth.url}/users/octo/packages/container/package/tool`);
    assert.equal((mine.body.owner as Record<string, unknown>).type, 'User');
    assert.equal(Buffer.from((mine.body.owner as { node_id: string }).node_id, 'base64').toString().slice(0, 7), '04:User');
    const list = await api<unknown[]>(berth, '/v3/orgs/acme/packages?package_type=container');
    assert.equal(list.body.length, 2);
    for (const p of list.body) assertShape(p, PACKAGE, 'package[]', { optional: ['repository'], nullable: ['repository'] });
    const nested = (list.body as Record<string, string>[]).find((p) => p.name === 'team/api')!;
    assert.equal(nested.url, `${berth.url}/api/v3/orgs/acme/packages/container/team%2Fapi`);
  });
});

describe('package version object', () => {
  const schema = (): { optional: string[]; types: Record<string, string> } => ({ optional: SCHEMAS['package-version']!.optional, types: SCHEMAS['package-version']!.types! });

  it('matches the documented example key by key; license and description only when labelled', async () => {
    const res = await api<Record<string, unknown>[]>(berth, '/v3/orgs/acme/packages/container/hello_docker/versions');
    assert.equal(res.body.length, 2);
    for (const v of res.body) {
      assertShape(v, VERSION, 'version', schema());
      for (const key of SCHEMAS['package-version']!.required) assert.ok(key in v, `required ${key}`);
      assert.match(v.name as string, /^sha256:[0-9a-f]{64}$/);
      assert.match(v.created_at as string, TIMESTAMP);
      assert.equal(v.url, `${berth.url}/api/v3/orgs/acme/packages/container/hello_docker/versions/${v.id as number}`);
      assert.equal(v.package_html_url, `${berth.url}/orgs/acme/packages/container/package/hello_docker`);
      assert.equal(v.html_url, `${berth.url}/orgs/acme/packages/container/hello_docker/${v.id as number}`);
    }
    const [labelled, plain] = res.body;
    assert.deepEqual(Object.keys(labelled!).filter((k) => !(k in VERSION)).sort(), ['description', 'license']);
    assert.equal(labelled!.license, 'MIT');
    assert.deepEqual(Object.keys(plain!).filter((k) => !(k in VERSION)), []);
    const one = await api(berth, `/v3/orgs/acme/packages/container/hello_docker/versions/${plain!.id as number}`);
    assertShape(one.body, VERSION, 'version', schema());
  });

  it('matches for a user\'s package, and a deleted version carries deleted_at', async () => {
    const list = await api<Record<string, unknown>[]>(berth, '/v3/users/octo/packages/container/tool/versions', { auth: octoAuth });
    const v = list.body[1]!;
    assert.equal(v.url, `${berth.url}/api/v3/users/octo/packages/container/tool/versions/${v.id as number}`);
    assert.equal(v.html_url, `${berth.url}/users/octo/packages/container/tool/${v.id as number}`);
    assert.equal(v.package_html_url, `${berth.url}/users/octo/packages/container/package/tool`);
    assert.equal((await api(berth, `/v3/user/packages/container/tool/versions/${v.id as number}`, { method: 'DELETE', auth: octoAuth })).status, 204);
    const deleted = await api<Record<string, unknown>[]>(berth, '/v3/users/octo/packages/container/tool/versions?state=deleted', { auth: octoAuth });
    assert.equal(deleted.body.length, 1);
    assertShape(deleted.body[0], VERSION, 'deleted version', schema());
    assert.match(deleted.body[0]!.deleted_at as string, TIMESTAMP);
  });
});
