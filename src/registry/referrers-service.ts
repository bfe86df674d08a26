import type { Db } from '../db/schema.js';
import type { Digest } from '../oci/digest.js';
import type { RepoName } from '../oci/names.js';

export interface ReferrerDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

/** The referrers API (spec "Listing referrers"): manifests in the repository whose `subject` is `digest`. */
export class ReferrersService {
  readonly #db: Db;

  constructor(deps: { db: Db }) {
    this.#db = deps.db;
  }

  async list(name: RepoName, subject: Digest, artifactType: string | undefined): Promise<ReferrerDescriptor[]> {
    let q = this.#db.selectFrom('manifests as m')
      .innerJoin('repositories as r', 'r.id', 'm.repositoryId')
      .select(['m.mediaType', 'm.digest', 'm.size', 'm.artifactType', 'm.annotations'])
      .where('r.name', '=', name)
      .where('m.subjectDigest', '=', subject)
      .where('m.deletedAt', 'is', null)
      .orderBy('m.id');
    // A media type never contains NUL (and PostgreSQL rejects it in text): such a filter matches nothing.
    if (artifactType?.includes('\0')) return [];
    if (artifactType !== undefined) q = q.where('m.artifactType', '=', artifactType);
    const rows = await q.execute();
    // A repository the registry does not know has no referrers: the spec forbids a 404 here.
    return rows.map((r) => {
      const annotations = JSON.parse(r.annotations) as Record<string, string>;
      return {
        mediaType: r.mediaType,
        digest: r.digest,
        size: r.size,
        ...(r.artifactType ? { artifactType: r.artifactType } : {}),
        ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
      };
    });
  }
}
