import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * The machine's ingest limit: the least any registry must do to accept a blob — hash the body, write it, fsync it,
 * check the digest — with no routing, database or protocol. Run as its own process (`<dir>` = where blobs go) so
 * it is measured like Berth; `PUT /?digest=sha256:<hex>` answers 201, or 400 when the digest does not match.
 */
const dir = process.argv[2] ?? '.';
const server = createServer((req, res) => {
  const expected = new URL(req.url ?? '/', 'http://x').searchParams.get('digest') ?? '';
  const path = join(dir, expected.replace(/[^a-z0-9]/gi, '_') || 'blob');
  const hash = createHash('sha256');
  const hashing = new Transform({ transform(chunk: Buffer, _enc, done) { hash.update(chunk); done(null, chunk); } });
  const store = async (): Promise<void> => {
    await pipeline(req, hashing, createWriteStream(path));
    const fh = await open(path, 'r+');
    await fh.sync().finally(() => fh.close());
  };
  store().then(() => {
    const actual = `sha256:${hash.digest('hex')}`;
    res.writeHead(actual === expected ? 201 : 400, { 'Docker-Content-Digest': actual, 'Content-Length': 0 }).end();
  }, (err: Error) => res.writeHead(500).end(err.message));
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address && typeof address === 'object') process.stdout.write(`ingest listening on http://127.0.0.1:${address.port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
