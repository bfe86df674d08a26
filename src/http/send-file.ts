import type { OutgoingHttpHeaders } from 'node:http';
import type { FastifyReply } from 'fastify';
import type { BlobFile } from '../registry/blob-service.js';

/**
 * Bytes `[start, end]` of `file` are sent as the body of `reply` (status and headers already set), from buffers that
 * are reused rather than fresh per chunk: at GB/s a fresh 4 MiB buffer per chunk is external memory that V8 answers
 * with a full GC every few dozen MiB, expensive on a big heap (bench/: ~14% of CPU, erratic speed).
 *
 * A file whose bytes may be shared (`BlobFile.shared`: a blob file, named by its digest, inode and change time) is
 * read in blocks of 1 MiB that every response needing them sends from: the first response to need a block reads it,
 * the others wait for that read and send the same memory. A pull storm (100 clients of one image, as a rolling
 * deployment makes) then reads each block from the file once instead of once per client: those reads (a copy and
 * a thread pool round trip each) were half of Berth's CPU in the storm (bench/pull-storm.ts). Blocks stay cached,
 * least recently used first out, within the shared budget below, and are dropped after IDLE_MS without use.
 * Other files (a verified read, which must hash what it sends) and responses that find the budget spent read into
 * buffers of their own.
 *
 * A buffer or block is handed to `res.write` and reused only after that write's callback fired without an error,
 * which is when the socket is done with it (a block in use by a write is pinned: never evicted). Having at most
 * IN_FLIGHT writes out is the backpressure: a slow client leaves its response waiting. The next read overlaps the
 * previous write. Beyond its first piece a response takes more memory only while everything together holds less
 * than SHARED_BYTES, and once it does, a new response's buffer is a small one: a pull storm of 100 clients of
 * different blobs holds about 60 MiB rather than 300 (issue 14's RSS bound), and one big pull still gets IN_FLIGHT
 * blocks.
 *
 * The reply is hijacked (Fastify's onResponse still runs on 'finish'). After the headers went out an error can only
 * be reported by cutting the connection, so a read error destroys the socket; a client that goes away stops the
 * reading. The file is closed in every case, once no block read of this response's is still using it.
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
  // Writes handed to the socket and not yet called back; own buffers this response holds (free or being written).
  let writes = 0;
  let owned = 0;
  const wrote = (): void => {
    writes--;
    wakeUp();
  };
  const release = (buf: Buffer) => (err?: Error | null): void => {
    if (err) {
      held -= buf.length; // the socket failed: leave the buffer to the GC rather than guess whether it is still in use
    } else if (finished) {
      giveBack(buf);
    } else {
      free.push(buf);
    }
    wrote();
  };
  // Block reads this response started: the file stays open until they are done, as other responses wait on them.
  const reading = new Set<Promise<void>>();
  const waitForAWrite = () => new Promise<void>((resolve) => { wake = resolve; });
  try {
    res.writeHead(reply.statusCode, reply.getHeaders() as OutgoingHttpHeaders);
    let position = start;
    while (position <= end && !closed) {
      // Waiting is safe only with a write out: its callback is what wakes the loop.
      if (writes >= IN_FLIGHT) {
        await waitForAWrite();
        continue;
      }
      const block = file.shared ? sharedBlock(file, position, reading) : null;
      if (block) {
        try {
          await block.ready;
        } catch (err) {
          unpin(block, false);
          if (block.reader === reading) throw err;
          continue; // another response's read of it failed: read it again, and fail (or not) on our own read
        }
        if (closed) {
          unpin(block, true);
          break;
        }
        const from = position - block.start;
        const to = Math.min(end - block.start + 1, block.length);
        position = block.start + to;
        writes++;
        res.write(from === 0 && to === block.buf.length ? block.buf : block.buf.subarray(from, to), (err) => {
          unpin(block, !err);
          wrote();
        });
        continue;
      }
      let buf = free.pop();
      if (!buf && (owned === 0 || (owned < IN_FLIGHT && held < SHARED_BYTES))) {
        buf = take();
        owned++;
      }
      if (!buf) {
        // Every buffer this response owns is being written (none is free, and reads are awaited above).
        await waitForAWrite();
        continue;
      }
      const { bytesRead } = await file.read(buf, 0, Math.min(buf.length, end - position + 1), position);
      if (bytesRead === 0) throw new Error(`blob ended at byte ${position}, before its recorded end ${end}`);
      if (closed) {
        free.push(buf);
        break;
      }
      position += bytesRead;
      writes++;
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
    await Promise.allSettled(reading);
    await file.close().catch(() => undefined);
  }
}

/** Block size, and own buffers' sizes: big while all responses together hold less than SHARED_BYTES, else small. */
const BLOCK = 1024 * 1024;
const SMALL = 256 * 1024;
const IN_FLIGHT = 3;
/** Bytes blocks and own buffers may hold together before each response is held to one piece and new ones to SMALL. */
const SHARED_BYTES = 32 * BLOCK;
/** Buffers nothing is using, per size, kept so steady serving allocates nothing; bounded so an idle server holds little. */
const spare = new Map<number, Buffer[]>([[BLOCK, []], [SMALL, []]]);
const SPARE_MAX = 2 * IN_FLIGHT;
/** Cached blocks and spare buffers are dropped after this long without a block used: an idle server holds none. */
const IDLE_MS = 5_000;
/** Bytes of the blocks and own buffers in use and not yet given back. */
let held = 0;

