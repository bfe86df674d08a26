import type { Db } from '../db/schema.js';
import type { Action } from './actions.js';
import { mirrorActions, type MirrorReaders } from './mirror-access.js';
import { loadTarget } from './package-access.js';
import { allowedActions, type Subject } from './permissions.js';

/** Tells whether a repository name is served by a pull-through mirror (src/mirror/), and who may pull there. */
export type MirrorLookup = (name: string) => Promise<MirrorReaders | null>;

/** Answers "what may this subject do with this package", reading the facts from the database. */
export class Authorizer {
  readonly #db: Db;
  readonly #mirrorOf: MirrorLookup | null;

  constructor(deps: { db: Db; mirrorOf?: MirrorLookup }) {
    this.#db = deps.db;
    this.#mirrorOf = deps.mirrorOf ?? null;
  }

  async allowed(subject: Subject, name: string): Promise<{ actions: Set<Action>; exists: boolean }> {
    // A mirror's repositories are no account's packages: one rule decides them (auth/mirror-access.ts).
    const mirrorReaders = await this.#mirrorOf?.(name);
    if (mirrorReaders) return { actions: mirrorActions(subject, mirrorReaders), exists: true };
    const target = await loadTarget(this.#db, subject.userId, name);
    return { actions: allowedActions(subject, target), exists: target.exists };
  }
}
