import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { BerthError } from '../util/errors.js';

/**
 * Addresses a hook may not reach unless the admin allows it (webhooks.allowPrivateTargets): a hook URL is chosen
 * by a namespace admin, and must not turn Berth into a proxy into its own network (SSRF). RFC 6890 special ranges.
 */
const PRIVATE = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 3],
] as const) PRIVATE.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8]] as const) PRIVATE.addSubnet(net, prefix, 'ipv6');

export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  if (family === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped) return PRIVATE.check(mapped[1]!, 'ipv4');
    return PRIVATE.check(address, 'ipv6');
  }
  return PRIVATE.check(address, 'ipv4');
}

export const privateTarget = (host: string): BerthError => new BerthError({
  status: 422, code: 'WEBHOOK_PRIVATE_TARGET',
  message: `${host} is a loopback, link-local or private address: hooks may not reach it unless the admin sets webhooks.allowPrivateTargets`,
});

/** A hook URL as given by its admin: http(s), no credentials; a literal private address refused here already. */
export function parseHookUrl(raw: unknown, allowPrivate: boolean): URL {
  let url: URL;
  try {
    url = new URL(String(raw));
  } catch {
    throw invalidHookUrl('config.url must be an absolute http:// or https:// URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalidHookUrl('config.url must be an http:// or https:// URL');
  if (url.username || url.password) throw invalidHookUrl('config.url must not carry credentials: use config.secret to authenticate deliveries');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!allowPrivate && (isPrivateAddress(host) || host === 'localhost' || host.endsWith('.localhost'))) throw privateTarget(host);
  return url;
}

const invalidHookUrl = (message: string): BerthError => new BerthError({ status: 422, code: 'WEBHOOK_URL_INVALID', message });

/**
 * A `lookup` for http.request that refuses private addresses after resolving, so the address checked is the one
 * connected to (a name cannot resolve to a public address for the check and a private one for the connection).
 */
export function guardedLookup(allowPrivate: boolean): typeof dnsLookup {
  const guarded = (hostname: string, options: unknown, callback: unknown): void => {
    const cb = (typeof options === 'function' ? options : callback) as (err: Error | null, address: string | LookupAddress[], family?: number) => void;
    const opts = (typeof options === 'object' && options !== null ? options : {}) as { all?: boolean; family?: number };
    dnsLookup(hostname, { ...opts, all: true }, (err, addresses) => {
      if (err) return cb(err, []);
      const bad = allowPrivate ? undefined : addresses.find((a) => isPrivateAddress(a.address));
      if (bad) return cb(privateTarget(`${hostname} (${bad.address})`), []);
      if (opts.all) return cb(null, addresses);
      const first = addresses[0]!;
      return cb(null, first.address, first.family);
    });
  };
  return guarded as unknown as typeof dnsLookup;
}