/** One block of a shared file: bytes `[start, start + length)`, read once by `reader`'s response. */
interface Block {
  readonly key: string;
  readonly start: number;
  readonly length: number;
  readonly buf: Buffer;
  readonly ready: Promise<void>;
  /** The reading set of the response that reads it (its file stays open for it). */
  readonly reader: Set<Promise<void>>;
  /** Responses sending from it (or waiting to): it is not evicted while any is. */
  pins: number;
  /** Still in `blocks`. */
  cached: boolean;
}

/** Cached blocks by key, least recently used first. */
const blocks = new Map<string, Block>();
let lastUse = 0;
let sweeper: NodeJS.Timeout | null = null;

/**
 * The block holding `position` of `file`, pinned for the caller: cached, or read now when the budget has room for
 * it (after evicting unpinned blocks). null: no block to be had; the caller reads into a buffer of its own.
 */
function sharedBlock(file: BlobFile, position: number, reading: Set<Promise<void>>): Block | null {
  const { key: fileKey, size } = file.shared!;
  if (position >= size) return null; // the file is shorter than the blob: its own read finds the end and fails
  const index = Math.floor(position / BLOCK);
  const key = `${fileKey}#${index}`;
  lastUse = Date.now();
  let block = blocks.get(key);
  if (block) {
    blocks.delete(key); // most recently used last
    blocks.set(key, block);
  } else {
    if (!roomForBlock()) return null;
    block = readBlock(file, key, index * BLOCK, Math.min(BLOCK, size - index * BLOCK), reading);
    blocks.set(key, block);
    sweepWhenIdle();
  }
  block.pins++;
  return block;
}

function readBlock(file: BlobFile, key: string, start: number, length: number, reading: Set<Promise<void>>): Block {
  held += BLOCK;
  const buf = spare.get(BLOCK)!.pop() ?? Buffer.allocUnsafeSlow(BLOCK);
  const ready = (async () => {
    for (let got = 0; got < length;) {
      const { bytesRead } = await file.read(buf, got, length - got, start + got);
      if (bytesRead === 0) throw new Error(`blob ended at byte ${start + got}, before its recorded size`);
      got += bytesRead;
    }
  })();
  const block: Block = { key, start, length, buf, ready, reader: reading, pins: 0, cached: true };
  reading.add(ready);
  ready.then(() => reading.delete(ready), () => {
    reading.delete(ready);
    // Never served from: its waiters each read it again (or fail, if it was theirs).
    if (blocks.get(key) === block) blocks.delete(key);
    block.cached = false;
  });
  return block;
}

/** A response is done with `block`; an evicted block nobody uses any more gives its buffer back (`reuse`: safely). */
function unpin(block: Block, reuse: boolean): void {
  block.pins--;
  if (block.pins > 0 || block.cached) return;
  if (reuse) giveBack(block.buf);
  else held -= block.buf.length;
}

/** Room for one more block within SHARED_BYTES, evicting unpinned blocks, least recently used first. */
function roomForBlock(): boolean {
  for (const [key, block] of blocks) {
    if (held + BLOCK <= SHARED_BYTES) break;
    if (block.pins > 0) continue;
    blocks.delete(key);
    block.cached = false;
    giveBack(block.buf);
  }
  return held + BLOCK <= SHARED_BYTES;
}

/** Drops the cached blocks nobody uses, and the spare buffers, once no block was used for IDLE_MS. */
function sweepWhenIdle(): void {
  if (sweeper) return;
  sweeper = setInterval(() => {
    if (Date.now() - lastUse < IDLE_MS) return;
    for (const [key, block] of blocks) {
      if (block.pins > 0) continue;
      blocks.delete(key);
      block.cached = false;
      held -= block.buf.length;
    }
    for (const pool of spare.values()) pool.length = 0;
    if (blocks.size === 0) {
      clearInterval(sweeper!);
      sweeper = null;
    }
  }, IDLE_MS);
  sweeper.unref();
}

function take(): Buffer {
  const size = held + BLOCK <= SHARED_BYTES ? BLOCK : SMALL;
  held += size;
  return spare.get(size)!.pop() ?? Buffer.allocUnsafeSlow(size);
}

function giveBack(buf: Buffer): void {
  held -= buf.length;
  const pool = spare.get(buf.length)!;
  if (pool.length < SPARE_MAX) pool.push(buf);
}
