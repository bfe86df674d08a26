import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('../..', import.meta.url).pathname;
let built: string | undefined;

export interface CliResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * The CLI as users run it: `dist/main.js` from `npm run build` (the package's `bin`), built now when it is missing
 * or older than a source file (test/helpers/build-dist.mjs, under a lock per checkout).
 */
export function builtCli(): string {
  if (built) return built;
  const lock = join(tmpdir(), `berth-build-${createHash('sha256').update(ROOT).digest('hex').slice(0, 12)}.lock`);
  const r = spawnSync('flock', [lock, process.execPath, join(ROOT, 'test/helpers/build-dist.mjs')], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`building dist/ failed:\n${r.stdout}${r.stderr}`);
  built = join(ROOT, 'dist', 'main.js');
  return built;
}

/** Runs the built `berth` with `node` (what its shebang does), in `cwd` (default: the checkout). */
export function runBuilt(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): CliResult {
  const r = spawnSync(process.execPath, [builtCli(), ...args], {
    cwd: opts.cwd ?? ROOT, encoding: 'utf8', input: opts.input, env: opts.env ?? process.env,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
