import type { Db } from '../db/schema.js';
import type { Action } from './actions.js';
import { loadTarget } from './package-access.js';
import { allowedActions, type Subject } from './permissions.js';

/** Answers "what may this subject do with this package", reading the facts from the database. */
export class Authorizer {
  readonly #db: Db;

  constructor(deps: { db: Db }) {
    this.#db = deps.db;
  }

  async allowed(subject: Subject, name: string): Promise<{ actions: Set<Action>; exists: boolean }> {
    const target = await loadTarget(this.#db, subject.userId, name);
    return { actions: allowedActions(subject, target), exists: target.exists };
  }
}
