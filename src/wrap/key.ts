/**
 * Per-call key building for strategies: a key function, a template, or the default key.
 * @internal
 * @module
 */
import { CacheConfigError } from "../errors.js";
import { compileKey, defaultKey, parameterNames, templateFields, type KeyBuilder } from "../keys/index.js";
import { keyContext } from "../context/key-context.js";
import type { Target } from "./decorator.js";

/** Builds the key of one call. */
export type CallKey = (thisArg: unknown, args: unknown[]) => string;

/** What a strategy's `key` option may be. */
// biome-ignore lint: any args
export type KeyOption<A extends any[] = any[]> = string | ((...args: A) => string);

/**
 * Compiles the key of a wrapped function at wrap time (so that bad templates fail now).
 * `prefix` is prepended with a `:`.
 */
export function callKey(strategy: string, target: Target, key: KeyOption<never[]> | undefined, prefix: string): CallKey {
  const head = prefix ? `${prefix}:` : "";
  if (typeof key === "function") {
    const fn = key as (...args: unknown[]) => unknown;
    return (thisArg, args) => {
      const value = fn.apply(thisArg, args);
      if (typeof value !== "string") {
        throw new TypeError(`${strategy}: the key function must return a string, got ${typeof value}`);
      }
      return head + value;
    };
  }
  if (typeof key === "string") {
    const build = compileKey(key, { name: target.name, params: parameterNames(target.fn) });
    if (templateFields(key).includes("@")) {
      return head ? (_, args) => head + build(args, keyContext()) : (_, args) => build(args, keyContext());
    }
    return head ? (_, args) => head + build(args) : (_, args) => build(args);
  }
  if (key !== undefined) {
    throw new CacheConfigError(`${strategy}: "key" must be a template string or a function, got ${typeof key}`);
  }
  const params = parameterNames(target.fn);
  if (!target.method) return withoutThis(defaultKey(target.name, params, prefix || undefined));
  // A method's default key names its class, known only from `this` at call time.
  const byClass = new WeakMap<object, KeyBuilder>();
  return (thisArg, args) => {
    const ctor = (thisArg as { constructor?: { name?: string } } | null)?.constructor;
    if (typeof ctor !== "function") return defaultKey(target.name, params, prefix || undefined)(args);
    let build = byClass.get(ctor);
    if (build === undefined) {
      build = defaultKey(ctor.name ? `${ctor.name}.${target.name}` : target.name, params, prefix || undefined);
      byClass.set(ctor, build);
    }
    return build(args);
  };
}

function withoutThis(build: KeyBuilder): CallKey {
  return (_, args) => build(args);
}
