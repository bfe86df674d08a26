import type { FastifyReply, FastifyRequest } from 'fastify';

/** The session cookie (HttpOnly, SameSite=Lax, Path=/, Secure over HTTPS). */
export const SESSION_COOKIE = 'berth_session';
/** Before sign-in there is no session: the sign-in form's CSRF token is a random value also set as this cookie. */
export const LOGIN_CSRF_COOKIE = 'berth_login_csrf';

/** A cookie of the request (RFC 6265 `Cookie: a=1; b=2`), or null. */
export function cookieOf(request: FastifyRequest, name: string): string | null {
  const header = request.headers.cookie;
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) {
      const value = part.slice(eq + 1).trim();
      try {
        return decodeURIComponent(value);
      } catch {
        return null;
      }
    }
  }
  return null;
}

/**
 * Adds a Set-Cookie header (several may be set on one reply). `maxAgeSeconds` 0 deletes the cookie; the value
 * must be cookie-safe (base64url ids are). Secure whenever the request came over HTTPS (directly or, with
 * `server.trustedProxies`, through a proxy that said so).
 */
export function setCookie(request: FastifyRequest, reply: FastifyReply, name: string, value: string, maxAgeSeconds: number): void {
  const parts = [`${name}=${value}`, 'Path=/', 'HttpOnly', 'SameSite=Lax', `Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}`];
  if (request.protocol === 'https') parts.push('Secure');
  const existing = reply.getHeader('Set-Cookie');
  const list = existing === undefined ? [] : Array.isArray(existing) ? existing.map(String) : [String(existing)];
  reply.header('Set-Cookie', [...list, parts.join('; ')]);
}
