import { createHmac } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { guardedLookup, isPrivateAddress, privateTarget } from './target-guard.js';

export interface Attempt {
  readonly ok: boolean;
  /** The receiver's status, null when there was no answer (refused, timed out, blocked). */
  readonly statusCode: number | null;
  readonly durationMs: number;
  /** Why it failed (or the status line), for the delivery log: never the secret. */
  readonly message: string;
  readonly result: 'success' | 'failure' | 'timeout' | 'refused';
  readonly responseBody: string;
}

export interface Delivery {
  readonly url: string;
  readonly guid: string;
  readonly event: string;
  readonly hookId: number;
  readonly payload: string;
  readonly secret: string | null;
}

const RESPONSE_LIMIT = 4096;

/** The headers GitHub sends with a delivery (docs "Webhook events and payloads", "Delivery headers"). */
export function deliveryHeaders(d: Delivery): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'Berth-Hookshot/1',
    'x-github-event': d.event,
    'x-github-delivery': d.guid,
    'x-github-hook-id': String(d.hookId),
  };
  if (d.secret !== null) headers['x-hub-signature-256'] = `sha256=${createHmac('sha256', d.secret).update(d.payload).digest('hex')}`;
  return headers;
}

/**
 * One POST of a delivery. Redirects are not followed (a 3xx is a failure: the hook's URL is what its admin chose),
 * the whole exchange must finish within `timeoutMs`, and the address connected to is checked against the private
 * ranges unless allowed (target-guard.ts).
 */
export function sendDelivery(d: Delivery, opts: { timeoutMs: number; allowPrivateTargets: boolean }): Promise<Attempt> {
  const started = performance.now();
  const elapsed = (): number => Math.round(performance.now() - started);
  const url = new URL(d.url);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!opts.allowPrivateTargets && isIP(host) !== 0 && isPrivateAddress(host)) {
    return Promise.resolve({ ok: false, statusCode: null, durationMs: 0, message: privateTarget(host).message, result: 'refused', responseBody: '' });
  }
  const body = Buffer.from(d.payload);
  return new Promise((resolve) => {
    let settled = false;
    const done = (a: Attempt): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(a);
    };
    const request = (url.protocol === 'https:' ? https : http).request(url, {
      method: 'POST',
      headers: { ...deliveryHeaders(d), 'content-length': String(body.length) },
      lookup: guardedLookup(opts.allowPrivateTargets),
      agent: false,
    }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        // Only the start of the response is kept for the log; the rest is read and dropped.
        if (size < RESPONSE_LIMIT) chunks.push(c.subarray(0, RESPONSE_LIMIT - size));
        size += c.length;
      });
      res.on('end', () => {
        const code = res.statusCode ?? 0;
        const ok = code >= 200 && code < 300;
        done({
          ok, statusCode: code, durationMs: elapsed(), result: ok ? 'success' : 'failure',
          message: ok ? 'OK' : code >= 300 && code < 400 ? `redirect ${code} not followed` : `HTTP ${code} ${res.statusMessage ?? ''}`.trim(),
          responseBody: Buffer.concat(chunks).toString('utf8'),
        });
      });
      res.on('error', (err) => done(failed(err, elapsed())));
    });
    const timer = setTimeout(() => {
      done({ ok: false, statusCode: null, durationMs: elapsed(), message: `no answer within ${opts.timeoutMs} ms`, result: 'timeout', responseBody: '' });
      request.destroy();
    }, opts.timeoutMs);
    request.on('error', (err) => done(failed(err, elapsed())));
    request.end(body);
  });
}

function failed(err: Error, durationMs: number): Attempt {
  const refused = (err as { code?: string }).code === 'WEBHOOK_PRIVATE_TARGET';
  return { ok: false, statusCode: null, durationMs, message: err.message, result: refused ? 'refused' : 'failure', responseBody: '' };
}
