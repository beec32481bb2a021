// The `early` function the waitUntil tests of the test Workers share (hono-worker.ts,
// withcache-worker.ts): fast on its first call, slow (SLOW_MS) on every background refresh, and it
// records which computation finished last, so a test can tell whether a refresh outlived its request.
import type { Cache } from "../../src/index.js";

/** How long a refresh takes, in ms. */
export const SLOW_MS = 300;

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Computations of one id. */
export interface EarlyState {
  /** Computations started (1: the first, foreground one; 2: the first background refresh). */
  started: number;
  /** The last computation that finished. */
  done: number;
}

/** The state per id, and the `early` function (ttl 1 min, earlyTtl 200 ms, key `early:{id}`) on `cache`. */
export function versionedEarly<S extends EarlyState>(cache: Cache, fresh: () => S): { stateOf: (id: string) => S; versioned: (id: string) => Promise<number> } {
  const states: Record<string, S> = {};
  const stateOf = (id: string): S => (states[id] ??= fresh());
  const versioned = cache.early({ ttl: "1m", earlyTtl: "200ms", key: "early:{id}" })(async (id: string) => {
    const state = stateOf(id);
    const version = ++state.started;
    if (version > 1) await sleep(SLOW_MS);
    state.done = version;
    return version;
  });
  return { stateOf, versioned };
}
