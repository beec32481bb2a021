/**
 * The shape every strategy returns: a decorator usable as a function wrapper or as a TC39 method
 * decorator.
 * @module
 */
import { CacheConfigError } from "../errors.js";

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

/** Builds a {@link Decorator} from a function that wraps one target. */
export function decorator<A extends any[] = any[]>(strategy: string, wrap: (target: Target) => (...args: unknown[]) => unknown): Decorator<A> {
  return function (fn: unknown, context?: ClassMethodDecoratorContext): unknown {
    if (typeof fn !== "function") {
      throw new CacheConfigError(`${strategy}: expected a function to wrap, got ${fn === null ? "null" : typeof fn}`);
    }
    if (context !== undefined) {
      if (context.kind !== "method") {
        throw new CacheConfigError(`${strategy}: can decorate class methods only, not a ${String(context.kind)}`);
      }
      return wrap({ fn: fn as Target["fn"], name: String(context.name), method: true, static: context.static });
    }
    return wrap({ fn: fn as Target["fn"], name: fn.name, method: false });
  } as Decorator<A>;
}
