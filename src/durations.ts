/**
 * Durations: a number of milliseconds, or a string such as `"10s"`, `"1h30m"`, `"1.5h"`, `"500ms"`.
 * @module
 */
import { CacheConfigError } from "./errors.js";

/** A number of milliseconds, or a string of `<number><unit>` parts with unit `ms s m h d w`. */
export type Duration = number | string;

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const PART = /\s*(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m|h|d|w)/y;

/**
 * Parses a {@link Duration} into milliseconds.
 * @throws TypeError naming the bad value.
 * @example
 * parseDuration("1h30m"); // 5400000
 * parseDuration(250);     // 250
 */
export function parseDuration(value: Duration): number {
  if (typeof value === "number" && Number.isFinite(value) && value >= 0) return value;
  if (typeof value === "string") {
    const text = value.trimEnd();
    let total = 0;
    let pos = 0;
    for (let m: RegExpExecArray | null; pos < text.length && ((PART.lastIndex = pos), (m = PART.exec(text))); pos = PART.lastIndex) {
      total += Number(m[1]) * UNITS[m[2]!]!;
    }
    if (pos > 0 && pos === text.length) return total;
  }
  let shown: string;
  try {
    shown = typeof value === "string" || typeof value === "object" ? JSON.stringify(value) : String(value);
  } catch {
    shown = Object.prototype.toString.call(value);
  }
  throw new TypeError(
    `invalid duration ${shown}: expected ms (a finite number >= 0) or a string like "10s" or "1h30m" (units ms s m h d w)`,
  );
}

/**
 * Parses an optional expiry: `0`, `null` and `undefined` mean "no expiry" (returns `undefined`).
 * Bad values throw {@link CacheConfigError} naming `what`.
 */
export function toExpiry(value: Duration | null | undefined, what = "expire"): number | undefined {
  return value === null || value === undefined ? undefined : toMs(value, what) || undefined;
}

/** Parses a required duration; throws {@link CacheConfigError} naming `what`. */
export function toMs(value: Duration, what: string): number {
  try {
    return parseDuration(value);
  } catch (error) {
    throw new CacheConfigError(`${what}: ${(error as Error).message}`, { cause: error });
  }
}

/** A duration for messages: `"250ms"`, `"1.5s"`, `"2m"`, `"1h"`. */
export function formatMs(ms: number): string {
  // The largest unit up to hours, to one decimal; under a second, whole ms (rounded up).
  for (const unit of ["h", "m", "s"]) {
    const size = UNITS[unit]!;
    if (ms >= size) return `${Math.round((ms / size) * 10) / 10}${unit}`;
  }
  return `${Math.ceil(ms)}ms`;
}

/** A promise that resolves after `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
