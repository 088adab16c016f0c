/** Time buckets of the usage store. All times are milliseconds since the epoch (UTC). */

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/** Start of the `step`-long bucket holding `t`, aligned to the epoch (so hours and days are UTC). */
export function floorTo(t: number, step: number): number {
  return t - (((t % step) + step) % step);
}

export function minuteOf(t: number): number {
  return floorTo(t, MINUTE_MS);
}

export function hourOf(t: number): number {
  return floorTo(t, HOUR_MS);
}
