// Running a bundled Worker in workerd through miniflare, for the tests that do (runtimes-workers,
// workers, workers-hono): one compatibility date, one way to start, one polling helper.
import { Miniflare } from "miniflare";
import type { WorkerBundle } from "../../runtimes/workers/build.js";

/** The compatibility date every test Worker runs with (wrangler.toml's, for the example Worker). */
export const COMPATIBILITY_DATE = "2025-09-01";

/** Starts `bundle` in workerd with the given compatibility flags and string bindings. */
export async function startWorker(bundle: WorkerBundle, compatibilityFlags: string[], bindings: Record<string, string> = {}): Promise<Miniflare> {
  const mf = new Miniflare({
    modules: [{ type: "ESModule", path: "worker.mjs", contents: bundle.code }],
    compatibilityDate: COMPATIBILITY_DATE,
    compatibilityFlags,
    bindings,
  });
  await mf.ready;
  return mf;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Calls `fn` until `done(result)` or the deadline; returns the last result (the caller asserts on it). */
export async function poll<T>(fn: () => Promise<T>, done: (value: T) => boolean, deadlineMs = 5_000): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const value = await fn();
    if (done(value) || Date.now() > end) return value;
    await sleep(25);
  }
}
