// A webhook receiver for tests: a real HTTP server on loopback that records what Berth POSTs to it.
import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Received {
  readonly headers: http.IncomingHttpHeaders;
  readonly raw: string;
  readonly body: Record<string, unknown>;
}

/** A webhook receiver: records every request; `answer` decides each response (status, optional delay in ms). */
export class Receiver {
  readonly received: Received[] = [];
  answer: (r: Received) => { status: number; delayMs?: number } = () => ({ status: 200 });
  #server: http.Server | null = null;
  port = 0;

  async start(port = 0): Promise<this> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const r = { headers: req.headers, raw, body: JSON.parse(raw) as Record<string, unknown> };
        this.received.push(r);
        const { status, delayMs } = this.answer(r);
        const reply = (): void => { if (!res.destroyed) res.writeHead(status, { 'content-type': 'text/plain' }).end(`answer ${status}`); };
        if (delayMs) setTimeout(reply, delayMs).unref(); else reply();
      });
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    this.#server = server;
    this.port = (server.address() as AddressInfo).port;
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  async stop(): Promise<void> {
    const s = this.#server;
    this.#server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  of(event: string): Received[] {
    return this.received.filter((r) => r.headers['x-github-event'] === event);
  }
}

export async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Whether `r` carries the X-Hub-Signature-256 that `secret` gives its exact body (what a receiver checks). */
export function signedWith(r: Received, secret: string): boolean {
  return r.headers['x-hub-signature-256'] === `sha256=${createHmac('sha256', secret).update(r.raw).digest('hex')}`;
}
