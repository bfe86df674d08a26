import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SingleFlight } from './single-flight.js';

test('concurrent runs of one key share the first; other keys and later calls run on their own', async () => {
  const flight = new SingleFlight();
  let runs = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  const work = async (): Promise<number> => {
    runs++;
    await gate;
    return runs;
  };
  const first = Array.from({ length: 10 }, () => flight.run('a', work));
  const other = flight.run('b', work);
  assert.ok(flight.current('a'));
  release();
  assert.deepEqual(new Set(await Promise.all(first)).size, 1);
  await other;
  assert.equal(runs, 2);
  assert.equal(flight.current('a'), undefined);
  await flight.run('a', work);
  assert.equal(runs, 3);
});

test('a failed run fails its waiters and is forgotten; tracked runs settle quietly', async () => {
  const flight = new SingleFlight();
  const failing = flight.run('x', async () => { throw new Error('upstream gone'); });
  const waiter = flight.run('x', async () => 1);
  await assert.rejects(failing, /upstream gone/);
  await assert.rejects(waiter, /upstream gone/);
  assert.equal(await flight.run('x', async () => 2), 2);
  const stored = Promise.reject(new Error('cut off'));
  stored.catch(() => undefined);
  flight.track('blob', stored);
  await flight.current('blob');
  assert.equal(flight.current('blob'), undefined);
});
