export type OrgRole = 'owner' | 'member';

/**
 * An organization keeps at least one owner (as on GitHub): removing its only owner (`newRole` null) or making them a
 * member is refused. Returns the refusal, the same words for the CLI and the web UI, or null when the change is fine.
 */
export function lastOwnerRefusal(
  org: string, members: readonly { login: string; role: OrgRole }[], login: string, newRole: OrgRole | null,
): string | null {
  const member = members.find((m) => m.login.toLowerCase() === login.toLowerCase());
  if (member?.role !== 'owner' || newRole === 'owner') return null;
  if (members.some((m) => m.role === 'owner' && m !== member)) return null;
  return `${member.login} is the only owner of ${org}: make someone else an owner first.`;
}
