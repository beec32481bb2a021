/**
 * Decorated functions and how their keys are built, so that `invalidate` can target a cached
 * function by reference.
 * @internal
 * @module
 */
import type { Target } from "./decorator.js";
import type { CallKey } from "./key.js";

/** What a strategy records about a function it wrapped. */
export interface Wrapped {
  /** The strategy's name: "cache", "early", … */
  strategy: string;
  target: Target;
  /** Builds the stored key of a call (prefix included). */
  keyOf: CallKey;
}

const registry = new WeakMap<Function, Wrapped>();

/** Records a wrapper; returns it for chaining. */
export function registerWrapped<F extends Function>(wrapper: F, info: Wrapped): F {
  registry.set(wrapper, info);
  return wrapper;
}

/** What was recorded for `fn`, if it is a decorated function. */
export function wrappedInfo(fn: Function): Wrapped | undefined {
  return registry.get(fn);
}

const originals = new WeakMap<Function, Function>();

/** Records that `wrapper` wraps `fn` (every decorator does, so stacked decorators can be unwrapped). */
export function registerOriginal<F extends Function>(wrapper: F, fn: Function): F {
  originals.set(wrapper, fn);
  return wrapper;
}

/** The innermost function under decorator wrappers: the one whose source names the parameters. */
export function unwrap(fn: Function): Function {
  // Every decorated function is new and records the function it wraps: the chain ends.
  for (let inner = originals.get(fn); inner !== undefined; inner = originals.get(fn)) fn = inner;
  return fn;
}
