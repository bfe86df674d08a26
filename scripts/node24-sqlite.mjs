// Loaded with --import when the tests run on Node 24 (scripts/run-tests.mjs, BERTH_TEST_NODE=24): resolves
// `better-sqlite3` to the copy scripts/node24.sh built for Node 24, so the checkout's node_modules (built for Node
// 20) stays as it is. Synchronous hooks (module.registerHooks, Node 23.5+) cover import and require alike.
import { registerHooks } from 'node:module';
import { pathToFileURL } from 'node:url';

const dir = process.env.BERTH_NODE24_DIR ?? new URL('../.node24', import.meta.url).pathname;
const target = pathToFileURL(`${dir}/sqlite/node_modules/better-sqlite3/lib/index.js`).href;
registerHooks({
  resolve(specifier, context, next) {
    if (specifier === 'better-sqlite3') return { url: target, format: 'commonjs', shortCircuit: true };
    return next(specifier, context);
  },
});
