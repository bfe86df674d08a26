import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';

/**
 * The import rules of STYLE.md B1, checked on every import line of src/: each top-level folder may import only
 * the folders listed for it (and anyone may import util/, oci/ and observability/).
 */
const ALLOWED: Record<string, string[]> = {
  'main.ts': ['cli'],
  cli: ['app', 'config', 'client', 'db', 'storage', 'registry', 'packages', 'accounts', 'auth', 'maintenance', 'lifecycle'],
  app: ['config', 'db', 'storage', 'http', 'registry', 'packages', 'accounts', 'auth', 'maintenance', 'events', 'lifecycle'],
  config: [],
  http: ['registry', 'packages', 'accounts', 'auth', 'lifecycle'],
  registry: ['db', 'storage', 'events'],
  packages: ['db', 'registry', 'auth'],
  accounts: ['db', 'auth'],
  auth: ['db'],
  maintenance: ['db', 'storage', 'registry'],
  lifecycle: ['db', 'registry', 'packages', 'auth'],
  events: ['db'],
  db: [],
  storage: [],
  oci: [],
  observability: [],
  util: [],
  client: [],
};
const EVERYONE = ['util', 'oci', 'observability'];
const SRC = resolve(new URL('../src', import.meta.url).pathname);

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') && !p.endsWith('.test.ts') ? [p] : [];
  });
}

const top = (path: string): string => relative(SRC, path).split('/')[0]!;

test('imports follow the layer rules', () => {
  const violations: string[] = [];
  for (const file of files(SRC)) {
    const from = top(file);
    const rules = ALLOWED[from];
    assert.ok(rules, `src/${from} is not a known folder: add it to STYLE.md and this test`);
    for (const m of readFileSync(file, 'utf8').matchAll(/^\s*(?:import|export)\s[^'"]*from\s+['"](\.[^'"]+)['"]/gm)) {
      const to = top(resolve(dirname(file), m[1]!));
      if (to === from || EVERYONE.includes(to) || rules.includes(to)) continue;
      violations.push(`${relative(SRC, file)} imports ${m[1]} (${from} → ${to})`);
    }
  }
  assert.deepEqual(violations, []);
});

test('oci/, util/ and observability/ import nothing else of Berth', () => {
  for (const file of files(SRC).filter((f) => ['oci', 'util', 'observability'].includes(top(f)))) {
    for (const m of readFileSync(file, 'utf8').matchAll(/from\s+['"](\.[^'"]+)['"]/g)) {
      const to = top(resolve(dirname(file), m[1]!));
      assert.ok(to === top(file) || (top(file) !== 'util' && to === 'util'), `${relative(SRC, file)} imports ${m[1]}`);
    }
  }
});
