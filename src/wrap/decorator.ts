/**
 * The shape every strategy returns: a decorator usable as a function wrapper or as a TC39 method
 * decorator.
 * @module
 */
import { CacheConfigError } from "../errors.js";
import { stateOf } from "../core/state.js";
import { isFullyDisabled } from "../context/scope.js";
import { registerOriginal, registerWrapped, wrappedInfo } from "./registry.js";

/** An async function whose parameters are `A`. */
// biome-ignore lint: any return
export type AsyncFn<A extends any[] = any[]> = (...args: A) => Promise<any>;

/**
 * A strategy's decorator. As a function wrapper it keeps the wrapped function's type; as a
 * TC39 (stage 3) method decorator it wraps the method.
 */
export interface Decorator<A extends any[] = any[]> {
  <F extends AsyncFn<A>>(fn: F): F;
  <This, F extends (this: This, ...args: A) => Promise<unknown>>(method: F, context: ClassMethodDecoratorContext<This, F>): F;
}

/** What a strategy learns about the function it wraps. */
export interface Target {
  fn: (...args: unknown[]) => unknown;
  /** The function's or method's name ("" when anonymous). */
  name: string;
  /** True when wrapping a class method (the class name is read from `this` at call time). */
  method: boolean;
  /** True for a static method (`this` is the class itself). */
  static?: boolean;
}

/**
 * Builds a {@link Decorator} of `cache` from a function that wraps one target. Every strategy's
 * wrapper is guarded here, the one place for it: while every command is disabled (a scope's or
 * process-wide), the function is called directly. An argument that is not a cache fails now.
 */
export function decorator<A extends any[] = any[]>(
  strategy: string,
  cache: object,
  wrap: (target: Target) => (...args: unknown[]) => unknown,
): Decorator<A> {
  const core = stateOf(cache);
  return function (fn: unknown, context?: ClassMethodDecoratorContext): unknown {
    if (typeof fn !== "function") {
      throw new CacheConfigError(`${strategy}: expected a function to wrap, got ${fn === null ? "null" : typeof fn}`);
    }
    if (context !== undefined && context.kind !== "method") {
      throw new CacheConfigError(`${strategy}: can decorate class methods only, not a ${String(context.kind)}`);
    }
    const target: Target =
      context === undefined
        ? { fn: fn as Target["fn"], name: fn.name, method: false }
        : { fn: fn as Target["fn"], name: String(context.name), method: true, static: context.static };
    const inner = wrap(target);
    const direct = target.fn;
    const guarded = function (this: unknown, ...args: unknown[]): unknown {
      return isFullyDisabled(core) ? direct.apply(this, args) : inner.apply(this, args);
    };
    Object.defineProperty(guarded, "name", { value: inner.name });
    registerOriginal(guarded, direct);
    const info = wrappedInfo(inner);
    return info === undefined ? guarded : registerWrapped(guarded, info);
  } as Decorator<A>;
}
