import { stat } from 'node:fs/promises';
import type { Logger } from '../observability/logger.js';

/**
 * Warns, once per path at start, about existing places where Berth keeps data that other local users may read or
 * enter: the database holds the token signing keys, and blob files are private images. Berth creates its own
 * directories 0700 and files 0600, but never changes the mode of what it finds (an operator may mean it).
 */
export async function warnAboutOpenPermissions(paths: readonly string[], log: Logger): Promise<void> {
  for (const path of new Set(paths)) {
    const s = await stat(path).catch(() => null);
    if (!s || (s.mode & 0o077) === 0) continue;
    const mode = (s.mode & 0o777).toString(8).padStart(4, '0');
    log.warn(
      { path, mode },
      `${path} is open to other local users (mode ${mode}); it holds the registry's data and token signing keys: chmod ${s.isDirectory() ? '700' : '600'} ${path}`,
    );
  }
}
