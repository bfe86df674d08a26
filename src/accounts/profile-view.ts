import type { Account } from './account-service.js';

/** The parts of an account's profile that depend on who is looking. */
export interface ProfileView {
  readonly email: string | null;
  readonly siteAdmin: boolean;
}

/**
 * What a viewer (a user id, or null for anonymous) may learn of an account: as on GitHub, the e-mail address only
 * when it is their own (Berth has no "public e-mail" setting), and whether it is an instance admin only to the admin
 * themself: others see `false`, so nobody can list the accounts worth attacking.
 */
export function profileView(account: Account, viewerId: number | null): ProfileView {
  const self = viewerId !== null && viewerId === account.id;
  return { email: self ? account.email : null, siteAdmin: self && account.type === 'user' && account.isAdmin };
}
