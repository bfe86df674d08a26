import type { Action } from './actions.js';
import type { Subject } from './permissions.js';

/** Who may pull through the pull-through mirrors (config `mirror.access`). */
export type MirrorReaders = 'public' | 'signed-in';

/**
 * The one decision for repositories of a mirror namespace: pull only, never push or delete (their content comes
 * from the upstream), by anyone when the admin made mirrors public, else by signed-in users whose credential may
 * read packages. A CI token may pull through the mirror too (its build needs base images) though it is limited to
 * one package of its own: mirrored content is the upstream's, not another package of this instance.
 */
export function mirrorActions(subject: Subject, readers: MirrorReaders): Set<Action> {
  if (readers === 'public') return new Set<Action>(['pull']);
  return subject.userId !== null && subject.scopes.has('read:packages') ? new Set<Action>(['pull']) : new Set<Action>();
}
