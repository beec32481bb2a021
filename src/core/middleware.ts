/**
 * Command middleware (`cache.use`): a view of a backend whose every command runs through the
 * cache's middleware chain. Built only when a middleware is registered; without one the routes
 * hand out the backend itself and nothing here runs.
 * @module
 */
import type { Backend } from "../backends/types.js";
import { METHODS, type Command } from "../context/scope.js";

/**
 * A command middleware, registered with `cache.use(middleware)`: runs around every backend
 * command of the cache (reads included, decorated calls' reads included), on every backend.
 * `command` is the {@link Command} that runs, `args` the backend call's arguments (keys as the
 * caller gave them, values as stored: encoded text on serialising backends, the value itself on
 * `mem://`), `next(args?)` runs the rest of the chain (with other arguments if given) and
 * resolves the backend's result (`scan`: an async iterable of keys), `backend` is the backend's
 * label (`"redis"`, `"mem@user:"`). Return `next`'s result, or another. A middleware that throws
 * fails the command like a backend error: in safe mode it is reported (`error` event) and the
 * command resolves its neutral value.
 * @example
 * cache.use(async (command, args, next, backend) => {
 *   const started = performance.now();
 *   try {
 *     return await next();
 *   } finally {
 *     console.log(backend, command, args[0], `${(performance.now() - started).toFixed(1)} ms`);
 *   }
 * });
 */
export type Middleware = (
  command: Command,
  args: readonly unknown[],
  next: (args?: readonly unknown[]) => Promise<unknown>,
  backend: string,
) => Promise<unknown>;

/**
 * Backend methods and the command each one runs (as scopes see them, plus the tag sets' `tagAdd`
 * and `tagPop`, which are set commands); other properties pass through untouched.
 */
const COMMANDS: Readonly<Record<string, Command>> = { ...METHODS, tagAdd: "set_add", tagPop: "set_pop" };

/**
 * `backend` seen through `chain` (registration order; the last registered runs outermost).
 * `peek` is absent from the view (synchronous reads cannot run through a middleware), unless given:
 * the probe (core/probe.ts) keeps the local copy's synchronous reads, and reports them itself.
 */
export function throughMiddleware(backend: Backend, chain: readonly Middleware[], label: string, peek?: Backend["peek"]): Backend {
  const methods = new Map<PropertyKey, unknown>();
  const run = (command: Command, method: string, args: readonly unknown[]): Promise<unknown> => {
    const call = (index: number, current: readonly unknown[]): Promise<unknown> => {
      if (index < 0) {
        // Always a promise for the middleware (scan returns an async iterable, not a promise; a
        // backend may also throw synchronously).
        try {
          return Promise.resolve((backend as unknown as Record<string, (...a: unknown[]) => unknown>)[method]!(...current));
        } catch (error) {
          return Promise.reject(error);
        }
      }
      return Promise.resolve(chain[index]!(command, current, (next) => call(index - 1, next ?? current), label));
    };
    return call(chain.length - 1, args);
  };
  return new Proxy(backend, {
    get(target, prop) {
      if (prop === "peek") return peek;
      const command = typeof prop === "string" ? COMMANDS[prop] : undefined;
      // Read on the backend itself: its getters may use private fields.
      const value: unknown = Reflect.get(target, prop);
      if (command === undefined || typeof value !== "function") return typeof value === "function" ? value.bind(target) : value;
      let method = methods.get(prop);
      if (method === undefined) {
        method =
          prop === "scan"
            ? async function* (...args: unknown[]) {
                yield* (await run(command, prop, args)) as AsyncIterable<string>;
              }
            : (...args: unknown[]) => run(command, prop as string, args);
        methods.set(prop, method);
      }
      return method;
    },
  });
}
