/**
 * Cache conditions: which results (and errors) a strategy stores.
 * @module
 */

/** Error classes, as given to `exceptions` and the exception conditions. */
// biome-ignore lint: any constructor of errors
export type ErrorClass = abstract new (...args: any[]) => Error;

/**
 * Decides whether a result is stored: `condition(result, args, key)`. A condition built by
 * {@link withExceptions} or {@link onlyExceptions} also decides which thrown errors are stored
 * (and rethrown on hits).
 */
export interface Condition {
  (result: unknown, args: readonly unknown[], key: string): boolean;
  /** Present on exception conditions: true for an error that is stored. */
  readonly errors?: (error: unknown) => boolean;
  /** The error classes an exception condition stores: a cached error is rethrown as one of them. */
  readonly classes?: readonly ErrorClass[];
}

/**
 * Do not store `null` or `undefined` results.
 * @example
 * cache({ ttl: "1h", condition: NOT_NONE })(async (id: string) => db.find(id));
 */
export const NOT_NONE: Condition = (result) => result !== null && result !== undefined;

function matches(classes: readonly ErrorClass[]): (error: unknown) => boolean {
  return (error) => (classes.length === 0 ? error instanceof Error : classes.some((c) => error instanceof c));
}

/**
 * Store results, and also store errors of the given classes (every `Error` when none is given),
 * which are rethrown on hits. A stored error comes back with its name, message and cause.
 * @example
 * cache({ ttl: "5m", condition: withExceptions(NotFoundError) })(fetchUser);
 */
export function withExceptions(...classes: ErrorClass[]): Condition {
  return Object.assign((() => true) as (result: unknown) => boolean, { errors: matches(classes), classes });
}

/**
 * Store only errors of the given classes (every `Error` when none is given), never results.
 * @example
 * cache({ ttl: "1m", condition: onlyExceptions(RateLimitedUpstream) })(callUpstream);
 */
export function onlyExceptions(...classes: ErrorClass[]): Condition {
  return Object.assign((() => false) as (result: unknown) => boolean, { errors: matches(classes), classes });
}

/**
 * Gives an error read back from a serialising backend (which keeps name, message and cause) the
 * class it was stored as, when that class is one of `classes` (matched by name): `instanceof`
 * then behaves the same on every backend.
 * @internal
 */
export function restoreErrorClass(error: unknown, classes: readonly ErrorClass[] | undefined): unknown {
  if (!(error instanceof Error) || classes === undefined) return error;
  for (const cls of classes) {
    if (error instanceof cls) return error;
  }
  for (const cls of classes) {
    const proto = cls.prototype as Error;
    if (cls.name === error.name || (Object.prototype.hasOwnProperty.call(proto, "name") && proto.name === error.name)) {
      Object.setPrototypeOf(error, proto);
      return error;
    }
  }
  return error;
}
