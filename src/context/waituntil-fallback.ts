/**
 * The `waitUntil` fallback for runtimes without async context (Workers without `nodejs_compat` or
 * `nodejs_als`): `runWithWaitUntil` then only spans the synchronous part of a request, and
 * strategies start background work (early/hit refreshes) after an `await`. That work is handed to
 * the `waitUntil` of the latest request's context instead. On workerd this is right even with
 * concurrent requests: `ctx.waitUntil` attaches the promise to the request that is running *now*
 * (`IoContext::current()`), not to the one the `ctx` came from, and does not throw for a finished one.
 *
 * One module, one registration: `cashews/workers` (`withCache`) and `cashews/hono` (every
 * middleware, when the context store is not async) both remember contexts here, and the single
 * background hook of the strategies is installed once, by whichever comes first.
 * @module
 * @internal
 */
import { setBackgroundHook } from "./background.js";
import { createContextStore } from "./store.js";

/** The part of an execution context (Workers `ctx`, Hono's `c.executionCtx`) used here. */
export interface WaitUntilContext {
  waitUntil(promise: Promise<unknown>): void;
}

/** The context of the latest event or request seen by `withCache` or a Hono middleware. */
let latest: WaitUntilContext | undefined;
let installed = false;

/**
 * `ctx.waitUntil(promise)`, never throwing: background work is already running and reports its own
 * errors, so a runtime that refuses it (no current request) must not fail the caller's hit.
 */
export function handOver(ctx: WaitUntilContext | undefined, promise: Promise<unknown>): void {
  try {
    ctx?.waitUntil(promise);
  } catch {
    // Nothing to attach it to: the promise still runs as long as the runtime lets it.
  }
}

/** The background hook: hands work started outside every scope to the latest context. */
function fallbackWaitUntil(promise: Promise<unknown>): void {
  handOver(latest, promise);
}

/** Remembers `ctx` as the latest context (used once the fallback is installed). */
export function rememberContext(ctx: WaitUntilContext): void {
  latest = ctx;
}

/** Installs the fallback as the strategies' background hook (idempotent: one registration). */
export function installWaitUntilFallback(): void {
  if (installed) return;
  installed = true;
  setBackgroundHook(fallbackWaitUntil);
}

let asyncContext: boolean | undefined;

/** True when the runtime's context store follows `await` (AsyncLocalStorage). */
export function hasAsyncContext(): boolean {
  return (asyncContext ??= createContextStore<never>().async);
}
