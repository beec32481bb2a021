/**
 * `cashews/deno-kv`: the `deno-kv://` backend (under construction: registers nothing yet).
 * @module
 */
export {};
