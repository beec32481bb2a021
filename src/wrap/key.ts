/**
 * Per-call key building for strategies: a key function, a template, or the default key.
 * @internal
 * @module
 */
import { CacheConfigError } from "../errors.js";
import { unwrap } from "./registry.js";
import { compileKey, defaultKey, parameterNames, parseTemplate, type KeyBuilder } from "../keys/index.js";
import { keyContext } from "../context/key-context.js";
import type { CacheCore } from "../core/state.js";
import type { FunctionStats } from "../events.js";
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
    // The prefix is compiled in (not concatenated per call), so memoised keys stay whole.
    // A decorator stacked on another reads the parameters of the function under every layer.
    const build = compileKey(key, { name: target.name, params: parameterNames(unwrap(target.fn)) }, { prefix });
    // Only a template reading the key context pays for looking it up.
    if (parseTemplate(key).some((s) => s.kind === "field" && s.field === "@")) return (_, args) => build(args, keyContext());
    return (_, args) => build(args);
  }
  if (key !== undefined) {
    throw new CacheConfigError(`${strategy}: "key" must be a template string or a function, got ${typeof key}`);
  }
  const params = parameterNames(unwrap(target.fn));
  const build = (name: string): KeyBuilder => defaultKey(name, params, prefix); // an empty prefix is none
  if (!target.method) {
    const plain = build(target.name);
    return (_, args) => plain(args);
  }
  // A method's default key names its class, known only from `this` at call time.
  const byClass = perClass(target, () => build(target.name), (name) => build(name ?? target.name));
  return (thisArg, args) => byClass(thisArg)(args);
}

/**
 * A value per class a method is called on (`make(name)`, with `Class.method` as the name, or
 * undefined for an anonymous class), or `plain()` when there is no class.
 */
function perClass<T>(target: Target, plain: () => T, make: (name: string | undefined) => T): (thisArg: unknown) => T {
  const byClass = new WeakMap<object, T>();
  return (thisArg) => {
    const owner = ownerClass(target, thisArg);
    if (owner === undefined) return plain();
    let value = byClass.get(owner);
    if (value === undefined) byClass.set(owner, (value = make(owner.name ? `${owner.name}.${target.name}` : undefined)));
    return value;
  };
}

/** The class a method was called on: `this` for a static method, `this.constructor` otherwise. */
export function ownerClass(target: Target, thisArg: unknown): { name: string } | undefined {
  if (target.static) return typeof thisArg === "function" ? (thisArg as { name: string }) : undefined;
  const ctor = (thisArg as { constructor?: unknown } | null | undefined)?.constructor;
  return typeof ctor === "function" ? (ctor as { name: string }) : undefined;
}

/** The stats entry and event label of one decorated function (per class, for methods). */
export interface Counters {
  stats: FunctionStats;
  label: string;
}

/**
 * Per-function counters: a function's name (or `fallback`: prefix or key template); a method's
 * `Class.method`, resolved from `this` at call time (so `Users.get` and `Posts.get` stay apart).
 */
export function functionCounters(core: CacheCore, target: Target, fallback: string): (thisArg: unknown) => Counters {
  const counters = (label: string): Counters => ({ stats: core.functionStats(label), label });
  const name = target.name || fallback || "anonymous";
  if (!target.method) {
    const plain = counters(name);
    return () => plain;
  }
  // A method's entry is `Class.method`; the bare name only when called without a class (created
  // on first use, so that stats() lists no all-zero entry next to `Class.method`).
  let plain: Counters | undefined;
  const bare = (): Counters => (plain ??= counters(name));
  return perClass(target, bare, (owner) => (owner ? counters(owner) : bare()));
}
