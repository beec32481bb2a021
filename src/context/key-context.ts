/**
 * Key context: values that key templates read with `{@:get(name)}`.
 * @module
 */
import { createContextStore } from "./store.js";

const store = createContextStore<Readonly<Record<string, unknown>>>();

/**
 * Runs `fn` with extra key context; templates inside read it with `{@:get(name)}`. Nested calls
 * merge, inner values win.
 * @example
 * const getPlan = cache({ ttl: "1h", key: "plan:{@:get(tenant)}:{id}" })(async (id: string) => db.plan(id));
 * await withKeyContext({ tenant: "acme" }, () => getPlan("p1")); // key "plan:acme:p1"
 */
export function withKeyContext<R>(values: Readonly<Record<string, unknown>>, fn: () => R): R {
  const outer = store.get();
  return store.run(outer ? { ...outer, ...values } : { ...values }, fn);
}

/** The current key context (undefined outside {@link withKeyContext}). */
export function keyContext(): Readonly<Record<string, unknown>> | undefined {
  return store.get();
}
