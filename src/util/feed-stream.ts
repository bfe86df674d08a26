import { finished, type Readable, type Writable } from 'node:stream';
import { finished as writableFinished } from 'node:stream/promises';

/**
 * Pipes `source` into `into` and resolves when `into` has taken everything, like pipeline(), with one difference:
 * when `into` fails (a full disk, a storage outage) the source is only unpiped, not destroyed. Destroying a request
 * body resets the connection, and the client then reports a broken pipe instead of the error response; its owner
 * (the HTTP layer) drains it instead. A source that fails or closes early still fails `into`.
 */
export async function feed(source: Readable, into: Writable): Promise<void> {
  const stopWatching = finished(source, { writable: false }, (err) => {
    if (err) into.destroy(err);
  });
  source.pipe(into);
  try {
    await writableFinished(into, { readable: false });
  } catch (err) {
    source.unpipe(into);
    throw err;
  } finally {
    stopWatching();
  }
}
