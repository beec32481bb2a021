/**
 * A cached error: what a strategy stores for `withExceptions`, rethrown on a hit. The codec
 * round-trips it (tag `X`), so it can never be confused with a value the function returned.
 * @internal
 * @module
 */
export class Raised {
  constructor(readonly error: unknown) {}
}
