/**
 * The request's execution context (`c.executionCtx`, its `waitUntil`) for background work that
 * decorated calls start while a request is handled: every middleware of `cashews/hono` runs the
 * rest of the chain through {@link proceed}, and {@link cacheContext} does only that.
 * @module
 */
import type { Context, MiddlewareHandler, Next } from "hono";
import { runWithWaitUntil } from "../context/scope.js";
import { background, type BackgroundReport } from "../context/background.js";
import { handOver, hasAsyncContext, installWaitUntilFallback, rememberContext, type WaitUntilContext } from "../context/waituntil-fallback.js";

/**
 * Runs `fn` with the request's `waitUntil` bound (Workers, Deno Deploy…), so that background work
 * started inside (early/hit refreshes) outlives the response. `c.executionCtx` throws in Hono
 * when the runtime has none: then `fn` just runs.
 *
 * Without async context (Workers without `nodejs_compat`/`nodejs_als`) the binding only lasts
 * until the first `await`, and strategies start background work later: the request's context is
 * then also remembered for the shared fallback (src/context/waituntil-fallback.ts, the one
 * `withCache` uses), which hands such work to the latest request's `waitUntil`.
 */
function withWaitUntil<R>(c: Context, fn: () => R): R {
  const context = executionContextOf(c);
  if (context === undefined) return fn();
  if (!hasAsyncContext()) {
    rememberContext(context);
    installWaitUntilFallback();
  }
  return runWithWaitUntil((promise) => handOver(context, promise), fn);
}

/** The request's execution context when it has a `waitUntil` (`c.executionCtx` throws where there is none). */
function executionContextOf(c: Context): WaitUntilContext | undefined {
  try {
    const ctx = c.executionCtx as Partial<WaitUntilContext> | undefined;
    return typeof ctx?.waitUntil === "function" ? (ctx as WaitUntilContext) : undefined;
  } catch {
    return undefined;
  }
}

/** Runs the rest of the chain (`next()`) with the request's `waitUntil` bound. */
export const proceed = (c: Context, next: Next): Promise<void> => withWaitUntil(c, next);

/**
 * Background work a middleware starts for a request (e.g. a refresh after the response): handed
 * to the request's `waitUntil` as the strategies' background work is, its errors reported to
 * `to` (a cache's state: `error` events and stats).
 */
export function inBackground(c: Context, to: BackgroundReport, task: Promise<unknown>): void {
  withWaitUntil(c, () => background(to, task));
}

/**
 * Hands background work started by the rest of the chain (early/hit refreshes of decorated
 * calls) to the request's `c.executionCtx.waitUntil` where the runtime has one (Workers, Deno
 * Deploy), so it is not cut off when the response is sent. {@link cacheResponse},
 * {@link rateLimit} and {@link cacheDetectHeaders} do the same for what runs after them: this one
 * is for apps that use none of them. Without an execution context it only calls `next()`.
 * @example
 * app.use("*", cacheContext());
 * app.get("/users/:id", async (c) => c.json(await getUserEarly(c.req.param("id"))));
 */
export function cacheContext(): MiddlewareHandler {
  return async function cacheContextMiddleware(c, next) {
    await proceed(c, next);
  };
}
