import type { MirrorReaders } from '../oci/names.js';
import type { Action } from './actions.js';
import type { Subject } from './permissions.js';


/**
 * The one decision for repositories of a mirror namespace: pull only, never push or delete (their content comes
 * from the upstream), by whom the mirror's access says (config `mirror.access`, or the mirror's own):
 * - `public`: anyone;
 * - `signed-in`: users whose credential may read packages. A CI token may pull through the mirror too (its build
 *   needs base images) though it is limited to one package of its own: mirrored content is the upstream's, not
 *   another package of this instance;
 * - `org:LOGIN`: such users who are members of that organization (`isMember`), and its bots that may pull.
 */
export async function mirrorActions(subject: Subject, readers: MirrorReaders, isMember: (userId: number, org: string) => Promise<boolean>): Promise<Set<Action>> {
  const PULL = new Set<Action>(['pull']);
  const NOTHING = new Set<Action>();
  if (readers === 'public') return PULL;
  const org = readers.startsWith('org:') ? readers.slice('org:'.length) : null;
  if (subject.grant) return org !== null && subject.grant.org.toLowerCase() === org && subject.grant.actions.includes('pull') ? PULL : NOTHING;
  if (subject.userId === null || !subject.scopes.has('read:packages')) return NOTHING;
  if (org === null) return PULL;
  return (await isMember(subject.userId, org)) ? PULL : NOTHING;
}
