/**
 * Screenshots of the web UI's main pages, light and dark, into docs/screenshots/ (linked from the README).
 *
 *   npm run screenshots        (or: npx tsx scripts/screenshots.ts [OUT_DIR])
 *
 * Starts Berth on a temporary data directory, seeds what a small team's registry looks like (an organization with
 * several packages sharing a base layer, a multi-arch index, a signature, tags, a month of downloads, a second
 * member and a team), signs in with chromium and saves one PNG per page and color scheme. Needs only Debian's
 * chromium (scripts/install-test-deps.sh installs it).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startBerth, type RunningBerth } from '../test/helpers/berth.js';
import { launchBrowser, openSession, type UiSession } from '../test/helpers/browser.js';

const OUT = process.argv[2] ?? new URL('../docs/screenshots/', import.meta.url).pathname;
const DAY = 86_400_000;
const ADMIN_PASSWORD = 'screenshots-admin';

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

interface Desc { mediaType: string; digest: string; size: number; platform?: { architecture: string; os: string; variant?: string }; annotations?: Record<string, string>; artifactType?: string }

/** Pushes over /v2 with the seeded token (monolithic blob uploads): quick, and as real as any client. */
class Pusher {
  readonly #berth: RunningBerth;
  /** When each manifest "was" pushed (digest → ms), applied afterwards by `backdate`: a registry with a history. */
  readonly pushedAt = new Map<string, number>();
  constructor(berth: RunningBerth) {
    this.#berth = berth;
  }

  async blob(repo: string, bytes: Buffer, mediaType: string): Promise<Desc> {
    const digest = sha256(bytes);
    const res = await this.#berth.fetch(`/v2/${repo}/blobs/uploads/?digest=${digest}`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: bytes });
    if (res.status !== 201) throw new Error(`blob push to ${repo}: ${res.status} ${await res.text()}`);
    return { mediaType, digest, size: bytes.length };
  }

  async manifest(repo: string, reference: string, body: object, at?: number): Promise<Desc> {
    const bytes = Buffer.from(JSON.stringify(body));
    if (at !== undefined && !this.pushedAt.has(sha256(bytes))) this.pushedAt.set(sha256(bytes), at);
    const mediaType = (body as { mediaType: string }).mediaType;
    const res = await this.#berth.fetch(`/v2/${repo}/manifests/${reference}`, { method: 'PUT', headers: { 'content-type': mediaType }, body: bytes });
    if (res.status !== 201) throw new Error(`manifest push to ${repo}:${reference}: ${res.status} ${await res.text()}`);
    return { mediaType, digest: sha256(bytes), size: bytes.length };
  }

  /** An image: the shared base layer plus `layerSizes` of its own; labels in the config, as `docker build` puts them. */
  async image(repo: string, opts: { base: Buffer; layerSizes: number[]; labels: Record<string, string>; arch?: string; tag?: string; created: string }): Promise<Desc> {
    const layers = [await this.blob(repo, opts.base, 'application/vnd.oci.image.layer.v1.tar+gzip')];
    for (const size of opts.layerSizes) layers.push(await this.blob(repo, randomBytes(size), 'application/vnd.oci.image.layer.v1.tar+gzip'));
    const config = await this.blob(repo, Buffer.from(JSON.stringify({
      created: opts.created, architecture: opts.arch ?? 'amd64', os: 'linux',
      config: { Labels: opts.labels, Env: ['PATH=/usr/local/bin:/usr/bin:/bin'], Cmd: ['/app/server'] },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
    })), 'application/vnd.oci.image.config.v1+json');
    const body = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers, annotations: { 'org.opencontainers.image.created': opts.created } };
    const desc = await this.manifest(repo, opts.tag ?? sha256(Buffer.from(JSON.stringify(body))), body, Date.parse(opts.created));
    return { ...desc, platform: { architecture: opts.arch ?? 'amd64', os: 'linux' } };
  }
}

