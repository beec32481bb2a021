/**
 * Background work (early/hit refreshes): never rejects unhandled, and is handed to the request's
 * `waitUntil` where there is one (or to the hook the Workers/Hono integrations install).
 * @internal
 * @module
 */
import type { Emitter } from "../events.js";
import { currentWaitUntil } from "./scope.js";

let backgroundHook: ((promise: Promise<unknown>) => void) | undefined;

/** Lets the integrations hand background promises elsewhere (e.g. the latest request's `waitUntil`). */
export function setBackgroundHook(hook: ((promise: Promise<unknown>) => void) | undefined): void {
  backgroundHook = hook;
}

/** Where a failure that escaped the work's own handling is counted and reported. */
export interface BackgroundReport {
  readonly stats: { errors: number };
  readonly emitter: Emitter;
}

/**
 * Runs `promise` in the background: it never rejects unhandled (a failure is reported to `to` as
 * an `error` event), and it is handed to the request's `waitUntil` (`waitUntil`: the one read
 * earlier, for work left from a timer) or the background hook.
 */
export function background(to: BackgroundReport, promise: Promise<unknown>, waitUntil = currentWaitUntil()): void {
  const safe = promise.catch((error: unknown) => {
    to.stats.errors++;
    to.emitter.emit({ type: "error", error });
  });
  (waitUntil ?? backgroundHook)?.(safe);
}
