import { createHash, randomBytes } from 'node:crypto';

/**
 * Personal access tokens in GitHub's classic format: a recognisable prefix, 30 random base62 characters and a
 * 6-character CRC32 checksum, so secret scanners can spot a leaked Berth token and reject look-alikes offline.
 * Only the sha256 of a token is stored: tokens are high-entropy, so a fast hash is enough (as GitHub does).
 */
export const TOKEN_PREFIXES = { personal: 'berth_pat_', ci: 'berth_ci_' } as const;
export type TokenKind = keyof typeof TOKEN_PREFIXES;
/** A bot account's secret (accounts/bot-service.ts): the same format, its own prefix, its own store. */
export const BOT_TOKEN_PREFIX = 'berth_bot_';
const PREFIXES = { ...TOKEN_PREFIXES, bot: BOT_TOKEN_PREFIX } as const;

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

export function generateToken(kind: keyof typeof PREFIXES): string {
  const bytes = randomBytes(30);
  let body = '';
  for (const b of bytes) body += BASE62[b % 62];
  return `${PREFIXES[kind]}${body}${checksum(body)}`;
}

/**
 * True when `text` has one of `prefixes` (an access token's by default) and a valid checksum; a cheap filter before
 * any database lookup.
 */
export function looksLikeToken(text: string, prefixes: readonly string[] = Object.values(TOKEN_PREFIXES)): boolean {
  const prefix = prefixes.find((p) => text.startsWith(p));
  if (!prefix) return false;
  const rest = text.slice(prefix.length);
  if (rest.length !== 36 || !/^[0-9A-Za-z]+$/.test(rest)) return false;
  return checksum(rest.slice(0, 30)) === rest.slice(30);
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** What may be shown of a token after creation: its prefix and first characters. */
export function tokenHint(token: string): string {
  return `${token.slice(0, token.indexOf('_', 6) + 5)}…`;
}

function checksum(body: string): string {
  let n = crc32(Buffer.from(body));
  let out = '';
  for (let i = 0; i < 6; i++) {
    out = BASE62[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
