/**
 * A cached error: what a strategy stores for `withExceptions`, rethrown on a hit. The codec
 * round-trips it (tag `X`), so it can never be confused with a value the function returned.
 * @internal
 * @module
 */
export class Raised {
  /**
   * False until the first Raised is created: until then no value can be one, and hit paths skip
   * the `instanceof` test (which costs more than the rest of a memory hit's bookkeeping).
   */
  static created = false;

  constructor(readonly error: unknown) {
    Raised.created = true;
  }
}
