/**
 * The shape every strategy returns: a decorator usable as a function wrapper or as a TC39 method
 * decorator.
 * @module
 */
import { CacheConfigError } from "../errors.js";
import type { CacheCore } from "../core/state.js";
import { isFullyDisabled, scope } from "../context/scope.js";
import { registerOriginal, registerWrapped, type Wrapped } from "./registry.js";
import type { CallKey } from "./key.js";

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
 * The fully-disabled guard, defined here once: while every command is disabled (a scope's or
 * process-wide), a decorated function is called directly, its result as a promise (or, for the
 * iterator strategy, as the iterable it returns).
 */
export interface Guard {
  /** True while every command is disabled for this cache. */
  off(): boolean;
  /** Calls the decorated function itself. */
  direct(thisArg: unknown, args: unknown[]): unknown;
}

/** What a strategy builds for one decorated function. */
export type Wrapping = (
  | {
      /** One call of the decorated function, with its `this` and arguments; the plumbing guards it. */
      call(thisArg: unknown, args: unknown[]): unknown;
      entry?: undefined;
    }
  | {
      /**
       * The decorated function itself, which applies the {@link Guard} first thing. For the simple
       * strategy's hit path only: a memory hit then costs one frame, not two (~6 ns of ~110).
       */
      entry: (this: unknown, ...args: unknown[]) => unknown;
      call?: undefined;
    }
) & {
  /**
   * How the strategy builds a call's key: recorded with the strategy's name and the target, so
   * that `invalidate` can target the decorated function by reference.
   */
  keyOf?: CallKey;
  /** Or a record to keep as it is (a decorator stacked over a cached function passes its record on). */
  wrapped?: Wrapped | undefined;
  /** The decorated function's name (default: the name of `call` or `entry`). */
  name?: string;
};

/**
 * Builds a {@link Decorator} on a cache's state (`core`, from {@link stateOf}: the standalone
 * strategies look it up first, so a wrong first argument fails there) from a function that wraps one target. Every strategy's
 * call is guarded here (see {@link Guard}), the one place for it; the guarded function is the only
 * frame the plumbing adds.
 */
export function decorator<A extends any[] = any[]>(
  strategy: string,
  core: CacheCore,
  wrap: (target: Target, guard: Guard) => Wrapping,
  options: { iterable?: boolean } = {},
): Decorator<A> {
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
    const original = target.fn;
    const plain = options.iterable
      ? (thisArg: unknown, args: unknown[]): unknown => original.apply(thisArg, args)
      : async (thisArg: unknown, args: unknown[]): Promise<unknown> => original.apply(thisArg, args);
    // With a probe (src/core/probe.ts) attached, the guard is "off" for every call: `direct` runs
    // the call through the probe, which calls the decorated function again with `through` set for
    // its first guard check (made synchronously, first thing). Without one: one field check. The
    // iterator strategy's calls return iterables, not promises: they are not wrapped.
    let through = false;
    const disabled = (): boolean => scope.live !== 0 && isFullyDisabled(core);
    const probed = !options.iterable;
    const guard: Guard = {
      off: () => {
        if (probed && core.probe) {
          if (!through) return true;
          through = false;
        }
        return disabled();
      },
      direct: (thisArg, args) => {
        const probe = core.probe;
        if (!probe || disabled()) return plain(thisArg, args);
        return probe.call(strategy, target.name, () => ((through = true), decorated.apply(thisArg, args)));
      },
    };
    const wrapping = wrap(target, guard);
    const call = wrapping.call;
    const decorated: (this: unknown, ...args: unknown[]) => unknown =
      call === undefined
        ? wrapping.entry
        : function (this: unknown, ...args: unknown[]): unknown {
            return guard.off() ? guard.direct(this, args) : call(this, args);
          };
    Object.defineProperty(decorated, "name", { value: wrapping.name ?? (call ?? wrapping.entry).name, configurable: true });
    registerOriginal(decorated, original);
    const { keyOf } = wrapping;
    const wrapped = keyOf === undefined ? wrapping.wrapped : { strategy, target, keyOf };
    return wrapped === undefined ? decorated : registerWrapped(decorated, wrapped);
  } as Decorator<A>;
}
