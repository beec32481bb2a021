/**
 * Wrap-time option checks shared by the strategies.
 * @internal
 * @module
 */
import { toMs, type Duration } from "../durations.js";
import { CacheConfigError } from "../errors.js";

/** Rejects unknown option names (a typo must not silently change behaviour). */
export function checkOptions(strategy: string, options: unknown, known: readonly string[]): void {
  if (typeof options !== "object" || options === null) {
    throw new CacheConfigError(`${strategy}: expected an options object, got ${options === null ? "null" : typeof options}`);
  }
  for (const name of Object.keys(options)) {
    if (!known.includes(name)) {
      throw new CacheConfigError(`${strategy}: unknown option "${name}"; known options: ${known.join(", ")}`);
    }
  }
}

/** A strategy's required `ttl`: a positive Duration, or `null` for "forever" (returns undefined). */
export function requiredTtl(strategy: string, ttl: Duration | null | undefined): number | undefined {
  if (ttl === undefined) {
    throw new CacheConfigError(`${strategy}: "ttl" is required (a Duration such as "10m", or null to store without expiry)`);
  }
  if (ttl === null) return undefined;
  const ms = toMs(ttl, `${strategy}: ttl`);
  if (ms === 0) throw new CacheConfigError(`${strategy}: ttl must be greater than 0 (use null to store without expiry)`);
  return ms;
}
