/**
 * Option validators: the one place where setup-time and wrap-time options are checked. Every
 * failure is a {@link CacheConfigError} naming the command or strategy and the option.
 * @internal
 * @module
 */
import { toMs, type Duration } from "./durations.js";
import { CacheConfigError } from "./errors.js";

/** Rejects a non-object and unknown option names (a typo must not silently change behaviour). */
export function checkOptions(what: string, options: unknown, known: readonly string[]): void {
  if (typeof options !== "object" || options === null) {
    throw new CacheConfigError(`${what}: expected an options object, got ${options === null ? "null" : typeof options}`);
  }
  for (const name of Object.keys(options)) {
    if (!known.includes(name)) {
      throw new CacheConfigError(`${what}: unknown option "${name}"; known options: ${known.join(", ")}`);
    }
  }
}

/** A strategy's required `ttl`: a positive Duration, or `null` for "forever" (returns undefined). */
export function requiredTtl(what: string, ttl: Duration | null | undefined): number | undefined {
  if (ttl === undefined) {
    throw new CacheConfigError(`${what}: "ttl" is required (a Duration such as "10m", or null to store without expiry)`);
  }
  if (ttl === null) return undefined;
  const ms = toMs(ttl, `${what}: ttl`);
  if (ms === 0) throw new CacheConfigError(`${what}: ttl must be greater than 0 (use null to store without expiry)`);
  return ms;
}

/** A lock's expiry in ms: a Duration > 0 (a lock without one would outlive a dead holder). */
export function lockTtlMs(what: string, option: string, value: Duration): number {
  const ms = toMs(value, `${what}: ${option}`);
  if (!(ms > 0)) throw new CacheConfigError(`${what}: ${option} must be greater than 0, a lock needs an expiry`);
  return ms;
}

/** An integer >= 1. */
export function positiveInteger(what: string, option: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
    throw new CacheConfigError(`${what}: "${option}" must be an integer >= 1, got ${String(value)}`);
  }
  return value;
}

/** A required Duration > 0, in ms. */
export function positiveMs(what: string, option: string, value: Duration | null | undefined): number {
  if (value === undefined || value === null) throw new CacheConfigError(`${what}: "${option}" is required (a Duration such as "10s")`);
  const ms = toMs(value, `${what}: ${option}`);
  if (!(ms > 0)) throw new CacheConfigError(`${what}: "${option}" must be greater than 0`);
  return ms;
}

/** An optional function option. */
export function optionalFunction<F>(what: string, option: string, value: F | undefined): F | undefined {
  if (value !== undefined && typeof value !== "function") {
    throw new CacheConfigError(`${what}: "${option}" must be a function, got ${value === null ? "null" : typeof value}`);
  }
  return value;
}

/** The `prefix` option (a string), or the default. */
export function prefixOption(what: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== "string") throw new CacheConfigError(`${what}: "prefix" must be a string, got ${typeof value}`);
  return value;
}

/**
 * Tags (of `set`, `deleteTags`) or tag templates (of a strategy's `tags`): an array of non-empty
 * strings; `undefined` is none.
 */
export function checkTags(what: string, tags: unknown): readonly string[] {
  if (tags === undefined) return [];
  if (!Array.isArray(tags)) throw new CacheConfigError(`${what}: "tags" must be an array of strings, got ${typeof tags}`);
  for (const tag of tags) {
    if (typeof tag !== "string" || tag === "") {
      throw new CacheConfigError(`${what}: every tag must be a non-empty string, got ${JSON.stringify(tag)}`);
    }
  }
  return [...(tags as string[])];
}
