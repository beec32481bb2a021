/**
 * The options the middlewares of `cashews/hono` share: the cache they use (the default `cache`
 * instance of `cashews` unless given) and the key function of a request.
 * @module
 */
import type { Context } from "hono";
import type { CoreCache } from "../presets/core-cache.js";
import { cache as defaultCache } from "../presets/default.js";
import { CacheConfigError } from "../errors.js";

/** A function of the request's context that names a cache or rate-limit key. */
export type ContextKey = (c: Context) => string | Promise<string>;

/** The `cache` option: a Cache instance, else the default `cache` of `cashews`. */
export function cacheOption(middleware: string, value: unknown): CoreCache {
  if (value === undefined) return defaultCache;
  const c = value as Partial<Record<"get" | "getMany" | "setMany" | "getExpire" | "incr" | "slidingIncr", unknown>> | null;
  if (
    (typeof value !== "function" && typeof value !== "object") ||
    c === null ||
    typeof c.get !== "function" ||
    typeof c.getMany !== "function" ||
    typeof c.setMany !== "function" ||
    typeof c.getExpire !== "function" ||
    typeof c.incr !== "function" ||
    typeof c.slidingIncr !== "function"
  ) {
    throw new CacheConfigError(`${middleware}: "cache" must be a cache (new Cache().setup(url) or new CoreCache().setup(url)), got ${value === null ? "null" : typeof value}`);
  }
  return value as CoreCache;
}

/** The `key` option: a function of the request's context (undefined when optional and not given). */
export function keyOption(middleware: string, value: unknown, required: boolean): ContextKey | undefined {
  if (value === undefined && !required) return undefined;
  if (typeof value !== "function") {
    throw new CacheConfigError(`${middleware}: "key" must be a function (c) => string${required ? " (required)" : ""}, got ${value === null ? "null" : typeof value}`);
  }
  return value as ContextKey;
}

/** The key `fn` names for the request: a non-empty string, else a TypeError. */
export async function keyOf(middleware: string, fn: ContextKey, c: Context): Promise<string> {
  const key = await fn(c);
  if (typeof key !== "string" || key === "") {
    throw new TypeError(`${middleware}: the key function must return a non-empty string, got ${key === "" ? '""' : typeof key}`);
  }
  return key;
}