async function seed(berth: RunningBerth): Promise<{ packages: string[]; versionPackage: string }> {
  await berth.admin(async (s) => {
    await s.accounts.createUser({ login: 'admin', password: ADMIN_PASSWORD, isAdmin: true, displayName: 'Instance admin' });
    await s.accounts.createUser({ login: 'mona', password: 'mona-password', displayName: 'Mona Lisa', email: 'mona@example.com' });
    await s.accounts.createUser({ login: 'hubot', password: 'hubot-password', displayName: 'Hubot' });
    await s.accounts.addMember('acme', 'mona', 'member');
    await s.accounts.addMember('acme', 'hubot', 'member');
    await s.accounts.createTeam('acme', 'platform');
    await s.accounts.addTeamMember('acme', 'platform', 'mona');
    await s.accounts.createTeam('acme', 'release-bots');
    await s.accounts.addTeamMember('acme', 'release-bots', 'hubot');
    await s.accounts.createOrg('globex', 'tester');
  });
  const push = new Pusher(berth);
  const base = randomBytes(2_800_000);
  const labels = (name: string, description: string): Record<string, string> => ({
    'org.opencontainers.image.source': `https://github.com/acme/${name}`,
    'org.opencontainers.image.description': description,
    'org.opencontainers.image.licenses': 'Apache-2.0',
  });
  const now = Date.now();
  const iso = (daysAgo: number): string => new Date(now - daysAgo * DAY).toISOString();

  // api: three releases, latest a multi-arch index with a signature attached.
  for (const [i, version] of ['1.4.0', '1.5.0'].entries()) {
    const img = await push.image('acme/api', { base, layerSizes: [1_200_000 + i * 50_000], labels: labels('api', 'The public HTTP API of Acme: orders, invoices and webhooks.'), tag: version, created: iso(20 - i * 7) });
    if (i === 1) await push.manifest('acme/api', 'stable', await manifestBody(berth, 'acme/api', img.digest));
  }
  const archs = await Promise.all(['amd64', 'arm64'].map((arch) => push.image('acme/api', {
    base, layerSizes: [1_350_000], labels: labels('api', 'The public HTTP API of Acme: orders, invoices and webhooks.'), arch, created: iso(1),
  })));
  const index = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: archs, annotations: { 'org.opencontainers.image.description': 'The public HTTP API of Acme: orders, invoices and webhooks.' } };
  const indexDesc = await push.manifest('acme/api', '1.6.0', index, now - DAY);
  await push.manifest('acme/api', 'latest', index);
  const sigLayer = await push.blob('acme/api', Buffer.from('{"critical":{"identity":{"docker-reference":"acme/api"}}}'), 'application/vnd.dev.cosign.simplesigning.v1+json');
  const empty = await push.blob('acme/api', Buffer.from('{}'), 'application/vnd.oci.empty.v1+json');
  await push.manifest('acme/api', `sha256-${indexDesc.digest.slice(7)}.sig`, {
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json',
    config: empty, layers: [sigLayer], subject: { mediaType: indexDesc.mediaType, digest: indexDesc.digest, size: indexDesc.size },
  }, now - DAY + 60_000);

  await push.image('acme/web', { base, layerSizes: [3_400_000, 600_000], labels: labels('web', 'Customer-facing web front end (Next.js, server-rendered).'), tag: '2026.11.3', created: iso(3) });
  await push.image('acme/web', { base, layerSizes: [3_450_000, 610_000], labels: labels('web', 'Customer-facing web front end (Next.js, server-rendered).'), tag: 'latest', created: iso(0.2) });
  await push.image('acme/worker', { base, layerSizes: [900_000], labels: labels('worker', 'Background jobs: e-mail, PDF invoices, exports.'), tag: 'v0.9.2', created: iso(9) });
  await push.image('acme/team/db-migrator', { base, layerSizes: [250_000], labels: labels('db-migrator', 'Runs schema migrations before each deploy.'), tag: '17', created: iso(30) });
  await push.image('acme/docs', { base, layerSizes: [5_200_000], labels: labels('docs', 'docs.acme.example, built with Hugo.'), tag: 'main', created: iso(2) });
  await push.image('tester/sandbox', { base, layerSizes: [400_000], labels: { 'org.opencontainers.image.description': 'Personal experiments.' }, tag: 'dev', created: iso(5) });
  await push.image('globex/billing', { base, layerSizes: [2_100_000], labels: labels('billing', 'Billing service of Globex.'), tag: '3.2.1', created: iso(6) });

  await push.image('acme/legacy-api', { base, layerSizes: [300_000], labels: labels('legacy-api', 'The old API, replaced by acme/api.'), tag: '0.9.0', created: iso(40) });

  // A package deleted through the REST API (the "Deleted" tab), and a README written in the package settings; both
  // before the backdating, which sets the packages' times from their pushes.
  const deleted = await berth.fetch('/api/v3/orgs/acme/packages/container/legacy-api', { method: 'DELETE' });
  if (deleted.status !== 204) throw new Error(`deleting acme/legacy-api: ${deleted.status}`);
  await berth.admin((s) => s.packages.setReadme('acme/api', [
    '# Acme API', '', 'The public HTTP API of Acme: **orders**, **invoices** and webhooks. See the [API reference](https://docs.acme.example/api).', '',
    '## Run it', '', '```sh', 'docker run --rm -p 8080:8080 -e DATABASE_URL=postgres://… registry.acme.example/acme/api:latest', '```', '',
    '## Configuration', '', '- `DATABASE_URL`: PostgreSQL connection string', '- `LOG_LEVEL`: `info` (default) or `debug`', '',
    '> Images are signed with cosign; verify before deploying.',
  ].join('\n')));

  await backdate(berth, push.pushedAt);

  // Visibilities as a team would have them.
  await berth.admin(async (s) => {
    await s.packages.setVisibility('acme/web', 'public');
    await s.packages.setVisibility('acme/docs', 'public');
    await s.packages.setVisibility('acme/worker', 'internal');
  });

  // Real pulls (counted by the server), plus a month of history written straight into the daily counters.
  for (const [repo, tag, n] of [['acme/api', 'latest', 12], ['acme/web', 'latest', 7], ['acme/worker', 'v0.9.2', 3]] as const) {
    for (let i = 0; i < n; i++) await berth.fetch(`/v2/${repo}/manifests/${tag}`, { headers: { accept: 'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json' } });
  }
  const today = Math.floor(now / DAY);
  const manifests = await berth.query<{ id: number; name: string }>(
    'select distinct m.id, r.name from manifests m join repositories r on r.id = m.repository_id join tags t on t.manifest_id = m.id',
  );
  const weight: Record<string, number> = { 'acme/api': 40, 'acme/web': 25, 'acme/docs': 12, 'acme/worker': 6 };
  for (const m of manifests) {
    const w = weight[m.name] ?? 2;
    for (let d = 1; d <= 30; d++) {
      const count = Math.max(0, Math.round(w * (0.6 + 0.4 * Math.sin(d / 3)) + ((d * 7 + m.id) % 5) - (d % 7 === 0 ? w / 2 : 0)));
      if (count > 0) await berth.query('insert into downloads_daily (manifest_id, day, count) values (?, ?, ?)', m.id, today - d, count);
    }
  }
  return { packages: ['api', 'web', 'worker', 'team/db-migrator', 'docs'], versionPackage: 'api' };
}

