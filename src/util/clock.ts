/** Time as integer milliseconds since the epoch; injected so jobs and expiry can be tested. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** Days since the epoch (UTC), the bucket for daily statistics. */
export function epochDay(ms: number): number {
  return Math.floor(ms / 86_400_000);
}
