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
  if (typeof value === "number") {
    if (Number.isFinite(value) && value >= 0) return value;
    throw new TypeError(`invalid duration ${String(value)}: a number of milliseconds must be finite and >= 0`);
  }
  if (typeof value !== "string") {
    throw new TypeError(`invalid duration ${describe(value)}: expected milliseconds or a string like "10s" or "1h30m"`);
  }
  let total = 0;
  let parts = 0;
  PART.lastIndex = 0;
  let pos = 0;
  const text = value.trimEnd();
  while (pos < text.length) {
    PART.lastIndex = pos;
    const m = PART.exec(text);
    if (!m) break;
    total += Number(m[1]) * UNITS[m[2]!]!;
    parts++;
    pos = PART.lastIndex;
  }
  if (parts === 0 || pos !== text.length) {
    throw new TypeError(
      `invalid duration ${JSON.stringify(value)}: expected parts like "500ms", "10s", "5m", "1h30m" (units ms s m h d w)`,
    );
  }
  return total;
}

/**
 * Parses an optional expiry: `0`, `null` and `undefined` mean "no expiry" (returns `undefined`).
 * Bad values throw {@link CacheConfigError} naming `what`.
 */
export function toExpiry(value: Duration | null | undefined, what = "expire"): number | undefined {
  if (value === null || value === undefined) return undefined;
  const ms = toMs(value, what);
  return ms === 0 ? undefined : ms;
}

/** Parses a required duration; throws {@link CacheConfigError} naming `what`. */
export function toMs(value: Duration, what: string): number {
  try {
    return parseDuration(value);
  } catch (error) {
    throw new CacheConfigError(`${what}: ${(error as Error).message}`, { cause: error });
  }
}

function describe(value: unknown): string {
  try {
    return typeof value === "object" ? JSON.stringify(value) : String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
