/**
 * Error classes the conformance tests throw from wrapped functions. Defined once: a bundler renames
 * a class declared twice in one output file (`Boom2`), and a cached error is given back its class
 * by name (`withExceptions`), so each name must stay what it says.
 * @module
 */

/** The error a test's function throws (listed in `exceptions` or `withExceptions`). */
export class Boom extends Error {
  override name = "Boom";
}

/** An error a test's function throws that is not listed. */
export class Other extends Error {
  override name = "Other";
}
