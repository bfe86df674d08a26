import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { createServer, request } from 'node:http';
import { join } from 'node:path';
import { Transform } from 'node:stream';

/**
 * The machine's limit for a pull-through cache: the least any cache must do with a blob it does not hold yet —
 * forward it to the client while hashing it and writing it to disk — with no routing, auth, database, fsync or
 * digest check. Run as its own process in front of `<upstream>` (`<dir>` = where blobs go), so it is measured like
 * Berth; every other request (manifests, /v2/) is passed through as it is.
 */
const upstream = new URL(process.argv[2] ?? 'http://127.0.0.1:5000');
const dir = process.argv[3] ?? '.';
const server = createServer((req, res) => {
  const forward = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    const blob = /\/blobs\/sha256:([a-f0-9]{64})$/.exec(req.url ?? '');
    if (req.method === 'GET' && answer.statusCode === 200 && blob) {
      const hash = createHash('sha256');
      const hashing = new Transform({ transform(chunk: Buffer, _enc, done) { hash.update(chunk); done(null, chunk); } });
      answer.pipe(hashing).pipe(createWriteStream(join(dir, blob[1]!)));
    }
    answer.pipe(res);
  });
  forward.on('error', () => res.destroy());
  req.pipe(forward);
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address && typeof address === 'object') process.stdout.write(`tee proxy listening on http://127.0.0.1:${address.port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
