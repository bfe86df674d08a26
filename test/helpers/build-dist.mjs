// Builds dist/ (npm run build) when it is missing or older than a source file; test/helpers/built-cli.ts runs
// this under a lock, so parallel test files build once and never while another one loads dist/.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;
const stamp = join(root, 'dist', '.built');

function newest(dir) {
  let max = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) max = Math.max(max, newest(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) max = Math.max(max, statSync(path).mtimeMs);
  }
  return max;
}

const built = existsSync(stamp) ? statSync(stamp).mtimeMs : 0;
if (Math.max(newest(join(root, 'src')), statSync(join(root, 'tsconfig.json')).mtimeMs) >= built) {
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
  writeFileSync(stamp, '');
}
