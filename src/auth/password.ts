import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * scrypt (a slow, memory-hard KDF) with per-password salt; the parameters travel with the hash, so hashes made with
 * older parameters still verify and are re-hashed at the next sign-in (`needsRehash`). N = 2^17, r = 8, p = 1 is
 * OWASP's recommendation (Password Storage Cheat Sheet): 128 MiB and a few hundred milliseconds per derivation.
 */
const PARAMS = { N: 1 << 17, r: 8, p: 1 };
/** 128·N·r bytes are needed; room for verifying hashes with up to twice today's cost. */
const MAX_MEM = 2 * 128 * PARAMS.N * PARAMS.r + 1024 * 1024;
const KEY_LENGTH = 32;
/**
 * Derivations in flight at once. Each holds 128 MiB and one of libuv's four threads (which file I/O shares): a burst
 * of sign-ins queues here instead of taking all the memory and every thread.
 */
const CONCURRENCY = 2;

let running = 0;
const waiting: (() => void)[] = [];

async function derive(password: string, salt: Buffer, opts: ScryptOptions): Promise<Buffer> {
  if (running >= CONCURRENCY) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await new Promise((resolve, reject) => {
      scrypt(password.normalize('NFKC'), salt, KEY_LENGTH, { ...opts, maxmem: MAX_MEM }, (err, key) => (err ? reject(err) : resolve(key)));
    });
  } finally {
    running--;
    waiting.shift()?.();
  }
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, PARAMS);
  return `scrypt$${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, key] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !key) return false;
  const expected = Buffer.from(key, 'base64');
  const actual = await derive(password, Buffer.from(salt, 'base64'), { N: Number(n), r: Number(r), p: Number(p) });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** True when `stored` was made with other parameters than today's: re-hash it once the password is known. */
export function needsRehash(stored: string): boolean {
  return !stored.startsWith(`scrypt$${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$`);
}

const DUMMY_SALT = randomBytes(16);

/**
 * The work of a password check without an account to check against (no such user, a disabled account, no password
 * set), so a sign-in takes as long whether the login exists or not: response times do not reveal accounts.
 */
export async function spendPasswordCheck(password: string): Promise<void> {
  await derive(password, DUMMY_SALT, PARAMS);
}

/** Shortest and longest account password accepted (GitHub asks for 8 at least; scrypt needs no upper bound, sanity does). */
export const PASSWORD_MIN = 8;
const PASSWORD_MAX = 1024;

/** What is wrong with a new password, or null when it will do. */
export function passwordProblem(password: string): string | null {
  if (password.length < PASSWORD_MIN) return `the password must be at least ${PASSWORD_MIN} characters long`;
  if (password.length > PASSWORD_MAX) return `the password must be at most ${PASSWORD_MAX} characters long`;
  return null;
}

/** A random password for the first admin account, printed once at first start. */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}