/** Moves push times into the past (versions, tags, packages), so lists read "3 days ago" rather than "just now". */
async function backdate(berth: RunningBerth, pushedAt: ReadonlyMap<string, number>): Promise<void> {
  for (const [digest, at] of pushedAt) await berth.query('update manifests set created_at = ?, updated_at = ? where digest = ?', at, at, digest);
  await berth.query('update tags set updated_at = (select m.created_at from manifests m where m.id = tags.manifest_id)');
  await berth.query(`update repositories set
    created_at = coalesce((select min(m.created_at) from manifests m where m.repository_id = repositories.id), created_at),
    updated_at = coalesce((select max(m.created_at) from manifests m where m.repository_id = repositories.id), updated_at)`);
}

async function manifestBody(berth: RunningBerth, repo: string, digest: string): Promise<object> {
  const res = await berth.fetch(`/v2/${repo}/manifests/${digest}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
  return (await res.json()) as object;
}

/** The pages to capture: name, path, and what to do on the page first (e.g. create a token to show it). */
interface Shot {
  readonly name: string;
  readonly path: string;
  readonly as: 'anonymous' | 'tester' | 'admin';
  readonly prepare?: (ui: UiSession) => Promise<void>;
  /** Also taken at a phone's width (390 px, light): `NAME-phone.png`. */
  readonly phone?: boolean;
}

async function versionPath(berth: RunningBerth, pkg: string): Promise<string> {
  const res = await berth.fetch(`/api/v3/orgs/acme/packages/container/${encodeURIComponent(pkg)}/versions`);
  const versions = (await res.json()) as { html_url: string; metadata: { container: { tags: string[] } } }[];
  const v = versions.find((x) => x.metadata.container.tags.includes('latest')) ?? versions[0]!;
  return new URL(v.html_url).pathname;
}

async function main(): Promise<void> {
  const berth = await startBerth({ env: { BERTH_STATS_FLUSH_INTERVAL: '1s' } });
  const browser = await launchBrowser();
  try {
    const { versionPackage } = await seed(berth);
    const version = await versionPath(berth, versionPackage);
    const shots: Shot[] = [
      { name: 'sign-in', path: '/login', as: 'anonymous' },
      { name: 'org-packages', path: '/orgs/acme/packages', as: 'tester', phone: true },
      { name: 'deleted-packages', path: '/orgs/acme/packages?tab=deleted', as: 'tester', phone: true },
      { name: 'package', path: '/orgs/acme/packages/container/package/api', as: 'tester', phone: true },
      { name: 'versions', path: '/orgs/acme/packages/container/api/versions?filter=tagged', as: 'tester', phone: true },
      { name: 'version', path: version, as: 'tester' },
      { name: 'package-settings', path: '/orgs/acme/packages/container/api/settings', as: 'tester', phone: true },
      {
        name: 'token-new', path: '/settings/tokens', as: 'tester',
        prepare: async (ui) => {
          await ui.page.goto('/settings/tokens/new');
          await ui.page.getByLabel('Note').fill('CI deploys');
          await ui.page.locator('input[name="scopes"][value="write:packages"]').check();
          await Promise.all([ui.page.waitForNavigation(), ui.page.getByRole('button', { name: /generate token/i }).click()]);
        },
      },
      { name: 'tokens-list', path: '/settings/tokens', as: 'tester' },
      { name: 'org-settings', path: '/orgs/acme/settings', as: 'tester' },
      { name: 'usage', path: '/orgs/acme/usage', as: 'tester' },
      { name: 'admin', path: '/admin', as: 'admin' },
    ];
    // Old PNGs go (a page may have been renamed); nothing else in the folder is touched.
    mkdirSync(OUT, { recursive: true });
    for (const name of readdirSync(OUT)) if (name.endsWith('.png')) rmSync(join(OUT, name));
    for (const scheme of ['light', 'dark'] as const) {
      const sessions = new Map<Shot['as'], UiSession>();
      const sessionFor = async (who: Shot['as']): Promise<UiSession> => {
        let ui = sessions.get(who);
        if (!ui) {
          ui = await openSession(browser, berth.url, { colorScheme: scheme });
          if (who === 'tester') await ui.signIn('tester', 'tester-password');
          if (who === 'admin') await ui.signIn('admin', ADMIN_PASSWORD);
          sessions.set(who, ui);
        }
        return ui;
      };
      for (const shot of shots) {
        const ui = await sessionFor(shot.as);
        if (shot.prepare) await shot.prepare(ui);
        else {
          const status = await ui.goto(shot.path);
          if (status !== 200) throw new Error(`${shot.path} answered ${status}`);
        }
        ui.assertClean();
        const file = await ui.screenshot(OUT, `${shot.name}-${scheme}`);
        process.stdout.write(`${file}\n`);
      }
      for (const ui of sessions.values()) await ui.close();
    }
    // Phones: the pages people open there, at 390 px.
    const phone = await openSession(browser, berth.url, { viewport: { width: 390, height: 844 } });
    await phone.signIn('tester', 'tester-password');
    for (const shot of shots.filter((s) => s.phone)) {
      const status = await phone.goto(shot.path);
      if (status !== 200) throw new Error(`${shot.path} answered ${status}`);
      phone.assertClean();
      process.stdout.write(`${await phone.screenshot(OUT, `${shot.name}-phone`)}\n`);
    }
    await phone.close();
  } finally {
    await browser.close();
    await berth.stop();
  }
}

await main();
