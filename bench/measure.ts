import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/** Kernel clock ticks per second, the unit of utime/stime in /proc/<pid>/stat. */
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
const RSS_SAMPLE_MS = 100;

export interface CpuTime {
  readonly user: number;
  readonly system: number;
}

/**
 * CPU-seconds used so far by the process and its descendants (nginx's workers are children of the master), all
 * threads included: utime and stime of /proc/<pid>/stat (proc(5)).
 */
export function cpuTime(pid: number): CpuTime {
  let user = 0;
  let system = 0;
  for (const p of [pid, ...descendants(pid)]) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${p}/stat`, 'utf8');
    } catch {
      continue; // exited between the listing and the read
    }
    // comm (field 2) may contain spaces and parentheses: count fields from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state), so utime (14) and stime (15) sit at 11 and 12.
    user += Number(fields[11]) / CLK_TCK;
    system += Number(fields[12]) / CLK_TCK;
  }
  return { user, system };
}

function descendants(pid: number): number[] {
  const children: number[] = [];
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return children;
  }
  for (const tid of tasks) {
    const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
    for (const child of text === '' ? [] : text.split(' ').map(Number)) children.push(child, ...descendants(child));
  }
  return children;
}

/** A `Vm*:   123 kB` line of /proc/<pid>/status, in bytes. */
function statusBytes(pid: number, key: 'VmRSS' | 'VmHWM'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status);
  return m ? Number(m[1]) * 1024 : 0;
}

export interface PhaseResult<T> {
  readonly value: T;
  readonly seconds: number;
  /** Server CPU-seconds spent while the phase ran (user + system). */
  readonly cpuSeconds: number;
  readonly cpu: CpuTime;
  /** Resident set size when the phase began, to tell growth from the process's baseline. */
  readonly startRssBytes: number;
  /** Highest resident set size sampled every 100 ms during the phase. */
  readonly peakRssBytes: number;
  /** The kernel's high-water mark at the end (covers peaks between samples, but also anything before the phase). */
  readonly hwmBytes: number;
}

/** Runs `work` while watching the server process `pid`: wall time, CPU used and resident memory. */
export async function measurePhase<T>(pid: number, work: () => Promise<T>): Promise<PhaseResult<T>> {
  const startRssBytes = statusBytes(pid, 'VmRSS');
  let peakRssBytes = startRssBytes;
  const sampler = setInterval(() => {
    peakRssBytes = Math.max(peakRssBytes, statusBytes(pid, 'VmRSS'));
  }, RSS_SAMPLE_MS);
  const cpuBefore = cpuTime(pid);
  const start = performance.now();
  try {
    const value = await work();
    const seconds = (performance.now() - start) / 1000;
    const cpuAfter = cpuTime(pid);
    peakRssBytes = Math.max(peakRssBytes, statusBytes(pid, 'VmRSS'));
    const cpu = { user: cpuAfter.user - cpuBefore.user, system: cpuAfter.system - cpuBefore.system };
    return { value, seconds, cpuSeconds: cpu.user + cpu.system, cpu, startRssBytes, peakRssBytes, hwmBytes: statusBytes(pid, 'VmHWM') };
  } finally {
    clearInterval(sampler);
  }
}

/** Wall-clock seconds of `work`. */
export async function timed<T>(work: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const start = performance.now();
  const value = await work();
  return { value, seconds: (performance.now() - start) / 1000 };
}

/**
 * Writes dirty pages back before a timed phase, so one server's unflushed writes (the CNCF registry does not fsync)
 * are not paid for by whoever is measured next.
 */
export function settleDisk(): void {
  spawnSync('sync', { stdio: 'ignore' });
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Megabytes (10^6 bytes) per second. */
export function mbPerSecond(bytes: number, seconds: number): number {
  return bytes / 1e6 / seconds;
}
