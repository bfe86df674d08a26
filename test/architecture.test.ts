import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';

/**
 * The import rules of STYLE.md B1, checked on every import line of src/: each top-level folder may import only
 * the folders listed for it (and anyone may import util/, oci/ and observability/). Keep this list and B1 one list.
 */
const ALLOWED: Record<string, string[]> = {
  'main.ts': ['cli'],
  // Commands get their services from app/ (admin-services.ts); `migrate` and `storage migrate` work below them.
  cli: ['app', 'config', 'client', 'db', 'storage'],
  app: ['config', 'db', 'storage', 'http', 'registry', 'packages', 'accounts', 'auth', 'maintenance', 'events', 'mirror', 'lifecycle', 'audit'],
  config: [],
  http: ['registry', 'packages', 'accounts', 'auth', 'mirror', 'lifecycle', 'events', 'audit'],
  mirror: ['db', 'registry', 'audit'],
  registry: ['db', 'storage', 'events', 'audit'],
  // Listings show only what the caller may see: the policy (auth/policy.ts) decides.
  packages: ['db', 'registry', 'auth', 'events', 'audit'],
  accounts: ['db', 'auth', 'audit'],
  // Failed sign-ins and token uses are recorded where credentials are refused.
  auth: ['db', 'audit'],
  maintenance: ['db', 'storage', 'registry', 'audit'],
  lifecycle: ['db', 'registry', 'packages', 'auth', 'events', 'audit'],
  events: ['db', 'audit'],
  // Append-only records written in the transaction of the change they record (the outbox way).
  audit: ['db'],
  db: [],
  storage: [],
  oci: [],
  observability: [],
  util: [],
  client: [],
};
const EVERYONE = ['util', 'oci', 'observability'];
const SRC = resolve(new URL('../src', import.meta.url).pathname);
const IMPORT = /^\s*(?:import|export)\s[^'"]*from\s+['"](\.[^'"]+)['"]/gm;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') && !p.endsWith('.test.ts') ? [p] : [];
  });
}

const top = (path: string): string => relative(SRC, path).split('/')[0]!;
const rel = (path: string): string => relative(SRC, path);
const source = (path: string): string => readFileSync(path, 'utf8');
/** The src/ files a file imports (types too: a cycle through types is still a cycle of the design). */
const importsOf = (file: string): string[] => [...source(file).matchAll(IMPORT)].map((m) => resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts')));

test('imports follow the layer rules', () => {
  const violations: string[] = [];
  for (const file of files(SRC)) {
    const from = top(file);
    const rules = ALLOWED[from];
    assert.ok(rules, `src/${from} is not a known folder: add it to STYLE.md and this test`);
    for (const target of importsOf(file)) {
      const to = top(target);
      if (to === from || EVERYONE.includes(to) || rules.includes(to)) continue;
      violations.push(`${rel(file)} imports ${rel(target)} (${from} → ${to})`);
    }
  }
  assert.deepEqual(violations, []);
});

test('oci/ and observability/ import only util/; util/ imports nothing else of Berth', () => {
  for (const file of files(SRC).filter((f) => ['oci', 'util', 'observability'].includes(top(f)))) {
    for (const target of importsOf(file)) {
      const to = top(target);
      assert.ok(to === top(file) || (top(file) !== 'util' && to === 'util'), `${rel(file)} imports ${rel(target)}`);
    }
  }
});

test('no import cycles in src/, between folders or between files', () => {
  // Folders: the allowed edges (used ones only) must form no cycle, so the layers have an order.
  const folderEdges = new Map<string, Set<string>>();
  const graph = new Map<string, string[]>();
  for (const file of files(SRC)) {
    const targets = importsOf(file);
    graph.set(file, targets);
    for (const t of targets) if (top(t) !== top(file)) folderEdges.set(top(file), (folderEdges.get(top(file)) ?? new Set()).add(top(t)));
  }
  const cycles = [
    ...findCycles(new Map([...folderEdges].map(([k, v]) => [k, [...v]]))).map((c) => `folders: ${c.join(' → ')}`),
    ...findCycles(graph).map((c) => `files: ${c.map(rel).join(' → ')}`),
  ];
  assert.deepEqual(cycles, []);
});

/** One cycle per strongly connected component with more than one node (or a self-loop), as a path. */
function findCycles(graph: Map<string, string[]>): string[][] {
  const out: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): void => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') out.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return out;
}

