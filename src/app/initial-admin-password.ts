import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Account } from '../accounts/account-service.js';

/** The account the first start creates on an empty database. */
export const INITIAL_ADMIN = 'admin';

/** Where the first start leaves the admin's generated password: `<dataDir>/initial-admin-password`. */
export function initialAdminPasswordFile(dataDir: string): string {
  return join(dataDir, 'initial-admin-password');
}

/**
 * Keeps the generated password where only Berth's user can read it (0600), for an operator who missed the line on
 * stderr (a service manager's journal, a container's log rotated away). Written before the account exists: a start
 * that fails in between leaves a file the next first start overwrites, never an account nobody can sign in to.
 */
export async function keepInitialAdminPassword(dataDir: string, password: string): Promise<string> {
  const file = initialAdminPasswordFile(dataDir);
  // With PostgreSQL and S3 nothing else may have made the data directory yet.
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  // The mode given to writeFile applies only when it creates the file (and passes through the umask).
  await chmod(file, 0o600);
  return file;
}

/**
 * For AccountService's `onPasswordSet`: once the admin's password is changed (CLI or web UI), the generated one is
 * worthless and its file goes.
 */
export function forgetInitialAdminPassword(dataDir: string): (account: Account) => Promise<void> {
  return async (account) => {
    if (account.login === INITIAL_ADMIN) await rm(initialAdminPasswordFile(dataDir), { force: true });
  };
}
