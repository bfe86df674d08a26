import { spawnSync } from 'node:child_process';
import type { Cleanup } from './cleanup.js';

/**
 * A network namespace joined to this one by a veth pair whose far end sends at most `megabitsPerSecond` (a token
 * bucket, `tc qdisc … tbf`): a server started in it is a remote upstream behind a link of that speed, as Docker Hub
 * or ghcr.io are to a cache near its clients, while everything else stays on this machine's loopback. Needs root
 * and the kernel's tbf qdisc; `null` with the reason when this machine cannot make one.
 */
export interface ShapedLink {
  /** The namespace's name, for `ip netns exec`. */
  readonly namespace: string;
  /** The address a server in the namespace listens on, reached from here through the shaped link. */
  readonly remoteAddress: string;
  readonly megabitsPerSecond: number;
}

export function createShapedLink(megabitsPerSecond: number, cleanup: Cleanup): ShapedLink | { unavailable: string } {
  // Names and a /30 from the pid, so two benches on one machine never collide (interface names: 15 characters).
  const id = process.pid % 60_000;
  const namespace = `berth-bench-${id}`;
  const near = `bbn${id}`;
  const far = `bbf${id}`;
  const subnet = `10.${200 + (id >> 14)}.${(id >> 6) & 0xff}.${(id & 0x3f) << 2}`;
  const [a, b, c, d] = subnet.split('.').map(Number) as [number, number, number, number];
  const hostAddress = `${a}.${b}.${c}.${d + 1}`;
  const remoteAddress = `${a}.${b}.${c}.${d + 2}`;
  const steps: string[][] = [
    ['ip', 'netns', 'add', namespace],
    ['ip', 'link', 'add', near, 'type', 'veth', 'peer', 'name', far],
    ['ip', 'link', 'set', far, 'netns', namespace],
    ['ip', 'addr', 'add', `${hostAddress}/30`, 'dev', near],
    ['ip', 'link', 'set', near, 'up'],
    ['ip', 'netns', 'exec', namespace, 'ip', 'addr', 'add', `${remoteAddress}/30`, 'dev', far],
    ['ip', 'netns', 'exec', namespace, 'ip', 'link', 'set', far, 'up'],
    ['ip', 'netns', 'exec', namespace, 'ip', 'link', 'set', 'lo', 'up'],
    // The far end's egress carries what the upstream sends; 50 ms of queue at most, as a real link's buffer.
    ['ip', 'netns', 'exec', namespace, 'tc', 'qdisc', 'add', 'dev', far, 'root', 'tbf',
      'rate', `${megabitsPerSecond}mbit`, 'burst', '256kb', 'latency', '50ms'],
  ];
  // Deleting the namespace deletes the veth pair with it.
  cleanup.add('remove the shaped link', () => { spawnSync('ip', ['netns', 'delete', namespace]); });
  for (const [command, ...args] of steps) {
    const out = spawnSync(command!, args, { encoding: 'utf8' });
    if (out.status !== 0) {
      spawnSync('ip', ['netns', 'delete', namespace]);
      return { unavailable: `${[command, ...args].join(' ')}: ${(out.stderr || out.error?.message || `exit ${out.status}`).trim()}` };
    }
  }
  return { namespace, remoteAddress, megabitsPerSecond };
}
