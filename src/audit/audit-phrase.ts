import { invalid } from '../util/errors.js';
import type { AuditFilter } from './audit-log.js';

/**
 * GitHub's audit-log search phrase (docs "Searching the audit log for your organization"): space-separated
 * `qualifier:value` terms, all of which must hold. Berth knows `action:` (a name such as `package.delete`, or a
 * category such as `package`), `actor:` (a login), `repo:`/`package:` (`owner/name` or `name`) and `created:` (a
 * date `YYYY-MM-DD`, `>=`, `>`, `<=`, `<` a date, or `FROM..TO`, in UTC). Anything else is refused (422), so a
 * typo never silently widens the answer.
 */
export function parseAuditPhrase(phrase: string | undefined): AuditFilter {
  const actions: string[] = [];
  let actor: string | undefined;
  let repository: string | undefined;
  let createdFrom: number | undefined;
  let createdTo: number | undefined;
  for (const term of (phrase ?? '').split(/\s+/).filter((t) => t !== '')) {
    const colon = term.indexOf(':');
    const key = colon < 0 ? '' : term.slice(0, colon).toLowerCase();
    const value = term.slice(colon + 1);
    if (key === 'action') {
      if (!/^[a-z_]+(\.[a-z_]+)?$/.test(value)) throw invalid(`action:${value} is not an action name (package.delete) or category (package)`);
      actions.push(value.includes('.') ? value : `${value}.`);
    } else if (key === 'actor') {
      if (!/^[a-zA-Z0-9-]{1,39}$/.test(value)) throw invalid(`actor:${value} is not a login`);
      actor = value;
    } else if (key === 'repo' || key === 'package') {
      if (!/^[a-z0-9][a-z0-9._/-]*$/i.test(value) || value.length > 255) throw invalid(`${key}:${value} is not a package name`);
      repository = value.toLowerCase();
    } else if (key === 'created') {
      [createdFrom, createdTo] = parseCreated(value);
    } else {
      throw invalid(`"${term}" is not a search term Berth knows: use action:, actor:, repo: (or package:) and created:`);
    }
  }
  return {
    ...(actions.length ? { actions } : {}),
    ...(actor !== undefined ? { actor } : {}),
    ...(repository !== undefined ? { repository } : {}),
    ...(createdFrom !== undefined ? { createdFrom } : {}),
    ...(createdTo !== undefined ? { createdTo } : {}),
  };
}

const DAY = 86_400_000;

function day(text: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  const ms = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : NaN;
  if (Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== text) throw invalid(`created:${text} needs a date as YYYY-MM-DD`);
  return ms;
}

/** [from, to) in ms; either end may be open. */
function parseCreated(value: string): [number | undefined, number | undefined] {
  const range = /^(.+)\.\.(.+)$/.exec(value);
  if (range) return [day(range[1]!), day(range[2]!) + DAY];
  const op = /^(>=|<=|>|<)?(.*)$/.exec(value)!;
  const d = day(op[2]!);
  switch (op[1]) {
    case '>=': return [d, undefined];
    case '>': return [d + DAY, undefined];
    case '<=': return [undefined, d + DAY];
    case '<': return [undefined, d];
    default: return [d, d + DAY];
  }
}
