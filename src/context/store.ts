/**
 * The abstract context store: per-call context that follows async work. Uses `AsyncLocalStorage`
 * where the runtime has it (Node, Bun, Deno, Workers with `nodejs_als`/`nodejs_compat`), found
 * without a static `node:async_hooks` import; elsewhere it degrades to the synchronous extent of
 * `run` (what the callback does before its first `await`).
 * @module
 */

/**
 * A store of one value per async context (see {@link createContextStore}).
 * @example
 * const store: ContextStore<string> = createContextStore<string>();
 */
export interface ContextStore<T> {
  /** The value of the current context, if any. */
  get(): T | undefined;
  /** Runs `fn` with `value` as the current context. */
  run<R>(value: T, fn: () => R): R;
  /** True when the value follows `await` (AsyncLocalStorage); false for the synchronous fallback. */
  readonly async: boolean;
}

interface AlsLike<T> {
  getStore(): T | undefined;
  run<R>(store: T, fn: () => R): R;
  disable?(): void;
}
type AlsClass = new <T>() => AlsLike<T>;

function findAsyncLocalStorage(): AlsClass | undefined {
  const g = globalThis as {
    AsyncLocalStorage?: AlsClass;
    process?: { getBuiltinModule?: (id: string) => { AsyncLocalStorage?: AlsClass } | undefined };
  };
  if (typeof g.AsyncLocalStorage === "function") return g.AsyncLocalStorage;
  try {
    return g.process?.getBuiltinModule?.("node:async_hooks")?.AsyncLocalStorage;
  } catch {
    return undefined;
  }
}

let Als: AlsClass | undefined | null = null;

/**
 * Creates a context store: AsyncLocalStorage-backed where the runtime has it (`store.async` is
 * then true and the value follows `await`); elsewhere the value is visible only until the first
 * `await` of `run`'s callback.
 * @example
 * const requestId = createContextStore<string>();
 * await requestId.run(crypto.randomUUID(), async () => {
 *   await handler(request);
 *   console.log(requestId.get()); // still the id, where store.async is true
 * });
 */
export function createContextStore<T>(): ContextStore<T> {
  return releasableStore<T>();
}

/**
 * A context store that can also be released when no `run` is in progress: its AsyncLocalStorage
 * is disabled (on Node that turns its promise hooks off once no other storage runs) until the
 * next `run`. @internal
 */
export function releasableStore<T>(): ContextStore<T> & { release?(): void } {
  if (Als === null) Als = findAsyncLocalStorage();
  if (Als !== undefined) {
    const als = new Als<T>();
    // workerd has disable() but throws "not implemented": releasing is then a no-op.
    const disable =
      typeof als.disable === "function"
        ? () => {
            try {
              als.disable!();
            } catch {}
          }
        : undefined;
    return { async: true, get: () => als.getStore(), run: (value, fn) => als.run(value, fn), release: disable };
  }
  let current: T | undefined;
  return {
    async: false,
    get: () => current,
    run<R>(value: T, fn: () => R): R {
      const previous = current;
      current = value;
      try {
        return fn();
      } finally {
        current = previous;
      }
    },
  };
}
