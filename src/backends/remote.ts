/**
 * Helpers both network backends use, the Redis one (ioredis) and the Upstash one (HTTP): command
 * arguments and option checks. Errors name the backend (`"redis"`, `"upstash"`) as the rest of its
 * messages do. No Node built-in: the Upstash backend runs on Workers.
 * @internal
 * @module
 */
import { parseDuration, type Duration } from "../durations.js";
import { CacheConfigError } from "../errors.js";

/**
 * `options` with its duration options among `names` (ms or a duration string) in ms, as the
 * backend's constructor takes them; a bad duration is a {@link CacheConfigError} naming the option.
 */
export function durationsInMs<N extends string>(
  options: Partial<Record<N, Duration>>,
  names: readonly N[],
  backend: string,
): Record<string, unknown> {
  const converted: Record<string, unknown> = { ...options };
  for (const name of names) {
    const value = options[name];
    if (value === undefined) continue;
    try {
      converted[name] = parseDuration(value);
    } catch (error) {
      throw new CacheConfigError(`${backend}: option "${name}": ${(error as Error).message}`, { cause: error });
    }
  }
  return converted;
}

/** An expiry in ms as a `PX` argument (integer ≥ 1), or `undefined` for "no expiry". */
export function toPx(ms: number | undefined): number | undefined {
  if (ms === undefined || ms === null || !(ms > 0) || !Number.isFinite(ms)) return undefined;
  return Math.max(1, Math.ceil(ms));
}

/** A value as the string stored (the codec encodes values to strings; numbers are accepted as they are). */
export function toText(value: unknown, backend: string): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "bigint") return String(value);
  throw new TypeError(`${backend}: values must be strings (encoded by the codec), got ${typeof value}`);
}

/** A duration option in ms: `fallback` when absent, `undefined` for `0` (no bound). */
export function optionalMs(value: unknown, name: string, fallback: number, backend: string): number | undefined {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new CacheConfigError(`${backend}: option "${name}" must be a duration >= 0 (ms), got ${String(value)}`);
  }
  return value === 0 ? undefined : value;
}

/** `SLIDING_INCR`'s arguments: now on this process's clock, the window, the limit, a unique member. */
export function slidingArgs(windowMs: number, limit: number): string[] {
  const now = Date.now();
  const window = Math.max(1, Math.ceil(windowMs));
  return [String(now), String(window), String(limit < 0 || !Number.isFinite(limit) ? -1 : Math.floor(limit)), `${now}-${crypto.randomUUID()}`];
}

/**
 * The TAG_POP script's reply (`[member, score, …]`) as members to check and unchecked ones
 * (score `0`: recorded by an earlier version, see the script).
 */
export function poppedTags(reply: unknown): { members: string[]; unchecked: string[] } {
  const members: string[] = [];
  const unchecked: string[] = [];
  if (Array.isArray(reply)) for (let i = 0; i + 1 < reply.length; i += 2) (String(reply[i + 1]) === "0" ? unchecked : members).push(String(reply[i]));
  return { members, unchecked };
}
