import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isDatabaseUnreachable } from './outage-driver.js';
import { isTransientConflict } from './transaction.js';

const pgError = (code: string, message = 'x'): Error => Object.assign(new Error(message), { code });

// [case, error, unreachable (503), transient conflict (retried)]
const CASES: [string, unknown, boolean, boolean][] = [
  ['pg_ctl restart / pg_terminate_backend (admin_shutdown)', pgError('57P01', 'terminating connection due to administrator command'), true, false],
  ['crash shutdown', pgError('57P02'), true, false],
  ['starting up or shutting down (cannot_connect_now)', pgError('57P03', 'the database system is starting up'), true, false],
  ['connection exception class', pgError('08006'), true, false],
  ['server not listening', pgError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432'), true, false],
  ['socket reset', pgError('ECONNRESET'), true, false],
  ['connection closed under a query', new Error('Connection terminated unexpectedly'), true, false],
  ['pool: no connection in time', new Error('timeout exceeded when trying to connect'), true, false],
  ['pool: new connection timed out', new Error('Connection terminated due to connection timeout'), true, false],
  ['a client that already lost its connection', new Error('Client has encountered a connection error and is not queryable'), true, false],
  ['deadlock', pgError('40P01', 'deadlock detected'), false, true],
  ['serialization failure', pgError('40001'), false, true],
  ['unique violation', pgError('23505'), false, false],
  ['foreign key violation', pgError('23503'), false, false],
  ['syntax error', pgError('42601'), false, false],
  ['a statement timeout is not an outage', pgError('57014', 'canceling statement due to statement timeout'), false, false],
  ['not an error object', null, false, false],
];

for (const [name, err, unreachable, transient] of CASES) {
  test(name, () => {
    assert.equal(isDatabaseUnreachable(err), unreachable, 'unreachable');
    assert.equal(isTransientConflict(err), transient, 'transient conflict');
  });
}
