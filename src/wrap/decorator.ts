/**
 * The shape every strategy returns: a decorator usable as a function wrapper or as a TC39 method
 * decorator.
 * @module
 */
import { CacheConfigError } from "../errors.js";
import { stateOf } from "../core/state.js";
import { isFullyDisabled, scope } from "../context/scope.js";
import { registerOriginal, registerWrapped, type Wrapped } from "./registry.js";

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

/** What a strategy builds for one decorated function. */
export interface Wrapping {
  /** One call of the decorated function, with its `this` and arguments. */
  call(thisArg: unknown, args: unknown[]): unknown;
  /** Recorded for the decorated function, so that `invalidate` can target it by reference. */
  wrapped?: Wrapped | undefined;
  /** The decorated function's name (default: the name of `call`). */
  name?: string;
  /** The function returns an async iterable, not a promise (the iterator strategy). */
  iterable?: boolean;
}

/**
 * Builds a {@link Decorator} of `cache` from a function that wraps one target. Every strategy's
 * call is guarded here, the one place for it: while every command is disabled (a scope's or
 * process-wide), the function is called directly (its result as a promise, or as the iterable it
 * returns). The guarded function is the only frame the plumbing adds. An argument that is not a
 * cache fails now.
 */
export function decorator<A extends any[] = any[]>(strategy: string, cache: object, wrap: (target: Target) => Wrapping): Decorator<A> {
  const core = stateOf(cache, strategy);
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
    const wrapping = wrap(target);
    const call = wrapping.call;
    const direct = target.fn;
    const called = wrapping.iterable
      ? (thisArg: unknown, args: unknown[]): unknown => direct.apply(thisArg, args)
      : async (thisArg: unknown, args: unknown[]): Promise<unknown> => direct.apply(thisArg, args);
    const guarded = function (this: unknown, ...args: unknown[]): unknown {
      return scope.live !== 0 && isFullyDisabled(core) ? called(this, args) : call(this, args);
    };
    Object.defineProperty(guarded, "name", { value: wrapping.name ?? call.name, configurable: true });
    registerOriginal(guarded, direct);
    return wrapping.wrapped === undefined ? guarded : registerWrapped(guarded, wrapping.wrapped);
  } as Decorator<A>;
}
