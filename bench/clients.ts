import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { request } from 'node:http';
import { pipeline } from 'node:stream/promises';

/** Runs a command to completion; rejects with its output when it fails. */
export async function run(command: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { out += chunk.toString(); });
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${command} ${args.join(' ')} exited with ${code ?? signal}:\n${out.slice(-2000)}`));
    });
  });
}

/**
 * `skopeo copy` between an OCI layout and a registry over plain HTTP. The flags keep the bytes as they are in both
 * directions: without `--preserve-digests` skopeo gzips uncompressed layers on push (the docker transport asks
 * for compression) and without `--dest-oci-accept-uncompressed-layers` it gzips them again on pull, so the
 * numbers would time the client's gzip of 1 GiB of random bytes rather than the registry.
 */
export async function skopeoPush(layoutDir: string, tag: string, ref: string, creds: Credentials): Promise<void> {
  await run('skopeo', ['--insecure-policy', 'copy', '--quiet', '--preserve-digests', '--dest-tls-verify=false',
    ...(creds ? ['--dest-creds', `${creds.user}:${creds.token}`] : []), `oci:${layoutDir}:${tag}`, `docker://${ref}`]);
}

export async function skopeoPull(ref: string, layoutDir: string, tag: string, creds: Credentials): Promise<void> {
  await run('skopeo', ['--insecure-policy', 'copy', '--quiet', '--preserve-digests', '--src-tls-verify=false',
    ...(creds ? ['--src-creds', `${creds.user}:${creds.token}`] : []),
    '--dest-oci-accept-uncompressed-layers', `docker://${ref}`, `oci:${layoutDir}:${tag}`]);
}

type Credentials = { readonly user: string; readonly token: string } | null;

/** One full GET with curl into /dev/null; returns bytes and seconds as curl measured them. */
export async function curlGet(url: string, headers: Record<string, string> = {}): Promise<{ bytes: number; seconds: number }> {
  const h = Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);
  const out = await run('curl', ['-sS', '--fail', '-o', '/dev/null', '-w', '%{size_download} %{time_total}', ...h, url]);
  const [bytes, seconds] = out.trim().split(' ').map(Number) as [number, number];
  return { bytes, seconds };
}

export interface WrkResult {
  readonly requestsPerSecond: number;
  readonly requests: number;
  /** Responses outside 2xx/3xx: a rate made of errors is no rate. */
  readonly non2xx: number;
  readonly latencyP50: string;
  readonly latencyP99: string;
}

/** wrk with the given threads, connections and duration against one URL. */
export async function wrk(url: string, opts: { threads: number; connections: number; seconds: number; headers: Record<string, string> }): Promise<WrkResult> {
  const args = ['-t', String(opts.threads), '-c', String(opts.connections), '-d', `${opts.seconds}s`, '--latency'];
  for (const [name, value] of Object.entries(opts.headers)) args.push('-H', `${name}: ${value}`);
  const out = await run('wrk', [...args, url]);
  const num = (re: RegExp): number => Number(re.exec(out)?.[1] ?? NaN);
  const text = (re: RegExp): string => re.exec(out)?.[1] ?? '?';
  return {
    requestsPerSecond: num(/Requests\/sec:\s+([\d.]+)/),
    requests: num(/(\d+) requests in/),
    non2xx: Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0),
    latencyP50: text(/^\s+50%\s+(\S+)/m),
    latencyP99: text(/^\s+99%\s+(\S+)/m),
  };
}

export interface AbResult {
  /** Responses that were not 2xx. */
  readonly non2xx: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/**
 * ApacheBench (`ab -k`: keep-alive, one thread) with `connections` concurrent requests for `seconds`: a second
 * client beside wrk for the same load, whose latency percentiles come from another implementation.
 */
export async function ab(url: string, opts: { connections: number; seconds: number; headers: Record<string, string> }): Promise<AbResult> {
  const args = ['-q', '-k', '-c', String(opts.connections), '-t', String(opts.seconds), '-n', '10000000'];
  for (const [name, value] of Object.entries(opts.headers)) args.push('-H', `${name}: ${value}`);
  const out = await run('ab', [...args, url]);
  const num = (re: RegExp): number => Number(re.exec(out)?.[1] ?? NaN);
  return {
    // Not "Failed requests": ab counts a body whose length differs from the first one's as failed.
    non2xx: Number(/Non-2xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0),
    p50Ms: num(/^\s+50%\s+(\d+)/m),
    p99Ms: num(/^\s+99%\s+(\d+)/m),
  };
}

/**
 * Streams a file as a request body with node's http client (fixed Content-Length, 1 MiB reads) and expects 201.
 * The same client drives Berth's monolithic upload and the bare ingest server, so only the servers differ.
 */
export async function uploadFile(method: 'POST' | 'PUT', url: string, file: string, size: number, headers: Record<string, string> = {}): Promise<void> {
  const req = request(url, {
    method,
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': size, ...headers },
    agent: false,
  });
  const response = new Promise<number>((resolve, reject) => {
    req.once('response', (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
    });
    req.once('error', reject);
  });
  await pipeline(createReadStream(file, { highWaterMark: 1024 * 1024 }), req);
  const status = await response;
  if (status !== 201) throw new Error(`${method} ${url} answered ${status}, expected 201`);
}
