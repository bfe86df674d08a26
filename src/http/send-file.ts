import type { OutgoingHttpHeaders } from 'node:http';
import type { FastifyReply } from 'fastify';
import type { BlobFile } from '../registry/blob-service.js';

/**
 * Bytes `[start, end]` of `file` are sent as the body of `reply` (status and headers already set), through a few
 * reused buffers instead of a fresh buffer per chunk: at GB/s a fresh 4 MiB buffer per chunk is external memory
 * that V8 answers with a full GC every few dozen MiB, expensive on a big heap (bench/: ~14% of CPU, erratic speed).
 *
 * A buffer is read into, handed to `res.write`, and reused only after that write's callback fired without an
 * error, which is when the socket is done with it. Having at most IN_FLIGHT buffers out is the backpressure: a
 * slow client leaves no free buffer, so reading waits. The next read overlaps the previous write. Beyond its first
 * buffer a response takes more only while all responses together hold less than SHARED_BYTES, and once they do, a
 * new response's buffer is a small one: a pull storm of 100 clients then holds about 50 MiB rather than 300 (issue
 * 14's RSS bound), and one big pull still gets IN_FLIGHT big buffers.
 *
 * The reply is hijacked (Fastify's onResponse still runs on 'finish'). After the headers went out an error can only
 * be reported by cutting the connection, so a read error destroys the socket; a client that goes away stops the
 * reading. The file is closed in every case.
 */
export async function sendFileRange(reply: FastifyReply, file: BlobFile, start: number, end: number): Promise<void> {
  const res = reply.raw;
  reply.hijack();
  let closed = false;
  let finished = false;
  const free: Buffer[] = [];
  let wake: (() => void) | null = null;
  const wakeUp = (): void => {
    wake?.();
    wake = null;
  };
  const onClose = (): void => {
    closed = true;
    wakeUp();
  };
  res.on('close', onClose);
  const release = (buf: Buffer) => (err?: Error | null): void => {
    if (err) {
      held -= buf.length; // the socket failed: leave the buffer to the GC rather than guess whether it is still in use
      return;
    }
    if (finished) {
      giveBack(buf);
    } else {
      free.push(buf);
      wakeUp();
    }
  };
  let outstanding = 0; // buffers of this response that are allocated but not free
  try {
    res.writeHead(reply.statusCode, reply.getHeaders() as OutgoingHttpHeaders);
    let position = start;
    while (position <= end && !closed) {
      let buf = free.pop();
      if (!buf && (outstanding === 0 || (outstanding < IN_FLIGHT && held < SHARED_BYTES))) {
        buf = take();
        outstanding++;
      }
      if (!buf) {
        await new Promise<void>((resolve) => { wake = resolve; });
        continue;
      }
      const { bytesRead } = await file.read(buf, 0, Math.min(buf.length, end - position + 1), position);
      if (bytesRead === 0) throw new Error(`blob ended at byte ${position}, before its recorded end ${end}`);
      if (closed) {
        free.push(buf);
        break;
      }
      position += bytesRead;
      res.write(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead), release(buf));
    }
    if (!closed) res.end();
  } catch (err) {
    reply.log.warn({ err }, 'blob read failed after the response started; closing the connection');
    res.destroy(err as Error);
  } finally {
    finished = true;
    res.removeListener('close', onClose);
    for (const buf of free.splice(0)) giveBack(buf);
    await file.close().catch(() => undefined);
  }
}

/** Buffer sizes: a response gets big buffers while all responses together hold less than SHARED_BYTES, else small. */
const BIG = 1024 * 1024;
const SMALL = 256 * 1024;
const IN_FLIGHT = 3;
/** Bytes all responses may hold together before each is held to one buffer, and new ones get SMALL buffers. */
const SHARED_BYTES = 32 * BIG;
/** Buffers no response is using, per size, kept so steady serving allocates nothing; bounded so an idle server holds little. */
const spare = new Map<number, Buffer[]>([[BIG, []], [SMALL, []]]);
const SPARE_MAX = 2 * IN_FLIGHT;
/** Bytes of the buffers taken by responses and not yet given back. */
let held = 0;

function take(): Buffer {
  const size = held + BIG <= SHARED_BYTES ? BIG : SMALL;
  held += size;
  return spare.get(size)!.pop() ?? Buffer.allocUnsafeSlow(size);
}

function giveBack(buf: Buffer): void {
  held -= buf.length;
  const pool = spare.get(buf.length)!;
  if (pool.length < SPARE_MAX) pool.push(buf);
}
