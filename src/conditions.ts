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
  return Object.assign((() => true) as (result: unknown) => boolean, { errors: matches(classes) });
}

/**
 * Store only errors of the given classes (every `Error` when none is given), never results.
 * @example
 * cache({ ttl: "1m", condition: onlyExceptions(RateLimitedUpstream) })(callUpstream);
 */
export function onlyExceptions(...classes: ErrorClass[]): Condition {
  return Object.assign((() => false) as (result: unknown) => boolean, { errors: matches(classes) });
}
