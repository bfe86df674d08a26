import type { Db } from '../db/schema.js';
import { packageFigures } from './package-figures.js';

/** A mirror namespace's cache in numbers. */
export interface MirrorNamespaceSummary {
  readonly namespace: string;
  /** Cached repositories holding at least one live version. */
  readonly packages: number;
  readonly versions: number;
  /** Distinct blob bytes of the live versions, per repository, summed (as the package lists count them). */
  readonly sizeBytes: number;
  readonly lastPulledAt: number | null;
}

/** One cached repository of a mirror namespace. */
export interface CachedRepository {
  readonly id: number;
  /** `dockerhub/library/alpine`. */
  readonly name: string;
  readonly versions: number;
  readonly sizeBytes: number;
  /** When it was first cached. */
  readonly createdAt: number;
  /** The last pull through the cache of any of its versions; null when none was recorded (cached before 0021). */
  readonly lastPulledAt: number | null;
}

/**
 * The packages view of pull-through caches (src/mirror/): a mirror's cached repositories are the repositories of
 * its namespace (`repositories.owner` is the namespace, no account owns it), with their live versions, size and
 * last pull (mirror_pulls). Read by the mirror pages, `GET /api/v3/berth/mirrors…` and `berth mirror`.
 */
export class MirrorPackages {
  readonly #db: Db;

  constructor(deps: { db: Db }) {
    this.#db = deps.db;
  }

  /** One summary per namespace asked for, in that order (zeros for a namespace with nothing cached). */
  async summaries(namespaces: readonly string[]): Promise<MirrorNamespaceSummary[]> {
    if (namespaces.length === 0) return [];
    const live = this.#db.selectFrom('repositories as p').innerJoin('manifests as m', 'm.repositoryId', 'p.id')
      .where('p.owner', 'in', namespaces).where('p.deletedAt', 'is', null).where('m.deletedAt', 'is', null);
    const [rows, ids] = await Promise.all([
      live.leftJoin('mirrorPulls as mp', 'mp.manifestId', 'm.id')
        .select(['p.owner', (eb) => eb.fn.count<number>('m.id').distinct().as('versions'),
          (eb) => eb.fn.count<number>('p.id').distinct().as('packages'), (eb) => eb.fn.max('mp.pulledAt').as('lastPulledAt')])
        .groupBy('p.owner').execute(),
      live.select(['p.id', 'p.owner']).distinct().execute(),
    ]);
    // A subquery rather than a list of ids: a large cache holds more repositories than a statement takes parameters.
    const figures = await packageFigures(this.#db, this.#db.selectFrom('repositories').select('id')
      .where('owner', 'in', namespaces).where('deletedAt', 'is', null));
    const byOwner = new Map(rows.map((r) => [r.owner, r]));
    return namespaces.map((namespace) => {
      const r = byOwner.get(namespace);
      const sizeBytes = ids.filter((i) => i.owner === namespace).reduce((sum, i) => sum + (figures.get(i.id)?.sizeBytes ?? 0), 0);
      return {
        namespace, packages: Number(r?.packages ?? 0), versions: Number(r?.versions ?? 0), sizeBytes,
        lastPulledAt: r?.lastPulledAt === null || r?.lastPulledAt === undefined ? null : Number(r.lastPulledAt),
      };
    });
  }

  /** A page of the namespace's cached repositories by name, and how many there are. */
  async list(namespace: string, page: { page: number; perPage: number }): Promise<{ total: number; repositories: CachedRepository[] }> {
    const live = this.#db.selectFrom('repositories as p').innerJoin('manifests as m', 'm.repositoryId', 'p.id')
      .where('p.owner', '=', namespace).where('p.deletedAt', 'is', null).where('m.deletedAt', 'is', null);
    const [count, rows] = await Promise.all([
      live.select((eb) => eb.fn.count<number>('p.id').distinct().as('n')).executeTakeFirstOrThrow(),
      live.leftJoin('mirrorPulls as mp', 'mp.manifestId', 'm.id')
        .select(['p.id', 'p.name', 'p.createdAt', (eb) => eb.fn.count<number>('m.id').distinct().as('versions'), (eb) => eb.fn.max('mp.pulledAt').as('lastPulledAt')])
        .groupBy(['p.id', 'p.name', 'p.createdAt']).orderBy('p.name').limit(page.perPage).offset((page.page - 1) * page.perPage).execute(),
    ]);
    const figures = await packageFigures(this.#db, rows.map((r) => r.id));
    return {
      total: Number(count.n),
      repositories: rows.map((r) => ({
        id: r.id, name: r.name, versions: Number(r.versions), sizeBytes: figures.get(r.id)?.sizeBytes ?? 0, createdAt: r.createdAt,
        lastPulledAt: r.lastPulledAt === null ? null : Number(r.lastPulledAt),
      })),
    };
  }
}