// Identity and policy (issue 13 §1): every surface learns who is calling from auth/credentials.ts and asks
// auth/policy.ts what they may do; http/ only words the answer (challenge, error body, page).
const HTTP = files(SRC).filter((f) => top(f) === 'http');

test('no file under src/http reads credentials itself: the Authorization header and the session cookie go to the resolver', () => {
  const offenders: string[] = [];
  for (const file of HTTP) {
    const text = source(file);
    if (/base64/.test(text) && /Basic/.test(text)) offenders.push(`${rel(file)} decodes Basic credentials`);
    if (/\b(?:Bearer|Basic|token)\\s/.test(text)) offenders.push(`${rel(file)} parses an Authorization scheme`);
    for (const m of text.matchAll(/headers\.authorization|SESSION_COOKIE\)/g)) {
      const line = text.slice(text.lastIndexOf('\n', m.index) + 1, text.indexOf('\n', m.index));
      const call = text.slice(Math.max(0, m.index! - 400), m.index);
      if (!/credentials\.resolve\(\s*$|credentials\.resolve\([^;]*$/.test(call) && !/cookieOf\(request, SESSION_COOKIE\)/.test(line)) {
        offenders.push(`${rel(file)} reads ${m[0]} outside a call to the credential resolver: ${line.trim()}`);
      }
    }
  }
  assert.deepEqual(offenders, []);
});

test('the four surfaces (/v2, /token, /api/v3, the UI session) call the one resolver', () => {
  const callers = HTTP.filter((f) => /credentials\.resolve\(/.test(source(f))).map(rel).sort();
  assert.deepEqual(callers, ['http/github/github-auth.ts', 'http/oci/access.ts', 'http/oci/token-endpoint.ts', 'http/ui/ui-plugin.ts']);
  for (const file of files(SRC).filter((f) => top(f) !== 'auth')) {
    assert.doesNotMatch(source(file), /userId: null,\s*scopes: new Set/, `${rel(file)} defines an anonymous subject of its own (use auth's ANONYMOUS)`);
  }
});

test('policy is decided in auth/ only: no surface or service computes roles or org ownership itself', () => {
  const offenders: string[] = [];
  for (const file of files(SRC).filter((f) => !['auth', 'accounts', 'db'].includes(top(f)))) {
    const text = source(file);
    for (const t of importsOf(file)) {
      if (/auth\/(?:package-access|permissions|refusal)\.ts$/.test(t) && /\b(?:loadTargets?|loadNamespace|allowedActions|allowedOperations|refusal)\(/.test(text)) {
        offenders.push(`${rel(file)} calls a policy function directly (ask auth/policy.ts)`);
      }
    }
    if (/\.role\s*[!=]==\s*'owner'|isOrgOwner/.test(text)) offenders.push(`${rel(file)} decides org ownership (use Policy.administers)`);
    if (/selectFrom\('orgMembers'|selectFrom\('packagePermissions'/.test(text) && top(file) !== 'packages') {
      offenders.push(`${rel(file)} reads memberships or package roles (the policy's facts)`);
    }
  }
  // Each surface uses the policy: /v2 and /token directly, the UI through its deps, /api/v3 through PackageService.
  for (const file of ['http/oci/access.ts', 'http/oci/token-endpoint.ts', 'http/ui/ui-context.ts', 'packages/package-service.ts']) {
    assert.match(source(join(SRC, file)), /from '\.\.\/(?:\.\.\/)?auth\/policy\.js'/, `${file} uses auth/policy.ts`);
  }
  assert.deepEqual(offenders, []);
});
